use super::*;
use crate::image::{ImageFormat, Limits, decode, decode_with_limits, read_header};
use jpeg_encoder::ColorType;

#[test]
fn decodes_a_jpeg_of_known_size_close_to_the_original() {
    let original = synthetic(64, 48);
    let bytes = jpeg(&original.pixels, 64, 48, ColorType::Rgb);
    assert_eq!(read_header(&bytes).unwrap(), (ImageFormat::Jpeg, 64, 48));
    let image = decode(&bytes).unwrap();
    assert_eq!(
        (image.width, image.height, image.pixels.len()),
        (64, 48, 64 * 48 * 3)
    );
    let error: u64 = image
        .pixels
        .iter()
        .zip(&original.pixels)
        .map(|(&a, &b)| u64::from(a.abs_diff(b)))
        .sum();
    let mean_error = error as f64 / image.pixels.len() as f64;
    assert!(mean_error < 4.0, "mean absolute error {mean_error}");
}

#[test]
fn a_grayscale_jpeg_becomes_gray_rgb() {
    let gray: Vec<u8> = (0..32 * 16).map(|i| (i % 32 * 8) as u8).collect();
    let image = decode(&jpeg(&gray, 32, 16, ColorType::Luma)).unwrap();
    assert_eq!((image.width, image.height), (32, 16));
    for (p, &g) in image.pixels.chunks_exact(3).zip(&gray) {
        assert!(p[0] == p[1] && p[1] == p[2], "{p:?} is not gray");
        assert!(p[0].abs_diff(g) <= 24, "{} vs {g}", p[0]);
    }
}

#[test]
fn decodes_an_rgb_png_exactly() {
    let original = synthetic(33, 17);
    let bytes = png(&original.pixels, 33, 17, ColorSpace::RGB);
    assert_eq!(read_header(&bytes).unwrap(), (ImageFormat::Png, 33, 17));
    assert_eq!(decode(&bytes).unwrap(), original);
}

#[test]
fn gray_rgba_and_palette_pngs_become_rgb() {
    let gray = png(&[0, 100, 255, 7], 2, 2, ColorSpace::Luma);
    assert_eq!(
        decode(&gray).unwrap().pixels,
        [0, 0, 0, 100, 100, 100, 255, 255, 255, 7, 7, 7]
    );

    let gray_alpha = png(&[10, 0, 20, 255], 2, 1, ColorSpace::LumaA);
    assert_eq!(
        decode(&gray_alpha).unwrap().pixels,
        [10, 10, 10, 20, 20, 20]
    );

    let rgba = png(&[1, 2, 3, 0, 4, 5, 6, 128], 2, 1, ColorSpace::RGBA);
    assert_eq!(decode(&rgba).unwrap().pixels, [1, 2, 3, 4, 5, 6]);

    let palette = palette_png(2, 2, &[[255, 0, 0], [0, 0, 255], [9, 8, 7]], &[0, 1, 2, 0]);
    let image = decode(&palette).unwrap();
    assert_eq!((image.width, image.height), (2, 2));
    assert_eq!(image.pixels, [255, 0, 0, 0, 0, 255, 9, 8, 7, 255, 0, 0]);
}

#[test]
fn bytes_that_are_no_image_are_bad_input() {
    let message = bad_input(decode(b"hello, world"));
    assert!(message.contains("not a JPEG or PNG"), "{message}");
    assert!(message.contains("68 65 6c 6c 6f 2c 20 77"), "{message}");
    assert!(message.contains("image/jpeg"), "{message}");

    let message = bad_input(decode(b""));
    assert!(message.contains("empty"), "{message}");
}

