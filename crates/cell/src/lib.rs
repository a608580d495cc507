//! Tenant cells: a tenant's TorchScript runs in a worker process of its own (a *cell*),
//! never in the server. The server keeps the batcher; a model in a cell is a
//! [`BatchRunner`](ferroserve_batcher::BatchRunner) ([`CellModel`]) that sends each stacked
//! batch over a Unix socket and reads the outputs back, sizes checked before anything is
//! allocated or mapped; big tensors (from 2 MiB) cross as a sealed memfd sent with the
//! frame (`shm.rs`), not through the socket.
//!
//! Server side: [`Cells`] holds one [`cell::Cell`] per owner (a tenant, or the shared
//! namespace). A cell is started on its owner's first model (`process.rs`: the same binary
//! as a subcommand, no network, no core dumps, killed with the server), forked by default
//! from a zygote that loaded libtorch once (`zygote.rs` the zygote's loop, `forks.rs` the
//! server's handle on it, `fds.rs` descriptors over the socket), so a cell shares the
//! library's pages and starts in milliseconds; put under the
//! owner's limits (`limits.rs`: cgroup v2 or v1 memory, pids and CPU where the server may
//! create groups, else an `RLIMIT_DATA` fallback), and supervised (`cell.rs`): a cell that
//! dies fails only its in-flight batches with the cause (`death.rs`: signal, OOM kill, exit
//! code), restarts with backoff and reloads its models; a model in flight at three deaths
//! in a row is marked failed; a forward past its response timeout plus a grace gets its
//! cell killed. `conn.rs` is one live connection (requests matched to replies by id; a
//! waiting caller reads the socket, so a reply wakes its own batcher thread);
//! `output.rs` relays what a cell writes to stdout and stderr into the server's log, under
//! a budget.
//!
//! Cell side: [`confine`] (`confine.rs`: Landlock read-only access to its libraries and
//! nothing else, signals scoped to itself, not dumpable) runs first; the server sends each
//! model's file, so a cell opens none. [`serve`] (`serve.rs`) answers the server over the socket, loading and running
//! models through the [`Engine`] seam (the binary implements it with libtorch; the
//! `fake-cell` binary with text-file models, for tests). The wire format is `proto.rs`;
//! `fds.rs`'s `FdReader` reads it with the descriptors that came along.
//!
//! Look elsewhere for the batching (`ferroserve-batcher`), libtorch (`ferroserve-torch`) and
//! how errors become statuses (`ferroserve-core`).

mod cell;
mod confine;
mod conn;
mod death;
mod error;
mod fds;
mod forks;
mod limits;
mod output;
mod process;
mod proto;
mod runner;
mod serve;
mod shm;
mod zygote;

pub use cell::{CellCommand, Cells, GRACE};
pub use confine::{Confined, confine};
pub use death::Death;
pub use error::CellError;
pub use limits::{CellLimits, Enforcement};
pub use proto::LoadSpec;
pub use runner::CellModel;
pub use serve::{Engine, serve, serve_fd};
pub use zygote::zygote_fd;
