//! Clock waits that end at the call's deadline. WASI's `subscribe-duration` and
//! `subscribe-instant` make pollables that the host blocks on in `poll`, where the epoch
//! deadline cannot reach: a handler sleeping 10 s held its sandbox thread 10 s past a 2 s
//! deadline, and a dozen such calls held every thread. These replacements shadow the two
//! functions: the wait ends at the earlier of what the guest asked and the call's deadline,
//! and a wait asked for once the deadline has passed traps at once (reported as the
//! deadline, like a loop that runs past it).

use std::time::{Duration, Instant};

use wasmtime::Trap;
use wasmtime::component::{Linker, Resource, ResourceTable};
use wasmtime_wasi::HostMonotonicClock;
use wasmtime_wasi::p2::{DynPollable, Pollable, subscribe};

use crate::host::HostState;

/// The interface whose functions are replaced, as wasmtime-wasi 48 names it (guests
/// importing an older 0.2 version are linked to it by semver).
const MONOTONIC_CLOCK: &str = "wasi:clocks/monotonic-clock@0.2.12";

/// A wait that ends at `until`.
struct Wait(tokio::time::Instant);

impl Pollable for Wait {
    fn ready<'a, 'b>(
        &'a mut self,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'b>>
    where
        'a: 'b,
    {
        Box::pin(tokio::time::sleep_until(self.0))
    }
}

pub(crate) fn shadow(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let mut clock = linker.instance(MONOTONIC_CLOCK)?;
    clock.func_wrap("subscribe-duration", |mut store, (nanos,): (u64,)| {
        let state = store.data_mut();
        let wait = capped(state.until, Duration::from_nanos(nanos))?;
        Ok((pollable(state.table(), wait)?,))
    })?;
    clock.func_wrap("subscribe-instant", |mut store, (when,): (u64,)| {
        let state = store.data_mut();
        let now = state.clock.now();
        let wait = capped(state.until, Duration::from_nanos(when.saturating_sub(now)))?;
        Ok((pollable(state.table(), wait)?,))
    })?;
    linker.allow_shadowing(false);
    Ok(())
}

/// How long a wait of `asked` may last under a deadline of `until`.
fn capped(until: Option<Instant>, asked: Duration) -> wasmtime::Result<Duration> {
    let Some(until) = until else {
        return Ok(asked);
    };
    let left = until.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(Trap::Interrupt.into());
    }
    Ok(asked.min(left))
}

fn pollable(table: &mut ResourceTable, wait: Duration) -> wasmtime::Result<Resource<DynPollable>> {
    let until = tokio::time::Instant::now() + wait;
    let wait = table.push(Wait(until))?;
    subscribe(table, wait)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_end_at_the_deadline_and_none_start_after_it() {
        let soon = Instant::now() + Duration::from_millis(500);
        let w = capped(Some(soon), Duration::from_secs(10)).unwrap();
        assert!(w <= Duration::from_millis(500), "{w:?}");
        let w = capped(Some(soon), Duration::from_millis(5)).unwrap();
        assert_eq!(w, Duration::from_millis(5));
        assert_eq!(capped(None, Duration::MAX).unwrap(), Duration::MAX);
        let past = Instant::now() - Duration::from_millis(1);
        let e = capped(Some(past), Duration::from_millis(1)).unwrap_err();
        assert_eq!(e.downcast_ref::<Trap>(), Some(&Trap::Interrupt));
    }
}
