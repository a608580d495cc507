//! What one gRPC connection may cost, the twin of the REST edge's `listen.rs`: a listener
//! holds at most `max_connections` connections (the next waits in the kernel's backlog
//! until one closes), and a connection that sends nothing within `header_read_timeout`
//! (not even HTTP/2's preface) is closed. An idle HTTP/2 connection is pinged every
//! `header_read_timeout` and closed when a ping goes unanswered for as long; a live
//! client's idle channel stays, as gRPC clients expect, within the connection cap.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use futures_util::Stream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Sleep;
use tonic::transport::server::{Connected, TcpConnectInfo};

/// The connection limits of one listener.
#[derive(Debug, Clone, Copy)]
pub struct ConnLimits {
    pub max_connections: usize,
    /// Time to the first byte; also the HTTP/2 keep-alive ping interval and timeout.
    pub first_byte_timeout: Duration,
}

/// Accepted connections, each holding one of the listener's slots until it closes.
pub(crate) fn incoming(
    listener: TcpListener,
    limits: ConnLimits,
) -> impl Stream<Item = io::Result<Held>> + Send + 'static {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    futures_util::stream::unfold((listener, slots), move |(listener, slots)| async move {
        let slot = slots.clone().acquire_owned().await.expect("never closed");
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    let held = Held::new(stream, slot, limits.first_byte_timeout);
                    return Some((Ok(held), (listener, slots)));
                }
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning on the error.
                    tracing::warn!(error = %e, "accepting a gRPC connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    })
}

/// A connection with its slot, and the timer that closes it if it never speaks.
pub(crate) struct Held {
    stream: TcpStream,
    _slot: OwnedSemaphorePermit,
    silent_until: Option<Pin<Box<Sleep>>>,
}

impl Held {
    fn new(stream: TcpStream, slot: OwnedSemaphorePermit, timeout: Duration) -> Held {
        Held {
            stream,
            _slot: slot,
            silent_until: Some(Box::pin(tokio::time::sleep(timeout))),
        }
    }
}

impl Connected for Held {
    type ConnectInfo = TcpConnectInfo;
    fn connect_info(&self) -> TcpConnectInfo {
        self.stream.connect_info()
    }
}

impl AsyncRead for Held {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        let Some(timer) = self.silent_until.as_mut() else {
            return polled;
        };
        match polled {
            Poll::Ready(Ok(())) if buf.filled().len() > before => self.silent_until = None,
            Poll::Pending => {
                ready!(timer.as_mut().poll(cx));
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the client sent nothing before the first-byte timeout",
                )));
            }
            _ => {}
        }
        polled
    }
}

impl AsyncWrite for Held {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn listener() -> (TcpListener, std::net::SocketAddr) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let a = l.local_addr().unwrap();
        (l, a)
    }

    #[tokio::test]
    async fn a_silent_connection_is_closed_and_a_talking_one_is_not() {
        let (l, addr) = listener().await;
        let limits = ConnLimits {
            max_connections: 4,
            first_byte_timeout: Duration::from_millis(200),
        };
        let mut incoming = Box::pin(incoming(l, limits));
        let _silent = TcpStream::connect(addr).await.unwrap();
        let mut held = incoming.next().await.unwrap().unwrap();
        let mut buf = [0u8; 8];
        let err = held.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);

        let mut talking = TcpStream::connect(addr).await.unwrap();
        let mut held = incoming.next().await.unwrap().unwrap();
        talking.write_all(b"hi").await.unwrap();
        assert_eq!(held.read(&mut buf).await.unwrap(), 2);
        // Past the first byte the timer is gone: a pause is the protocol's business.
        tokio::time::sleep(Duration::from_millis(300)).await;
        talking.write_all(b"!").await.unwrap();
        assert_eq!(held.read(&mut buf).await.unwrap(), 1);
    }

    #[tokio::test]
    async fn the_next_connection_waits_for_a_free_slot() {
        let (l, addr) = listener().await;
        let limits = ConnLimits {
            max_connections: 1,
            first_byte_timeout: Duration::from_secs(10),
        };
        let mut incoming = Box::pin(incoming(l, limits));
        let _a = TcpStream::connect(addr).await.unwrap();
        let first = incoming.next().await.unwrap().unwrap();
        let _b = TcpStream::connect(addr).await.unwrap();
        let waiting = tokio::time::timeout(Duration::from_millis(200), incoming.next()).await;
        assert!(
            waiting.is_err(),
            "a second connection was accepted past the cap"
        );
        drop(first);
        let second = tokio::time::timeout(Duration::from_secs(5), incoming.next()).await;
        assert!(second.unwrap().unwrap().is_ok());
    }
}
