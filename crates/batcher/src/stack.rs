//! Stacking requests into one batch along a new dim 0, and splitting outputs back, with
//! the batcher's error wording around the tensor crate's [`stack_samples`] and
//! [`split_samples`] (zero-copy splits; one copy per stack, none for a batch of one).
//!
//! Two requests may share a batch only when their [`Signature`]s agree: the same input names,
//! dtypes and shapes, in the same order.

use ferroserve_tensor::{DType, Tensor, TensorError, split_samples, stack_samples};

use crate::BatchError;

/// What must agree for requests to be stacked together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Signature(Vec<(String, DType, Vec<u64>)>);

impl Signature {
    pub(crate) fn of(inputs: &[Tensor]) -> Signature {
        Signature(
            inputs
                .iter()
                .map(|t| (t.name().to_owned(), t.dtype(), t.shape().to_vec()))
                .collect(),
        )
    }

    /// Compares without allocating: this runs for every queued request.
    pub(crate) fn matches(&self, inputs: &[Tensor]) -> bool {
        self.0.len() == inputs.len()
            && self.0.iter().zip(inputs).all(|((name, dtype, shape), t)| {
                name == t.name() && *dtype == t.dtype() && shape.as_slice() == t.shape()
            })
    }
}

/// One tensor per input name, of shape `[n, ...S]`, from `n` requests whose signatures agree.
pub(crate) fn stack(requests: Vec<Vec<Tensor>>) -> Result<Vec<Tensor>, BatchError> {
    // The queue only groups requests with one signature, so any failure here is ours.
    let internal = |m: String| BatchError::BadInput(format!("internal batching error: {m}"));
    if requests.is_empty() {
        return Err(internal("empty batch".into()));
    }
    stack_samples(requests).map_err(|e| internal(e.to_string()))
}

/// Splits each output of shape `[n, ...R]` into `n` tensors of shape `R`, one list per request,
/// in batch order. Every output must keep dim 0 = `n`.
pub(crate) fn split(outputs: Vec<Tensor>, n: usize) -> Result<Vec<Vec<Tensor>>, BatchError> {
    if outputs.is_empty() {
        return Err(BatchError::BadOutput(
            "the model returned no tensors".into(),
        ));
    }
    // Reworded as the model's outputs: the tensor crate does not know what they are.
    split_samples(outputs, n).map_err(|e| {
        BatchError::BadOutput(match e {
            TensorError::BatchSize {
                name, shape, dim0, ..
            } => format!(
                "output `{name}` has shape {shape:?}, whose dim 0 ({dim0}) is not the batch size ({n})"
            ),
            TensorError::Scalar { name } => format!(
                "output `{name}` is a scalar, but the batch of {n} needs a dim 0 of {n}"
            ),
            other => other.to_string(),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f32s(t: &Tensor) -> Vec<f32> {
        t.to_f32().unwrap()
    }

    #[test]
    fn stacks_along_a_new_dim_0_in_request_order() {
        let reqs = (0..3)
            .map(|i| {
                let x = Tensor::from_f32("x", vec![2], &[i as f32, 10.0 + i as f32]).unwrap();
                let m = Tensor::new("m", DType::U8, vec![], vec![i as u8]).unwrap();
                vec![x, m]
            })
            .collect();
        let out = stack(reqs).unwrap();
        assert_eq!(out[0].shape(), &[3, 2]);
        assert_eq!(f32s(&out[0]), vec![0.0, 10.0, 1.0, 11.0, 2.0, 12.0]);
        assert_eq!((out[1].name(), out[1].shape()), ("m", &[3u64][..]));
        assert_eq!(out[1].data().as_ref(), &[0, 1, 2]);
    }

    #[test]
    fn a_batch_of_one_is_not_copied() {
        let x = Tensor::from_f32("x", vec![2, 2], &[1.0, 2.0, 3.0, 4.0]).unwrap();
        let ptr = x.data().as_ptr();
        let out = stack(vec![vec![x]]).unwrap();
        assert_eq!(out[0].shape(), &[1, 2, 2]);
        assert_eq!(out[0].data().as_ptr(), ptr);
    }

    #[test]
    fn refuses_to_stack_different_signatures() {
        let a = vec![Tensor::from_f32("x", vec![1], &[1.0]).unwrap()];
        let b = vec![Tensor::from_f32("x", vec![2], &[1.0, 2.0]).unwrap()];
        assert!(!Signature::of(&a).matches(&b));
        assert!(matches!(stack(vec![a, b]), Err(BatchError::BadInput(_))));
    }

    #[test]
    fn splits_without_copying() {
        let y = Tensor::from_f32("y", vec![3, 2], &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
        let base = y.data().as_ptr();
        let parts = split(vec![y], 3).unwrap();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[2][0].shape(), &[2]);
        assert_eq!(f32s(&parts[2][0]), vec![4.0, 5.0]);
        assert_eq!(parts[1][0].data().as_ptr(), base.wrapping_add(8));
    }

    #[test]
    fn a_batch_of_n_scalars_splits_into_scalars() {
        let y = Tensor::from_f32("score", vec![2], &[0.5, 0.25]).unwrap();
        let parts = split(vec![y], 2).unwrap();
        assert_eq!(parts[1][0].shape(), &[] as &[u64]);
        assert_eq!(f32s(&parts[1][0]), vec![0.25]);
    }

    #[test]
    fn outputs_without_the_batch_dim_are_refused_with_the_numbers() {
        let y = Tensor::from_f32("y", vec![2, 2], &[0.0; 4]).unwrap();
        let err = split(vec![y], 4).unwrap_err();
        assert_eq!(
            err,
            BatchError::BadOutput(
                "output `y` has shape [2, 2], whose dim 0 (2) is not the batch size (4)".into()
            )
        );
        let s = Tensor::from_f32("s", vec![], &[1.0]).unwrap();
        assert!(matches!(split(vec![s], 1), Err(BatchError::BadOutput(_))));
        assert!(matches!(split(vec![], 1), Err(BatchError::BadOutput(_))));
    }
}
