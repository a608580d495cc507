//! Crossing the boundary: host request/tensor types to the WIT types and back, checking
//! everything the guest hands over (tensor byte counts, output size, response status).

use bytes::Bytes;
use ferroserve_tensor::{DType, Tensor};

use crate::SandboxError;
use crate::bindings as wit;

/// One client request as the server hands it to `preprocess`.
#[derive(Debug, Clone, Default)]
pub struct HandlerRequest {
    pub body: Bytes,
    pub content_type: Option<String>,
    pub headers: Vec<(String, String)>,
    pub parameters: Vec<(String, String)>,
    /// Every field of a multipart form, in order (`body` holds the input field's bytes);
    /// only handlers of `ferroserve:handler@0.2.0` see them.
    pub fields: Vec<FormField>,
}

/// One field of a `multipart/form-data` request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FormField {
    pub name: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub data: Bytes,
}

/// What `preprocess` returned: validated model inputs and the opaque context.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub inputs: Vec<Tensor>,
    pub context: Vec<u8>,
}

/// What `postprocess` returned, validated.
#[derive(Debug, Clone)]
pub struct HandlerResponse {
    pub body: Bytes,
    pub content_type: String,
    pub status: u16,
    /// Extra headers the handler set, already checked against `headers::check`.
    pub headers: Vec<(String, String)>,
}

pub(crate) fn request_to_wit(r: HandlerRequest) -> wit::Request {
    wit::Request {
        body: r.body.to_vec(),
        content_type: r.content_type,
        headers: r.headers,
        parameters: r.parameters,
        fields: r
            .fields
            .into_iter()
            .map(|f| wit::FormField {
                name: f.name,
                filename: f.filename,
                content_type: f.content_type,
                data: f.data.to_vec(),
            })
            .collect(),
    }
}

pub(crate) fn tensor_to_wit(t: &Tensor) -> wit::Tensor {
    wit::Tensor {
        name: t.name().to_owned(),
        dtype: dtype_to_wit(t.dtype()),
        shape: t.shape().to_vec(),
        data: t.data().to_vec(),
    }
}

/// The most tensors one preprocess call may return (models take a handful of inputs).
pub const MAX_TENSORS: usize = 1024;
/// What the host spends per tensor beyond its bytes, counted against the output cap.
const TENSOR_OVERHEAD: usize = 64;

