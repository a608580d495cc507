//! ferroserve's REST edge: TorchServe's inference and management APIs, KServe v2 over
//! HTTP, the tenant admin API, the metrics listener, `OPTIONS /` OpenAPI documents, the
//! bearer-token middleware, the tower stack every listener gets (`layers.rs`), connection limits (`listen.rs`) and
//! the body pace (`pace.rs`), the archive
//! fetcher over hyper, and [`App`], which builds all three listeners' routers in process
//! and serves them. `error.rs` is the one place where errors become HTTP statuses and
//! TorchServe's `{"code","type","message"}`.
//!
//! Look elsewhere for what is served (`ferroserve-core`: registry, pipeline, manager,
//! tenants, metrics, configuration), and for the binary (`crates/cli`). A gRPC edge is a
//! sibling crate over the same `Core`.

pub mod app;
mod auth;
mod error;
mod extract;
mod fetch;
mod form;
pub mod inference;
pub mod kserve;
pub mod kserve_v1;
pub mod layers;
mod listen;
pub mod management;
mod metrics;
pub mod openapi;
mod pace;
mod query;
pub mod tenants;

use std::net::SocketAddr;

pub use app::{App, Bound, Listening};
pub use auth::{Caller, TENANT_HEADER, authenticate};
pub use error::{ApiError, Edge, status_of};
pub use layers::HttpLimits;
pub use pace::Pace;

/// Why the REST server could not start or stopped serving.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Start(#[from] ferroserve_core::Error),
    #[error(
        "cannot listen on {addr} for the {api} API: {source}; pick another address or stop what holds it"
    )]
    Bind {
        api: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("serving failed: {0}")]
    Serve(std::io::Error),
}
