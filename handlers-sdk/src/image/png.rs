//! PNG decoding with `zune-png`, converted to 8-bit RGB.

use super::rgb::{Limits, RgbImage};
use crate::HandlerError;
use zune_core::bytestream::ZCursor;
use zune_core::options::DecoderOptions;

/// The `(width, height)` in the IHDR chunk, which must come first.
pub(super) fn size(bytes: &[u8]) -> Option<(u32, u32)> {
    if bytes.get(12..16)? != b"IHDR" {
        return None;
    }
    let word = |at: usize| Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?));
    Some((word(16)?, word(20)?))
}

/// Decode to RGB: 16-bit samples keep their high byte, palettes are expanded, gray is
/// copied to all three channels and alpha is dropped (PIL's `convert("RGB")` does the same).
/// For an animated PNG, the first frame.
pub(super) fn decode(
    bytes: &[u8],
    (width, height): (u32, u32),
    limits: &Limits,
) -> Result<RgbImage, HandlerError> {
    let options = DecoderOptions::default()
        .set_max_width(limits.max_width as usize)
        .set_max_height(limits.max_height as usize)
        .png_set_strip_to_8bit(true);
    let mut decoder = zune_png::PngDecoder::new_with_options(ZCursor::new(bytes), options);
    let pixels = decoder.decode_raw().map_err(|e| {
        HandlerError::bad_input(format!(
            "the PNG image could not be decoded ({}); send a valid image/jpeg or image/png",
            e.to_string().trim()
        ))
    })?;
    let channels = decoder.colorspace().map_or(0, |c| c.num_components());
    let n = width as usize * height as usize;
    if !(1..=4).contains(&channels) || pixels.len() != n * channels {
        return Err(HandlerError::bad_input(format!(
            "the PNG image decoded to {} bytes, not {width}x{height} pixels of {channels} channels; \
             send a valid image",
            pixels.len()
        )));
    }
    let pixels = match channels {
        3 => pixels,
        4 => pixels
            .chunks_exact(4)
            .flat_map(|p| [p[0], p[1], p[2]])
            .collect(),
        1 => pixels.iter().flat_map(|&v| [v; 3]).collect(),
        _ => pixels.chunks_exact(2).flat_map(|p| [p[0]; 3]).collect(),
    };
    Ok(RgbImage {
        width,
        height,
        pixels,
    })
}
