//! The property every response must have, whatever the client sent: an answer within the
//! time limit; no 5xx but the fake model's own refusals (a model that raises is the model's
//! fault, answered 500 as TorchServe does) and 501 for what is not served by design; every 4xx in the protocol's own error shape
//! (v2's `{"error"}` under `/v2`, TorchServe's `{"code","type","message"}` elsewhere); and
//! no server directory or source path anywhere in the response unless the request itself
//! carried it.

use axum::http::Method;

use crate::server::Answer;

/// The fake model's designed failures (`ferroserve-testkit`): what a model raising on its
/// input looks like. A 500 carrying one of these is the model's answer, not a decoding bug.
const MODEL_REFUSALS: [&str; 3] = [
    "ValueError: negative input",
    "the fake model takes f32",
    "the fake model takes one input",
];

/// A response that breaks the property.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// What kind of failure, without the input's details: findings with one signature are
    /// the same bug (status, error type or message head, method, route).
    pub signature: String,
    /// The request and the response, for the report.
    pub detail: String,
}

/// What was sent, as the check needs it.
#[derive(Debug, Clone)]
pub struct Sent<'a> {
    pub method: &'a Method,
    pub path: &'a str,
    /// The whole request as bytes (head and body), to tell an echoed path from a leaked one.
    pub raw: &'a [u8],
}

/// `Ok` when `answer` (or its absence: a timeout) has the property.
pub fn check(
    sent: &Sent<'_>,
    answer: Option<&Answer>,
    private_paths: &[std::path::PathBuf],
) -> Result<(), Finding> {
    let route = route_of(sent.path);
    let Some(a) = answer else {
        return Err(Finding {
            signature: format!("hang {} {route}", sent.method),
            detail: format!("{} {}: no answer in time", sent.method, sent.path),
        });
    };
    let text = String::from_utf8_lossy(&a.body);
    let found = |what: String| Finding {
        signature: format!("{what} {} {route}", sent.method),
        detail: format!(
            "{} {} -> {} {:?}\n{}",
            sent.method,
            sent.path,
            a.status,
            a.headers,
            truncated(&text, 2000)
        ),
    };
    let status = a.status.as_u16();
    let v2 = sent.path == "/v2" || sent.path.starts_with("/v2/");
    let parsed = error_message(&a.body, status, v2);
    if let Some(path) = leaked_path(a, private_paths, sent.raw) {
        let what = parsed
            .as_ref()
            .map_or_else(|_| String::new(), ErrorBody::what);
        return Err(found(format!("path-leak({path}) {status} {what}")));
    }
    if a.status.is_success() {
        return Ok(());
    }
    if !(400..600).contains(&status) {
        return Err(found(format!("unexpected-status {status}")));
    }
    let error = match parsed {
        Ok(e) => e,
        Err(why) => return Err(found(format!("bad-error-shape({why}) {status}"))),
    };
    // 501: what the server does not do by design (`/explanations`: handlers cannot explain).
    let designed = status == 501 || MODEL_REFUSALS.iter().any(|m| error.message.contains(m));
    if status >= 500 && !designed {
        return Err(found(format!("server-error {status} {}", error.what())));
    }
    Ok(())
}

/// An error body, read in the protocol's shape.
struct ErrorBody {
    kind: Option<String>,
    message: String,
}

impl ErrorBody {
    /// Its type, or (v2 has none) its message's first words.
    fn what(&self) -> String {
        self.kind.clone().unwrap_or_else(|| head_of(&self.message))
    }
}

fn error_message(body: &[u8], status: u16, v2: bool) -> Result<ErrorBody, &'static str> {
    let json: serde_json::Value = serde_json::from_slice(body).map_err(|_| "not JSON")?;
    let obj = json.as_object().ok_or("not an object")?;
    if v2 {
        if obj.len() != 1 {
            return Err("v2 error with keys besides `error`");
        }
        let message = obj
            .get("error")
            .and_then(|e| e.as_str())
            .ok_or("no `error` string")?;
        return Ok(ErrorBody {
            kind: None,
            message: message.to_owned(),
        });
    }
    if obj.get("code").and_then(|c| c.as_u64()) != Some(u64::from(status)) {
        return Err("`code` is not the status");
    }
    let kind = obj
        .get("type")
        .and_then(|t| t.as_str())
        .ok_or("no `type` string")?;
    let message = obj
        .get("message")
        .and_then(|m| m.as_str())
        .ok_or("no `message` string")?;
    if kind.is_empty() || message.is_empty() {
        return Err("empty `type` or `message`");
    }
    Ok(ErrorBody {
        kind: Some(kind.to_owned()),
        message: message.to_owned(),
    })
}

