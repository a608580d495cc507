//! The body pace layer: a request body must keep arriving. A pause longer than
//! `body_read_timeout` between two parts, or an average below `min_body_bytes_per_s` once
//! that long has passed, ends the body with an error; the request answers 408
//! `RequestTimeout` with `Connection: close`. So a client that sends a head and then a byte
//! now and then holds its slot (and its tenant's) for seconds, not for the whole request
//! timeout.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body::{Body as HttpBody, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use crate::Edge;

/// How slowly a body may arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pace {
    pub read_timeout: Duration,
    /// 0: no minimum rate, only the pause limit.
    pub min_bytes_per_s: u64,
}

/// The middleware: wraps the body, and turns a tripped body into a 408 whatever the
/// route's extractor made of the error.
pub async fn paced(State(pace): State<Pace>, request: Request, next: Next) -> Response {
    let tripped = Arc::new(AtomicBool::new(false));
    let request = request.map(|body| Body::new(Paced::new(body, pace, tripped.clone())));
    let response = next.run(request).await;
    if !tripped.load(Ordering::Relaxed) {
        return response;
    }
    let mut response = Edge::BodyTooSlow {
        timeout: pace.read_timeout,
        min_bytes_per_s: pace.min_bytes_per_s,
    }
    .into_response();
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

struct Paced {
    inner: Body,
    pace: Pace,
    started: Instant,
    received: u64,
    timer: Pin<Box<Sleep>>,
    tripped: Arc<AtomicBool>,
}

impl Paced {
    fn new(inner: Body, pace: Pace, tripped: Arc<AtomicBool>) -> Paced {
        Paced {
            inner,
            pace,
            started: Instant::now(),
            received: 0,
            timer: Box::pin(tokio::time::sleep(pace.read_timeout)),
            tripped,
        }
    }

    /// Whether the average rate is below the minimum, after the grace period.
    fn too_slow(&self, now: Instant) -> bool {
        let elapsed = now - self.started;
        self.pace.min_bytes_per_s > 0
            && elapsed > self.pace.read_timeout
            && (self.received as f64) < self.pace.min_bytes_per_s as f64 * elapsed.as_secs_f64()
    }

    fn trip(&self) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        self.tripped.store(true, Ordering::Relaxed);
        Poll::Ready(Some(Err(axum::Error::new(
            "the request body arrived too slowly",
        ))))
    }
}

impl HttpBody for Paced {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                let now = Instant::now();
                if let Some(data) = frame.data_ref() {
                    self.received += data.len() as u64;
                }
                if self.too_slow(now) {
                    return self.trip();
                }
                let next = now + self.pace.read_timeout;
                self.timer.as_mut().reset(next);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Pending => match self.timer.as_mut().poll(cx) {
                Poll::Ready(()) => self.trip(),
                Poll::Pending => Poll::Pending,
            },
            done => done,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    fn paced(body: Body, pace: Pace) -> (Paced, Arc<AtomicBool>) {
        let tripped = Arc::new(AtomicBool::new(false));
        (Paced::new(body, pace, tripped.clone()), tripped)
    }

    /// A body that sends `chunk` every `every`, `n` times.
    fn trickle(chunk: &'static [u8], every: Duration, n: usize) -> Body {
        let s = futures_util::stream::unfold(0, move |i| async move {
            if i == n {
                return None;
            }
            tokio::time::sleep(every).await;
            Some((Ok::<_, std::io::Error>(Bytes::from_static(chunk)), i + 1))
        });
        Body::from_stream(s)
    }

    const PACE: Pace = Pace {
        read_timeout: Duration::from_millis(300),
        min_bytes_per_s: 1000,
    };

    #[tokio::test]
    async fn a_steady_body_passes_and_a_stalled_one_trips() {
        let (p, tripped) = paced(trickle(&[7; 200], Duration::from_millis(20), 30), PACE);
        assert_eq!(p.collect().await.unwrap().to_bytes().len(), 6000);
        assert!(!tripped.load(Ordering::Relaxed));

        let (p, tripped) = paced(trickle(b"x", Duration::from_millis(400), 2), PACE);
        assert!(p.collect().await.is_err(), "a pause past the read timeout");
        assert!(tripped.load(Ordering::Relaxed));
    }

    #[tokio::test]
    async fn a_trickle_under_the_minimum_rate_trips_after_the_grace() {
        // A byte every 20 ms never pauses 300 ms, but is 5 % of the rate.
        let (p, tripped) = paced(trickle(b"x", Duration::from_millis(20), 1000), PACE);
        let started = Instant::now();
        assert!(p.collect().await.is_err());
        assert!(tripped.load(Ordering::Relaxed));
        let took = started.elapsed();
        assert!(took < Duration::from_secs(5), "{took:?}: it ran to the end");
        let off = Pace {
            min_bytes_per_s: 0,
            ..PACE
        };
        let (p, _) = paced(trickle(b"x", Duration::from_millis(20), 30), off);
        assert_eq!(p.collect().await.unwrap().to_bytes().len(), 30);
    }
}
