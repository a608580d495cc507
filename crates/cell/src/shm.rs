//! Tensor bytes in shared memory. A frame whose data is at least [`SHM_MIN`] bytes sends it
//! as a sealed memfd passed over the socket (`SCM_RIGHTS`), not through the socket: the bytes
//! are written once, then mapped or read in one call by the other side, instead of crossing
//! the kernel in socket-buffer-sized pieces, each one waking the other side.
//!
//! The writer seals the memfd against shrinking, growing and later writes
//! (`F_SEAL_FUTURE_WRITE`: `F_SEAL_WRITE` fails with `EBUSY` while freshly written pages
//! are still referenced by the kernel's per-CPU LRU batches, measured on 6.18). The reader
//! takes a memfd only when it cannot shrink: a hostile cell truncating one under the
//! server's mapping would raise SIGBUS in the server. A cell could still change bytes
//! through a writable mapping made before the seal, so the server copies a cell's outputs
//! out in one `pread` ([`Take::Copy`]); a cell maps the server's inputs ([`Take::Map`]).
//! Pages are charged to the process that wrote them: a cell's outputs count against the
//! cell's memory limit, not the server's.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::FileExt;

use bytes::Bytes;
use rustix::fs::{MemfdFlags, SealFlags};
use rustix::mm::{MapFlags, ProtFlags};

/// Below this, two copies through the socket cost no more than a memfd (measured:
/// `benches/round_trip.rs`, docs/benchmarks.md).
pub(crate) const SHM_MIN: u64 = 2 << 20;

/// How a reader takes bytes from the other side's memfd.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Take {
    /// Mapped read-only, no copy: for the server's memfds, which it never maps itself.
    Map,
    /// Copied out once: for a cell's, whose bytes could change under a mapping.
    Copy,
}

/// `parts`, back to back, in a new memfd sealed against any change.
pub(crate) fn seal(parts: &[&[u8]]) -> io::Result<OwnedFd> {
    let flags = MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING;
    let mut file = File::from(rustix::fs::memfd_create("ferroserve-tensors", flags)?);
    for p in parts {
        file.write_all(p)?;
    }
    let all = SealFlags::SHRINK | SealFlags::GROW | SealFlags::FUTURE_WRITE | SealFlags::SEAL;
    rustix::fs::fcntl_add_seals(&file, all)?;
    Ok(file.into())
}

/// The first `len` bytes of a memfd from the other side, once its seals and its size are
/// checked.
pub(crate) fn receive(fd: OwnedFd, len: u64, take: Take) -> io::Result<Bytes> {
    let seals = rustix::fs::fcntl_get_seals(&fd).map_err(|e| {
        invalid(format!(
            "tensor bytes in a descriptor that is not a memfd ({e})"
        ))
    })?;
    let written = SealFlags::WRITE | SealFlags::FUTURE_WRITE;
    if !seals.contains(SealFlags::SHRINK) || !seals.intersects(written) {
        return Err(invalid(
            "tensor bytes in shared memory that is not sealed".into(),
        ));
    }
    let size = u64::try_from(rustix::fs::fstat(&fd)?.st_size).unwrap_or(0);
    if size < len {
        return Err(invalid(format!(
            "{len} bytes of tensors announced, {size} in the shared memory"
        )));
    }
    if len == 0 {
        return Ok(Bytes::new());
    }
    let len = usize::try_from(len).map_err(|_| invalid("a mapping too big".into()))?;
    if take == Take::Copy {
        let mut data = vec![0u8; len];
        File::from(fd).read_exact_at(&mut data, 0)?;
        return Ok(Bytes::from(data));
    }
    // SAFETY: a new mapping at an address the kernel picks; the file is sealed against
    // shrinking, so every page of it stays backed while mapped.
    let ptr = unsafe {
        rustix::mm::mmap(
            std::ptr::null_mut(),
            len,
            ProtFlags::READ,
            MapFlags::SHARED | MapFlags::POPULATE,
            &fd,
            0,
        )?
    };
    Ok(Bytes::from_owner(Mapping { ptr, len }))
}

