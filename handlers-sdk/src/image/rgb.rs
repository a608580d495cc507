//! The decoded image and the size limits, shared by the decoders (`jpeg.rs`, `png.rs`)
//! and the functions that pick between them (`decode.rs`), so neither imports the other.

/// An 8-bit RGB image, pixels interleaved (`R G B R G B ...`), rows top to bottom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RgbImage {
    pub width: u32,
    pub height: u32,
    /// `width * height * 3` bytes.
    pub pixels: Vec<u8>,
}

/// The largest image [`decode_with_limits`](super::decode_with_limits) accepts, judged from the declared size in the
/// header. A decoded RGB image takes `3 * width * height` bytes of the sandbox's memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_width: u32,
    pub max_height: u32,
    pub max_pixels: u64,
}

impl Default for Limits {
    /// 8192x8192 and 40 megapixels (120 MB of RGB).
    fn default() -> Self {
        Limits {
            max_width: 8192,
            max_height: 8192,
            max_pixels: 40_000_000,
        }
    }
}
