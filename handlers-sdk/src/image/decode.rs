//! Format detection, header-only size checks and decoding to 8-bit RGB.

use super::rgb::{Limits, RgbImage};
use crate::HandlerError;

/// The image formats [`decode`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    Jpeg,
    Png,
}

const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];

/// The format announced by the first bytes, if it is one [`decode`] reads.
pub fn detect_format(bytes: &[u8]) -> Option<ImageFormat> {
    if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        Some(ImageFormat::Jpeg)
    } else if bytes.starts_with(&PNG_SIGNATURE) {
        Some(ImageFormat::Png)
    } else {
        None
    }
}

/// The format and declared `(width, height)`, read from the header alone (no pixel data).
pub fn read_header(bytes: &[u8]) -> Result<(ImageFormat, u32, u32), HandlerError> {
    let format = detect_format(bytes).ok_or_else(|| not_an_image(bytes))?;
    let size = match format {
        ImageFormat::Jpeg => super::jpeg::size(bytes),
        ImageFormat::Png => super::png::size(bytes),
    };
    let (width, height) = size.ok_or_else(|| {
        HandlerError::bad_input(format!(
            "the {} image's header is truncated or corrupt (no image size found); send a complete image",
            name(format)
        ))
    })?;
    if width == 0 || height == 0 {
        return Err(HandlerError::bad_input(format!(
            "the {} image declares a size of {width}x{height}; send an image with pixels in it",
            name(format)
        )));
    }
    Ok((format, width, height))
}

/// Decode a JPEG or PNG image to RGB, refusing images over [`Limits::default`].
pub fn decode(bytes: &[u8]) -> Result<RgbImage, HandlerError> {
    decode_with_limits(bytes, &Limits::default())
}

/// Decode a JPEG or PNG image to RGB. The declared size is checked against `limits` before
/// any pixel is decoded.
pub fn decode_with_limits(bytes: &[u8], limits: &Limits) -> Result<RgbImage, HandlerError> {
    decode_inner(bytes, limits, None)
}

/// Like [`decode_with_limits`], for an image that is about to be shrunk so its shorter side
/// is `min_shorter_side`: a JPEG may then be decoded at 1/2, 1/4 or 1/8 of its size (cheap,
/// in the DCT domain, like PIL's `draft()`), keeping the shorter side at least
/// `min_shorter_side`. PNGs always decode at full size.
pub fn decode_for_resize(
    bytes: &[u8],
    limits: &Limits,
    min_shorter_side: u32,
) -> Result<RgbImage, HandlerError> {
    decode_inner(bytes, limits, Some(min_shorter_side))
}

fn decode_inner(
    bytes: &[u8],
    limits: &Limits,
    min_shorter_side: Option<u32>,
) -> Result<RgbImage, HandlerError> {
    let (format, width, height) = read_header(bytes)?;
    if width > limits.max_width
        || height > limits.max_height
        || u64::from(width) * u64::from(height) > limits.max_pixels
    {
        return Err(HandlerError::bad_input(format!(
            "the image is {width}x{height} pixels; at most {}x{} and {} are accepted; send a smaller image",
            limits.max_width,
            limits.max_height,
            match limits.max_pixels {
                n if n % 1_000_000 == 0 => format!("{} megapixels", n / 1_000_000),
                n => format!("{n} pixels"),
            }
        )));
    }
    let max_bytes = usize::try_from(limits.max_pixels.saturating_mul(4)).unwrap_or(usize::MAX);
    match format {
        ImageFormat::Jpeg => {
            super::jpeg::decode(bytes, (width, height), max_bytes, min_shorter_side)
        }
        ImageFormat::Png => super::png::decode(bytes, (width, height), limits),
    }
}

fn name(format: ImageFormat) -> &'static str {
    match format {
        ImageFormat::Jpeg => "JPEG",
        ImageFormat::Png => "PNG",
    }
}

fn not_an_image(bytes: &[u8]) -> HandlerError {
    if bytes.is_empty() {
        return HandlerError::bad_input(
            "the body is empty; send a JPEG or PNG image (image/jpeg or image/png)",
        );
    }
    let head: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
    HandlerError::bad_input(format!(
        "the body is not a JPEG or PNG image (first bytes: {}); send image/jpeg or image/png",
        head.join(" ")
    ))
}
