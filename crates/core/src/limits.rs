//! A handler's limits: the server's defaults, capped by the tenant's quotas, then what the
//! archive asks for within the server's ceilings. An archive asking past a quota is refused
//! naming the quota; past a server ceiling, naming the setting.

use std::time::Duration;

use ferroserve_archive::HandlerLimits;
use ferroserve_sandbox::Limits;

use crate::Error;
use crate::settings::ModelDefaults;
use crate::tenancy::Quotas;

pub fn handler_limits(
    d: &ModelDefaults,
    asked: Option<HandlerLimits>,
    quotas: Option<&Quotas>,
) -> Result<Limits, Error> {
    let mut limits = d.handler.clone();
    if let Some(q) = quotas {
        check_quotas(q, asked.as_ref())?;
        let memory = q.max_handler_memory_mib.saturating_mul(1 << 20);
        limits.memory_bytes = limits.memory_bytes.min(memory);
        limits.deadline = limits
            .deadline
            .min(Duration::from_millis(q.max_handler_deadline_ms));
    }
    let Some(asked) = asked else {
        return Ok(limits);
    };
    let origin = "the archive's model config";
    if let Some(mib) = asked.memory_mib {
        // The upper bound is the server's ceiling, checked when the sandbox loads it.
        crate::bounds::Range::new("handlerLimits.memoryMib", 1, u64::MAX >> 20)
            .check(mib, origin)?;
        limits.memory_bytes = (mib as usize).saturating_mul(1 << 20);
    }
    if let Some(ms) = asked.deadline_ms {
        crate::bounds::Range::new("handlerLimits.deadlineMs", 1, u64::MAX).check(ms, origin)?;
        let deadline = Duration::from_millis(ms);
        if deadline > d.max_handler_deadline {
            return Err(Error::HandlerLimitTooHigh {
                asked_ms: ms,
                max_ms: d.max_handler_deadline.as_millis(),
            });
        }
        limits.deadline = deadline;
    }
    if let Some(bytes) = asked.max_output_bytes {
        // What a call returns lives in its memory first, then on the host: more than the
        // memory grant could never be returned, and would only let the host hold more.
        let grant = limits.memory_bytes as u64;
        crate::bounds::Range::new("handlerLimits.maxOutputBytes", 1, grant).check(
            bytes,
            "the archive's model config (at most its handler memory)",
        )?;
        limits.max_output_bytes = bytes as usize;
    }
    Ok(limits)
}

/// An archive asking for more handler memory or time than the tenant may have.
fn check_quotas(q: &Quotas, asked: Option<&HandlerLimits>) -> Result<(), Error> {
    let Some(asked) = asked else { return Ok(()) };
    if let Some(mib) = asked.memory_mib
        && mib > q.max_handler_memory_mib as u64
    {
        let what = format!("the archive asks for {mib} MiB of handler memory");
        return Err(Error::quota(
            "max_handler_memory_mib",
            q.max_handler_memory_mib as u64,
            what,
        ));
    }
    if let Some(ms) = asked.deadline_ms
        && ms > q.max_handler_deadline_ms
    {
        let what = format!("the archive asks for a {ms} ms handler deadline");
        return Err(Error::quota(
            "max_handler_deadline_ms",
            q.max_handler_deadline_ms,
            what,
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asked(memory_mib: Option<u64>, deadline_ms: Option<u64>) -> Option<HandlerLimits> {
        Some(HandlerLimits {
            memory_mib,
            deadline_ms,
            max_output_bytes: None,
        })
    }

    #[test]
    fn quotas_cap_the_defaults_and_refuse_asking_for_more() {
        let d = ModelDefaults::default();
        let q = Quotas {
            max_handler_memory_mib: 16,
            max_handler_deadline_ms: 500,
            ..Quotas::default()
        };
        let l = handler_limits(&d, None, Some(&q)).unwrap();
        assert_eq!(l.memory_bytes, 16 << 20);
        assert_eq!(l.deadline, Duration::from_millis(500));
        let e = handler_limits(&d, asked(Some(17), None), Some(&q)).unwrap_err();
        assert!(e.to_string().contains("max_handler_memory_mib = 16"), "{e}");
        let e = handler_limits(&d, asked(None, Some(501)), Some(&q)).unwrap_err();
        assert_eq!(e.kind(), "QuotaExceeded");
    }

    #[test]
    fn the_server_ceiling_bounds_every_archive() {
        let d = ModelDefaults::default();
        let too_long = d.max_handler_deadline.as_millis() as u64 + 1;
        let e = handler_limits(&d, asked(None, Some(too_long)), None).unwrap_err();
        assert_eq!(e.kind(), "HandlerLimitTooHigh");
        let l = handler_limits(&d, asked(Some(64), Some(100)), None).unwrap();
        assert_eq!(
            (l.memory_bytes, l.deadline),
            (64 << 20, Duration::from_millis(100))
        );
    }

    #[test]
    fn an_archive_cannot_ask_to_return_more_than_its_memory() {
        let d = ModelDefaults::default();
        let asked = |bytes| {
            Some(HandlerLimits {
                memory_mib: Some(64),
                max_output_bytes: Some(bytes),
                ..Default::default()
            })
        };
        let ok = handler_limits(&d, asked(1 << 20), None).unwrap();
        assert_eq!(ok.max_output_bytes, 1 << 20);
        let zero = Some(HandlerLimits {
            memory_mib: Some(0),
            ..Default::default()
        });
        assert_eq!(
            handler_limits(&d, zero, None).unwrap_err().kind(),
            "OutOfRange"
        );
        let zero = Some(HandlerLimits {
            deadline_ms: Some(0),
            ..Default::default()
        });
        assert_eq!(
            handler_limits(&d, zero, None).unwrap_err().kind(),
            "OutOfRange"
        );
        for bytes in [0, (64 << 20) + 1, u64::MAX] {
            let err = handler_limits(&d, asked(bytes), None).unwrap_err();
            assert_eq!(err.kind(), "OutOfRange", "{bytes}");
            assert!(err.to_string().contains("maxOutputBytes"), "{err}");
        }
    }
}