/// A read-only mapping of a sealed memfd, unmapped when the last `Bytes` of it goes.
struct Mapping {
    ptr: *mut std::ffi::c_void,
    len: usize,
}

// SAFETY: a read-only mapping of a file sealed against writes by anyone without a mapping
// of their own, which the server never makes: shared reads are sound.
unsafe impl Send for Mapping {}
unsafe impl Sync for Mapping {}

impl AsRef<[u8]> for Mapping {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: `len` readable bytes at `ptr` for as long as `self` lives.
        unsafe { std::slice::from_raw_parts(self.ptr.cast(), self.len) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: our own mapping, unmapped once.
        let _ = unsafe { rustix::mm::munmap(self.ptr, self.len) };
    }
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_bytes_map_back_unchanged() {
        for take in [Take::Map, Take::Copy] {
            let fd = seal(&[b"abc", b"defg"]).unwrap();
            assert_eq!(&receive(fd, 7, take).unwrap()[..], b"abcdefg");
            let fd = seal(&[b"abc"]).unwrap();
            let two = receive(fd, 2, take).unwrap();
            assert_eq!(&two[..], b"ab", "only what the frame announced");
        }
    }

    #[test]
    fn a_memfd_that_could_shrink_or_change_is_refused() {
        let open = rustix::fs::memfd_create("t", MemfdFlags::ALLOW_SEALING).unwrap();
        let mut file = File::from(open);
        file.write_all(&[1; 64]).unwrap();
        let err = receive(file.try_clone().unwrap().into(), 64, Take::Copy).unwrap_err();
        assert!(err.to_string().contains("not sealed"), "{err}");
        // Sealed against shrinking but still writable: refused too.
        rustix::fs::fcntl_add_seals(&file, SealFlags::SHRINK).unwrap();
        let err = receive(file.try_clone().unwrap().into(), 64, Take::Map).unwrap_err();
        assert!(err.to_string().contains("not sealed"), "{err}");
        // Sealed against writes but free to shrink: refused (SIGBUS under a mapping).
        let open = rustix::fs::memfd_create("t", MemfdFlags::ALLOW_SEALING).unwrap();
        rustix::fs::ftruncate(&open, 64).unwrap();
        rustix::fs::fcntl_add_seals(&open, SealFlags::FUTURE_WRITE).unwrap();
        let err = receive(open, 64, Take::Map).unwrap_err();
        assert!(err.to_string().contains("not sealed"), "{err}");
    }

    #[test]
    fn a_cell_changing_its_bytes_after_sending_them_changes_nothing_the_server_took() {
        // A hostile cell: a writable mapping made before the seal outlives it.
        let open = rustix::fs::memfd_create("t", MemfdFlags::ALLOW_SEALING).unwrap();
        rustix::fs::ftruncate(&open, 4096).unwrap();
        // SAFETY: a new shared mapping of our own memfd, used only in this test.
        let ptr = unsafe {
            rustix::mm::mmap(
                std::ptr::null_mut(),
                4096,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::SHARED,
                &open,
                0,
            )
            .unwrap()
        };
        let bytes: *mut u8 = ptr.cast();
        // SAFETY: inside the 4096-byte mapping.
        unsafe { bytes.write_volatile(7) };
        let seals = SealFlags::SHRINK | SealFlags::GROW | SealFlags::FUTURE_WRITE;
        rustix::fs::fcntl_add_seals(&open, seals).unwrap();
        let taken = receive(open, 4096, Take::Copy).unwrap();
        // SAFETY: as above; then unmapped once.
        unsafe {
            bytes.write_volatile(9);
            rustix::mm::munmap(ptr, 4096).unwrap();
        }
        assert_eq!(taken[0], 7, "the server's copy is its own");
    }

    #[test]
    fn a_plain_file_or_a_short_memfd_is_refused() {
        let file = tempfile::tempfile().unwrap();
        let err = receive(file.into(), 1, Take::Copy).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
        let fd = seal(&[b"abc"]).unwrap();
        let err = receive(fd, 1 << 40, Take::Map).unwrap_err();
        assert!(err.to_string().contains("3 in the shared memory"), "{err}");
    }
}
