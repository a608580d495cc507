//! Intra-op thread counts per model, applied per calling thread.
//!
//! `tch::set_num_threads` (`at::set_num_threads`) looks process-global but, with the
//! OpenMP backend the PyPI wheels use, it does two things: it sets the calling thread's
//! OpenMP and MKL thread counts (thread-local), and it stores a process-wide default that a
//! thread picks up the first time it runs a libtorch op. So a model's count is applied on
//! the thread that runs its forward, right before the forward, and only when it differs
//! from what that thread already has (libtorch clears oneDNN's primitive cache on every
//! set, so setting it on each call would cost real time). Each worker thread that calls a
//! parallel kernel gets its own OpenMP team, so a model with `w` workers and `n` threads
//! uses up to `w × n` cores.
//!
//! A model with no count of its own gets the process default captured before ferroserve
//! changed anything (libtorch's choice: the number of physical cores, or
//! `OMP_NUM_THREADS`), so it does not inherit whatever model ran last on the thread.

use std::num::NonZeroUsize;
use std::sync::OnceLock;

static PROCESS_DEFAULT: OnceLock<usize> = OnceLock::new();

/// libtorch's own intra-op default, read once before this crate sets anything.
pub fn default_intra_op_threads() -> usize {
    *PROCESS_DEFAULT.get_or_init(|| usize::try_from(tch::get_num_threads()).unwrap_or(1).max(1))
}

/// Makes the calling thread run libtorch ops with `wanted` threads (or the process default).
pub(crate) fn apply(wanted: Option<NonZeroUsize>) -> usize {
    let default = default_intra_op_threads();
    let n = wanted.map_or(default, NonZeroUsize::get);
    // The get comes first: it runs libtorch's once-per-thread lazy initialisation, which
    // would otherwise reset a count set before it to the process-wide default.
    if usize::try_from(tch::get_num_threads()).ok() != Some(n) {
        tch::set_num_threads(i32::try_from(n).unwrap_or(i32::MAX));
    }
    n
}

/// The calling thread's current intra-op thread count.
pub fn current_intra_op_threads() -> usize {
    usize::try_from(tch::get_num_threads()).unwrap_or(1)
}
