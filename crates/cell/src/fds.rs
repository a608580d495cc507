//! File descriptors across a Unix socket (`SCM_RIGHTS`): the zygote is handed a new cell's
//! socket and pipes this way, and hands back its pidfd; frames carry their tensors' memfd
//! ([`FdReader`]). A descriptor travels with the first byte of the message it was sent
//! with, so a plain `read` would close it: every read here is a `recvmsg`.

use std::collections::VecDeque;
use std::io::{self, IoSlice, IoSliceMut, Read};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;

use crate::shm::Take;

use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, ReturnFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags,
};

/// The most descriptors one message carries.
pub(crate) const MAX_FDS: usize = 4;

/// Sends all of `bytes`, with `fds` attached to the first part.
pub(crate) fn send(sock: impl AsFd, bytes: &[u8], fds: &[BorrowedFd<'_>]) -> io::Result<()> {
    assert!(
        fds.len() <= MAX_FDS,
        "at most {MAX_FDS} descriptors a message"
    );
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !fds.is_empty() && !control.push(SendAncillaryMessage::ScmRights(fds)) {
        return Err(io::Error::other("no room for the descriptors"));
    }
    let mut sent = rustix::net::sendmsg(
        &sock,
        &[IoSlice::new(bytes)],
        &mut control,
        SendFlags::NOSIGNAL,
    )?;
    while sent < bytes.len() {
        let more = rustix::net::send(&sock, &bytes[sent..], SendFlags::NOSIGNAL)?;
        if more == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        sent += more;
    }
    Ok(())
}

/// Reads exactly `buf.len()` bytes, collecting the descriptors that came with them
/// (close-on-exec). `Ok(false)` at a clean end of stream before the first byte.
pub(crate) fn recv_exact(
    sock: impl AsFd,
    buf: &mut [u8],
    fds: &mut Vec<OwnedFd>,
) -> io::Result<bool> {
    let mut got = 0;
    while got < buf.len() {
        let n = recv(&sock, &mut buf[got..], fds)?;
        if n == 0 {
            if got == 0 {
                return Ok(false);
            }
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        got += n;
    }
    Ok(true)
}

/// One `recvmsg`: the bytes read (0 at the end of the stream), descriptors into `fds`.
pub(crate) fn recv(
    sock: impl AsFd,
    buf: &mut [u8],
    fds: &mut impl Extend<OwnedFd>,
) -> io::Result<usize> {
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let msg = loop {
        match rustix::net::recvmsg(
            &sock,
            &mut [IoSliceMut::new(buf)],
            &mut control,
            RecvFlags::CMSG_CLOEXEC,
        ) {
            Err(rustix::io::Errno::INTR) => continue,
            other => break other?,
        }
    };
    for m in control.drain() {
        if let RecvAncillaryMessage::ScmRights(received) = m {
            fds.extend(received);
        }
    }
    if msg.flags.contains(ReturnFlags::CTRUNC) {
        return Err(io::Error::other("more descriptors than expected"));
    }
    Ok(msg.bytes)
}

/// A buffered reader of a stream socket that keeps the descriptors sent with its bytes,
/// in the order they came (a frame's memfd is there once its first byte has been read).
pub(crate) struct FdReader {
    stream: UnixStream,
    buf: Box<[u8]>,
    at: usize,
    end: usize,
    fds: VecDeque<OwnedFd>,
    /// How tensor bytes in the other side's memfds are taken.
    pub take: Take,
}

impl FdReader {
    pub fn new(stream: UnixStream, take: Take) -> FdReader {
        FdReader {
            stream,
            buf: vec![0; 8 << 10].into_boxed_slice(),
            at: 0,
            end: 0,
            fds: VecDeque::new(),
            take,
        }
    }

    pub fn get_ref(&self) -> &UnixStream {
        &self.stream
    }

    /// Whether bytes wait in the buffer (then the socket need not be readable).
    pub fn has_buffered(&self) -> bool {
        self.at < self.end
    }

    /// The oldest descriptor received and not taken yet.
    pub fn take_fd(&mut self) -> Option<OwnedFd> {
        self.fds.pop_front()
    }

    /// Each frame takes its one descriptor; more waiting means the other side sends stray ones.
    fn check_fds(&self) -> io::Result<()> {
        if self.fds.len() > MAX_FDS {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "descriptors sent that no frame announced",
            ));
        }
        Ok(())
    }
}

impl Read for FdReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.at == self.end {
            // A big read goes straight into its buffer, as `BufReader` does.
            if out.len() >= self.buf.len() {
                let n = recv(&self.stream, out, &mut self.fds)?;
                self.check_fds()?;
                return Ok(n);
            }
            let n = recv(&self.stream, &mut self.buf, &mut self.fds)?;
            self.check_fds()?;
            (self.at, self.end) = (0, n);
        }
        let n = out.len().min(self.end - self.at);
        out[..n].copy_from_slice(&self.buf[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Seek, Write};
    use std::os::unix::net::UnixStream;

    #[test]
    fn a_descriptor_arrives_with_its_message() {
        let (a, b) = UnixStream::pair().unwrap();
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(b"passed").unwrap();
        send(&a, b"hello", &[file.as_fd()]).unwrap();
        let mut buf = [0u8; 5];
        let mut fds = Vec::new();
        assert!(recv_exact(&b, &mut buf, &mut fds).unwrap());
        assert_eq!((&buf, fds.len()), (b"hello", 1));
        let mut got = std::fs::File::from(fds.pop().unwrap());
        got.rewind().unwrap();
        let mut text = String::new();
        got.read_to_string(&mut text).unwrap();
        assert_eq!(text, "passed");
        drop(a);
        assert!(!recv_exact(&b, &mut buf, &mut fds).unwrap(), "clean end");
    }
}
