//! The SDK for writing ferroserve handlers: untrusted pre- and post-processing code that
//! ferroserve runs as a WebAssembly component (target `wasm32-wasip2`), a fresh instance per
//! call. It owns the guest side of the `ferroserve:handler@0.2.0` world (`wit/handler-0.2.0.wit`,
//! a copy of the repository's `wit/` file kept identical by a test in `ferroserve-sandbox`),
//! [`Tensor`] conversions, JSON helpers and, behind the `image` feature, image
//! preprocessing. The host side of the same contract lives in `ferroserve-sandbox`.
//!
//! A complete handler for a model that takes a JSON list of floats:
//!
//! ```no_run
//! use ferroserve_handler::{json, Handler, HandlerError, Prepared, Request, Response, Tensor};
//!
//! struct Mlp;
//!
//! impl Handler for Mlp {
//!     fn preprocess(request: Request) -> Result<Prepared, HandlerError> {
//!         let values: Vec<f32> = json::from_body(&request)?;
//!         if values.len() != 4 {
//!             return Err(HandlerError::bad_input("expected a JSON array of 4 numbers"));
//!         }
//!         let input = Tensor::from_slice("input", &[4], &values)?;
//!         Ok(Prepared { inputs: vec![input], context: Vec::new() })
//!     }
//!
//!     fn postprocess(outputs: Vec<Tensor>, _context: Vec<u8>) -> Result<Response, HandlerError> {
//!         let logits: Vec<f32> = outputs
//!             .first()
//!             .ok_or_else(|| HandlerError::internal("the model returned no output"))?
//!             .to_vec()?;
//!         let best = logits
//!             .iter()
//!             .enumerate()
//!             .max_by(|a, b| a.1.total_cmp(b.1))
//!             .map(|(i, _)| i);
//!         json::response(&serde_json::json!({ "class": best, "logits": logits }))
//!     }
//! }
//!
//! ferroserve_handler::export!(Mlp);
//! ```
//!
//! Build it with `cargo build --release --target wasm32-wasip2` (crate type `cdylib`); the
//! `.wasm` file is the component that goes into the model archive. Files shipped in the
//! archive are readable (read-only) under `/`, e.g. `std::fs::read_to_string("/labels.txt")`.

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "wit/handler-0.2.0.wit",
        world: "handler-world",
        pub_export_macro: true,
        export_macro_name: "__export_handler_world",
        default_bindings_module: "ferroserve_handler::bindings",
    });
}

mod error;
#[cfg(feature = "image")]
pub mod image;
pub mod json;
pub mod log;
mod request;
mod tensor;

pub use bindings::exports::ferroserve::handler::handler::Guest as Handler;
pub use bindings::ferroserve::handler::types::{
    Dtype, FormField, HandlerError, Prepared, Request, Response, Tensor,
};
pub use tensor::{Element, TensorError, dtype_name, dtype_size};

/// Export a type implementing [`Handler`] as this component's handler.
#[macro_export]
macro_rules! export {
    ($($handler:tt)+) => {
        $crate::bindings::__export_handler_world!($($handler)+);
    };
}
