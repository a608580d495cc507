//! The response headers a handler may set (`response.headers`, ferroserve:handler@0.2.0).
//! A handler is a tenant's code answering on the server's origin, so it may add
//! descriptive headers (`x-*`, `cache-control`, `content-language`, ...) but none that
//! frame the message or steer the connection (the server's HTTP stack owns those; a
//! second `content-length` is request smuggling), none that set cookies (every tenant
//! shares the origin, so one tenant's cookie would reach the others' models) and none the
//! server sets itself. A refused header fails the response (`HandlerInvalidResponse`)
//! rather than being dropped quietly, so the author finds out at `handler test`.

/// Headers one response may add.
pub const MAX_HEADERS: usize = 32;
/// Bytes of names and values together.
pub const MAX_HEADER_BYTES: usize = 8 << 10;

/// Names (lower case) a handler may not set; `proxy-*` is refused as a prefix.
pub const REFUSED: &[&str] = &[
    // Framing and the connection: hyper's to set.
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    // The response's own field.
    "content-type",
    // Cookies: shared origin.
    "set-cookie",
    "set-cookie2",
    // Set by the server (request ids, overload, auth, transport security).
    "x-request-id",
    "retry-after",
    "www-authenticate",
    "server",
    "date",
    "strict-transport-security",
    "alt-svc",
];

/// `Ok` when every header may go out as is; otherwise what is wrong with the first bad one.
pub(crate) fn check(headers: &[(String, String)]) -> Result<(), String> {
    if headers.len() > MAX_HEADERS {
        return Err(format!(
            "{} headers; a response may add at most {MAX_HEADERS}",
            headers.len()
        ));
    }
    let bytes: usize = headers.iter().map(|(n, v)| n.len() + v.len()).sum();
    if bytes > MAX_HEADER_BYTES {
        return Err(format!(
            "the headers take {bytes} bytes; at most {MAX_HEADER_BYTES}"
        ));
    }
    for (name, value) in headers {
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            return Err(format!("header name {name:?} is not an HTTP token"));
        }
        let lower = name.to_ascii_lowercase();
        if REFUSED.contains(&lower.as_str()) || lower.starts_with("proxy-") {
            return Err(format!(
                "a handler may not set the {lower:?} header (docs/archive-format.md lists the refused ones)"
            ));
        }
        if !value
            .bytes()
            .all(|b| b == b' ' || b == b'\t' || b.is_ascii_graphic())
        {
            return Err(format!(
                "the value of header {name:?} has bytes that are not visible ASCII"
            ));
        }
    }
    Ok(())
}

/// RFC 9110 `tchar`.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(name: &str, value: &str) -> Result<(), String> {
        check(&[(name.into(), value.into())])
    }

    #[test]
    fn descriptive_headers_pass() {
        assert!(one("x-model-version", "3").is_ok());
        assert!(one("Cache-Control", "no-store, max-age=0").is_ok());
    }

    #[test]
    fn framing_cookies_and_server_headers_are_refused() {
        for name in [
            "Content-Length",
            "transfer-encoding",
            "Set-Cookie",
            "x-request-id",
            "proxy-authenticate",
        ] {
            let err = one(name, "1").unwrap_err();
            assert!(err.contains("may not set"), "{name}: {err}");
        }
    }

    #[test]
    fn injection_and_bad_names_are_refused() {
        assert!(
            one("x-a", "1\r\nset-cookie: a=b")
                .unwrap_err()
                .contains("not visible ASCII")
        );
        assert!(one("x a", "1").unwrap_err().contains("not an HTTP token"));
        assert!(one("", "1").is_err());
        let many: Vec<_> = (0..33)
            .map(|i| (format!("x-{i}"), "v".to_string()))
            .collect();
        assert!(check(&many).unwrap_err().contains("at most 32"));
        assert!(
            one("x-big", &"v".repeat(9000))
                .unwrap_err()
                .contains("bytes")
        );
    }
}
