//! The tensor value every host stage passes along: a name, a dtype, a shape and
//! little-endian bytes. The sandbox produces it from a handler's output, the batcher
//! stacks and splits it, the torch crate turns it into a libtorch tensor and back, the
//! KServe codec decodes and encodes it. It holds no libtorch, wasmtime or HTTP type, so
//! each of those crates can depend on it alone. For the guest-side twin see `handlers-sdk`
//! (`ferroserve_handler::Tensor`).
//!
//! This crate is ferroserve's one tensor vocabulary, so the stages cannot drift apart:
//! - `dtype.rs`: [`DType`], its element size, and its spellings in the WIT (`f32`), archive
//!   configs (`float32`) and KServe v2 (`FP32`), each with its inverse; names of dtypes
//!   ferroserve cannot carry (`int16`, `BYTES`) give `None` and the caller words the error.
//! - `batch.rs`: stacking along a new dim 0 and splitting along dim 0, one tensor
//!   ([`stack`], [`split`]) or a whole list by position ([`stack_samples`],
//!   [`split_samples`]). Splitting is zero-copy; stacking copies once, except one part.
//! - sizes: [`DType::byte_len`] is the checked product(shape) × size every constructor
//!   and caller uses, so a hostile shape is a [`TensorError`], never a panic or a huge
//!   allocation.
//! - `error.rs`: [`TensorError`], the crate's one error type.

mod batch;
mod dtype;
mod error;

use bytes::Bytes;

pub use batch::{MAX_SPLIT_PARTS, split, split_samples, stack, stack_samples};
pub use dtype::DType;
pub use error::TensorError;

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
        let Some(expected) = dtype::checked_byte_len(dtype, &shape) else {
            return Err(TensorError::Overflow { name, dtype, shape });
        };
        if expected != data.len() {
            return Err(TensorError::LengthMismatch {
                name,
                shape,
                dtype,
                expected: expected as u64,
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
    /// Cannot overflow: [`Tensor::new`] checked every prefix of this product.
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
    fn rejects_overflowing_shapes_naming_the_tensor() {
        for shape in [
            vec![u64::MAX, 2],
            vec![usize::MAX as u64, 2],
            vec![1 << 40, 1 << 40],
        ] {
            let err = Tensor::new("x", DType::F32, shape.clone(), Vec::new()).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("tensor `x`: shape {shape:?} of f32 is too large to address")
            );
        }
    }

    #[test]
    fn a_scalar_is_one_element() {
        let t = Tensor::new("s", DType::U8, vec![], vec![7u8]).unwrap();
        assert_eq!(t.numel(), 1);
    }
}