pub(crate) fn prepared_from_wit(
    p: wit::Prepared,
    max_output: usize,
) -> Result<Prepared, SandboxError> {
    if p.inputs.len() > MAX_TENSORS {
        return Err(SandboxError::MalformedTensor(format!(
            "preprocess returned {} tensors; a request may bind at most {MAX_TENSORS} model inputs",
            p.inputs.len()
        )));
    }
    // What the host holds besides the data: names and shapes count against the cap too,
    // so a million empty tensors with long names is as large as it looks.
    let total = p.context.len()
        + p.inputs
            .iter()
            .map(|t| t.data.len() + t.name.len() + 8 * t.shape.len() + TENSOR_OVERHEAD)
            .sum::<usize>();
    if total > max_output {
        return Err(SandboxError::OutputTooLarge {
            limit: max_output,
            actual: total,
        });
    }
    if p.inputs.is_empty() {
        return Err(SandboxError::MalformedTensor(
            "preprocess returned no input tensors".into(),
        ));
    }
    let inputs = p
        .inputs
        .into_iter()
        .map(|t| {
            Tensor::new(t.name, dtype_from_wit(t.dtype), t.shape, t.data)
                .map_err(|e| SandboxError::MalformedTensor(e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Prepared {
        inputs,
        context: p.context,
    })
}

pub(crate) fn response_from_wit(
    r: wit::Response,
    max_output: usize,
) -> Result<HandlerResponse, SandboxError> {
    if r.body.len() > max_output {
        return Err(SandboxError::OutputTooLarge {
            limit: max_output,
            actual: r.body.len(),
        });
    }
    if !(200..=599).contains(&r.status) {
        return Err(SandboxError::InvalidResponse(format!(
            "status {} is outside 200..=599",
            r.status
        )));
    }
    if !is_header_value(&r.content_type) {
        return Err(SandboxError::InvalidResponse(format!(
            "content type {:?} is not a valid header value",
            r.content_type
        )));
    }
    crate::headers::check(&r.headers).map_err(SandboxError::InvalidResponse)?;
    Ok(HandlerResponse {
        body: r.body.into(),
        content_type: r.content_type,
        status: r.status,
        headers: r.headers,
    })
}

/// Visible ASCII or spaces only: a handler must not be able to inject headers.
fn is_header_value(v: &str) -> bool {
    !v.is_empty() && v.len() <= 256 && v.bytes().all(|b| b == b' ' || b.is_ascii_graphic())
}

fn dtype_from_wit(d: wit::Dtype) -> DType {
    match d {
        wit::Dtype::F32 => DType::F32,
        wit::Dtype::F16 => DType::F16,
        wit::Dtype::Bf16 => DType::BF16,
        wit::Dtype::F64 => DType::F64,
        wit::Dtype::I64 => DType::I64,
        wit::Dtype::I32 => DType::I32,
        wit::Dtype::I8 => DType::I8,
        wit::Dtype::U8 => DType::U8,
        wit::Dtype::Boolean => DType::Bool,
    }
}

fn dtype_to_wit(d: DType) -> wit::Dtype {
    match d {
        DType::F32 => wit::Dtype::F32,
        DType::F16 => wit::Dtype::F16,
        DType::BF16 => wit::Dtype::Bf16,
        DType::F64 => wit::Dtype::F64,
        DType::I64 => wit::Dtype::I64,
        DType::I32 => wit::Dtype::I32,
        DType::I8 => wit::Dtype::I8,
        DType::U8 => wit::Dtype::U8,
        DType::Bool => wit::Dtype::Boolean,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wit_tensor(shape: Vec<u64>, bytes: usize) -> wit::Tensor {
        wit::Tensor {
            name: "x".into(),
            dtype: wit::Dtype::F32,
            shape,
            data: vec![0; bytes],
        }
    }

    #[test]
    fn dtypes_round_trip() {
        for d in DType::ALL {
            assert_eq!(dtype_from_wit(dtype_to_wit(d)), d);
        }
    }

    #[test]
    fn malformed_tensors_are_refused() {
        let p = wit::Prepared {
            inputs: vec![wit_tensor(vec![4], 3)],
            context: vec![],
        };
        let err = prepared_from_wit(p, 1 << 20).unwrap_err();
        assert_eq!(err.kind(), "HandlerMalformedTensor");
        assert!(
            err.to_string().contains("needs 16 bytes but has 3"),
            "{err}"
        );
    }

    #[test]
    fn output_size_counts_tensors_and_context() {
        let p = wit::Prepared {
            inputs: vec![wit_tensor(vec![4], 16)],
            context: vec![0; 10],
        };
        let err = prepared_from_wit(p, 20).unwrap_err();
        // 16 data + 10 context, and the name (1), the shape (8) and 64 for the tensor.
        assert!(
            matches!(
                err,
                SandboxError::OutputTooLarge {
                    limit: 20,
                    actual: 99
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn responses_are_checked() {
        let ok = wit::Response {
            body: b"{}".to_vec(),
            content_type: "application/json".into(),
            status: 200,
            headers: vec![("x-model-version".into(), "3".into())],
        };
        assert_eq!(response_from_wit(ok, 100).unwrap().status, 200);
        let bad_status = wit::Response {
            body: vec![],
            content_type: "text/plain".into(),
            status: 99,
            headers: Vec::new(),
        };
        assert_eq!(
            response_from_wit(bad_status, 100).unwrap_err().kind(),
            "HandlerInvalidResponse"
        );
        let injected = wit::Response {
            body: vec![],
            content_type: "text/plain\r\nx-evil: 1".into(),
            status: 200,
            headers: Vec::new(),
        };
        assert_eq!(
            response_from_wit(injected, 100).unwrap_err().kind(),
            "HandlerInvalidResponse"
        );
    }
}
