//! Serving one REST listener: hyper's HTTP/1 under the connection limits, instead of
//! `axum::serve`, which has none. A listener holds at most `max_connections` connections
//! (the next waits in the kernel's backlog until one closes, so a flood of idle sockets
//! can't exhaust the process's descriptors); a connection that sends no complete request
//! head within `header_read_timeout` is closed. hyper arms that timer whenever the
//! connection waits for a head, so it is also the keep-alive idle timeout and bounds a
//! half-sent head. Slow bodies are the body pace layer's (`pace.rs`).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tower_http::normalize_path::NormalizePath;

use ferroserve_core::ServerConfig;

/// What one listener's connections may cost.
#[derive(Debug, Clone, Copy)]
pub struct ConnLimits {
    pub max_connections: usize,
    pub header_read_timeout: Duration,
}

impl ConnLimits {
    pub fn of(config: &ServerConfig) -> ConnLimits {
        ConnLimits {
            max_connections: config.max_connections,
            header_read_timeout: Duration::from_secs(config.header_read_timeout_s),
        }
    }
}

/// Serves `app` on `listener` until `stop` turns true, then stops accepting and waits for
/// the open connections' in-flight requests (idle ones close at once).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnLimits,
    stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    // A trailing slash means nothing (`/models/m/` is `/models/m`): trimmed before routing,
    // around the whole router (a layer inside one runs after routing).
    let app = NormalizePath::trim_trailing_slash(app);
    let service = TowerToHyperService::new(app);
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let mut stopped = std::pin::pin!(async move {
        let mut stop = stop;
        let _ = stop.wait_for(|s| *s).await;
    });
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("never closed"),
            _ = &mut stopped => break,
        };
        let (socket, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning on the error.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut stopped => break,
        };
        let _ = socket.set_nodelay(true);
        let conn = http.serve_connection(TokioIo::new(socket), service.clone());
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            // Errors here are the client's (a reset, a timed-out head): nothing to answer.
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}
