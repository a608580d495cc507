//! What a cell may touch, set by the cell on itself before it reads its first request
//! (after the process-wide limits `process.rs` set between fork and exec: its own network
//! and user namespaces, no new privileges, no core dumps).
//!
//! - Files: Landlock. Read-only access to the system's libraries, the directories the
//!   binary's own libraries were mapped from (libtorch), its own `/proc/self` and the CPU
//!   topology libtorch reads; nothing else, and no writes at all (`/dev/null` aside). A
//!   model's file is sent by the server: TorchScript's `torch.from_file` cannot read the
//!   server's state, the model store or another tenant's files.
//! - Signals and abstract Unix sockets: scoped to the cell (Landlock ABI 6): a cell cannot
//!   signal the server or another cell.
//! - Not dumpable: another cell running as the same user cannot ptrace this one or read
//!   its memory through `/proc`.
//!
//! Landlock restricts the calling thread and the threads it starts later, so [`confine`]
//! runs first thing in the cell's main thread.

use std::path::{Path, PathBuf};

use landlock::{
    ABI, Access, AccessFs, CompatLevel, Compatible, Ruleset, RulesetAttr, RulesetCreatedAttr,
    RulesetStatus, Scope, path_beneath_rules,
};

use crate::CellError;

/// Read-only everywhere a process linked against system libraries needs.
const SYSTEM_READ: &[&str] = &[
    "/usr/lib",
    "/usr/lib64",
    "/usr/share/zoneinfo",
    "/lib",
    "/lib64",
    "/etc/ld.so.cache",
    "/etc/localtime",
    "/proc/self",
    "/proc/cpuinfo",
    "/proc/meminfo",
    "/proc/stat",
    "/sys/devices/system/cpu",
    "/sys/devices/system/node",
    "/dev/urandom",
];

/// How far the confinement went, for the cell's start-up log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confined {
    pub files: &'static str,
}

/// Confines the calling process as the module docs say; `extra_read` are more read-only
/// trees and `extra_rw` files it may also write (a GPU's driver files and device nodes).
/// Landlock missing from the kernel is not an error (the result says so); a ruleset the
/// kernel refuses is.
pub fn confine(extra_read: &[PathBuf], extra_rw: &[PathBuf]) -> Result<Confined, CellError> {
    // SAFETY: a plain prctl on this process.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    let abi = ABI::V6;
    let read: Vec<PathBuf> = SYSTEM_READ
        .iter()
        .map(PathBuf::from)
        .chain(mapped_dirs())
        .chain(extra_read.iter().cloned())
        .collect();
    let err = |e: landlock::RulesetError| CellError::Start(format!("confining the cell: {e}"));
    let status = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(AccessFs::from_all(abi))
        .map_err(err)?
        .scope(Scope::from_all(abi))
        .map_err(err)?
        .create()
        .map_err(err)?
        .add_rules(path_beneath_rules(&read, AccessFs::from_read(abi)))
        .map_err(err)?
        .add_rules(path_beneath_rules(
            extra_rw
                .iter()
                .map(PathBuf::as_path)
                .chain([Path::new("/dev/null")]),
            AccessFs::from_read(abi) | AccessFs::WriteFile,
        ))
        .map_err(err)?
        .restrict_self()
        .map_err(err)?;
    let files = match status.ruleset {
        RulesetStatus::FullyEnforced => "landlock (read-only: system libraries, libtorch)",
        RulesetStatus::PartiallyEnforced => "landlock, partly (an older kernel)",
        RulesetStatus::NotEnforced => "unconfined (this kernel has no Landlock)",
    };
    Ok(Confined { files })
}

/// The directories of every file mapped into this process now: where the dynamic loader
/// found the binary's libraries (libtorch's and CUDA's wheels, wherever they live).
fn mapped_dirs() -> Vec<PathBuf> {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = maps
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .filter(|p| p.starts_with('/'))
        .filter_map(|p| Path::new(p).parent().map(Path::to_path_buf))
        .collect();
    dirs.sort();
    dirs.dedup();
    dirs
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_libraries_of_this_process_are_found() {
        let dirs = super::mapped_dirs();
        assert!(!dirs.is_empty());
        assert!(dirs.iter().all(|d| d.is_absolute()), "{dirs:?}");
    }
}
