//! Tests for the image module. Every image is made here, in code: nothing binary is
//! checked in.

mod decode;
mod jpeg;
mod pipeline;
mod transform;

use super::RgbImage;
use zune_core::bit_depth::BitDepth;
use zune_core::colorspace::ColorSpace;
use zune_core::options::EncoderOptions;

/// A smooth colour gradient with a little deterministic noise, `width * height * 3` bytes.
pub(super) fn synthetic(width: u32, height: u32) -> RgbImage {
    let mut state = 0x2545_f491_u32;
    let mut pixels = Vec::with_capacity(width as usize * height as usize * 3);
    for y in 0..height {
        for x in 0..width {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let noise = state >> 28; // 0..16
            pixels.push(((x * 200 / width) + noise) as u8);
            pixels.push(((y * 200 / height) + noise) as u8);
            pixels.push((((x + y) * 100 / (width + height)) + 60 + noise) as u8);
        }
    }
    RgbImage {
        width,
        height,
        pixels,
    }
}

pub(super) fn solid(width: u32, height: u32, rgb: [u8; 3]) -> RgbImage {
    let pixels = rgb
        .iter()
        .copied()
        .cycle()
        .take(width as usize * height as usize * 3)
        .collect();
    RgbImage {
        width,
        height,
        pixels,
    }
}

pub(super) fn jpeg(
    pixels: &[u8],
    width: u32,
    height: u32,
    color: jpeg_encoder::ColorType,
) -> Vec<u8> {
    let mut out = Vec::new();
    let encoder = jpeg_encoder::Encoder::new(&mut out, 92);
    encoder
        .encode(pixels, width as u16, height as u16, color)
        .unwrap();
    out
}

pub(super) fn png(pixels: &[u8], width: u32, height: u32, colorspace: ColorSpace) -> Vec<u8> {
    let options = EncoderOptions::new(width as usize, height as usize, colorspace, BitDepth::Eight);
    let mut out = Vec::new();
    zune_png::PngEncoder::new(pixels, options)
        .encode(&mut out)
        .unwrap();
    out
}

/// An 8-bit palette PNG, built by hand (stored deflate blocks, no compression).
pub(super) fn palette_png(width: u32, height: u32, palette: &[[u8; 3]], indices: &[u8]) -> Vec<u8> {
    let mut raw = Vec::new();
    for row in indices.chunks(width as usize) {
        raw.push(0); // filter type: none
        raw.extend_from_slice(row);
    }
    let mut zlib = vec![0x78, 0x01, 0x01]; // zlib header, one final stored block
    zlib.extend_from_slice(&(raw.len() as u16).to_le_bytes());
    zlib.extend_from_slice(&(!(raw.len() as u16)).to_le_bytes());
    zlib.extend_from_slice(&raw);
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in &raw {
        a = (a + u32::from(byte)) % 65521;
        b = (b + a) % 65521;
    }
    zlib.extend_from_slice(&((b << 16) | a).to_be_bytes());

    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 3, 0, 0, 0]); // depth 8, palette, deflate, no filter, no interlace
    let mut out = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"PLTE", palette.concat().as_slice());
    chunk(&mut out, b"IDAT", &zlib);
    chunk(&mut out, b"IEND", &[]);
    out
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc = !0u32;
    for &byte in &out[start..] {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    out.extend_from_slice(&(!crc).to_be_bytes());
}

/// The f32 values of a tensor.
pub(super) fn values(tensor: &crate::Tensor) -> Vec<f32> {
    tensor.to_vec::<f32>().unwrap()
}

/// The message of a `BadInput` error (without printing a successful result's pixels).
pub(super) fn bad_input<T>(result: Result<T, crate::HandlerError>) -> String {
    match result {
        Err(crate::HandlerError::BadInput(message)) => message,
        Err(other) => panic!("expected BadInput, got {other:?}"),
        Ok(_) => panic!("expected BadInput, got a result"),
    }
}
