//! The zygote: one process that has loaded the binary (libtorch, its relocations, its
//! static initialisers) once and forks every cell from there. A forked cell shares those
//! pages copy-on-write instead of owning ~200 MB of its own, and starts in milliseconds
//! instead of an exec and a dynamic link.
//!
//! It is single-threaded (a fork copies only the calling thread, so threads holding locks
//! would leave them held), listens on its control socket and on a pidfd per cell, and
//! speaks fixed 16-byte messages `[op][3 bytes 0][pid u32][value u64]`, little-endian:
//! - `F` from the server, with a cell's socket, stdout and stderr attached: fork a cell
//!   (`value`: its `RLIMIT_DATA`, `u64::MAX` for none);
//! - `P` back, with the cell's pidfd attached (`E`: the fork failed, `value` the errno);
//! - `X` when a cell exits (`value`: its wait status), since only the zygote can reap it.
//!
//! A cell keeps nothing of the zygote: descriptors other than its own three are closed,
//! it has a network namespace of its own and confines itself as an exec'd cell would.
//! The server's side is `spawner.rs`.

use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};

use rustix::event::{PollFd, PollFlags};

use crate::fds;

pub(crate) const MSG: usize = 16;
pub(crate) const FORK: u8 = b'F';
pub(crate) const FORKED: u8 = b'P';
pub(crate) const FORK_FAILED: u8 = b'E';
pub(crate) const EXITED: u8 = b'X';

pub(crate) fn message(op: u8, pid: u32, value: u64) -> [u8; MSG] {
    let mut m = [0u8; MSG];
    m[0] = op;
    m[4..8].copy_from_slice(&pid.to_le_bytes());
    m[8..].copy_from_slice(&value.to_le_bytes());
    m
}

pub(crate) fn parse(m: &[u8; MSG]) -> (u8, u32, u64) {
    let pid = u32::from_le_bytes(m[4..8].try_into().unwrap());
    (m[0], pid, u64::from_le_bytes(m[8..].try_into().unwrap()))
}

/// Runs the zygote on the control socket `fd` until the server hangs up; each forked cell
/// runs `cell` and exits with what it returns.
///
/// # Safety
/// `fd` must be the control socket the server passed, owned by nothing else.
pub unsafe fn zygote_fd(fd: RawFd, cell: impl Fn() -> i32) -> io::Result<()> {
    // SAFETY: the caller's promise.
    let control = unsafe { OwnedFd::from_raw_fd(fd) };
    let threads = std::fs::read_dir("/proc/self/task")?.count();
    if threads != 1 {
        return Err(io::Error::other(format!(
            "a zygote must be single-threaded to fork safely, and this one has {threads} threads"
        )));
    }
    // SAFETY: a plain prctl on this process; its cells inherit it.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    let me = std::process::id() as libc::pid_t;
    let mut cells: Vec<(u32, OwnedFd)> = Vec::new();
    loop {
        let ready = wait_ready(&control, &cells)?;
        // Exits first, in reverse so the indices hold.
        for i in (1..ready.len()).rev().filter(|&i| ready[i]) {
            let (pid, _pidfd) = cells.remove(i - 1);
            let mut status = 0;
            // SAFETY: our own child, which the pidfd says has exited.
            unsafe { libc::waitpid(pid as libc::pid_t, &mut status, 0) };
            fds::send(&control, &message(EXITED, pid, status as u32 as u64), &[])?;
        }
        if !ready[0] {
            continue;
        }
        let mut m = [0u8; MSG];
        let mut passed = Vec::new();
        if !fds::recv_exact(&control, &mut m, &mut passed)? {
            return Ok(());
        }
        let (op, _, rlimit) = parse(&m);
        if op != FORK || passed.len() != 3 {
            return Err(io::Error::other("a bad message on the zygote's socket"));
        }
        // SAFETY: this process has one thread (checked above, and it starts none).
        match unsafe { libc::fork() } {
            -1 => {
                let errno = io::Error::last_os_error().raw_os_error().unwrap_or(0);
                fds::send(&control, &message(FORK_FAILED, 0, errno as u64), &[])?;
            }
            0 => {
                // SAFETY: the new cell, single-threaded; `passed` are its own descriptors.
                unsafe { become_cell(&passed, rlimit, me) };
                std::process::exit(cell());
            }
            pid => {
                drop(passed);
                let pid = pid as u32;
                let pidfd = rustix::process::pidfd_open(
                    rustix::process::Pid::from_raw(pid as i32).expect("a forked pid is positive"),
                    rustix::process::PidfdFlags::empty(),
                )?;
                fds::send(&control, &message(FORKED, pid, 0), &[pidfd.as_fd()])?;
                cells.push((pid, pidfd));
            }
        }
    }
}

/// Which of the control socket and the cells' pidfds are ready, in that order.
fn wait_ready(control: &OwnedFd, cells: &[(u32, OwnedFd)]) -> io::Result<Vec<bool>> {
    let mut polls = vec![PollFd::new(control, PollFlags::IN)];
    polls.extend(cells.iter().map(|(_, fd)| PollFd::new(fd, PollFlags::IN)));
    loop {
        match rustix::event::poll(&mut polls, None) {
            Ok(_) => break,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(polls.iter().map(|p| !p.revents().is_empty()).collect())
}

/// In the forked child: its socket on fd 3, its pipes on 1 and 2, nothing else open; dies
/// with the zygote; a session and a network namespace of its own.
unsafe fn become_cell(passed: &[OwnedFd], rlimit: u64, zygote: libc::pid_t) {
    let [socket, stdout, stderr] = [0, 1, 2].map(|i| passed[i].as_raw_fd());
    // SAFETY: plain syscalls in a single-threaded child on descriptors it owns.
    unsafe {
        if libc::dup2(socket, 3) < 0 || libc::dup2(stdout, 1) < 0 || libc::dup2(stderr, 2) < 0 {
            libc::_exit(1);
        }
        // The zygote's control socket and the other cells' pidfds go.
        libc::syscall(libc::SYS_close_range, 4u32, u32::MAX, 0u32);
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        if libc::getppid() != zygote {
            libc::_exit(1);
        }
        libc::setsid();
        if rlimit != u64::MAX {
            let data = libc::rlimit {
                rlim_cur: rlimit,
                rlim_max: rlimit,
            };
            libc::setrlimit(libc::RLIMIT_DATA, &data);
        }
        // Cells forked from one zygote would share its network namespace (and its
        // abstract sockets); each gets its own, as an exec'd cell does.
        libc::unshare(libc::CLONE_NEWNET);
    }
}
