//! What the `query` target does not send, though a client could: requests that would hurt
//! the machine the fuzzer shares rather than show a decoding bug. Both are open parts of
//! issue 13, owned elsewhere, and documented in docs/fuzzing.md:
//! - a worker count above [`MAX_WORKERS`] (`min_worker`, `max_worker`, `initial_workers`):
//!   the server starts that many OS threads (item 1);
//! - an archive upload (a `POST /models` body that is not a JSON object): each refused one
//!   stays in the state directory (item 4), millions of them would fill the disk. The
//!   archive reader has a fuzz target of its own (crates/archive/fuzz).
//!
//! The query is read with serde_urlencoded, as axum's `Query` reads it, and a value counts
//! as the server's `query::number` would read it (trimmed; JSON numbers or strings).

/// Above this many workers a request is not sent.
pub const MAX_WORKERS: u128 = 4;

const WORKER_KEYS: [&str; 3] = ["min_worker", "max_worker", "initial_workers"];

/// Why this request is not sent, if it is not. `register`: it is `POST /models`, whose
/// body is an archive unless it is a JSON object.
pub fn refuse(register: bool, query: Option<&str>, body: Option<&[u8]>) -> Option<&'static str> {
    let too_many = |v: &str| v.trim().parse::<u128>().is_ok_and(|n| n > MAX_WORKERS);
    if let Some(q) = query {
        // A query serde_urlencoded cannot read is refused by the server before any effect.
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(q).unwrap_or_default();
        if pairs
            .iter()
            .any(|(k, v)| WORKER_KEYS.contains(&k.as_str()) && too_many(v))
        {
            return Some("a worker count that would start that many threads (issue 13, item 1)");
        }
    }
    let body = body?;
    if !register {
        return None;
    }
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return (!body.iter().all(u8::is_ascii_whitespace))
            .then_some("an archive upload, kept on disk when refused (issue 13, item 4)");
    }
    let json: serde_json::Value = serde_json::from_slice(body).ok()?;
    let many = WORKER_KEYS.iter().any(|k| match json.get(k) {
        Some(serde_json::Value::Number(n)) => too_many(&n.to_string()),
        Some(serde_json::Value::String(s)) => too_many(s),
        _ => false,
    });
    many.then_some("a worker count that would start that many threads (issue 13, item 1)")
}

#[cfg(test)]
mod tests {
    use super::refuse;

    #[test]
    fn large_worker_counts_and_uploads_are_kept_off_the_machine() {
        assert!(refuse(true, Some("url=echo.mar&initial_workers=100000"), None).is_some());
        assert!(refuse(true, Some("min_worker=+%205"), None).is_some());
        assert!(refuse(true, Some("min_worker=4&max_worker=2"), None).is_none());
        assert!(refuse(true, Some("min_worker=dd"), None).is_none());
        assert!(refuse(true, None, Some(&br#"{"initial_workers": 1000}"#[..])).is_some());
        assert!(refuse(true, None, Some(&br#" {"initial_workers": "9"}"#[..])).is_some());
        assert!(
            refuse(
                true,
                None,
                Some(&br#"{"initial_workers": 2, "url": "echo.mar"}"#[..])
            )
            .is_none()
        );
        assert!(refuse(true, None, Some(&b"PK\x03\x04"[..])).is_some());
        assert!(refuse(true, None, Some(&b"  "[..])).is_none());
        // Only a registration's body is an upload; a prediction's is the model's input.
        assert!(refuse(false, None, Some(&b"[1, 2]"[..])).is_none());
        assert!(refuse(false, Some("initial_workers=9"), Some(&b"[1]"[..])).is_some());
        // JSON that does not parse never registers anything.
        assert!(refuse(true, None, Some(&b"{\"initial_workers\": 1000"[..])).is_none());
    }
}
