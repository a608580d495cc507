//! The tensor value every host stage passes along: a name, a dtype, a shape and
//! little-endian bytes. The sandbox produces it from a handler's output, the batcher
//! stacks and splits it, the torch crate turns it into a libtorch tensor and back. It
//! holds no libtorch or wasmtime type, so each of those crates can depend on it alone.
//! For the guest-side twin see `handlers-sdk` (`ferroserve_handler::Tensor`).

use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// Element type, mirroring `dtype` in `wit/handler.wit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DType {
    F32,
    F16,
    BF16,
    F64,
    I64,
    I32,
    I8,
    U8,
    Bool,
}

impl DType {
    pub const ALL: [DType; 9] = [
        DType::F32,
        DType::F16,
        DType::BF16,
        DType::F64,
        DType::I64,
        DType::I32,
        DType::I8,
        DType::U8,
        DType::Bool,
    ];

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            DType::F64 | DType::I64 => 8,
            DType::F32 | DType::I32 => 4,
            DType::F16 | DType::BF16 => 2,
            DType::I8 | DType::U8 | DType::Bool => 1,
        }
    }

    /// The name used in the WIT, manifests and error messages.
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::F16 => "f16",
            DType::BF16 => "bf16",
            DType::F64 => "f64",
            DType::I64 => "i64",
            DType::I32 => "i32",
            DType::I8 => "i8",
            DType::U8 => "u8",
            DType::Bool => "bool",
        }
    }

    pub fn parse(name: &str) -> Option<DType> {
        DType::ALL.into_iter().find(|d| d.name() == name)
    }
}

impl std::fmt::Display for DType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TensorError {
    #[error("tensor `{name}`: shape {shape:?} of {dtype} needs {expected} bytes but has {actual}")]
    LengthMismatch {
        name: String,
        shape: Vec<u64>,
        dtype: DType,
        expected: u64,
        actual: u64,
    },
    #[error("tensor `{name}`: shape {shape:?} is too large")]
    Overflow { name: String, shape: Vec<u64> },
}

/// A dense, row-major tensor whose byte length is known to match its shape and dtype.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    name: String,
    dtype: DType,
    shape: Vec<u64>,
    data: Bytes,
}

impl Tensor {
    /// Checks shape × dtype against `data` before anything downstream trusts it.
    pub fn new(
        name: impl Into<String>,
        dtype: DType,
        shape: Vec<u64>,
        data: impl Into<Bytes>,
    ) -> Result<Tensor, TensorError> {
        let name = name.into();
        let data = data.into();
        let expected = byte_len(dtype, &shape).ok_or_else(|| TensorError::Overflow {
            name: name.clone(),
            shape: shape.clone(),
        })?;
        if expected != data.len() as u64 {
            return Err(TensorError::LengthMismatch {
                name,
                shape,
                dtype,
                expected,
                actual: data.len() as u64,
            });
        }
        Ok(Tensor {
            name,
            dtype,
            shape,
            data,
        })
    }

    /// A tensor of f32 values, for tests and examples.
    pub fn from_f32(
        name: impl Into<String>,
        shape: Vec<u64>,
        values: &[f32],
    ) -> Result<Tensor, TensorError> {
        let data: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        Tensor::new(name, DType::F32, shape, data)
    }

    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn dtype(&self) -> DType {
        self.dtype
    }
    pub fn shape(&self) -> &[u64] {
        &self.shape
    }
    pub fn data(&self) -> &Bytes {
        &self.data
    }
    pub fn numel(&self) -> u64 {
        self.shape.iter().product()
    }

    /// The values as f32, if this is an f32 tensor.
    pub fn to_f32(&self) -> Option<Vec<f32>> {
        (self.dtype == DType::F32).then(|| {
            self.data
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        })
    }

    pub fn into_parts(self) -> (String, DType, Vec<u64>, Bytes) {
        (self.name, self.dtype, self.shape, self.data)
    }
}

/// product(shape) × size(dtype), or `None` on overflow.
pub fn byte_len(dtype: DType, shape: &[u64]) -> Option<u64> {
    shape
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d))?
        .checked_mul(dtype.size() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_matching_bytes() {
        let t = Tensor::from_f32("x", vec![2, 2], &[1.0, 2.0, 3.0, 4.0]).unwrap();
        assert_eq!(t.numel(), 4);
        assert_eq!(t.to_f32().unwrap(), vec![1.0, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn rejects_a_length_mismatch_naming_the_numbers() {
        let err = Tensor::new("x", DType::I64, vec![3], vec![0u8; 16]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "tensor `x`: shape [3] of i64 needs 24 bytes but has 16"
        );
    }

    #[test]
    fn rejects_an_overflowing_shape() {
        let err = Tensor::new("x", DType::F32, vec![u64::MAX, 2], Vec::new()).unwrap_err();
        assert!(matches!(err, TensorError::Overflow { .. }));
    }

    #[test]
    fn names_round_trip() {
        for d in DType::ALL {
            assert_eq!(DType::parse(d.name()), Some(d));
        }
        assert_eq!(DType::parse("complex64"), None);
    }

    #[test]
    fn a_scalar_is_one_element() {
        let t = Tensor::new("s", DType::U8, vec![], vec![7u8]).unwrap();
        assert_eq!(t.numel(), 1);
    }
}
