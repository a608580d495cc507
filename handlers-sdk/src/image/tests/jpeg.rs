use super::*;
use crate::image::{Limits, decode, decode_for_resize};
use jpeg_encoder::ColorType;

#[test]
fn a_cmyk_jpeg_becomes_rgb() {
    // (C, M, Y, K) ink amounts and the RGB they print as.
    let cases = [
        ([255, 0, 0, 0], [0, 255, 255]),   // cyan
        ([0, 255, 255, 0], [255, 0, 0]),   // magenta + yellow = red
        ([0, 0, 0, 128], [127, 127, 127]), // half black
        ([0, 0, 0, 0], [255, 255, 255]),   // no ink
    ];
    for (cmyk, rgb) in cases {
        let pixels = cmyk.repeat(16 * 16);
        let image = decode(&jpeg(&pixels, 16, 16, ColorType::Cmyk)).unwrap();
        assert_eq!((image.width, image.height), (16, 16));
        for p in image.pixels.chunks_exact(3) {
            let close = p.iter().zip(rgb).all(|(&a, b)| a.abs_diff(b) <= 3);
            assert!(
                close,
                "CMYK {cmyk:?} decoded to {p:?}, expected about {rgb:?}"
            );
        }
    }
}

#[test]
fn decode_for_resize_scales_large_jpegs_in_the_dct() {
    let bytes = jpeg(&synthetic(1024, 768).pixels, 1024, 768, ColorType::Rgb);
    let limits = Limits::default();
    // The smallest of 1/8, 1/4, 1/2, 1 that keeps the shorter side >= the request.
    for (request, size) in [
        (96, (128, 96)),
        (97, (256, 192)),
        (192, (256, 192)),
        (300, (512, 384)),
        (500, (1024, 768)),
    ] {
        let image = decode_for_resize(&bytes, &limits, request).unwrap();
        assert_eq!((image.width, image.height), size, "request {request}");
        assert_eq!(image.pixels.len(), size.0 as usize * size.1 as usize * 3);
    }
    // Portrait: the shorter side is the width.
    let bytes = jpeg(&synthetic(400, 800).pixels, 400, 800, ColorType::Rgb);
    let image = decode_for_resize(&bytes, &limits, 100).unwrap();
    assert_eq!((image.width, image.height), (100, 200));
    // A 1/2-scale decode is close to averaging 2x2 blocks of the full decode.
    let full = decode(&bytes).unwrap();
    let half = decode_for_resize(&bytes, &limits, 200).unwrap();
    assert_eq!((half.width, half.height), (200, 400));
    let mut error = 0u64;
    for y in 0..400usize {
        for x in 0..200usize {
            for c in 0..3 {
                let at = |dy: usize, dx: usize| {
                    u64::from(full.pixels[((2 * y + dy) * 400 + 2 * x + dx) * 3 + c])
                };
                let mean = (at(0, 0) + at(0, 1) + at(1, 0) + at(1, 1) + 2) / 4;
                error += mean.abs_diff(u64::from(half.pixels[(y * 200 + x) * 3 + c]));
            }
        }
    }
    let mean_error = error as f64 / (200.0 * 400.0 * 3.0);
    assert!(mean_error < 3.0, "mean error {mean_error}");
    // PNGs are never scaled.
    let bytes = png(&synthetic(64, 64).pixels, 64, 64, ColorSpace::RGB);
    assert_eq!(decode_for_resize(&bytes, &limits, 8).unwrap().width, 64);
}

#[test]
fn corrupted_bytes_never_panic() {
    // Flip every header byte (and a sample of the scan) of a small JPEG: decoding must
    // return an error or an image, never panic (a panic would trap the handler).
    let original = jpeg(&synthetic(24, 16).pixels, 24, 16, ColorType::Rgb);
    let positions: Vec<usize> = (0..original.len())
        .filter(|i| *i < 700 || i % 7 == 0)
        .collect();
    for &i in &positions {
        for value in [0x00, 0x01, 0x02, 0x04, 0x7f, 0xc0, 0xda, 0xff] {
            let mut bytes = original.clone();
            bytes[i] = value;
            let result = std::panic::catch_unwind(|| {
                let _ = decode(&bytes);
                let _ = decode_for_resize(&bytes, &Limits::default(), 4);
            });
            assert!(result.is_ok(), "byte {i} set to {value:#04x} panicked");
        }
    }
}
