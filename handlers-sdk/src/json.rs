//! JSON in and out. Handlers should prefer compact inputs (raw bytes, images) where they
//! can: parsing large float arrays from JSON inside wasm is several times slower than
//! natively.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{HandlerError, Request, Response};

/// Parse the request body as JSON, or fail with a `bad-input` error that says why.
pub fn from_body<T: DeserializeOwned>(request: &Request) -> Result<T, HandlerError> {
    serde_json::from_slice(&request.body).map_err(|e| {
        HandlerError::bad_input(format!(
            "the request body is not the JSON this model expects: {e}"
        ))
    })
}

/// A 200 response with `value` as its JSON body.
pub fn response<T: Serialize + ?Sized>(value: &T) -> Result<Response, HandlerError> {
    let body = serde_json::to_vec(value)
        .map_err(|e| HandlerError::internal(format!("could not serialize the response: {e}")))?;
    Ok(Response {
        body,
        content_type: "application/json".into(),
        status: 200,
        headers: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(body: &str) -> Request {
        Request {
            body: body.as_bytes().to_vec(),
            content_type: Some("application/json".into()),
            headers: Vec::new(),
            parameters: Vec::new(),
            fields: Vec::new(),
        }
    }

    #[test]
    fn parses_a_body() {
        let v: Vec<f32> = from_body(&request("[1, 2.5]")).unwrap();
        assert_eq!(v, vec![1.0, 2.5]);
    }

    #[test]
    fn a_bad_body_is_bad_input_naming_the_problem() {
        let err = from_body::<Vec<f32>>(&request("[1, ")).unwrap_err();
        match err {
            HandlerError::BadInput(m) => assert!(m.contains("not the JSON"), "{m}"),
            other => panic!("expected bad input, got {other:?}"),
        }
    }

    #[test]
    fn response_is_json() {
        let r = response(&[1, 2]).unwrap();
        assert_eq!(r.body, b"[1,2]");
        assert_eq!(r.content_type, "application/json");
        assert_eq!(r.status, 200);
    }
}
