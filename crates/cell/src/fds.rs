//! File descriptors across a Unix socket (`SCM_RIGHTS`): the zygote is handed a new cell's
//! socket and pipes this way, and hands back its pidfd. A descriptor travels with the
//! first byte of the message it was sent with, so these calls are never mixed with
//! buffered reads on the same socket.

use std::io::{self, IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

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
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let msg = rustix::net::recvmsg(
            &sock,
            &mut [IoSliceMut::new(&mut buf[got..])],
            &mut control,
            RecvFlags::CMSG_CLOEXEC,
        )?;
        for m in control.drain() {
            if let RecvAncillaryMessage::ScmRights(received) = m {
                fds.extend(received);
            }
        }
        if msg.flags.contains(ReturnFlags::CTRUNC) {
            return Err(io::Error::other("more descriptors than expected"));
        }
        if msg.bytes == 0 {
            if got == 0 {
                return Ok(false);
            }
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        got += msg.bytes;
    }
    Ok(true)
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
