//! Host bindings for both versions of the handler world: `ferroserve:handler@0.1.0`
//! (`wit/handler.wit`) and `@0.2.0` (`wit/handler-0.2.0.wit`). The host works in 0.2.0's
//! types; `compat.rs` maps a 0.1.0 component's calls onto them.

/// `ferroserve:handler@0.1.0`: still loaded, never changed (docs/archive-format.md).
pub(crate) mod v1 {
    wasmtime::component::bindgen!({
        path: "../../wit/handler.wit",
        world: "handler-world",
    });

    pub(crate) use ferroserve::handler::types::{
        Dtype, HandlerError, Prepared, Request, Response, Tensor,
    };
}

/// `ferroserve:handler@0.2.0`, the current contract.
pub(crate) mod v2 {
    wasmtime::component::bindgen!({
        path: "../../wit/handler-0.2.0.wit",
        world: "handler-world",
    });
}

pub(crate) use v2::HandlerWorld;
pub use v2::ferroserve::handler::log::Level;
pub use v2::ferroserve::handler::types::{
    Dtype, FormField, HandlerError, Prepared, Request, Response, Tensor,
};
