//! JPEG: header walking (size, completeness) and decoding with `jpeg-decoder`, optionally at
//! 1/2, 1/4 or 1/8 scale: the decoder then runs a 4x4, 2x2 or 1x1 inverse DCT per 8x8 block
//! and upsamples and converts colors for that many pixels only (it still entropy-decodes
//! every block, so the saving is largest for smooth, well-compressed photos).
//!
//! `jpeg-decoder` was chosen over `zune-jpeg` (and the `image` crate, which wraps
//! `zune-jpeg`) because it is the faster one inside wasm when the handler is built with
//! `+simd128` (it has wasm SIMD kernels), and because of the scaled decoding. See
//! `benches/image.rs` and the numbers in the module docs of `image`.

use super::rgb::RgbImage;
use crate::HandlerError;

/// Walk the JPEG segments from the start until one whose marker satisfies `want`; returns
/// the index of its length field. Stops at the end of image, and at the first scan unless
/// that is what is wanted.
fn find_segment(bytes: &[u8], want: impl Fn(u8) -> bool) -> Option<usize> {
    let mut i = 2;
    loop {
        while *bytes.get(i)? != 0xff {
            i += 1; // tolerate garbage between segments, as decoders do
        }
        while *bytes.get(i)? == 0xff {
            i += 1; // fill bytes
        }
        let marker = *bytes.get(i)?;
        i += 1;
        if want(marker) {
            return Some(i);
        }
        if marker == 0x01 || (0xd0..=0xd7).contains(&marker) {
            continue; // segments without a length
        }
        if marker == 0xd9 || marker == 0xda {
            return None; // end of image, or start of scan (pixel data)
        }
        i += usize::from(u16::from_be_bytes([*bytes.get(i)?, *bytes.get(i + 1)?]));
    }
}

/// The `(width, height)` in the first start-of-frame segment.
pub(super) fn size(bytes: &[u8]) -> Option<(u32, u32)> {
    let is_sof = |m: u8| (0xc0..=0xcf).contains(&m) && !matches!(m, 0xc4 | 0xc8 | 0xcc);
    let at = find_segment(bytes, is_sof)?;
    let seg = bytes.get(at + 2..at + 7)?; // precision, height, width
    let height = u16::from_be_bytes([seg[1], seg[2]]);
    let width = u16::from_be_bytes([seg[3], seg[4]]);
    Some((u32::from(width), u32::from(height)))
}

/// Whether an end-of-image marker follows the first scan. Scan data never contains one
/// (0xff bytes in it are stuffed), so a file cut short in transit lacks it. A decoder may
/// fill the missing part with gray; like PIL, refuse the file instead.
fn is_complete(bytes: &[u8]) -> bool {
    find_segment(bytes, |m| m == 0xda)
        .is_some_and(|at| bytes[at..].windows(2).any(|w| w == [0xff, 0xd9]))
}

/// Decode to RGB. With `min_shorter_side = Some(n)`, decode at the smallest of 1/8, 1/4,
/// 1/2 or full scale whose shorter side is still at least `n` pixels.
pub(super) fn decode(
    bytes: &[u8],
    (width, height): (u32, u32),
    max_bytes: usize,
    min_shorter_side: Option<u32>,
) -> Result<RgbImage, HandlerError> {
    if !is_complete(bytes) {
        return Err(HandlerError::bad_input(
            "the JPEG image is truncated (its data does not end with an end-of-image marker); send the whole file",
        ));
    }
    let mut decoder = jpeg_decoder::Decoder::new(bytes);
    decoder.set_max_decoding_buffer_size(max_bytes);
    decoder.read_info().map_err(corrupt)?;
    if let Some(n) = min_shorter_side {
        // The decoder picks the smallest scale meeting *either* requested side, so only the
        // shorter side is requested (the other one can never be met).
        let n = n.min(u32::from(u16::MAX)) as u16;
        let request = if width <= height {
            (n, u16::MAX)
        } else {
            (u16::MAX, n)
        };
        decoder.scale(request.0, request.1).map_err(corrupt)?;
    }
    let pixels = decoder.decode().map_err(corrupt)?;
    let info = decoder
        .info()
        .ok_or_else(|| HandlerError::internal("jpeg-decoder returned no image info"))?;
    let (w, h) = (u32::from(info.width), u32::from(info.height));
    let pixels = match info.pixel_format {
        jpeg_decoder::PixelFormat::RGB24 => pixels,
        jpeg_decoder::PixelFormat::L8 => pixels.iter().flat_map(|&v| [v; 3]).collect(),
        // 16-bit (lossless) samples are big-endian: keep the high byte.
        jpeg_decoder::PixelFormat::L16 => pixels.chunks_exact(2).flat_map(|p| [p[0]; 3]).collect(),
        jpeg_decoder::PixelFormat::CMYK32 => pixels.chunks_exact(4).flat_map(cmyk_to_rgb).collect(),
    };
    if pixels.len() != w as usize * h as usize * 3 {
        return Err(HandlerError::bad_input(format!(
            "the JPEG image decoded to {} bytes, not {w}x{h} RGB pixels; send a valid image",
            pixels.len()
        )));
    }
    Ok(RgbImage {
        width: w,
        height: h,
        pixels,
    })
}

/// The decoder has already undone Adobe's inversion: 0 means no ink.
fn cmyk_to_rgb(p: &[u8]) -> [u8; 3] {
    let k = 255 - u32::from(p[3]);
    let ink = |c: u8| (((255 - u32::from(c)) * k + 127) / 255) as u8;
    [ink(p[0]), ink(p[1]), ink(p[2])]
}

fn corrupt(error: jpeg_decoder::Error) -> HandlerError {
    HandlerError::bad_input(format!(
        "the JPEG image could not be decoded ({error}); send a valid image/jpeg or image/png"
    ))
}
