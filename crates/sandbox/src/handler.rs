//! A loaded handler: its `InstancePre`, limits and files. Each call gets a fresh store and
//! instance, runs under the deadline and memory cap, and is classified into a typed outcome.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use ferroserve_tensor::Tensor;
use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Engine, PoolConcurrencyLimitError, Store, Trap, UpdateDeadline};

use crate::bindings::{HandlerError, HandlerWorld, v1};
use crate::convert::{self, HandlerRequest, HandlerResponse, Prepared};
use crate::host::{FilesDir, HostState};
use crate::share::{self, Group};
use crate::world::WorldPre;
use crate::{Limits, SandboxError, compat};

/// How long a handler that ran past `demote_after` is remembered as a long runner: its calls
/// in that window start demoted, so a looping handler gets no normal-priority slice at all.
const REMEMBER_LONG: Duration = Duration::from_secs(1);

/// What a call left behind besides its result: for logs, metrics and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallReport {
    pub elapsed: Duration,
    pub stdout: String,
    pub stdout_dropped: u64,
    pub stderr: String,
    pub stderr_dropped: u64,
    /// Time the call spent waiting for or resting from CPU because other tenants were busy
    /// (share.rs); part of `elapsed`.
    pub throttled: Duration,
}

pub(crate) struct HandlerInner {
    pub(crate) name: Arc<str>,
    pub(crate) pre: WorldPre,
    pub(crate) runtime: crate::Runtime,
    pub(crate) limits: Limits,
    /// How long a call runs at normal CPU priority before its thread is demoted: long
    /// enough for any well-behaved pre/post-processing of one request in the handler's
    /// language (`Runtime::demote_after`). Checked at each epoch tick.
    pub(crate) demote_after: Duration,
    pub(crate) files: Option<FilesDir>,
    pub(crate) engine: Engine,
    pub(crate) pool_capacity: usize,
    pub(crate) ran_long: Arc<RanLong>,
    pub(crate) group: Arc<Group>,
    /// All calls' `CallReport::throttled`, in µs, for metrics.
    pub(crate) throttled_us: AtomicU64,
    /// This handler's hold on its compile-cache file: the file goes with the last holder.
    pub(crate) _compiled: Option<crate::cache::Entry>,
}

/// When this handler's calls last ran past `demote_after` (ms since the first use; 0: never).
/// Per handler, so one model's looping calls don't demote its tenant's other models.
#[derive(Debug, Default)]
pub(crate) struct RanLong(AtomicU64);

impl RanLong {
    fn mark(&self) {
        self.0.store(share::clock_ms().max(1), Relaxed);
    }

    pub(crate) fn recently(&self) -> bool {
        let at = self.0.load(Relaxed);
        at != 0 && share::clock_ms().saturating_sub(at) < REMEMBER_LONG.as_millis() as u64
    }
}

type Outcome<T> = (Result<T, SandboxError>, CallReport);

pub(crate) fn linker(engine: &Engine) -> wasmtime::Result<Linker<HostState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    HandlerWorld::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)?;
    v1::HandlerWorld::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)?;
    crate::clocks::shadow(&mut linker)?;
    Ok(linker)
}

/// An instance of either version of the world.
enum World {
    V1(v1::HandlerWorld),
    V2(HandlerWorld),
}

/// A call's result once its output is converted: when the host lifted an output only to
/// refuse it, what the lifting took from the heap goes back (trim.rs).
fn refused_output<T>(result: Result<T, SandboxError>) -> Result<T, SandboxError> {
    if let Err(e) = &result
        && crate::trim::lifted_then_refused(e)
    {
        crate::trim::after_refusal();
    }
    result
}

impl HandlerInner {
    pub(crate) fn preprocess(&self, request: HandlerRequest) -> Outcome<Prepared> {
        let request = convert::request_to_wit(request);
        let old = match &self.pre {
            WorldPre::V1(_) => match compat::request(&request) {
                Ok(r) => Some(r),
                Err(e) => return (Err(e), CallReport::default()),
            },
            WorldPre::V2(_) => None,
        };
        let (result, report) = self.call(|store, world| match world {
            World::V2(w) => w
                .ferroserve_handler_handler()
                .call_preprocess(store, &request),
            World::V1(w) => w
                .ferroserve_handler_handler()
                .call_preprocess(store, old.as_ref().expect("converted above"))
                .map(|r| r.map(compat::prepared).map_err(compat::error)),
        });
        let max = self.limits.max_output_bytes;
        (
            refused_output(result.and_then(|p| convert::prepared_from_wit(p, max))),
            report,
        )
    }

