//! The crate's one error type: why the gRPC listeners could not start or stopped.

use std::net::SocketAddr;

#[derive(Debug, thiserror::Error)]
pub enum GrpcError {
    #[error(
        "cannot listen on {addr} for the gRPC {api} API: {source}; pick another address (--grpc-{api}-address), or turn gRPC off with --grpc-api false"
    )]
    Bind {
        api: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("gRPC serving failed: {0}")]
    Serve(String),
}
