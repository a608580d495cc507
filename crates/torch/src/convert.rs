//! Between `ferroserve_tensor::Tensor` (little-endian bytes) and `tch::Tensor`, and from a
//! forward's `IValue` to named output tensors.

use ferroserve_tensor::{DType, Tensor};
use tch::{IValue, Kind};

use crate::{Device, TorchError};

pub(crate) fn kind_of(dtype: DType) -> Kind {
    match dtype {
        DType::F32 => Kind::Float,
        DType::F16 => Kind::Half,
        DType::BF16 => Kind::BFloat16,
        DType::F64 => Kind::Double,
        DType::I64 => Kind::Int64,
        DType::I32 => Kind::Int,
        DType::I8 => Kind::Int8,
        DType::U8 => Kind::Uint8,
        DType::Bool => Kind::Bool,
    }
}

pub(crate) fn dtype_of(kind: Kind) -> Option<DType> {
    Some(match kind {
        Kind::Float => DType::F32,
        Kind::Half => DType::F16,
        Kind::BFloat16 => DType::BF16,
        Kind::Double => DType::F64,
        Kind::Int64 => DType::I64,
        Kind::Int => DType::I32,
        Kind::Int8 => DType::I8,
        Kind::Uint8 => DType::U8,
        Kind::Bool => DType::Bool,
        _ => return None,
    })
}

/// One input as a libtorch tensor on `device`, made with exactly one copy of the bytes:
/// on the CPU into memory libtorch owns (so a model that writes to its input in place can
/// never touch the caller's shared `Bytes`), on a GPU straight from the caller's bytes to
/// device memory.
pub(crate) fn to_tch(tensor: &Tensor, device: Device) -> Result<tch::Tensor, TorchError> {
    let name = tensor.name();
    let shape = tensor
        .shape()
        .iter()
        .map(|&d| i64::try_from(d))
        .collect::<Result<Vec<i64>, _>>()
        .map_err(|_| TorchError::input(name, format!("shape {:?} is too large", tensor.shape())))?;
    let data = tensor.data();
    if tensor.dtype() == DType::Bool
        && let Some(at) = data.iter().position(|&b| b > 1)
    {
        let reason = format!(
            "bool element {at} is byte {}, but bools must be 0 or 1",
            data[at]
        );
        return Err(TorchError::input(name, reason));
    }
    let kind = kind_of(tensor.dtype());
    let converted = match device {
        Device::Cpu => tch::Tensor::f_from_data_size(data, &shape, kind),
        Device::Cuda(_) => {
            // SAFETY: `data` holds exactly numel × element size bytes (checked when the
            // `Tensor` was made) and outlives `blob`, which is only read: `to_device`
            // copies it synchronously (non_blocking = false) and `blob` drops right after.
            let blob = unsafe {
                tch::Tensor::f_from_blob(data.as_ptr(), &shape, &[], kind, tch::Device::Cpu)
            };
            blob.and_then(|b| b.f_to_device(device.to_tch()))
        }
    };
    converted.map_err(|e| TorchError::input(name, crate::error::tch_message(e)))
}

/// A libtorch tensor as a named `Tensor`: copied to the CPU, made contiguous, its bytes
/// copied once into a fresh buffer. Its size, from the shape, is taken from `budget` before
/// the buffer is allocated (a view may be far larger than its storage).
pub(crate) fn from_tch(
    name: String,
    t: &tch::Tensor,
    budget: &mut Budget,
) -> Result<Tensor, TorchError> {
    let kind = t.f_kind().map_err(TorchError::forward)?;
    let dtype = dtype_of(kind).ok_or_else(|| TorchError::unsupported_kind(&name, kind))?;
    // libtorch sizes are never negative.
    let shape: Vec<u64> = t.size().iter().map(|&d| d as u64).collect();
    let len = match dtype.byte_len(&shape) {
        Ok(len) if (len as u64) <= budget.left => len,
        _ => {
            return Err(TorchError::OutputTooLarge {
                name,
                shape,
                limit: budget.limit,
            });
        }
    };
    budget.left -= len as u64;
    let mut data = vec![0u8; len];
    if len > 0 {
        // Does `.to(cpu).contiguous()` inside libtorch when needed, then one memcpy.
        t.f_copy_data_u8(&mut data, len / dtype.size())
            .map_err(TorchError::forward)?;
    }
    Tensor::new(name, dtype, shape, data).map_err(|e| TorchError::Forward {
        message: e.to_string(),
    })
}

/// What a forward's outputs may still take, in bytes.
pub(crate) struct Budget {
    limit: u64,
    left: u64,
}

impl Budget {
    pub(crate) fn new(limit: u64) -> Budget {
        Budget { limit, left: limit }
    }
}

/// Names a forward's result: one tensor is `output`; a tuple or list gives `output_0`,
/// `output_1`, … in order; a dict with string keys gives one tensor per key, named by the
/// key, in the dict's order. Anything else (numbers, strings, nesting) is an error.
/// Together they take at most `max_bytes`.
pub(crate) fn outputs(value: IValue, max_bytes: u64) -> Result<Vec<Tensor>, TorchError> {
    let budget = &mut Budget::new(max_bytes);
    match value {
        IValue::Tensor(t) => Ok(vec![from_tch("output".to_string(), &t, budget)?]),
        IValue::TensorList(ts) => ts
            .iter()
            .enumerate()
            .map(|(i, t)| from_tch(format!("output_{i}"), t, budget))
            .collect(),
        IValue::Tuple(items) | IValue::GenericList(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, item)| match item {
                IValue::Tensor(t) => from_tch(format!("output_{i}"), &t, budget),
                other => Err(unsupported(
                    &format!("a sequence whose item {i} is"),
                    &other,
                )),
            })
            .collect(),
        IValue::GenericDict(entries) => entries
            .into_iter()
            .map(|(key, value)| match (key, value) {
                (IValue::String(k), IValue::Tensor(t)) => from_tch(k, &t, budget),
                (IValue::String(k), other) => Err(unsupported(
                    &format!("a dict whose value for `{k}` is"),
                    &other,
                )),
                (other, _) => Err(unsupported("a dict with a key that is", &other)),
            })
            .collect(),
        other => Err(unsupported("", &other)),
    }
}

fn unsupported(context: &str, value: &IValue) -> TorchError {
    let what = match value {
        IValue::None => "None",
        IValue::Tensor(_) => "a tensor",
        IValue::Double(_) => "a float",
        IValue::Int(_) => "an int",
        IValue::Bool(_) => "a bool",
        IValue::Tuple(_) => "a tuple",
        IValue::IntList(_) | IValue::DoubleList(_) | IValue::BoolList(_) => "a list of numbers",
        IValue::String(_) => "a string",
        IValue::StringList(_) => "a list of strings",
        IValue::TensorList(_) | IValue::GenericList(_) => "a list",
        IValue::GenericDict(_) => "a dict",
        IValue::Object(_) => "an object",
        IValue::Device(_) => "a device",
        _ => "a value of another kind",
    };
    let found = if context.is_empty() {
        what.to_string()
    } else {
        format!("{context} {what}")
    };
    TorchError::UnsupportedOutput { found }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_dtype_maps_to_a_kind_and_back() {
        for d in DType::ALL {
            let kind = kind_of(d);
            assert_eq!(dtype_of(kind), Some(d));
            assert_eq!(kind.elt_size_in_bytes(), d.size(), "{d}");
        }
        assert_eq!(dtype_of(Kind::ComplexFloat), None);
    }
}