    pub(crate) fn postprocess(
        &self,
        outputs: &[Tensor],
        context: &[u8],
    ) -> Outcome<HandlerResponse> {
        let outputs: Vec<_> = outputs.iter().map(convert::tensor_to_wit).collect();
        let (result, report) = self.call(|store, world| match world {
            World::V2(w) => w
                .ferroserve_handler_handler()
                .call_postprocess(store, &outputs, context),
            World::V1(w) => {
                let old: Vec<_> = outputs.iter().map(compat::tensor).collect();
                w.ferroserve_handler_handler()
                    .call_postprocess(store, &old, context)
                    .map(|r| r.map(compat::response).map_err(compat::error))
            }
        });
        let max = self.limits.max_output_bytes;
        (
            refused_output(result.and_then(|r| convert::response_from_wit(r, max))),
            report,
        )
    }

    /// Instantiates once and binds the exports, which type-checks them against the world;
    /// no guest function runs.
    pub(crate) fn check_exports(&self) -> Result<(), SandboxError> {
        let state = HostState::new(self.name.clone(), &self.limits, self.files.as_ref())
            .map_err(|e| SandboxError::Engine(format!("setting up the export check: {e}")))?;
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limiter);
        // Instantiation runs no guest code here; a bound keeps it so.
        store.set_epoch_deadline(100);
        let bound = match &self.pre {
            WorldPre::V1(pre) => pre.instantiate(&mut store).map(drop),
            WorldPre::V2(pre) => pre.instantiate(&mut store).map(drop),
        };
        match bound {
            Ok(()) => Ok(()),
            Err(e) if e.downcast_ref::<PoolConcurrencyLimitError>().is_some() => Ok(()),
            Err(e) => Err(SandboxError::WorldMismatch(format!(
                "its exports do not have the types of ferroserve:handler@{}: {}",
                self.pre.version(),
                e.root_cause()
            ))),
        }
    }

    /// One fresh instance, one export call, then classification. The store, and with it
    /// the instance and its memory, is gone before this returns.
    fn call<T>(
        &self,
        f: impl FnOnce(&mut Store<HostState>, &World) -> wasmtime::Result<Result<T, HandlerError>>,
    ) -> Outcome<T> {
        let started = Instant::now();
        let until = started + self.limits.deadline;
        let mut ticket = self.group.enter();
        let known_long = self.ran_long.recently();
        // A known long runner waits for its turn before it starts, not after a tick of work.
        if known_long && ticket.throttle(until).is_err() {
            let report = CallReport {
                elapsed: started.elapsed(),
                throttled: ticket.throttled,
                ..CallReport::default()
            };
            let result = Err(SandboxError::DeadlineExceeded {
                deadline: self.limits.deadline,
            });
            self.after_call(&report, &result);
            return (result, report);
        }
        let mut state = match HostState::new(self.name.clone(), &self.limits, self.files.as_ref()) {
            Ok(s) => s,
            Err(e) => {
                return (
                    Err(SandboxError::Trap {
                        message: format!("setting up the call: {e}"),
                    }),
                    CallReport::default(),
                );
            }
        };
        state.ticket = Some(ticket);
        state.until = Some(until);
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limiter);
        // Every tick, the call's own clock decides: past `demote_after` the thread yields the CPU
        // to others (see executor.rs) and the call is throttled while other tenants are busy
        // (share.rs); past the deadline it traps. Counting ticks instead would demote a short
        // call that merely straddles a tick, putting it on the idle class beside looping
        // handlers (measured: the other tenant's p99 3.5x).
        let ran_long = self.ran_long.clone();
        let demote_after = self.demote_after;
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |mut ctx| {
            let elapsed = started.elapsed();
            if elapsed >= demote_after {
                ran_long.mark();
                crate::executor::demote_current_thread();
                if let Some(ticket) = ctx.data_mut().ticket.as_mut() {
                    ticket.throttle(until).map_err(|_| Trap::Interrupt)?;
                }
            }
            if Instant::now() >= until {
                return Err(Trap::Interrupt.into());
            }
            Ok(UpdateDeadline::Continue(1))
        });
        let instance = match &self.pre {
            WorldPre::V1(pre) => pre.instantiate(&mut store).map(World::V1),
            WorldPre::V2(pre) => pre.instantiate(&mut store).map(World::V2),
        };
        let outcome = instance.and_then(|world| {
            // A known long runner starts demoted: its first tick at normal priority would
            // otherwise hold a core that a short call woke up for (the scheduler lets the
            // running thread finish its slice). Instantiation stays at normal priority: it
            // takes the pool's lock.
            if known_long {
                crate::executor::demote_current_thread();
            }
            f(&mut store, &world)
        });
        crate::executor::restore_current_thread();
        let state = store.into_data();
        let (stdout, stdout_dropped) = state.stdout.take();
        let (stderr, stderr_dropped) = state.stderr.take();
        let report = CallReport {
            elapsed: started.elapsed(),
            throttled: state.ticket.map_or(Duration::ZERO, |t| t.throttled),
            stdout,
            stdout_dropped,
            stderr,
            stderr_dropped,
        };
        let result = match outcome {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(HandlerError::BadInput(m))) => Err(SandboxError::BadInput(m)),
            // An interpreter turns a refused allocation into an exception (Python's
            // MemoryError) that the SDK reports as an internal error: the limit is the cause.
            Ok(Err(HandlerError::Internal(_))) if state.limiter.refused => {
                Err(SandboxError::MemoryLimit {
                    limit: self.limits.memory_bytes,
                })
            }
            Ok(Err(HandlerError::Internal(m))) => Err(SandboxError::HandlerFailed(m)),
            Err(e) => Err(self.classify(e, state.limiter.refused, &report.stderr)),
        };
        self.after_call(&report, &result);
        (result, report)
    }

    fn classify(&self, err: wasmtime::Error, memory_refused: bool, stderr: &str) -> SandboxError {
        if err.downcast_ref::<PoolConcurrencyLimitError>().is_some() {
            return SandboxError::PoolExhausted {
                capacity: self.pool_capacity,
            };
        }
        tracing::debug!(model = &*self.name, error = ?err, "handler call failed");
        if let Some(exit) = err.downcast_ref::<wasmtime_wasi::I32Exit>() {
            return SandboxError::Trap {
                message: format!(
                    "the handler exited the process (status {}); a handler must return a result or an error, never exit",
                    exit.0
                ),
            };
        }
        if let Some(wasmtime::component::ResourceTableError::Full) = err.downcast_ref() {
            return SandboxError::TooManyResources {
                limit: crate::host::MAX_CALL_RESOURCES,
            };
        }
        let trap = err.downcast_ref::<Trap>().copied();
        match trap {
            Some(Trap::Interrupt) => SandboxError::DeadlineExceeded { deadline: self.limits.deadline },
            // The guest's allocator aborts after the limiter says no.
            _ if memory_refused => SandboxError::MemoryLimit { limit: self.limits.memory_bytes },
            Some(Trap::StackOverflow) => SandboxError::Trap { message: "wasm stack overflow (recursion too deep)".into() },
            // Rust guests keep their stack in linear memory; overflowing it walks off the
            // bottom of memory, which is how deep recursion usually shows up.
            Some(Trap::MemoryOutOfBounds) => SandboxError::Trap {
                message: "out of bounds memory access (deep recursion overflowing the guest's stack looks like this)".into(),
            },
            _ => match panic_message(stderr) {
                Some(message) => SandboxError::Panic { message },
                // Not a trap: the guest broke the host interface (a bad argument to an
                // import, say). The root cause names it; the wasm backtrace is for the log.
                None => SandboxError::Trap {
                    message: trap.map_or_else(
                        || format!("the handler misused the host interface: {}", err.root_cause()),
                        |t| t.to_string(),
                    ),
                },
            },
        }
    }

    /// Adds up throttled time and forwards the guest's output and failure to the log.
    fn after_call(&self, report: &CallReport, result: &Result<impl Sized, SandboxError>) {
        self.throttled_us
            .fetch_add(report.throttled.as_micros() as u64, Relaxed);
        let model = &*self.name;
        for (stream, text, dropped) in [
            ("stdout", &report.stdout, report.stdout_dropped),
            ("stderr", &report.stderr, report.stderr_dropped),
        ] {
            if !text.is_empty() || dropped > 0 {
                tracing::info!(target: "handler", model, stream, dropped_bytes = dropped, "{}", text.trim_end());
            }
        }
        if let Err(e) = result {
            tracing::debug!(
                model,
                kind = e.kind(),
                elapsed_us = report.elapsed.as_micros() as u64,
                "{e}"
            );
        }
    }
}

/// Rust's panic hook prints `thread '…' panicked at FILE:LINE:COL:\nMESSAGE`.
fn panic_message(stderr: &str) -> Option<String> {
    let start = stderr.find("panicked at ")?;
    let rest = &stderr[start..];
    let message: Vec<&str> = rest
        .lines()
        .skip(1)
        .take_while(|l| !l.starts_with("note: ") && !l.is_empty())
        .collect();
    let location = rest.lines().next().unwrap_or("").trim_end_matches(':');
    Some(if message.is_empty() {
        location.to_string()
    } else {
        format!("{} ({location})", message.join("\n"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_run_is_remembered() {
        let ran_long = RanLong::default();
        assert!(!ran_long.recently());
        ran_long.mark();
        assert!(ran_long.recently());
    }

    #[test]
    fn extracts_the_panic_message() {
        let stderr = "\nthread '<unnamed>' panicked at src/lib.rs:9:9:\nfixture panicked on purpose\nnote: run with `RUST_BACKTRACE=1`\n";
        assert_eq!(
            panic_message(stderr).unwrap(),
            "fixture panicked on purpose (panicked at src/lib.rs:9:9)"
        );
        assert_eq!(panic_message("just some logging"), None);
    }
}
