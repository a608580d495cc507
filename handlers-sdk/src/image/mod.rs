//! Image preprocessing (feature `image`): JPEG/PNG bytes → a normalized `[3, H, W]` f32
//! [`Tensor`](crate::Tensor), the way torchvision's `Resize(256) → CenterCrop(224) →
//! ToTensor() → Normalize(mean, std)` prepares an image for an ImageNet classifier.
//!
//! Enable it with `ferroserve-handler = { ..., features = ["image"] }`, then:
//!
//! ```no_run
//! use ferroserve_handler::image::ImagePipeline;
//! use ferroserve_handler::{Handler, HandlerError, Prepared, Request, Response, Tensor};
//!
//! struct Classifier;
//!
//! impl Handler for Classifier {
//!     fn preprocess(request: Request) -> Result<Prepared, HandlerError> {
//!         // Decode, resize the shorter side to 256, crop the central 224x224, normalize.
//!         // A body that is not a JPEG/PNG, or is too large, becomes a 400 with a message.
//!         let input = ImagePipeline::imagenet().run(&request.body, "input")?;
//!         Ok(Prepared { inputs: vec![input], context: Vec::new() })
//!     }
//!     # fn postprocess(_: Vec<Tensor>, _: Vec<u8>) -> Result<Response, HandlerError> {
//!     #     unimplemented!()
//!     # }
//! }
//!
//! ferroserve_handler::export!(Classifier);
//! ```
//!
//! Other models change the fields, e.g. `ImagePipeline { resize_shorter: 342, crop: (299,
//! 299), mean: [0.5; 3], std: [0.5; 3], ..ImagePipeline::imagenet() }`.
//!
//! What the pipeline does, step by step (each step is also public on its own):
//! - [`decode`]: JPEG or PNG, told apart by their magic bytes, to 8-bit RGB. Grayscale,
//!   CMYK, palette and 16-bit images are converted; an alpha channel is dropped (as PIL's
//!   `convert("RGB")` does). EXIF orientation is not applied (PIL does not apply it either).
//!   The declared size is read from the header and checked against [`Limits`] before any
//!   pixel is decoded; a JPEG cut short (no end-of-image marker) is refused.
//!   [`decode_for_resize`] may decode a large JPEG at 1/2, 1/4 or 1/8 scale instead (see
//!   [`ImagePipeline::scaled_jpeg_decode`]; measured on synthetic noisy photos, the final
//!   tensor moves by 0.4 gray levels on average at 1/2 and 1/4, 1.1 at 1/8).
//! - [`resize`]: PIL's bilinear filter, which is a triangle filter widened by the scale
//!   factor when shrinking (antialiased), with the same sample positions and weights. PIL
//!   rounds to 8 bits between its horizontal and vertical passes and this code keeps f32,
//!   so values differ from PIL's by at most about one gray level.
//! - [`center_crop`]: torchvision's offsets (`round((size - crop) / 2)`, halves to even).
//! - [`to_chw_normalized`]: `(v / 255 - mean[c]) / std[c]`, channel-major.
//!
//! [`ImagePipeline::run`] fuses the last three: it only computes the resized pixels that
//! survive the crop and normalizes them as they are produced, never building the whole
//! resized image.
//!
//! # Speed inside the sandbox
//!
//! Everything is plain Rust without platform intrinsics, written so the compiler can
//! vectorize it. **Build handlers with wasm SIMD** (wasmtime runs it by default), e.g. in
//! the handler's `.cargo/config.toml`:
//!
//! ```toml
//! [target.wasm32-wasip2]
//! rustflags = ["-C", "target-feature=+simd128"]
//! ```
//!
//! A 640x480 JPEG (quality 90, 4:2:0) to a `[3, 224, 224]` tensor, fastest of 60 runs on
//! the 2-core development machine (wasmtime 49):
//!
//! | build | whole pipeline | decode | resize + crop + normalize |
//! |---|---|---|---|
//! | native (x86-64) | 1.65 ms | 1.43 ms | 0.22 ms |
//! | wasm32-wasip2 with `+simd128` | 1.91 ms (1.16x) | 1.67 ms | 0.26 ms |
//! | wasm32-wasip2 without | 4.40 ms (2.7x) | 3.74 ms | 0.63 ms |
//!
//! JPEGs are decoded by `jpeg-decoder`, which has wasm SIMD kernels; `zune-jpeg` took
//! 1.9 ms natively and 2.0 ms (`+simd128`) / 3.5 ms (without) in wasm on the same image.
//! `benches/image.rs` has the native benchmarks.

mod decode;
mod jpeg;
mod kernels;
mod ops;
mod pipeline;
mod png;
mod resample;
mod rgb;
#[cfg(test)]
mod tests;

pub use decode::{
    ImageFormat, decode, decode_for_resize, decode_with_limits, detect_format, read_header,
};
pub use ops::{
    center_crop, center_crop_offsets, resize, resize_shorter_side, shorter_side_size,
    to_chw_normalized,
};
pub use pipeline::ImagePipeline;
pub use rgb::{Limits, RgbImage};
