//! Giving the host memory a refused call made back to the kernel. The server tunes glibc
//! to keep freed memory for libtorch (no trim below 1 GiB, `crates/cli/src/serve.rs`), so
//! what the host lifted from a handler's output before refusing it (200,000 tensors is
//! ~32 MiB of small blocks) stayed in that thread's arena for good: measured, RSS rose
//! by ~100 MiB steps to +40 % over 3,000 hostile calls. After such a refusal the free pages
//! of every arena go back, at most every 100 ms, so a flood of refusals cannot turn
//! trimming into a CPU cost for everyone.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::SandboxError;

/// The shortest time between two trims.
const EVERY_MS: u64 = 100;

/// Whether the host materialised the output of a call that ended with `e`.
pub(crate) fn lifted_then_refused(e: &SandboxError) -> bool {
    matches!(
        e,
        SandboxError::MalformedTensor(_)
            | SandboxError::OutputTooLarge { .. }
            | SandboxError::InvalidResponse(_)
    )
}

/// Returns free heap pages to the kernel, unless that was done in the last 100 ms.
pub(crate) fn after_refusal() {
    static LAST_MS: AtomicU64 = AtomicU64::new(0);
    let now = crate::share::clock_ms().max(1);
    let last = LAST_MS.load(Relaxed);
    if last != 0 && now.saturating_sub(last) < EVERY_MS {
        return;
    }
    if LAST_MS
        .compare_exchange(last, now, Relaxed, Relaxed)
        .is_err()
    {
        return; // another thread is trimming
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free pages of glibc's own arenas.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_refusals_of_lifted_output_trim() {
        assert!(lifted_then_refused(&SandboxError::MalformedTensor(
            String::new()
        )));
        assert!(lifted_then_refused(&SandboxError::OutputTooLarge {
            limit: 1,
            actual: 2
        }));
        // The guest's own memory is the pool's, not the heap's.
        assert!(!lifted_then_refused(&SandboxError::MemoryLimit {
            limit: 1
        }));
        assert!(!lifted_then_refused(&SandboxError::BadInput(String::new())));
    }
}
