//! The limits table: the range of every number a registration, a scale request, an
//! archive's model config or the server's own config can set, and the one rule for model
//! names and versions. Values are checked where they enter (the core's operations, so every
//! protocol gets the same answer) and a refusal names the field, the value, the range and
//! the setting that bounds it. docs/configuration.md ("Limits") is the same table for
//! operators. The worker budget is in `workers.rs`.

use crate::Error;

/// Server-wide ceilings (the `limit_*` keys of the server config).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ceilings {
    pub batch_size: u64,
    pub batch_delay_ms: u64,
    pub response_timeout_s: u64,
    pub workers_per_model: u64,
    pub workers_per_tenant: u64,
    pub workers_total: u64,
}

/// One range of the table: `field` as the caller spelled it, `setting` the config key
/// that sets `max` (when one does).
#[derive(Debug, Clone, Copy)]
pub struct Range {
    pub field: &'static str,
    pub min: u64,
    pub max: u64,
    pub setting: Option<&'static str>,
}

impl Range {
    pub const fn new(field: &'static str, min: u64, max: u64) -> Range {
        Range {
            field,
            min,
            max,
            setting: None,
        }
    }

    pub const fn bounded_by(self, setting: &'static str) -> Range {
        Range {
            setting: Some(setting),
            ..self
        }
    }

    /// `value` when it is in range, else the error naming field, value and range; `origin`
    /// says where the value came from ("the request", "the archive's model config").
    pub fn check(&self, value: u64, origin: &str) -> Result<u64, Error> {
        if (self.min..=self.max).contains(&value) {
            return Ok(value);
        }
        Err(Error::OutOfRange {
            field: self.field.to_owned(),
            value: value.to_string(),
            origin: origin.to_owned(),
            min: self.min,
            max: self.max,
            setting: self.setting,
        })
    }
}

/// The longest model name or version (TorchServe's rule has none; 128 keeps paths, metric
/// labels and log lines sane).
pub const MAX_NAME_LEN: usize = 128;

/// The one rule for model names and versions, on every route and protocol: 1-128 ASCII
/// letters, digits, `_`, `-` or `.`, starting with a letter or digit. `/` (the tenant
/// separator) can never appear, so no name in the shared namespace can stand for a
/// tenant's.
pub fn check_name(what: &'static str, name: &str) -> Result<(), Error> {
    if ferroserve_archive::valid_model_name(name) {
        return Ok(());
    }
    Err(Error::InvalidModelName {
        what,
        name: shown(name),
    })
}

/// `name` as an error message may show it: at most 64 characters, control characters
/// escaped, so a hostile name can neither bloat nor garble a response or a log line.
pub fn shown(name: &str) -> String {
    let mut s: String = name.chars().take(64).collect();
    if name.chars().count() > 64 {
        s.push('…');
    }
    format!("{s:?}")
}

/// The least `compile_memory_mib` (memory beyond the compiler's start-up): below it not
/// even a tiny Rust handler compiles.
pub const MIN_COMPILE_MEMORY_MIB: u64 = 16;