#[test]
fn truncated_or_corrupt_images_are_bad_input() {
    let bytes = jpeg(&synthetic(64, 48).pixels, 64, 48, ColorType::Rgb);
    let message = bad_input(decode(&bytes[..4]));
    assert!(
        message.contains("JPEG image's header is truncated"),
        "{message}"
    );

    let message = bad_input(decode(&bytes[..bytes.len() / 2]));
    assert!(message.contains("JPEG image is truncated"), "{message}");

    // A complete file whose frame header says 0 components.
    let mut broken = bytes.clone();
    let sof = broken.windows(2).position(|w| w == [0xff, 0xc0]).unwrap();
    broken[sof + 9] = 0;
    let message = bad_input(decode(&broken));
    assert!(
        message.contains("JPEG image could not be decoded"),
        "{message}"
    );

    let mut bytes = png(&synthetic(16, 16).pixels, 16, 16, ColorSpace::RGB);
    let idat = bytes.windows(4).position(|w| w == b"IDAT").unwrap();
    bytes.truncate(idat + 10);
    let message = bad_input(decode(&bytes));
    assert!(
        message.contains("PNG image could not be decoded"),
        "{message}"
    );
}

/// A JPEG that is only a start-of-image marker and a frame header declaring `w`x`h`.
fn jpeg_header_only(width: u16, height: u16) -> Vec<u8> {
    let mut bytes = vec![0xff, 0xd8, 0xff, 0xe0, 0x00, 0x04, 0x00, 0x00]; // SOI, a short APP0
    bytes.extend_from_slice(&[0xff, 0xc0, 0x00, 0x11, 8]); // SOF0, length 17, 8-bit
    bytes.extend_from_slice(&height.to_be_bytes());
    bytes.extend_from_slice(&width.to_be_bytes());
    bytes.extend_from_slice(&[3, 1, 0x11, 0, 2, 0x11, 1, 3, 0x11, 1]);
    bytes
}

#[test]
fn oversized_images_are_refused_from_the_header_alone() {
    // Neither of these has any pixel data: decoding would fail differently.
    let message = bad_input(decode(&jpeg_header_only(9000, 100)));
    assert!(message.contains("9000x100 pixels"), "{message}");
    assert!(
        message.contains("at most 8192x8192 and 40 megapixels are accepted; send a smaller image"),
        "{message}"
    );

    let message = bad_input(decode(&jpeg_header_only(8000, 8000)));
    assert!(message.contains("8000x8000"), "{message}");

    let mut png_bytes = png(&[0; 3], 1, 1, ColorSpace::RGB);
    png_bytes[16..20].copy_from_slice(&100_000u32.to_be_bytes());
    png_bytes.truncate(33); // signature + IHDR only
    let message = bad_input(decode(&png_bytes));
    assert!(message.contains("100000x1 pixels"), "{message}");

    // Within the limits the same header-only JPEG fails as incomplete, not as too large.
    let message = bad_input(decode(&jpeg_header_only(100, 100)));
    assert!(message.contains("truncated"), "{message}");
}

#[test]
fn custom_limits_apply() {
    let bytes = jpeg(&synthetic(64, 48).pixels, 64, 48, ColorType::Rgb);
    let tight = Limits {
        max_width: 100,
        max_height: 100,
        max_pixels: 3000,
    };
    let message = bad_input(decode_with_limits(&bytes, &tight));
    assert!(
        message.contains("64x48 pixels; at most 100x100 and 3000 pixels"),
        "{message}"
    );
    let enough = Limits {
        max_pixels: 64 * 48,
        ..tight
    };
    assert_eq!(decode_with_limits(&bytes, &enough).unwrap().width, 64);
}

#[test]
fn a_zero_sized_header_is_refused() {
    let message = bad_input(read_header(&jpeg_header_only(0, 10)));
    assert!(message.contains("size of 0x10"), "{message}");
}

#[test]
fn corrupted_pngs_never_panic() {
    let original = png(&synthetic(12, 9).pixels, 12, 9, ColorSpace::RGB);
    for i in 0..original.len() {
        for value in [0x00, 0x01, 0x03, 0x08, 0x10, 0x7f, 0xff] {
            let mut bytes = original.clone();
            bytes[i] = value;
            let result =
                std::panic::catch_unwind(|| decode(&bytes).map(|image| image.pixels.len()));
            assert!(result.is_ok(), "byte {i} set to {value:#04x} panicked");
            if let Ok(Ok(len)) = result {
                assert!(
                    len % 3 == 0,
                    "byte {i} set to {value:#04x}: {len} bytes of pixels"
                );
            }
        }
    }
}
