//! The wire between the server and a cell: frames of `[u32 head length][u64 data length]
//! [head: JSON][data: raw bytes]`, little-endian. The head is a small JSON message; the
//! data is the message's tensors' bytes back to back, in the order the head lists them, so
//! tensors cross without any encoding. Both lengths are checked against a cap before a
//! byte is allocated.

use std::io::{self, Read, Write};
use std::path::PathBuf;

use bytes::Bytes;
use ferroserve_archive::InputSpec;
use ferroserve_tensor::{DType, Tensor};
use serde::{Deserialize, Serialize};

/// The most a frame's JSON head may be.
pub(crate) const MAX_HEAD: u32 = 1 << 20;

/// A model to load in a cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadSpec {
    pub path: PathBuf,
    pub device: Option<String>,
    /// The archive's declared inputs (no batch dimension), to warm the model up with.
    pub warmup: Vec<InputSpec>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct TensorHead {
    pub name: String,
    pub dtype: String,
    pub shape: Vec<u64>,
}

/// Server to cell.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub(crate) enum Request {
    Load {
        id: u64,
        model: u64,
        spec: LoadSpec,
    },
    Run {
        id: u64,
        model: u64,
        inputs: Vec<TensorHead>,
    },
    Unload {
        model: u64,
    },
}

/// Cell to server.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub(crate) enum Reply {
    Loaded { id: u64, device: String },
    Ran { id: u64, outputs: Vec<TensorHead> },
    Failed { id: u64, message: String },
}

impl Reply {
    pub fn id(&self) -> u64 {
        match self {
            Reply::Loaded { id, .. } | Reply::Ran { id, .. } | Reply::Failed { id, .. } => *id,
        }
    }
}

pub(crate) fn heads(tensors: &[Tensor]) -> Vec<TensorHead> {
    tensors
        .iter()
        .map(|t| TensorHead {
            name: t.name().to_owned(),
            dtype: t.dtype().archive_name().to_owned(),
            shape: t.shape().to_vec(),
        })
        .collect()
}

/// Writes one frame: the head, then each tensor's bytes.
pub(crate) fn write_frame(
    w: &mut impl Write,
    head: &impl Serialize,
    tensors: &[Tensor],
) -> io::Result<()> {
    let json = serde_json::to_vec(head).map_err(io::Error::other)?;
    let data_len: u64 = tensors.iter().map(|t| t.data().len() as u64).sum();
    let mut prefix = Vec::with_capacity(12 + json.len());
    prefix.extend_from_slice(&(json.len() as u32).to_le_bytes());
    prefix.extend_from_slice(&data_len.to_le_bytes());
    prefix.extend_from_slice(&json);
    w.write_all(&prefix)?;
    for t in tensors {
        w.write_all(t.data())?;
    }
    w.flush()
}

/// Reads one frame, refusing a data part over `max_data` bytes before allocating it.
/// `Ok(None)` at a clean end of stream.
pub(crate) fn read_frame<T: for<'de> Deserialize<'de>>(
    r: &mut impl Read,
    max_data: u64,
) -> io::Result<Option<(T, Bytes)>> {
    let mut prefix = [0u8; 12];
    match r.read_exact(&mut prefix[..1]) {
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        other => other?,
    }
    r.read_exact(&mut prefix[1..])?;
    let head_len = u32::from_le_bytes(prefix[..4].try_into().unwrap());
    let data_len = u64::from_le_bytes(prefix[4..].try_into().unwrap());
    if head_len > MAX_HEAD {
        return Err(invalid(format!(
            "a frame head of {head_len} bytes (at most {MAX_HEAD})"
        )));
    }
    if data_len > max_data {
        return Err(invalid(format!(
            "{data_len} bytes of tensors, more than the {max_data} allowed"
        )));
    }
    let mut json = vec![0u8; head_len as usize];
    r.read_exact(&mut json)?;
    let head = serde_json::from_slice(&json).map_err(|e| invalid(format!("a bad head: {e}")))?;
    let mut data = vec![0u8; data_len as usize];
    r.read_exact(&mut data)?;
    Ok(Some((head, Bytes::from(data))))
}