/// A private path in the response's body or headers that the request did not carry.
fn leaked_path(a: &Answer, private_paths: &[std::path::PathBuf], request: &[u8]) -> Option<String> {
    let headers = a
        .headers
        .iter()
        .flat_map(|(_, v)| v.as_bytes().iter().copied());
    let mut seen: Vec<u8> = a.body.to_vec();
    seen.extend(headers);
    private_paths
        .iter()
        .filter_map(|p| p.to_str())
        .chain(["/rustc/", "/.cargo/registry/"])
        .find(|p| contains(&seen, p.as_bytes()) && !contains(request, p.as_bytes()))
        .map(|p| {
            if p.starts_with("/tmp") {
                "tmp-dir".into()
            } else {
                p.to_owned()
            }
        })
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// The route a path belongs to, without names: `/predictions/*`, `/v2/models/*/infer`.
fn route_of(path: &str) -> String {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let fixed = |s: &str| {
        matches!(
            s,
            "predictions" | "explanations" | "models" | "v2" | "infer" | "versions" | "set-default"
        )
    };
    let named: Vec<&str> = segments
        .iter()
        .map(|s| if fixed(s) { *s } else { "*" })
        .collect();
    format!("/{}", named.join("/"))
}

/// A message's first words, numbers and quoted parts left out: one signature for one
/// kind of message whatever values it names.
fn head_of(message: &str) -> String {
    let mut out = String::new();
    let mut quoted = false;
    for c in message.chars() {
        match c {
            '"' | '`' => quoted = !quoted,
            _ if quoted => {}
            '0'..='9' => {
                if !out.ends_with('#') {
                    out.push('#');
                }
            }
            ':' | ';' | '(' if out.len() > 12 => break,
            _ => out.push(c),
        }
        if out.len() >= 60 {
            break;
        }
    }
    out.trim().replace(' ', "_")
}

fn truncated(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Bytes;
    use axum::http::{HeaderMap, StatusCode};

    fn answer(status: u16, body: &str) -> Answer {
        Answer {
            status: StatusCode::from_u16(status).unwrap(),
            headers: HeaderMap::new(),
            body: Bytes::from(body.to_owned()),
        }
    }

    fn verdict(path: &str, a: Option<&Answer>, raw: &[u8]) -> Result<(), Finding> {
        let sent = Sent {
            method: &Method::POST,
            path,
            raw,
        };
        check(&sent, a, &[std::path::PathBuf::from("/srv/state")])
    }

    #[test]
    fn client_errors_in_each_protocols_shape_pass() {
        let ts = r#"{"code":400,"type":"BadMultipartForm","message":"no boundary"}"#;
        assert_eq!(
            verdict("/predictions/m", Some(&answer(400, ts)), b""),
            Ok(())
        );
        let v2 = r#"{"error":"input `x` has no `data`"}"#;
        assert_eq!(
            verdict("/v2/models/m/infer", Some(&answer(400, v2)), b""),
            Ok(())
        );
        assert_eq!(
            verdict("/predictions/m", Some(&answer(200, "[1]")), b""),
            Ok(())
        );
    }

    #[test]
    fn wrong_shapes_server_errors_hangs_and_leaks_are_findings() {
        let shape = |path, body| verdict(path, Some(&answer(400, body)), b"").unwrap_err();
        let ts = r#"{"code":400,"type":"BadMultipartForm","message":"m"}"#;
        assert!(
            shape("/v2/models/m/infer", ts)
                .signature
                .starts_with("bad-error-shape")
        );
        assert!(
            shape("/predictions/m", r#"{"error":"m"}"#)
                .signature
                .contains("bad-error")
        );
        assert!(
            shape("/predictions/m", "plain text")
                .signature
                .contains("not JSON")
        );
        let wrong_code = r#"{"code":404,"type":"T","message":"m"}"#;
        assert!(shape("/models", wrong_code).signature.contains("`code`"));

        let panic = r#"{"code":500,"type":"InternalServerException","message":"failed"}"#;
        let f = verdict("/predictions/m", Some(&answer(500, panic)), b"").unwrap_err();
        assert_eq!(
            f.signature,
            "server-error 500 InternalServerException POST /predictions/*"
        );
        let v2 = r#"{"error":"capacity 12 overflow: at x"}"#;
        let f = verdict("/v2/models/m/infer", Some(&answer(500, v2)), b"").unwrap_err();
        assert_eq!(
            f.signature,
            "server-error 500 capacity_#_overflow POST /v2/models/*/infer"
        );

        let hang = verdict("/v2/models/m/infer", None, b"").unwrap_err();
        assert_eq!(hang.signature, "hang POST /v2/models/*/infer");

        let leak = r#"{"code":404,"type":"T","message":"no /srv/state/x.mar"}"#;
        let f = verdict("/models", Some(&answer(404, leak)), b"").unwrap_err();
        assert!(
            f.signature.starts_with("path-leak(/srv/state) 404"),
            "{f:?}"
        );
        // The client's own path, echoed, is not a leak.
        assert_eq!(
            verdict("/models", Some(&answer(404, leak)), b"url=/srv/state/x"),
            Ok(())
        );
    }

    #[test]
    fn the_fake_models_own_failures_are_not_findings() {
        let raised = r#"{"error":"model failed: ValueError: negative input"}"#;
        assert_eq!(
            verdict("/v2/models/m/infer", Some(&answer(500, raised)), b""),
            Ok(())
        );
    }
}