/// The server config's own numbers, checked at start: a value out of range stops the
/// server naming the key, instead of overflowing later (a timeout of `u64::MAX` seconds
/// once made every request panic).
pub fn check_config(c: &crate::ServerConfig) -> Result<(), Error> {
    let n = |v: usize| v as u64;
    let table: [(Range, u64); 40] = [
        (
            Range::new("max_request_size", 1, 1 << 32),
            n(c.max_request_size),
        ),
        (Range::new("max_upload_size", 1, 1 << 40), c.max_upload_size),
        (
            Range::new("request_timeout_s", 1, 86_400),
            c.request_timeout_s,
        ),
        (Range::new("fetch_timeout_s", 1, 3600), c.fetch_timeout_s),
        (
            Range::new("max_concurrent_requests", 0, 1_000_000),
            n(c.max_concurrent_requests),
        ),
        (
            Range::new("job_queue_size", 1, 1_000_000),
            n(c.job_queue_size),
        ),
        (
            Range::new("max_connections", 1, 1_000_000),
            n(c.max_connections),
        ),
        (
            Range::new("header_read_timeout_s", 1, 3600),
            c.header_read_timeout_s,
        ),
        (
            Range::new("body_read_timeout_s", 1, 3600),
            c.body_read_timeout_s,
        ),
        (
            Range::new("min_body_bytes_per_s", 0, 1 << 30),
            c.min_body_bytes_per_s,
        ),
        (
            Range::new("limit_batch_size", 1, 65_536),
            n(c.limit_batch_size),
        ),
        (
            Range::new("limit_batch_delay_ms", 0, 3_600_000),
            c.limit_batch_delay_ms,
        ),
        (
            Range::new("limit_response_timeout_s", 1, 604_800),
            c.limit_response_timeout_s,
        ),
        (
            Range::new("limit_workers_per_model", 1, 4096),
            n(c.limit_workers_per_model),
        ),
        (
            Range::new("limit_workers_per_tenant", 1, 65_536),
            n(c.limit_workers_per_tenant),
        ),
        (
            Range::new("limit_workers_total", 1, 65_536),
            n(c.limit_workers_total),
        ),
        (
            Range::new("batch_size", 1, n(c.limit_batch_size)).bounded_by("limit_batch_size"),
            n(c.batch_size),
        ),
        (
            Range::new("max_batch_delay_ms", 0, c.limit_batch_delay_ms)
                .bounded_by("limit_batch_delay_ms"),
            c.max_batch_delay_ms,
        ),
        (
            Range::new("min_workers", 0, n(c.limit_workers_per_model))
                .bounded_by("limit_workers_per_model"),
            n(c.min_workers),
        ),
        (
            Range::new("max_workers", 1, n(c.limit_workers_per_model))
                .bounded_by("limit_workers_per_model"),
            n(c.max_workers),
        ),
        (
            Range::new("response_timeout_s", 1, c.limit_response_timeout_s)
                .bounded_by("limit_response_timeout_s"),
            c.response_timeout_s,
        ),
        (
            Range::new("max_handler_memory_mib", 1, 65_536),
            n(c.max_handler_memory_mib),
        ),
        (
            Range::new("handler_memory_mib", 1, n(c.max_handler_memory_mib))
                .bounded_by("max_handler_memory_mib"),
            n(c.handler_memory_mib),
        ),
        (
            Range::new("max_handler_deadline_ms", 1, 3_600_000),
            c.max_handler_deadline_ms,
        ),
        (
            Range::new("handler_deadline_ms", 1, c.max_handler_deadline_ms)
                .bounded_by("max_handler_deadline_ms"),
            c.handler_deadline_ms,
        ),
        (Range::new("sandbox_threads", 0, 1024), n(c.sandbox_threads)),
        (
            Range::new("sandbox_threads_per_tenant", 0, 1024),
            n(c.sandbox_threads_per_tenant),
        ),
        (
            Range::new("sandbox_queue_depth", 0, 1_000_000),
            n(c.sandbox_queue_depth),
        ),
        (Range::new("torch_threads", 0, 1024), n(c.torch_threads)),
        (Range::new("audit_log_mib", 1, 1 << 20), c.audit_log_mib),
        (
            Range::new("shared_model_memory_mib", 0, 1 << 24),
            c.shared_model_memory_mib,
        ),
        (
            Range::new("shared_model_threads", 0, 1 << 20),
            c.shared_model_threads,
        ),
        (
            Range::new("shared_model_cpu_percent", 0, 100_000),
            c.shared_model_cpu_percent,
        ),
        (
            Range::new("compile_max_component_mib", 1, 4096),
            c.compile_max_component_mib,
        ),
        (
            Range::new("compile_max_functions", 1, 10_000_000),
            c.compile_max_functions,
        ),
        (
            Range::new("compile_max_function_kib", 1, 1 << 20),
            c.compile_max_function_kib,
        ),
        (Range::new("compile_cpu_s", 1, 3600), c.compile_cpu_s),
        (
            Range::new("compile_memory_mib", MIN_COMPILE_MEMORY_MIB, 1 << 20),
            c.compile_memory_mib,
        ),
        (
            Range::new("compile_timeout_s", 1, 3600),
            c.compile_timeout_s,
        ),
        (
            Range::new("compile_concurrency", 0, 1024),
            n(c.compile_concurrency),
        ),
    ];
    for (range, value) in table {
        range.check(value, "the server config")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_config_is_in_range_and_a_bad_key_is_named() {
        check_config(&crate::ServerConfig::default()).unwrap();
        let c = crate::ServerConfig {
            response_timeout_s: u64::MAX,
            ..crate::ServerConfig::default()
        };
        let e = check_config(&c).unwrap_err().to_string();
        assert!(
            e.starts_with("response_timeout_s = 18446744073709551615 (the server config)"),
            "{e}"
        );
        let c = crate::ServerConfig {
            handler_memory_mib: 2048,
            ..crate::ServerConfig::default()
        };
        let e = check_config(&c).unwrap_err().to_string();
        assert!(e.contains("max_handler_memory_mib"), "{e}");
    }

    #[test]
    fn a_range_names_its_field_value_range_and_setting() {
        let r = Range::new("batch_size", 1, 1024).bounded_by("limit_batch_size");
        assert_eq!(r.check(8, "the request").unwrap(), 8);
        for bad in [0, 1025, u64::MAX] {
            let e = r.check(bad, "the request").unwrap_err().to_string();
            assert!(e.contains(&format!("batch_size = {bad}")), "{e}");
            assert!(e.contains("1..=1024"), "{e}");
            assert!(e.contains("limit_batch_size"), "{e}");
            assert!(e.contains("the request"), "{e}");
        }
    }

    #[test]
    fn names_follow_one_rule() {
        for ok in ["mlp", "resnet-18", "a.b_c", "1.0", &"x".repeat(128)] {
            check_name("model name", ok).unwrap();
        }
        let long = "x".repeat(129);
        for bad in [
            "", "x/y", "a/shadow", "-x", ".x", "a b", "a\nb", "a\"b", "a\0b", "é", &long,
        ] {
            let e = check_name("model name", bad).unwrap_err();
            assert_eq!(e.kind(), "InvalidModelName", "{bad:?}");
            assert!(e.to_string().len() < 300, "{e}");
        }
    }

    #[test]
    fn shown_names_are_short_and_escaped() {
        assert_eq!(shown("a\nb"), "\"a\\nb\"");
        let s = shown(&"y".repeat(10_000));
        assert!(s.chars().count() < 70, "{s}");
    }
}
