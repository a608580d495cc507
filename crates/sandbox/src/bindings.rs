//! Host bindings for the `ferroserve:handler@0.1.0` world (`wit/handler.wit`).

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "handler-world",
});

pub use ferroserve::handler::log::Level;
pub use ferroserve::handler::types::{Dtype, HandlerError, Prepared, Request, Response, Tensor};