/// The tensors a head lists, sliced out of `data` without copying; every size checked.
pub(crate) fn tensors(heads: Vec<TensorHead>, data: Bytes) -> Result<Vec<Tensor>, String> {
    let mut at = 0usize;
    let mut out = Vec::with_capacity(heads.len());
    for h in heads {
        let dtype = DType::from_archive_name(&h.dtype)
            .ok_or_else(|| format!("tensor `{}` has an unknown dtype {}", h.name, h.dtype))?;
        let len = dtype.byte_len(&h.shape).map_err(|e| e.to_string())?;
        let end = at
            .checked_add(len)
            .filter(|&e| e <= data.len())
            .ok_or_else(|| format!("tensor `{}` is longer than the frame", h.name))?;
        let t =
            Tensor::new(h.name, dtype, h.shape, data.slice(at..end)).map_err(|e| e.to_string())?;
        out.push(t);
        at = end;
    }
    if at != data.len() {
        return Err(format!(
            "{} bytes left over after the tensors",
            data.len() - at
        ));
    }
    Ok(out)
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(tensors: &[Tensor]) -> Vec<u8> {
        let mut buf = Vec::new();
        let req = Request::Run {
            id: 7,
            model: 1,
            inputs: heads(tensors),
        };
        write_frame(&mut buf, &req, tensors).unwrap();
        buf
    }

    #[test]
    fn tensors_cross_a_frame_unchanged() {
        let a = Tensor::from_f32("x", vec![2, 2], &[1.0, 2.0, 3.0, 4.0]).unwrap();
        let b = Tensor::new("y", DType::U8, vec![3], vec![9u8, 8, 7]).unwrap();
        let buf = frame(&[a.clone(), b.clone()]);
        let (req, data): (Request, Bytes) = read_frame(&mut &buf[..], 1 << 20).unwrap().unwrap();
        let Request::Run { id, inputs, .. } = req else {
            panic!("{req:?}")
        };
        assert_eq!(id, 7);
        assert_eq!(tensors(inputs, data).unwrap(), vec![a, b]);
    }

    #[test]
    fn a_frame_over_the_cap_is_refused_before_allocating() {
        let mut buf = Vec::new();
        buf.extend_from_slice(&2u32.to_le_bytes());
        buf.extend_from_slice(&u64::MAX.to_le_bytes());
        buf.extend_from_slice(b"{}");
        let err = read_frame::<Reply>(&mut &buf[..], 1 << 30).unwrap_err();
        assert!(err.to_string().contains("more than the"), "{err}");
        let mut buf = Vec::new();
        buf.extend_from_slice(&u32::MAX.to_le_bytes());
        buf.extend_from_slice(&0u64.to_le_bytes());
        let err = read_frame::<Reply>(&mut &buf[..], 1 << 30).unwrap_err();
        assert!(err.to_string().contains("frame head"), "{err}");
    }

    #[test]
    fn heads_that_lie_about_sizes_are_refused() {
        let data = Bytes::from(vec![0u8; 8]);
        let head = |shape: Vec<u64>| TensorHead {
            name: "x".into(),
            dtype: "float32".into(),
            shape,
        };
        assert!(
            tensors(vec![head(vec![4])], data.clone()).is_err(),
            "too long"
        );
        assert!(
            tensors(vec![head(vec![1])], data.clone()).is_err(),
            "bytes left"
        );
        let huge = tensors(vec![head(vec![u64::MAX, u64::MAX])], data.clone());
        assert!(huge.is_err(), "overflow");
        assert_eq!(tensors(vec![head(vec![2])], data).unwrap().len(), 1);
    }

    #[test]
    fn end_of_stream_between_frames_is_clean() {
        assert!(read_frame::<Reply>(&mut &[][..], 10).unwrap().is_none());
        let err = read_frame::<Reply>(&mut &[1u8, 0][..], 10).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }
}
