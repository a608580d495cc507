//! [`TensorError`], the crate's one error type. Messages name the tensor and the numbers,
//! so whoever sent the shape can fix it; callers add their own context (input or output,
//! request or model).

use crate::DType;

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

    /// product(shape) × size does not fit in memory's address space. `name` is empty when
    /// the size was asked of a bare shape ([`DType::byte_len`]).
    #[error(
        "{}shape {shape:?} of {dtype} is too large to address",
        tensor_prefix(name)
    )]
    Overflow {
        name: String,
        dtype: DType,
        shape: Vec<u64>,
    },

    /// A scalar has no dim 0 to split along.
    #[error("tensor `{name}` is a scalar, so it has no dim 0 to split along")]
    Scalar { name: String },

    /// [`crate::split_samples`]: a tensor's dim 0 is not the number of samples asked for.
    #[error(
        "tensor `{name}` has shape {shape:?}, whose dim 0 ({dim0}) is not the batch size ({batch})"
    )]
    BatchSize {
        name: String,
        shape: Vec<u64>,
        dim0: u64,
        batch: usize,
    },

    /// [`crate::split`] on a dim 0 above [`crate::MAX_SPLIT_PARTS`].
    #[error(
        "tensor `{name}`: dim 0 is {dim0}, more than the {max} parts a split may make",
        max = crate::MAX_SPLIT_PARTS
    )]
    TooManyParts { name: String, dim0: u64 },

    /// [`crate::stack`] with no parts: there is no dtype or shape to give the result.
    #[error("cannot stack `{name}` from no tensors")]
    NothingToStack { name: String },

    /// [`crate::stack`]: part `index` differs from part 0 in dtype or shape.
    #[error(
        "cannot stack `{name}`: part {index} is {dtype} {shape:?} but part 0 is \
         {first_dtype} {first_shape:?}"
    )]
    PartMismatch {
        name: String,
        index: usize,
        dtype: DType,
        shape: Vec<u64>,
        first_dtype: DType,
        first_shape: Vec<u64>,
    },

    /// [`crate::stack_samples`]: a sample holds a different number of tensors than sample 0.
    #[error(
        "sample {sample} has {count} tensors but sample 0 has {expected}, so they cannot be \
         stacked"
    )]
    SampleCount {
        sample: usize,
        count: usize,
        expected: usize,
    },

    /// [`crate::stack_samples`]: a sample's tensor differs from sample 0's at the same
    /// position; the fields describe sample 0's.
    #[error(
        "sample {sample} has tensors unlike sample 0's (`{name}` {dtype} {shape:?}), so they \
         cannot be stacked"
    )]
    SampleMismatch {
        sample: usize,
        name: String,
        dtype: DType,
        shape: Vec<u64>,
    },
}

fn tensor_prefix(name: &str) -> String {
    if name.is_empty() {
        String::new()
    } else {
        format!("tensor `{name}`: ")
    }
}
