//! How each target reads its input into requests. The formats are text-like on purpose:
//! seeds are readable valid requests, and a mutation of one byte changes one thing.
//!
//! - `multipart`: `<rest of the Content-Type after "multipart/form-data">\n<body>`, sent
//!   as `POST /predictions/echo`.
//! - `kserve_json`: the body of `POST /v2/models/echo/infer` (JSON).
//! - `kserve_binary`: `<Inference-Header-Content-Length value>\n<body>`, to the same route.
//! - `query`: up to four lines, each `<METHOD> <path?query>[\t<JSON body>]`, sent in order
//!   to the management listener (`/models...`) or the inference one (`/predictions...`,
//!   `/explanations...`); the registry is reset after them.

use axum::body::Body;
use axum::http::{HeaderValue, Method, Request, Uri, header};

use crate::server::On;

/// One request to send, and what the check needs to know of it.
pub struct Case {
    pub on: On,
    pub method: Method,
    pub path: String,
    /// Everything the client sent (head and body), to tell echoed paths from leaked ones.
    pub raw: Vec<u8>,
    pub request: Request<Body>,
}

/// Why an input sends nothing: it is not a request a client could deliver (hyper refuses
/// such heads before routing).
pub type Skip = &'static str;

/// `line` up to the first `\n`, and the rest.
fn split_line(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}

fn header_value(bytes: &[u8]) -> Result<HeaderValue, Skip> {
    HeaderValue::from_bytes(bytes).map_err(|_| "a header value hyper would not deliver")
}

fn post(path: &str, headers: Vec<(header::HeaderName, HeaderValue)>, body: &[u8]) -> Case {
    let mut request = Request::post(path);
    let mut raw = Vec::new();
    for (name, value) in headers {
        raw.extend_from_slice(value.as_bytes());
        request = request.header(name, value);
    }
    raw.extend_from_slice(body);
    Case {
        on: On::Inference,
        method: Method::POST,
        path: path.to_owned(),
        raw,
        request: request
            .body(Body::from(body.to_vec()))
            .expect("a fixed path and valid headers"),
    }
}

pub fn multipart(data: &[u8]) -> Result<Vec<Case>, Skip> {
    let (rest, body) = split_line(data);
    let mut content_type = b"multipart/form-data".to_vec();
    content_type.extend_from_slice(rest);
    let ct = header_value(&content_type)?;
    let path = format!("/predictions/{}", crate::server::MODEL);
    Ok(vec![post(&path, vec![(header::CONTENT_TYPE, ct)], body)])
}

pub fn kserve_json(data: &[u8]) -> Result<Vec<Case>, Skip> {
    let json = HeaderValue::from_static("application/json");
    let path = format!("/v2/models/{}/infer", crate::server::MODEL);
    Ok(vec![post(&path, vec![(header::CONTENT_TYPE, json)], data)])
}

pub fn kserve_binary(data: &[u8]) -> Result<Vec<Case>, Skip> {
    let (length, body) = split_line(data);
    let length = header_value(length)?;
    let octets = HeaderValue::from_static("application/octet-stream");
    let path = format!("/v2/models/{}/infer", crate::server::MODEL);
    let name = header::HeaderName::from_static("inference-header-content-length");
    Ok(vec![post(
        &path,
        vec![(header::CONTENT_TYPE, octets), (name, length)],
        body,
    )])
}

pub fn query(data: &[u8]) -> Result<Vec<Case>, Skip> {
    let mut cases = Vec::new();
    for line in data
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .take(4)
    {
        let (head, body) = match line.iter().position(|&b| b == b'\t') {
            Some(i) => (&line[..i], Some(&line[i + 1..])),
            None => (line, None),
        };
        let (method, target) = match head.iter().position(|&b| b == b' ') {
            Some(i) => (&head[..i], &head[i + 1..]),
            None => return Err("a line without `METHOD path`"),
        };
        let method = Method::from_bytes(method).map_err(|_| "not a method token")?;
        let uri = Uri::try_from(target).map_err(|_| "not a request target")?;
        if uri.scheme().is_some() || uri.authority().is_some() {
            return Err("an absolute URI (a proxy request)");
        }
        let path = uri.path().to_owned();
        let on = if path.starts_with("/models") {
            On::Management
        } else if path.starts_with("/predictions") || path.starts_with("/explanations") {
            On::Inference
        } else {
            return Err("a path outside the query parameters' routes");
        };
        let mut request = Request::builder().method(method.clone()).uri(uri);
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        let body = body.unwrap_or_default().to_vec();
        cases.push(Case {
            on,
            method,
            path,
            raw: line.to_vec(),
            request: request.body(Body::from(body)).expect("parts checked above"),
        });
    }
    Ok(cases)
}
