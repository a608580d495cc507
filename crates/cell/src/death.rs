//! [`Death`]: how a cell ended, said so that a tenant knows what its model did.

use std::fmt;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Death {
    /// The kernel's OOM killer ended it at its memory limit.
    OutOfMemory { limit_bytes: Option<u64> },
    /// The server killed it: a forward ran past its time.
    Stopped { after: std::time::Duration },
    /// A signal ended it (a segfault, an abort from the model's code).
    Signal { number: i32 },
    /// It exited by itself.
    Exit { code: i32 },
    /// It hung up without exiting (the socket broke).
    HungUp,
}

impl Death {
    /// From the process's status, whether the server killed it, and whether its group
    /// recorded an OOM kill since it started.
    pub(crate) fn of(
        status: Option<ExitStatus>,
        stopped: Option<std::time::Duration>,
        oom_killed: bool,
        limit_bytes: Option<u64>,
    ) -> Death {
        if let Some(after) = stopped {
            return Death::Stopped { after };
        }
        let Some(status) = status else {
            return Death::HungUp;
        };
        match (status.signal(), status.code()) {
            (Some(libc::SIGKILL), _) if oom_killed => Death::OutOfMemory { limit_bytes },
            (Some(number), _) => Death::Signal { number },
            (None, Some(code)) => Death::Exit { code },
            (None, None) => Death::HungUp,
        }
    }
}

impl fmt::Display for Death {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Death::OutOfMemory {
                limit_bytes: Some(b),
            } => write!(
                f,
                "killed for using more than its memory limit of {} MiB (the tenant's max_model_memory_mib)",
                b >> 20
            ),
            Death::OutOfMemory { limit_bytes: None } => write!(f, "killed for lack of memory"),
            Death::Stopped { after } => write!(
                f,
                "stopped after {:.1} s: a forward ran past the model's response timeout",
                after.as_secs_f64()
            ),
            Death::Signal { number } => write!(f, "killed by {}", signal_name(*number)),
            Death::Exit { code } => write!(f, "exited with status {code}"),
            Death::HungUp => write!(f, "hung up"),
        }
    }
}

fn signal_name(n: i32) -> String {
    let name = match n {
        libc::SIGSEGV => "SIGSEGV (a segmentation fault)",
        libc::SIGABRT => "SIGABRT (an abort, e.g. a stack overflow or a failed assertion)",
        libc::SIGBUS => "SIGBUS (a bus error)",
        libc::SIGILL => "SIGILL (an illegal instruction)",
        libc::SIGFPE => "SIGFPE (an arithmetic fault)",
        libc::SIGKILL => "SIGKILL",
        libc::SIGTERM => "SIGTERM",
        libc::SIGXCPU => "SIGXCPU (its CPU time limit)",
        _ => return format!("signal {n}"),
    };
    name.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deaths_say_what_happened() {
        let sig = |n| Some(ExitStatus::from_raw(n));
        let code = |c: i32| Some(ExitStatus::from_raw(c << 8));
        let d = Death::of(sig(libc::SIGSEGV), None, false, None);
        assert!(d.to_string().contains("SIGSEGV"), "{d}");
        let d = Death::of(sig(libc::SIGKILL), None, true, Some(256 << 20));
        assert_eq!(
            d,
            Death::OutOfMemory {
                limit_bytes: Some(256 << 20)
            }
        );
        assert!(d.to_string().contains("256 MiB"), "{d}");
        let d = Death::of(sig(libc::SIGKILL), None, false, None);
        assert_eq!(
            d,
            Death::Signal {
                number: libc::SIGKILL
            }
        );
        assert_eq!(
            Death::of(code(3), None, false, None),
            Death::Exit { code: 3 }
        );
        let after = std::time::Duration::from_secs(2);
        let d = Death::of(sig(libc::SIGKILL), Some(after), true, None);
        assert_eq!(d, Death::Stopped { after }, "the server's own kill wins");
    }
}
