//! `POST /v2/models/{m}[/versions/{v}]/infer`: the request as JSON, or with KServe's binary
//! tensor data extension (tritonclient's default): the body is a JSON header of
//! `Inference-Header-Content-Length` bytes followed by each binary input's
//! `parameters.binary_data_size` bytes, in input order. Outputs come back in JSON, or in
//! the binary section for those the request marks `binary_data` (or all of them with
//! `parameters.binary_data_output`). The batch itself runs in the core
//! ([`tensors::infer_batch`]).

use crate::extract::Path;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use ferroserve_core::{Registry, tensors};
use ferroserve_tensor::Tensor;
use serde::{Deserialize, Serialize};

use super::Target;
use super::codec::{self, TensorParameters, WireOutput, WireTensor, bad_request};
use crate::{ApiError, Caller};

/// The binary extension's header: how much of the body is the JSON part.
pub(super) const HEADER_LENGTH: &str = "inference-header-content-length";

#[derive(Deserialize)]
struct InferRequest {
    id: Option<String>,
    inputs: Vec<WireTensor>,
    outputs: Option<Vec<RequestedOutput>>,
    #[serde(default)]
    parameters: RequestParameters,
}

/// The request parameters this server reads; others are accepted and ignored.
#[derive(Deserialize, Default)]
struct RequestParameters {
    binary_data_output: Option<bool>,
}

#[derive(Deserialize)]
struct RequestedOutput {
    name: String,
    #[serde(default)]
    parameters: TensorParameters,
}

#[derive(Serialize)]
struct InferResponse<'a> {
    model_name: &'a str,
    model_version: &'a str,
    /// Echoed only when the request had one.
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    outputs: Vec<WireOutput>,
}

pub(super) async fn infer(
    State(registry): State<Registry>,
    Caller(caller): Caller,
    Path(target): Path<Target>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let model = target.find(&registry, &caller)?;
    let (json, mut binary) = split_body(&headers, body)?;
    let request: InferRequest = serde_json::from_slice(&json).map_err(|e| {
        bad_request(format!(
            "the body is not a KServe v2 inference request: {e}"
        ))
    })?;
    let mut inputs = Vec::with_capacity(request.inputs.len());
    for wire in &request.inputs {
        let raw = match wire.parameters.binary_data_size {
            Some(size) => Some(take(&mut binary, size, &wire.name)?),
            None => None,
        };
        inputs.push(codec::decode(wire, raw.as_deref())?);
    }
    if !binary.is_empty() {
        return Err(bad_request(format!(
            "{} bytes follow the last binary input; each input's parameters.binary_data_size \
             must account for its bytes exactly",
            binary.len()
        )));
    }
    let requested = request.outputs.unwrap_or_default();
    let wanted: Vec<String> = requested.iter().map(|o| o.name.clone()).collect();
    let outputs = tensors::infer_batch(&model, inputs, &wanted).await?;
    let all_binary = request.parameters.binary_data_output.unwrap_or(false);
    let binary_of = |t: &Tensor| {
        requested
            .iter()
            .find(|o| o.name == t.name())
            .and_then(|o| o.parameters.binary_data)
            .unwrap_or(all_binary)
    };
    let response = InferResponse {
        model_name: model.name(),
        model_version: &model.version,
        id: request.id,
        outputs: outputs
            .iter()
            .map(|t| codec::encode(t, binary_of(t)))
            .collect(),
    };
    let blobs: Vec<&Tensor> = outputs.iter().filter(|t| binary_of(t)).collect();
    if blobs.is_empty() {
        return Ok(Json(response).into_response());
    }
    let mut body = serde_json::to_vec(&response).expect("serializable");
    let json_len = body.len();
    for t in blobs {
        body.extend_from_slice(t.data());
    }
    let mut reply = body.into_response();
    let headers = reply.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(HEADER_LENGTH, HeaderValue::from(json_len));
    Ok(reply)
}

/// The JSON part and the binary part of the body.
fn split_body(headers: &HeaderMap, body: Bytes) -> Result<(Bytes, Bytes), ApiError> {
    let Some(value) = headers.get(HEADER_LENGTH) else {
        return Ok((body, Bytes::new()));
    };
    let len = value
        .to_str()
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .ok_or_else(|| {
            bad_request(format!(
                "Inference-Header-Content-Length is {value:?}; send the JSON header's length in bytes"
            ))
        })?;
    if len > body.len() {
        return Err(bad_request(format!(
            "Inference-Header-Content-Length is {len} but the body has only {} bytes",
            body.len()
        )));
    }
    let mut json = body;
    let binary = json.split_off(len);
    Ok((json, binary))
}

/// The next `size` bytes of the binary section, for input `name`.
fn take(binary: &mut Bytes, size: u64, name: &str) -> Result<Bytes, ApiError> {
    match usize::try_from(size) {
        Ok(size) if size <= binary.len() => Ok(binary.split_to(size)),
        _ => Err(bad_request(format!(
            "input `{name}` declares binary_data_size {size} but only {} bytes of binary data \
             remain; send each input's bytes, in input order, after the JSON header",
            binary.len()
        ))),
    }
}
