//! ferroserve's gRPC edge: TorchServe's `InferenceAPIsService` and
//! `ManagementAPIsService` (`torchserve/`), KServe v2 / Triton's `GRPCInferenceService`
//! (`v2/`, with the wire codec between its tensors and [`ferroserve_tensor::Tensor`]),
//! each listener's connection cap and first-byte timeout (`conn.rs`),
//! the per-listener stack every call passes (`edge.rs`: request id, span, in-flight cap,
//! bearer token, time limit, response counting), path routing between services
//! (`routes.rs`), the listeners ([`Grpc`]), and `status.rs`: the one place where errors
//! become gRPC status codes. The `.proto` files are in `proto/`, compiled by `build.rs`.
//!
//! Look elsewhere for what is served (`ferroserve-core`: registry, pipeline, manager,
//! tenants, metrics, configuration), the REST edge (`ferroserve-http`, a sibling over the
//! same `Core`), and the binary that composes both (`crates/cli/src/serve.rs`).

mod conn;
mod edge;
mod error;
pub mod pb;
mod routes;
mod server;
pub mod status;
mod torchserve;
mod v2;

pub use conn::ConnLimits;
pub use edge::{EdgeLimits, REQUEST_ID};
pub use error::GrpcError;
pub use routes::Routes;
pub use server::{Grpc, GrpcBound, Listening};
