//! The wire codec between KServe v2 / Triton's gRPC tensors and
//! [`ferroserve_tensor::Tensor`]. Inputs come either all in `raw_input_contents` (one
//! little-endian blob per input, in order; what tritonclient sends) or each in its typed
//! `contents` field; outputs go back in `raw_output_contents`, as Triton answers.
//!
//! Every size is checked before anything is allocated from it: a declared shape's
//! product is checked for overflow (`DType::byte_len`) and compared with the data actually
//! sent, so a few bytes saying `[2^40, 2^40]` are an INVALID_ARGUMENT, never an
//! allocation. BYTES inputs are parsed (Triton's 4-byte little-endian length prefix per
//! element) only to be refused by name: models take numeric tensors.

use bytes::Bytes;
use ferroserve_tensor::{DType, Tensor};
use tonic::Status;

use crate::pb::inference::model_infer_request::InferInputTensor;
use crate::pb::inference::model_infer_response::InferOutputTensor;
use crate::pb::inference::{InferTensorContents, ModelInferRequest};
use crate::status::Refusal;

fn invalid(message: String) -> Status {
    Refusal::Invalid(message).status()
}

/// The request's inputs as tensors, in the order given.
pub fn decode_inputs(request: &mut ModelInferRequest) -> Result<Vec<Tensor>, Status> {
    let raw = std::mem::take(&mut request.raw_input_contents);
    if !raw.is_empty() && raw.len() != request.inputs.len() {
        return Err(invalid(format!(
            "raw_input_contents has {} entries but the request has {} inputs; send one per input, in order",
            raw.len(),
            request.inputs.len()
        )));
    }
    if request.inputs.is_empty() {
        return Err(invalid("the request has no inputs".into()));
    }
    let mut raw = raw.into_iter();
    request
        .inputs
        .iter_mut()
        .map(|input| {
            let blob = raw.next();
            if blob.is_some() && input.contents.is_some() {
                return Err(invalid(format!(
                    "input {:?} has both contents and raw_input_contents; send one",
                    input.name
                )));
            }
            decode(input, blob)
        })
        .collect()
}

fn decode(input: &mut InferInputTensor, raw: Option<Vec<u8>>) -> Result<Tensor, Status> {
    let name = input.name.clone();
    let shape = input
        .shape
        .iter()
        .map(|&d| u64::try_from(d))
        .collect::<Result<Vec<u64>, _>>()
        .map_err(|_| {
            invalid(format!(
                "input {name:?}: shape {:?} has a negative dimension",
                input.shape
            ))
        })?;
    if input.datatype == "BYTES" {
        let elements = match &raw {
            Some(blob) => {
                count_bytes_elements(blob).map_err(|e| invalid(format!("input {name:?}: {e}")))?
            }
            None => input
                .contents
                .as_ref()
                .map_or(0, |c| c.bytes_contents.len()),
        };
        return Err(invalid(format!(
            "input {name:?} is BYTES ({elements} elements): this model takes numeric tensors \
             (FP32, INT64, ...); v2 sends tensors straight to the model, so send strings or \
             images through its handler with TorchServe's Predictions (gRPC) or POST \
             /predictions/{{model}} (REST)"
        )));
    }
    let dtype = DType::from_kserve_name(&input.datatype).ok_or_else(|| {
        let known: Vec<&str> = DType::ALL.iter().map(|d| d.kserve_name()).collect();
        invalid(format!(
            "input {name:?}: datatype {:?} is not supported; use one of {known:?}",
            input.datatype
        ))
    })?;
    let expected = dtype
        .byte_len(&shape)
        .map_err(|_| invalid(format!("input {name:?}: shape {shape:?} is too large")))?;
    let data = match raw {
        Some(blob) => blob,
        None => typed_bytes(&name, dtype, input.contents.take(), expected / dtype.size())?,
    };
    Tensor::new(name.clone(), dtype, shape, Bytes::from(data))
        .map_err(|e| invalid(format!("input {name:?}: {e}")))
}

/// Little-endian bytes from the typed field for `dtype`, which must hold `count` values.
fn typed_bytes(
    name: &str,
    dtype: DType,
    contents: Option<InferTensorContents>,
    count: usize,
) -> Result<Vec<u8>, Status> {
    let c = contents.unwrap_or_default();
    let wrong_count = |field: &str, got: usize| {
        invalid(format!(
            "input {name:?}: its shape holds {count} elements but {field} has {got}"
        ))
    };
    macro_rules! le {
        ($field:ident, $conv:expr) => {{
            if c.$field.len() != count {
                return Err(wrong_count(stringify!($field), c.$field.len()));
            }
            let mut out = Vec::with_capacity(count * dtype.size());
            for v in &c.$field {
                let v = $conv(*v).ok_or_else(|| {
                    invalid(format!(
                        "input {name:?}: value {v} does not fit {}",
                        dtype.kserve_name()
                    ))
                })?;
                out.extend_from_slice(&v);
            }
            Ok(out)
        }};
    }
    match dtype {
        DType::F32 => le!(fp32_contents, |v: f32| Some(v.to_le_bytes())),
        DType::F64 => le!(fp64_contents, |v: f64| Some(v.to_le_bytes())),
        DType::I64 => le!(int64_contents, |v: i64| Some(v.to_le_bytes())),
        DType::I32 => le!(int_contents, |v: i32| Some(v.to_le_bytes())),
        DType::I8 => le!(int_contents, |v: i32| i8::try_from(v)
            .ok()
            .map(i8::to_le_bytes)),
        DType::U8 => le!(uint_contents, |v: u32| u8::try_from(v).ok().map(|b| [b])),
        DType::Bool => le!(bool_contents, |v: bool| Some([u8::from(v)])),
        DType::F16 | DType::BF16 => Err(invalid(format!(
            "input {name:?}: {} has no typed contents field in the protocol; send it in raw_input_contents",
            dtype.kserve_name()
        ))),
    }
}

