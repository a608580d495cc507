//! KServe v2 JSON tensors ⇄ [`Tensor`]: datatype names, flat or nested `data`, each value
//! checked against its datatype. Splitting a batch into samples is the core's
//! (`ferroserve_core::tensors`).

use ferroserve_tensor::{DType, Tensor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{ApiError, Edge};

/// One input tensor of an inference request: its values in `data`, or (the binary
/// extension) `parameters.binary_data_size` bytes after the JSON header.
#[derive(Deserialize)]
pub(super) struct WireTensor {
    pub(super) name: String,
    shape: Vec<u64>,
    datatype: String,
    #[serde(default)]
    data: Option<Value>,
    #[serde(default)]
    pub(super) parameters: TensorParameters,
}

/// The tensor parameters this server reads; others are accepted and ignored.
#[derive(Deserialize, Default)]
pub(super) struct TensorParameters {
    /// Input: this many bytes of the binary section are the tensor's.
    pub(super) binary_data_size: Option<u64>,
    /// Requested output: return it in the binary section.
    pub(super) binary_data: Option<bool>,
}

/// One output tensor of an inference response. `data` is typed (not a JSON value) so f32
/// values print in their shortest f32 form (0.1, not 0.10000000149011612).
#[derive(Serialize)]
pub(super) struct WireOutput {
    name: String,
    datatype: &'static str,
    shape: Vec<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<Data>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parameters: Option<OutputParameters>,
}

#[derive(Serialize)]
struct OutputParameters {
    binary_data_size: usize,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Data {
    F32(Vec<f32>),
    F64(Vec<f64>),
    I64(Vec<i64>),
    I32(Vec<i32>),
    I8(Vec<i8>),
    U8(Vec<u8>),
    Bool(Vec<bool>),
}

/// The order the datatypes are listed in error messages.
const LISTED: [DType; 9] = [
    DType::F32,
    DType::F64,
    DType::F16,
    DType::BF16,
    DType::I64,
    DType::I32,
    DType::I8,
    DType::U8,
    DType::Bool,
];

pub(super) fn bad_request(message: String) -> ApiError {
    ApiError::from(Edge::InvalidInference(message))
}

/// A request input as a tensor, checking datatype, element count and each value's range;
/// `raw` is its bytes from the binary section, when it has some.
pub(super) fn decode(wire: &WireTensor, raw: Option<&[u8]>) -> Result<Tensor, ApiError> {
    let name = &wire.name;
    if wire.datatype == "BYTES" {
        return Err(bad_request(format!(
            "input `{name}` is BYTES, but v2 inference sends tensors straight to the model, \
             which takes numeric tensors; send a numeric datatype, or send the raw bytes to \
             /predictions/{{model}} or v1 :predict, which run the model's handler"
        )));
    }
    let Some(dtype) = DType::from_kserve_name(&wire.datatype) else {
        let known = LISTED.map(DType::kserve_name);
        return Err(bad_request(format!(
            "input `{name}`: unsupported datatype {}; send numeric tensors ({})",
            wire.datatype,
            known.join(", ")
        )));
    };
    if let Some(raw) = raw {
        return from_raw(wire, dtype, raw);
    }
    let Some(data) = &wire.data else {
        return Err(bad_request(format!(
            "input `{name}` has no `data`; send its values in `data`, or its bytes after the \
             JSON header with `parameters.binary_data_size` and the Inference-Header-Content-Length header"
        )));
    };
    let mut values = Vec::new();
    flatten(data, &mut values);
    let expected = wire.shape.iter().try_fold(1u64, |a, &d| a.checked_mul(d));
    if expected != Some(values.len() as u64) {
        return Err(bad_request(format!(
            "input `{name}`: shape {:?} needs {} elements but `data` has {}",
            wire.shape,
            expected.map_or_else(|| "too many".to_string(), |e| e.to_string()),
            values.len()
        )));
    }
    let mut bytes = Vec::with_capacity(values.len() * dtype.size());
    for (i, v) in values.iter().enumerate() {
        push(&mut bytes, dtype, v).ok_or_else(|| {
            bad_request(format!(
                "input `{name}`: element {i} ({v}) is not a valid {} value",
                wire.datatype
            ))
        })?;
    }
    Tensor::new(name.clone(), dtype, wire.shape.clone(), bytes)
        .map_err(|e| bad_request(e.to_string()))
}

/// A binary input: little-endian, row-major, exactly `numel × element size` bytes.
fn from_raw(wire: &WireTensor, dtype: DType, raw: &[u8]) -> Result<Tensor, ApiError> {
    let name = &wire.name;
    match dtype.byte_len(&wire.shape) {
        Ok(len) if len == raw.len() => {}
        Ok(len) => {
            return Err(bad_request(format!(
                "input `{name}`: shape {:?} of {} needs {len} bytes but its binary data has {}",
                wire.shape,
                wire.datatype,
                raw.len()
            )));
        }
        Err(e) => return Err(bad_request(format!("input `{name}`: {e}"))),
    }
    Tensor::new(name.clone(), dtype, wire.shape.clone(), raw.to_vec())
        .map_err(|e| bad_request(e.to_string()))
}

/// Nested arrays in row-major order; serde_json's nesting limit (128) bounds the recursion.
fn flatten<'a>(value: &'a Value, out: &mut Vec<&'a Value>) {
    match value {
        Value::Array(items) => items.iter().for_each(|v| flatten(v, out)),
        other => out.push(other),
    }
}

/// Appends `v` as little-endian `dtype`, or `None` when it is not such a value. JSON has
/// no infinities, so a float that becomes infinite was out of the type's range.
fn push(out: &mut Vec<u8>, dtype: DType, v: &Value) -> Option<()> {
    let finite = |x: f32| x.is_finite().then_some(x);
    match dtype {
        DType::F32 => out.extend(finite(v.as_f64()? as f32)?.to_le_bytes()),
        DType::F64 => out.extend(v.as_f64()?.to_le_bytes()),
        DType::F16 => {
            let x = half::f16::from_f64(v.as_f64()?);
            finite(x.to_f32())?;
            out.extend(x.to_le_bytes());
        }
        DType::BF16 => {
            let x = half::bf16::from_f64(v.as_f64()?);
            finite(x.to_f32())?;
            out.extend(x.to_le_bytes());
        }
        DType::I64 => out.extend(v.as_i64()?.to_le_bytes()),
        DType::I32 => out.extend(i32::try_from(v.as_i64()?).ok()?.to_le_bytes()),
        DType::I8 => out.extend(i8::try_from(v.as_i64()?).ok()?.to_le_bytes()),
        DType::U8 => out.push(u8::try_from(v.as_u64()?).ok()?),
        DType::Bool => out.push(u8::from(v.as_bool()?)),
    }
    Some(())
}

/// Splits every input along dim 0 into per-sample tensors without it (the batcher adds the
/// batch dimension back): `samples[i][j]` is input `j` of sample `i`.
/// An output in JSON, or (`binary`) described in JSON with its bytes for the binary section.
pub(super) fn encode(t: &Tensor, binary: bool) -> WireOutput {
    let mut out = WireOutput {
        name: t.name().to_owned(),
        datatype: t.dtype().kserve_name(),
        shape: t.shape().to_vec(),
        data: None,
        parameters: None,
    };
    if binary {
        out.parameters = Some(OutputParameters {
            binary_data_size: t.data().len(),
        });
    } else {
        out.data = Some(json_data(t));
    }
    out
}

fn json_data(t: &Tensor) -> Data {
    let d = t.data();
    match t.dtype() {
        DType::F32 => Data::F32(
            d.chunks_exact(4)
                .map(|c| f32::from_le_bytes(le(c)))
                .collect(),
        ),
        DType::F64 => Data::F64(
            d.chunks_exact(8)
                .map(|c| f64::from_le_bytes(le(c)))
                .collect(),
        ),
        // Half floats print as the f32 of the same value, which parses back to it exactly.
        DType::F16 => Data::F32(
            d.chunks_exact(2)
                .map(|c| half::f16::from_le_bytes(le(c)).to_f32())
                .collect(),
        ),
        DType::BF16 => Data::F32(
            d.chunks_exact(2)
                .map(|c| half::bf16::from_le_bytes(le(c)).to_f32())
                .collect(),
        ),
        DType::I64 => Data::I64(
            d.chunks_exact(8)
                .map(|c| i64::from_le_bytes(le(c)))
                .collect(),
        ),
        DType::I32 => Data::I32(
            d.chunks_exact(4)
                .map(|c| i32::from_le_bytes(le(c)))
                .collect(),
        ),
        DType::I8 => Data::I8(d.iter().map(|&b| b as i8).collect()),
        DType::U8 => Data::U8(d.to_vec()),
        DType::Bool => Data::Bool(d.iter().map(|&b| b != 0).collect()),
    }
}

/// A chunk from `chunks_exact(N)` as `[u8; N]`.
fn le<const N: usize>(chunk: &[u8]) -> [u8; N] {
    chunk.try_into().expect("chunks_exact yields N bytes")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn wire(datatype: &str, shape: Vec<u64>, data: Value) -> WireTensor {
        WireTensor {
            name: "t".into(),
            shape,
            datatype: datatype.into(),
            // As serde reads `"data": null`.
            data: (!data.is_null()).then_some(data),
            parameters: TensorParameters::default(),
        }
    }

    /// decode then encode, as the JSON a client would read back.
    fn round_trip(datatype: &str, data: Value) -> Value {
        let n = data.as_array().unwrap().len() as u64;
        let tensor = decode(&wire(datatype, vec![n], data), None).unwrap();
        // Through text, as a client reads it: f32s print in their shortest form.
        let text = serde_json::to_string(&encode(&tensor, false)).unwrap();
        let out: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(out["datatype"], datatype);
        out["data"].clone()
    }

    #[test]
    fn every_datatype_round_trips() {
        assert_eq!(round_trip("FP32", json!([0.1, -2])), json!([0.1, -2.0]));
        assert_eq!(round_trip("FP64", json!([0.1, 1e300])), json!([0.1, 1e300]));
        assert_eq!(
            round_trip("FP16", json!([0.5, 65504])),
            json!([0.5, 65504.0])
        );
        assert_eq!(round_trip("BF16", json!([1.5, -256])), json!([1.5, -256.0]));
        assert_eq!(
            round_trip("INT64", json!([i64::MIN, 7])),
            json!([i64::MIN, 7])
        );
        assert_eq!(
            round_trip("INT32", json!([-5, 2147483647])),
            json!([-5, 2147483647])
        );
        assert_eq!(round_trip("INT8", json!([-128, 127])), json!([-128, 127]));
        assert_eq!(round_trip("UINT8", json!([0, 255])), json!([0, 255]));
        assert_eq!(
            round_trip("BOOL", json!([true, false])),
            json!([true, false])
        );
    }

    #[test]
    fn values_outside_the_datatype_are_refused() {
        for (datatype, value) in [
            ("INT8", json!(128)),
            ("UINT8", json!(-1)),
            ("INT32", json!(1.5)),
            ("FP32", json!(1e39)),
            ("FP16", json!(70000)),
            ("BOOL", json!(1)),
            ("FP32", json!("1")),
        ] {
            let err = decode(&wire(datatype, vec![1], json!([value])), None).unwrap_err();
            assert_eq!(err.code, 400, "{datatype} {value}");
            assert!(err.message.contains("is not a valid"), "{}", err.message);
        }
    }

    #[test]
    fn nested_data_is_row_major() {
        let nested = decode(&wire("INT32", vec![2, 2], json!([[1, 2], [3, 4]])), None).unwrap();
        let flat = decode(&wire("INT32", vec![2, 2], json!([1, 2, 3, 4])), None).unwrap();
        assert_eq!(nested, flat);
    }

    #[test]
    fn binary_inputs_must_match_their_shape_exactly() {
        let x = wire("FP32", vec![2, 2], json!(null));
        let raw: Vec<u8> = [1f32, 2., 3., 4.]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let t = decode(&x, Some(&raw)).unwrap();
        assert_eq!(t.to_f32().unwrap(), vec![1., 2., 3., 4.]);
        let short = decode(&x, Some(&raw[..15])).unwrap_err();
        assert!(
            short
                .message
                .contains("needs 16 bytes but its binary data has 15"),
            "{}",
            short.message
        );
        let huge = wire("FP64", vec![u64::MAX, 4], json!(null));
        assert_eq!(decode(&huge, Some(&raw)).unwrap_err().code, 400);
        let none = decode(&wire("FP32", vec![1], json!(null)), None).unwrap_err();
        assert!(none.message.contains("has no `data`"), "{}", none.message);
    }

    #[test]
    fn bytes_inputs_are_refused_with_where_to_send_them() {
        let e = decode(&wire("BYTES", vec![1], json!(["abc"])), None).unwrap_err();
        assert_eq!(e.code, 400);
        assert!(
            e.message.contains("/predictions/{model} or v1 :predict"),
            "{}",
            e.message
        );
    }

    #[test]
    fn binary_outputs_carry_their_size_instead_of_data() {
        let t = Tensor::from_f32("y", vec![3], &[1., 2., 3.]).unwrap();
        let out = serde_json::to_value(encode(&t, true)).unwrap();
        assert_eq!(
            out,
            json!({"name": "y", "datatype": "FP32", "shape": [3], "parameters": {"binary_data_size": 12}})
        );
    }
}
