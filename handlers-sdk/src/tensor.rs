//! [`Tensor`] construction and dtype-checked reads. Data crosses the boundary as
//! little-endian bytes; these helpers check shape × dtype against the byte count so a
//! handler finds its own mistakes before the host rejects the tensor.

use crate::{Dtype, HandlerError, Tensor};

/// A Rust type that maps one-to-one onto a tensor [`Dtype`].
pub trait Element: Copy + sealed::Sealed {
    const DTYPE: Dtype;
    const SIZE: usize;
    fn put(self, out: &mut Vec<u8>);
    fn get(bytes: &[u8]) -> Self;
}

mod sealed {
    pub trait Sealed {}
}

macro_rules! element {
    ($t:ty, $dtype:expr) => {
        impl sealed::Sealed for $t {}
        impl Element for $t {
            const DTYPE: Dtype = $dtype;
            const SIZE: usize = std::mem::size_of::<$t>();
            #[inline]
            fn put(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
            #[inline]
            fn get(bytes: &[u8]) -> Self {
                <$t>::from_le_bytes(bytes.try_into().expect("chunk of element size"))
            }
        }
    };
}

element!(f32, Dtype::F32);
element!(f64, Dtype::F64);
element!(i64, Dtype::I64);
element!(i32, Dtype::I32);
element!(i8, Dtype::I8);
element!(u8, Dtype::U8);

impl sealed::Sealed for bool {}
impl Element for bool {
    const DTYPE: Dtype = Dtype::Boolean;
    const SIZE: usize = 1;
    fn put(self, out: &mut Vec<u8>) {
        out.push(self as u8);
    }
    fn get(bytes: &[u8]) -> Self {
        bytes[0] != 0
    }
}

/// Bytes per element of a dtype.
pub fn dtype_size(dtype: Dtype) -> usize {
    match dtype {
        Dtype::F64 | Dtype::I64 => 8,
        Dtype::F32 | Dtype::I32 => 4,
        Dtype::F16 | Dtype::Bf16 => 2,
        Dtype::I8 | Dtype::U8 | Dtype::Boolean => 1,
    }
}

/// The WIT name of a dtype (`f32`, `u8`, ...), for messages.
pub fn dtype_name(dtype: Dtype) -> &'static str {
    match dtype {
        Dtype::F32 => "f32",
        Dtype::F16 => "f16",
        Dtype::Bf16 => "bf16",
        Dtype::F64 => "f64",
        Dtype::I64 => "i64",
        Dtype::I32 => "i32",
        Dtype::I8 => "i8",
        Dtype::U8 => "u8",
        Dtype::Boolean => "bool",
    }
}

/// A tensor whose shape, dtype or length do not agree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorError(pub String);

impl std::fmt::Display for TensorError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TensorError {}

/// A tensor mistake is the handler's own bug, so it surfaces as an internal error.
impl From<TensorError> for HandlerError {
    fn from(e: TensorError) -> Self {
        HandlerError::Internal(e.0)
    }
}

impl Tensor {
    /// A tensor of `shape` holding `values` in row-major order.
    pub fn from_slice<T: Element>(
        name: impl Into<String>,
        shape: &[u64],
        values: &[T],
    ) -> Result<Tensor, TensorError> {
        let name = name.into();
        let numel = numel(shape)
            .ok_or_else(|| TensorError(format!("tensor `{name}`: shape {shape:?} overflows")))?;
        if numel != values.len() as u64 {
            return Err(TensorError(format!(
                "tensor `{name}`: shape {shape:?} holds {numel} elements but {} were given",
                values.len()
            )));
        }
        let mut data = Vec::with_capacity(values.len() * T::SIZE);
        for v in values {
            v.put(&mut data);
        }
        Ok(Tensor {
            name,
            dtype: T::DTYPE,
            shape: shape.to_vec(),
            data,
        })
    }

    /// Number of elements (product of the shape; 1 for a scalar).
    pub fn numel(&self) -> u64 {
        numel(&self.shape).unwrap_or(u64::MAX)
    }

    /// Check that shape × dtype matches the byte count.
    pub fn validate(&self) -> Result<(), TensorError> {
        let expected = numel(&self.shape)
            .and_then(|n| n.checked_mul(dtype_size(self.dtype) as u64))
            .ok_or_else(|| {
                TensorError(format!(
                    "tensor `{}`: shape {:?} overflows",
                    self.name, self.shape
                ))
            })?;
        if expected != self.data.len() as u64 {
            return Err(TensorError(format!(
                "tensor `{}`: shape {:?} of {} needs {expected} bytes, has {}",
                self.name,
                self.shape,
                dtype_name(self.dtype),
                self.data.len()
            )));
        }
        Ok(())
    }

    /// The elements as `T`, if `T` is this tensor's dtype.
    pub fn to_vec<T: Element>(&self) -> Result<Vec<T>, TensorError> {
        if self.dtype != T::DTYPE {
            return Err(TensorError(format!(
                "tensor `{}` is {}, not {}",
                self.name,
                dtype_name(self.dtype),
                dtype_name(T::DTYPE)
            )));
        }
        self.validate()?;
        Ok(self.data.chunks_exact(T::SIZE).map(T::get).collect())
    }
}

fn numel(shape: &[u64]) -> Option<u64> {
    shape.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_each_element_type() {
        let t = Tensor::from_slice("x", &[2, 2], &[1.5f32, -2.0, 3.25, 0.0]).unwrap();
        assert_eq!(t.dtype, Dtype::F32);
        assert_eq!(t.data.len(), 16);
        assert_eq!(t.to_vec::<f32>().unwrap(), vec![1.5, -2.0, 3.25, 0.0]);

        let t = Tensor::from_slice("y", &[3], &[i64::MIN, 0, i64::MAX]).unwrap();
        assert_eq!(t.to_vec::<i64>().unwrap(), vec![i64::MIN, 0, i64::MAX]);

        let t = Tensor::from_slice("b", &[2], &[true, false]).unwrap();
        assert_eq!(t.data, vec![1, 0]);
        assert_eq!(t.to_vec::<bool>().unwrap(), vec![true, false]);
    }

    #[test]
    fn bytes_are_little_endian() {
        let t = Tensor::from_slice("x", &[1], &[1i32]).unwrap();
        assert_eq!(t.data, vec![1, 0, 0, 0]);
    }

    #[test]
    fn shape_must_match_the_values() {
        let err = Tensor::from_slice("x", &[2, 3], &[1.0f32; 5]).unwrap_err();
        assert!(err.0.contains("holds 6 elements but 5"), "{err}");
    }

    #[test]
    fn reading_the_wrong_dtype_fails() {
        let t = Tensor::from_slice("x", &[1], &[1u8]).unwrap();
        let err = t.to_vec::<f32>().unwrap_err();
        assert!(err.0.contains("is u8, not f32"), "{err}");
    }

    #[test]
    fn validate_catches_a_short_buffer() {
        let mut t = Tensor::from_slice("x", &[4], &[0f32; 4]).unwrap();
        t.data.pop();
        assert!(
            t.validate()
                .unwrap_err()
                .0
                .contains("needs 16 bytes, has 15")
        );
    }

    #[test]
    fn a_scalar_has_one_element() {
        let t = Tensor::from_slice("s", &[], &[7i64]).unwrap();
        assert_eq!(t.numel(), 1);
        assert_eq!(t.to_vec::<i64>().unwrap(), vec![7]);
    }
}
