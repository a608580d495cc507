//! Stacking along a new dim 0 and splitting along dim 0: the batcher stacks requests into
//! a batch and splits the model's outputs back; the KServe codec splits a request's batch
//! into samples and stacks their outputs. One implementation, so both agree on order,
//! checks and copies.
//!
//! Splitting is zero-copy (`Bytes::slice`). Stacking copies once, except a single part,
//! which only gains a leading dim of 1.

use bytes::BytesMut;

use crate::{Tensor, TensorError, dtype};

/// Most parts [`split`] makes. Every part costs ~100 bytes of bookkeeping even when it
/// holds no data, and a shape like `[1 << 40, 0]` has no bytes at all, so dim 0 alone must
/// not decide how much is allocated. Callers that know their count use [`split_samples`].
pub const MAX_SPLIT_PARTS: usize = 1 << 16;

/// One tensor named `name` of shape `[parts.len(), ...S]` from parts that all have the
/// same dtype and shape `S`, in order. Part names are not checked (see [`stack_samples`]).
pub fn stack(name: impl Into<String>, parts: &[Tensor]) -> Result<Tensor, TensorError> {
    let name = name.into();
    let Some(first) = parts.first() else {
        return Err(TensorError::NothingToStack { name });
    };
    if let Some((index, odd)) = parts
        .iter()
        .enumerate()
        .find(|(_, p)| p.dtype != first.dtype || p.shape != first.shape)
    {
        return Err(TensorError::PartMismatch {
            name,
            index,
            dtype: odd.dtype,
            shape: odd.shape.clone(),
            first_dtype: first.dtype,
            first_shape: first.shape.clone(),
        });
    }
    let dtype = first.dtype;
    let shape: Vec<u64> = std::iter::once(parts.len() as u64)
        .chain(first.shape.iter().copied())
        .collect();
    // Checked before allocating: n copies of a large part may not fit.
    let Some(len) = dtype::checked_byte_len(dtype, &shape) else {
        return Err(TensorError::Overflow { name, dtype, shape });
    };
    let data = if let [only] = parts {
        only.data.clone()
    } else {
        let mut buf = BytesMut::with_capacity(len);
        for p in parts {
            buf.extend_from_slice(&p.data);
        }
        buf.freeze()
    };
    Tensor::new(name, dtype, shape, data)
}

/// The `dim 0` slices of `t`, each of shape `t.shape()[1..]` and named like `t`. A scalar
/// and a dim 0 above [`MAX_SPLIT_PARTS`] are errors; a dim 0 of 0 gives no parts.
pub fn split(t: Tensor) -> Result<Vec<Tensor>, TensorError> {
    let dim0 = dim0(&t)?;
    match usize::try_from(dim0) {
        Ok(n) if n <= MAX_SPLIT_PARTS => Ok(split_into(t, n)),
        _ => Err(TensorError::TooManyParts { name: t.name, dim0 }),
    }
}

/// Splits every tensor along dim 0 into `n` samples: `samples[i][j]` is tensor `j`'s slice
/// `i`, so each sample keeps the list's order. Every tensor must have dim 0 = `n`, checked
/// for all before anything is split. `n` is the caller's count (requests in a batch,
/// samples it agreed to take), which also bounds what is allocated.
pub fn split_samples(tensors: Vec<Tensor>, n: usize) -> Result<Vec<Vec<Tensor>>, TensorError> {
    for t in &tensors {
        let dim0 = dim0(t)?;
        if dim0 != n as u64 {
            return Err(TensorError::BatchSize {
                name: t.name.clone(),
                shape: t.shape.clone(),
                dim0,
                batch: n,
            });
        }
    }
    let mut samples: Vec<Vec<Tensor>> = (0..n).map(|_| Vec::with_capacity(tensors.len())).collect();
    for t in tensors {
        for (sample, part) in samples.iter_mut().zip(split_into(t, n)) {
            sample.push(part);
        }
    }
    Ok(samples)
}

/// The inverse of [`split_samples`]: tensor `j` of the result stacks tensor `j` of every
/// sample, named like sample 0's. Every sample must hold the same number of tensors with
/// the same names, dtypes and shapes, position by position. No samples give no tensors.
pub fn stack_samples(samples: Vec<Vec<Tensor>>) -> Result<Vec<Tensor>, TensorError> {
    let Some(head) = samples.first() else {
        return Ok(Vec::new());
    };
    for (i, sample) in samples.iter().enumerate().skip(1) {
        if sample.len() != head.len() {
            return Err(TensorError::SampleCount {
                sample: i,
                count: sample.len(),
                expected: head.len(),
            });
        }
        if let Some((h, _)) = head
            .iter()
            .zip(sample)
            .find(|(h, t)| h.name != t.name || h.dtype != t.dtype || h.shape != t.shape)
        {
            return Err(TensorError::SampleMismatch {
                sample: i,
                name: h.name.clone(),
                dtype: h.dtype,
                shape: h.shape.clone(),
            });
        }
    }
    // Transposed by moving, not copying: a Tensor's bytes are reference-counted.
    let mut columns: Vec<Vec<Tensor>> = (0..head.len())
        .map(|_| Vec::with_capacity(samples.len()))
        .collect();
    for sample in samples {
        for (column, t) in columns.iter_mut().zip(sample) {
            column.push(t);
        }
    }
    columns
        .into_iter()
        .map(|column| stack(column[0].name.clone(), &column))
        .collect()
}

fn dim0(t: &Tensor) -> Result<u64, TensorError> {
    t.shape.first().copied().ok_or_else(|| TensorError::Scalar {
        name: t.name.clone(),
    })
}

/// `n` zero-copy slices of `t`, whose dim 0 the caller checked is `n`.
fn split_into(t: Tensor, n: usize) -> Vec<Tensor> {
    if n == 0 {
        return Vec::new();
    }
    let Tensor {
        name,
        dtype,
        shape,
        data,
    } = t;
    // `data` holds exactly n × chunk bytes (checked when `t` was made), so every slice
    // matches the inner shape and needs no second check.
    let chunk = data.len() / n;
    (0..n)
        .map(|i| Tensor {
            name: name.clone(),
            dtype,
            shape: shape[1..].to_vec(),
            data: data.slice(i * chunk..(i + 1) * chunk),
        })
        .collect()
}

#[cfg(test)]
#[path = "batch_tests.rs"]
mod tests;