/// The number of elements in Triton's BYTES serialization (each a u32 LE length, then
/// that many bytes), checking it is well formed.
fn count_bytes_elements(mut blob: &[u8]) -> Result<usize, String> {
    let mut n = 0;
    while !blob.is_empty() {
        let Some((len, rest)) = blob.split_first_chunk::<4>() else {
            return Err("BYTES data ends inside an element's 4-byte length".into());
        };
        let len = u32::from_le_bytes(*len) as usize;
        if rest.len() < len {
            return Err(format!(
                "BYTES element {n} says {len} bytes but {} remain",
                rest.len()
            ));
        }
        blob = &rest[len..];
        n += 1;
    }
    Ok(n)
}

/// An output's metadata, with its bytes to go in `raw_output_contents`.
pub fn encode_output(t: Tensor) -> Result<(InferOutputTensor, Bytes), Status> {
    let (name, dtype, shape, data) = t.into_parts();
    let shape = shape
        .into_iter()
        .map(i64::try_from)
        .collect::<Result<Vec<i64>, _>>()
        .map_err(|_| {
            Refusal::BadOutput(format!("output {name:?} has a dimension above 2^63")).status()
        })?;
    let meta = InferOutputTensor {
        name,
        datatype: dtype.kserve_name().to_owned(),
        shape,
        ..Default::default()
    };
    Ok((meta, data))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Code;

    fn input(name: &str, datatype: &str, shape: &[i64]) -> InferInputTensor {
        InferInputTensor {
            name: name.into(),
            datatype: datatype.into(),
            shape: shape.to_vec(),
            ..Default::default()
        }
    }

    fn request(inputs: Vec<InferInputTensor>, raw: Vec<Vec<u8>>) -> ModelInferRequest {
        ModelInferRequest {
            inputs,
            raw_input_contents: raw,
            ..Default::default()
        }
    }

    #[test]
    fn raw_and_typed_inputs_decode_to_the_same_tensor() {
        let values = [1.0f32, 2.0, 3.0, 4.0];
        let raw: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let mut r = request(vec![input("x", "FP32", &[2, 2])], vec![raw]);
        let from_raw = decode_inputs(&mut r).unwrap();
        let mut typed = input("x", "FP32", &[2, 2]);
        typed.contents = Some(InferTensorContents {
            fp32_contents: values.to_vec(),
            ..Default::default()
        });
        let from_typed = decode_inputs(&mut request(vec![typed], vec![])).unwrap();
        assert_eq!(from_raw, from_typed);
        assert_eq!(from_raw[0].shape(), &[2, 2]);
    }

    #[test]
    fn raw_bytes_not_matching_the_shape_are_refused_naming_the_input() {
        let mut r = request(vec![input("x", "FP32", &[2, 2])], vec![vec![0u8; 12]]);
        let e = decode_inputs(&mut r).unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument);
        assert!(
            e.message().contains("\"x\"") && e.message().contains("16"),
            "{e:?}"
        );
    }

    #[test]
    fn a_huge_declared_shape_is_refused_without_allocating() {
        let mut r = request(vec![input("x", "FP32", &[1 << 40, 1 << 40])], vec![vec![]]);
        let e = decode_inputs(&mut r).unwrap_err();
        assert!(e.message().contains("too large"), "{e:?}");
        let mut typed = input("x", "INT64", &[1 << 31, 1 << 31]);
        typed.contents = Some(InferTensorContents::default());
        let e = decode_inputs(&mut request(vec![typed], vec![])).unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
        let mut neg = request(vec![input("x", "FP32", &[-1, 4])], vec![vec![0; 16]]);
        assert!(
            decode_inputs(&mut neg)
                .unwrap_err()
                .message()
                .contains("negative")
        );
    }

    #[test]
    fn bytes_inputs_are_parsed_then_refused_with_what_to_use() {
        let mut blob = 3u32.to_le_bytes().to_vec();
        blob.extend_from_slice(b"abc");
        let mut r = request(vec![input("text", "BYTES", &[1])], vec![blob]);
        let e = decode_inputs(&mut r).unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument);
        assert!(
            e.message().contains("\"text\"") && e.message().contains("numeric"),
            "{e:?}"
        );
        let mut bad = request(
            vec![input("text", "BYTES", &[1])],
            vec![vec![9, 0, 0, 0, 1]],
        );
        assert!(
            decode_inputs(&mut bad)
                .unwrap_err()
                .message()
                .contains("says 9 bytes")
        );
    }

    #[test]
    fn unknown_datatypes_and_out_of_range_values_are_refused() {
        let mut r = request(vec![input("x", "UINT16", &[1])], vec![vec![0, 0]]);
        assert!(
            decode_inputs(&mut r)
                .unwrap_err()
                .message()
                .contains("UINT16")
        );
        let mut typed = input("x", "INT8", &[1]);
        typed.contents = Some(InferTensorContents {
            int_contents: vec![300],
            ..Default::default()
        });
        let e = decode_inputs(&mut request(vec![typed], vec![])).unwrap_err();
        assert!(e.message().contains("300"), "{e:?}");
    }

    #[test]
    fn raw_contents_must_match_the_inputs_one_to_one() {
        let mut r = request(
            vec![input("a", "FP32", &[1]), input("b", "FP32", &[1])],
            vec![vec![0; 4]],
        );
        assert!(
            decode_inputs(&mut r)
                .unwrap_err()
                .message()
                .contains("one per input")
        );
    }
}
