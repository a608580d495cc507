//! The wire between the server and a cell: frames of `[u32 head length][u64 data length]
//! [head: JSON][data: raw bytes]`, little-endian. The head is a small JSON message; the
//! data is the message's tensors' bytes back to back, in the order the head lists them, so
//! tensors cross without any encoding. Big data travels beside the frame instead, in a
//! sealed memfd sent with it (`shm.rs`; the top bit of the head length says so). Both
//! lengths are checked against a cap before a byte is allocated or mapped.

use std::io::{self, BufWriter, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use bytes::Bytes;
use ferroserve_archive::InputSpec;
use ferroserve_tensor::{DType, Tensor};
use serde::{Deserialize, Serialize};

use crate::fds::{self, FdReader};
use crate::shm::{self, SHM_MIN};

/// The most a frame's JSON head may be.
pub(crate) const MAX_HEAD: u32 = 1 << 20;

/// Set in a frame's head length when its data is in the memfd sent with it.
const SHARED: u32 = 1 << 31;

/// Where frames are read from: bytes, and the memfds sent with them.
pub(crate) trait Source: Read {
    /// The `len` bytes in the memfd that came with the frame just read.
    fn shared(&mut self, len: u64) -> io::Result<Bytes>;
}

impl Source for FdReader {
    fn shared(&mut self, len: u64) -> io::Result<Bytes> {
        let fd = self.take_fd().ok_or_else(missing)?;
        shm::receive(fd, len, self.take)
    }
}

impl Source for &[u8] {
    fn shared(&mut self, _: u64) -> io::Result<Bytes> {
        Err(missing())
    }
}

fn missing() -> io::Error {
    invalid("a frame's shared memory did not come with it".into())
}

/// A model to load in a cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadSpec {
    pub path: PathBuf,
    pub device: Option<String>,
    /// The archive's declared inputs (no batch dimension), to warm the model up with.
    pub warmup: Vec<InputSpec>,
    /// The most libtorch intra-op threads one forward may use (`None`: the cell's own
    /// setting). [`Cells::load`](crate::Cells::load) sets it from the owner's CPU grant.
    #[serde(default)]
    pub threads: Option<usize>,
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

/// Sends one frame over `w`'s socket: its tensors' bytes after the head, or, from
/// [`SHM_MIN`] bytes on, in a sealed memfd sent with it.
pub(crate) fn send_frame(
    w: &mut BufWriter<UnixStream>,
    head: &impl Serialize,
    tensors: &[Tensor],
) -> io::Result<()> {
    let data_len: u64 = tensors.iter().map(|t| t.data().len() as u64).sum();
    if data_len < SHM_MIN {
        return write_frame(w, head, tensors);
    }
    let parts: Vec<&[u8]> = tensors.iter().map(|t| &t.data()[..]).collect();
    let memfd = shm::seal(&parts)?;
    let prefix = prefix(head, data_len, SHARED)?;
    w.flush()?;
    fds::send(w.get_ref(), &prefix, &[memfd.as_fd()])
}

/// Writes one frame with its tensors inline: the head, then each tensor's bytes.
pub(crate) fn write_frame(
    w: &mut impl Write,
    head: &impl Serialize,
    tensors: &[Tensor],
) -> io::Result<()> {
    let data_len: u64 = tensors.iter().map(|t| t.data().len() as u64).sum();
    w.write_all(&prefix(head, data_len, 0)?)?;
    for t in tensors {
        w.write_all(t.data())?;
    }
    w.flush()
}

/// The lengths (with `flags` in the head's) and the JSON head.
fn prefix(head: &impl Serialize, data_len: u64, flags: u32) -> io::Result<Vec<u8>> {
    let json = serde_json::to_vec(head).map_err(io::Error::other)?;
    let mut prefix = Vec::with_capacity(12 + json.len());
    prefix.extend_from_slice(&(json.len() as u32 | flags).to_le_bytes());
    prefix.extend_from_slice(&data_len.to_le_bytes());
    prefix.extend_from_slice(&json);
    Ok(prefix)
}

/// Reads one frame, refusing a data part over `max_data` bytes before allocating or
/// mapping it. `Ok(None)` at a clean end of stream.
pub(crate) fn read_frame<T: for<'de> Deserialize<'de>>(
    r: &mut impl Source,
    max_data: u64,
) -> io::Result<Option<(T, Bytes)>> {
    let mut prefix = [0u8; 12];
    match r.read_exact(&mut prefix[..1]) {
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        other => other?,
    }
    r.read_exact(&mut prefix[1..])?;
    let head_len = u32::from_le_bytes(prefix[..4].try_into().unwrap());
    let shared = head_len & SHARED != 0;
    let head_len = head_len & !SHARED;
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
    if shared {
        return Ok(Some((head, r.shared(data_len)?)));
    }
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

    fn big(name: &str, v: u8) -> Tensor {
        Tensor::new(name, DType::U8, vec![SHM_MIN], vec![v; SHM_MIN as usize]).unwrap()
    }

    fn run(tensors: &[Tensor]) -> Request {
        Request::Run {
            id: 1,
            model: 1,
            inputs: heads(tensors),
        }
    }

    #[test]
    fn big_tensors_travel_in_shared_memory_and_small_ones_inline_in_order() {
        let (a, b) = UnixStream::pair().unwrap();
        let mut w = BufWriter::new(a);
        let small = Tensor::from_f32("s", vec![2], &[1.0, 2.0]).unwrap();
        let frames = [
            vec![big("x", 1), small.clone()],
            vec![small],
            vec![big("y", 2)],
        ];
        for f in &frames {
            send_frame(&mut w, &run(f), f).unwrap();
        }
        drop(w);
        // On the socket itself: three heads and the small tensor's 8 bytes, two memfds.
        let mut raw = Vec::new();
        let mut fds = Vec::new();
        let mut chunk = [0u8; 4096];
        while let Ok(n @ 1..) = fds::recv(&b, &mut chunk, &mut fds) {
            raw.extend_from_slice(&chunk[..n]);
        }
        assert!(raw.len() < 1000, "{} bytes through the socket", raw.len());
        assert_eq!(fds.len(), 2);
        let mut r: &[u8] = &raw;
        let (head, data) = read_frame::<Request>(&mut FdsThen(&mut r, fds), 1 << 30)
            .unwrap()
            .unwrap();
        let Request::Run { inputs, .. } = head else {
            panic!("{head:?}")
        };
        assert_eq!(tensors(inputs, data).unwrap(), frames[0]);
    }

    #[test]
    fn frames_read_back_through_the_fd_reader_unchanged() {
        let (a, b) = UnixStream::pair().unwrap();
        let small = Tensor::from_f32("s", vec![1], &[3.0]).unwrap();
        let frames = [
            vec![big("x", 1)],
            vec![small],
            vec![big("y", 2), big("z", 3)],
        ];
        let sent = frames.clone();
        let writer = std::thread::spawn(move || {
            let mut w = BufWriter::new(a);
            for f in &sent {
                send_frame(&mut w, &run(f), f).unwrap();
            }
        });
        let mut r = FdReader::new(b, shm::Take::Map);
        for f in &frames {
            let (head, data) = read_frame::<Request>(&mut r, 1 << 30).unwrap().unwrap();
            let Request::Run { inputs, .. } = head else {
                panic!("{head:?}")
            };
            assert_eq!(&tensors(inputs, data).unwrap(), f);
        }
        writer.join().unwrap();
        assert!(read_frame::<Request>(&mut r, 1 << 30).unwrap().is_none());
    }

    /// Raw frame bytes, with the descriptors a socket would have handed over.
    struct FdsThen<'a, 'b>(&'a mut &'b [u8], Vec<std::os::fd::OwnedFd>);
    impl Read for FdsThen<'_, '_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            self.0.read(out)
        }
    }
    impl Source for FdsThen<'_, '_> {
        fn shared(&mut self, len: u64) -> io::Result<Bytes> {
            let fd = (!self.1.is_empty()).then(|| self.1.remove(0));
            shm::receive(fd.ok_or_else(missing)?, len, shm::Take::Copy)
        }
    }

    fn shared_frame(data_len: u64) -> Vec<u8> {
        let mut buf = prefix(&run(&[]), data_len, SHARED).unwrap();
        buf.truncate(12 + (u32::from_le_bytes(buf[..4].try_into().unwrap()) & !SHARED) as usize);
        buf
    }

    #[test]
    fn a_shared_frame_without_its_memfd_or_with_a_bad_one_is_refused() {
        let buf = shared_frame(16);
        let err = read_frame::<Request>(&mut FdsThen(&mut &buf[..], vec![]), 1 << 20).unwrap_err();
        assert!(err.to_string().contains("did not come with it"), "{err}");
        // A memfd the sender could still truncate (SIGBUS under the reader's mapping).
        let open = rustix::fs::memfd_create("t", rustix::fs::MemfdFlags::ALLOW_SEALING).unwrap();
        rustix::fs::ftruncate(&open, 16).unwrap();
        let err =
            read_frame::<Request>(&mut FdsThen(&mut &buf[..], vec![open]), 1 << 20).unwrap_err();
        assert!(err.to_string().contains("not sealed"), "{err}");
        // Shorter than announced.
        let fd = shm::seal(&[b"short"]).unwrap();
        let err =
            read_frame::<Request>(&mut FdsThen(&mut &buf[..], vec![fd]), 1 << 20).unwrap_err();
        assert!(err.to_string().contains("5 in the shared memory"), "{err}");
        // Over the cap: refused before the memfd is even looked at.
        let buf = shared_frame(1 << 40);
        let fd = shm::seal(&[b"x"]).unwrap();
        let err =
            read_frame::<Request>(&mut FdsThen(&mut &buf[..], vec![fd]), 1 << 30).unwrap_err();
        assert!(err.to_string().contains("more than the"), "{err}");
    }

    #[test]
    fn descriptors_no_frame_announced_end_the_stream() {
        let (a, b) = UnixStream::pair().unwrap();
        let stray = shm::seal(&[b"x"]).unwrap();
        for _ in 0..=fds::MAX_FDS {
            fds::send(&a, b"?", &[stray.as_fd()]).unwrap();
        }
        let mut r = FdReader::new(b, shm::Take::Map);
        let mut got = [0u8; 64];
        let mut err = None;
        for _ in 0..=fds::MAX_FDS {
            if let Err(e) = r.read(&mut got) {
                err = Some(e);
                break;
            }
        }
        let err = err.expect("stray descriptors were refused");
        assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
    }

    #[test]
    fn end_of_stream_between_frames_is_clean() {
        assert!(read_frame::<Reply>(&mut &[][..], 10).unwrap().is_none());
        let err = read_frame::<Reply>(&mut &[1u8, 0][..], 10).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }
}
