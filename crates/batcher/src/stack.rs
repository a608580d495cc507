//! Stacking requests into one batch along a new dim 0, and splitting outputs back.
//!
//! Two requests may share a batch only when their [`Signature`]s agree: the same input names,
//! dtypes and shapes, in the same order. Splitting is zero-copy (`Bytes::slice`); stacking
//! copies once, except for a batch of one, which only gains a leading dim of 1.

use bytes::BytesMut;
use ferroserve_tensor::{DType, Tensor};

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
    let n = requests.len();
    let internal = |m: String| BatchError::BadInput(format!("internal batching error: {m}"));
    if n == 1 {
        let only = requests.into_iter().next().unwrap_or_default();
        return only
            .into_iter()
            .map(|t| prepend(t, 1).map_err(|e| internal(e.to_string())))
            .collect();
    }
    let first = requests
        .first()
        .ok_or_else(|| internal("empty batch".into()))?;
    let signature = Signature::of(first);
    let mut buffers: Vec<BytesMut> = first
        .iter()
        .map(|t| BytesMut::with_capacity(t.data().len() * n))
        .collect();
    for request in &requests {
        if !signature.matches(request) {
            return Err(internal("requests of different shapes in one batch".into()));
        }
        for (buf, t) in buffers.iter_mut().zip(request) {
            buf.extend_from_slice(t.data());
        }
    }
    signature
        .0
        .into_iter()
        .zip(buffers)
        .map(|((name, dtype, shape), buf)| {
            let shape = std::iter::once(n as u64).chain(shape).collect();
            Tensor::new(name, dtype, shape, buf.freeze()).map_err(|e| internal(e.to_string()))
        })
        .collect()
}

fn prepend(t: Tensor, d0: u64) -> Result<Tensor, ferroserve_tensor::TensorError> {
    let (name, dtype, shape, data) = t.into_parts();
    Tensor::new(
        name,
        dtype,
        std::iter::once(d0).chain(shape).collect(),
        data,
    )
}

/// Splits each output of shape `[n, ...R]` into `n` tensors of shape `R`, one list per request,
/// in batch order. Every output must keep dim 0 = `n`.
pub(crate) fn split(outputs: Vec<Tensor>, n: usize) -> Result<Vec<Vec<Tensor>>, BatchError> {
    if outputs.is_empty() {
        return Err(BatchError::BadOutput(
            "the model returned no tensors".into(),
        ));
    }
    let mut per_request: Vec<Vec<Tensor>> =
        (0..n).map(|_| Vec::with_capacity(outputs.len())).collect();
    for output in outputs {
        let (name, dtype, shape, data) = output.into_parts();
        match shape.first() {
            Some(&d0) if d0 == n as u64 => {}
            Some(&d0) => {
                return Err(BatchError::BadOutput(format!(
                    "output `{name}` has shape {shape:?}, whose dim 0 ({d0}) is not the batch size ({n})"
                )));
            }
            None => {
                return Err(BatchError::BadOutput(format!(
                    "output `{name}` is a scalar, but the batch of {n} needs a dim 0 of {n}"
                )));
            }
        }
        let inner = &shape[1..];
        let chunk = data.len() / n;
        for (i, slot) in per_request.iter_mut().enumerate() {
            let part = data.slice(i * chunk..(i + 1) * chunk);
            let t = Tensor::new(name.clone(), dtype, inner.to_vec(), part)
                .map_err(|e| BatchError::BadOutput(e.to_string()))?;
            slot.push(t);
        }
    }
    Ok(per_request)
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
