//! A token bucket for a tenant's management changes (registrations, scale, unregister,
//! set-default). Each change starts workers, loads a model or writes an archive, so a loop
//! of them costs the whole server CPU and disk however few are in flight at once; the
//! bucket bounds their rate instead. It holds up to [`BURST`] changes and refills at
//! `per_minute / 60` a second.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Changes a tenant may make back to back before the per-minute rate applies.
pub const BURST: f64 = 10.0;

#[derive(Debug)]
pub struct Bucket {
    per_minute: u64,
    state: Mutex<(f64, Instant)>,
}

impl Bucket {
    pub fn new(per_minute: u64) -> Bucket {
        Bucket {
            per_minute,
            state: Mutex::new((capacity(per_minute), Instant::now())),
        }
    }

    /// Takes one change, or says how long until one is free (`per_minute` 0: never).
    pub fn take(&self, now: Instant) -> Result<(), Option<Duration>> {
        let rate = self.per_minute as f64 / 60.0;
        let mut state = self.state.lock().unwrap();
        let (tokens, then) = *state;
        let refilled = (tokens + rate * now.saturating_duration_since(then).as_secs_f64())
            .min(capacity(self.per_minute));
        // A clock read that lags the last one (two threads) refills nothing later twice.
        let now = now.max(then);
        if refilled >= 1.0 {
            *state = (refilled - 1.0, now);
            return Ok(());
        }
        *state = (refilled, now);
        if rate == 0.0 {
            return Err(None);
        }
        Err(Some(Duration::from_secs_f64((1.0 - refilled) / rate)))
    }
}

/// A rate below the burst allows only that many at once.
fn capacity(per_minute: u64) -> f64 {
    BURST.min(per_minute as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_rate() {
        let bucket = Bucket::new(60);
        let t0 = Instant::now();
        for i in 0..10 {
            assert!(bucket.take(t0).is_ok(), "change {i} of the burst");
        }
        let wait = bucket.take(t0).unwrap_err().unwrap();
        assert!(
            wait <= Duration::from_secs(1) && wait > Duration::ZERO,
            "{wait:?}"
        );
        // One a second after that, never two.
        let t1 = t0 + Duration::from_millis(1001);
        assert!(bucket.take(t1).is_ok());
        assert!(bucket.take(t1).is_err());
        // A long pause refills only up to the burst.
        let t2 = t1 + Duration::from_secs(3600);
        let taken = (0..100).filter(|_| bucket.take(t2).is_ok()).count();
        assert_eq!(taken, 10);
    }

    #[test]
    fn slow_rates_say_how_long_to_wait() {
        let bucket = Bucket::new(6);
        let t0 = Instant::now();
        for _ in 0..6 {
            bucket.take(t0).unwrap();
        }
        let wait = bucket.take(t0).unwrap_err().unwrap();
        assert!((9.9..=10.0).contains(&wait.as_secs_f64()), "{wait:?}");
        assert!(bucket.take(t0 + Duration::from_secs(5)).is_err());
        assert!(bucket.take(t0 + Duration::from_secs(10)).is_ok());
    }

    #[test]
    fn zero_allows_nothing_and_huge_rates_do_not_overflow() {
        let none = Bucket::new(0);
        assert_eq!(none.take(Instant::now()), Err(None));
        let huge = Bucket::new(u64::MAX);
        let t0 = Instant::now();
        let taken = (0..1000).filter(|_| huge.take(t0).is_ok()).count();
        assert_eq!(taken, 10, "the burst still bounds a burst");
        assert!(huge.take(t0 + Duration::from_nanos(1)).is_ok());
    }

    #[test]
    fn a_clock_that_goes_back_refills_nothing() {
        let bucket = Bucket::new(60);
        let t0 = Instant::now() + Duration::from_secs(10);
        for _ in 0..10 {
            bucket.take(t0).unwrap();
        }
        assert!(bucket.take(t0 - Duration::from_secs(5)).is_err());
    }
}
