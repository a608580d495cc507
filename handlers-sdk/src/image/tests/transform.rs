use super::*;
use crate::Dtype;
use crate::image::{
    center_crop, center_crop_offsets, resize, resize_shorter_side, shorter_side_size,
    to_chw_normalized,
};

#[test]
fn the_shorter_side_gets_the_size_and_the_longer_one_rounds_down() {
    assert_eq!(shorter_side_size(640, 480, 256), (341, 256));
    assert_eq!(shorter_side_size(480, 640, 256), (256, 341));
    assert_eq!(shorter_side_size(100, 100, 256), (256, 256));
    assert_eq!(shorter_side_size(1000, 3, 2), (666, 2));
    let image = resize_shorter_side(&synthetic(640, 480), 256).unwrap();
    assert_eq!(
        (image.width, image.height, image.pixels.len()),
        (341, 256, 341 * 256 * 3)
    );
}

#[test]
fn resize_has_the_requested_shape() {
    for (w, h) in [(32, 24), (100, 7), (1, 1), (200, 150)] {
        let image = resize(&synthetic(64, 48), w, h).unwrap();
        assert_eq!(
            (image.width, image.height, image.pixels.len()),
            (w, h, (w * h * 3) as usize)
        );
    }
}

#[test]
fn resize_uses_pil_bilinear_weights() {
    // 4 -> 2 pixels: the triangle is 2 source pixels wide. Output 0 is centered on 1.0 and
    // weighs pixels 0, 1, 2 by 0.75, 0.75, 0.25 (normalized: 3/7, 3/7, 1/7); output 1 is
    // centered on 3.0 and weighs pixels 1, 2, 3 by 1/7, 3/7, 3/7.
    let row = [0u8, 100, 200, 50];
    let image = RgbImage {
        width: 4,
        height: 1,
        pixels: row.iter().flat_map(|&v| [v, v, 255 - v]).collect(),
    };
    let out = resize(&image, 2, 1).unwrap();
    // 500/7 = 71.4 and 850/7 = 121.4; blue is 255 minus those (183.6 and 133.6).
    assert_eq!(out.pixels, [71, 71, 184, 121, 121, 134]);
}

#[test]
fn same_size_resize_is_the_identity_and_solid_stays_solid() {
    let image = synthetic(37, 23);
    assert_eq!(resize(&image, 37, 23).unwrap(), image);
    let out = resize(&solid(50, 40, [3, 130, 251]), 17, 61).unwrap();
    assert!(out.pixels.chunks_exact(3).all(|p| p == [3, 130, 251]));
}

#[test]
fn shrinking_is_antialiased() {
    // A one-pixel checkerboard shrunk 8x averages to mid-gray instead of aliasing.
    let pixels = (0..64 * 64)
        .flat_map(|i| [if (i % 64 + i / 64) % 2 == 0 { 0 } else { 255 }; 3])
        .collect();
    let out = resize(
        &RgbImage {
            width: 64,
            height: 64,
            pixels,
        },
        8,
        8,
    )
    .unwrap();
    assert!(
        out.pixels.iter().all(|&v| (120..=135).contains(&v)),
        "{:?}",
        out.pixels
    );
}

#[test]
fn center_crop_takes_the_middle() {
    // Each pixel stores its own coordinates: R = x, G = y.
    let pixels = (0..8u8)
        .flat_map(|y| (0..10u8).flat_map(move |x| [x, y, 7]))
        .collect();
    let image = RgbImage {
        width: 10,
        height: 8,
        pixels,
    };
    let crop = center_crop(&image, (4, 6)).unwrap();
    assert_eq!((crop.width, crop.height), (6, 4));
    assert_eq!(&crop.pixels[..3], [2, 2, 7]); // top-left is (2, 2)
    assert_eq!(&crop.pixels[crop.pixels.len() - 3..], [7, 5, 7]); // bottom-right is (7, 5)

    let message = bad_input(center_crop(&image, (9, 6)));
    assert!(
        message.contains("10x8 pixels, which has no 6x9 center crop"),
        "{message}"
    );
}

#[test]
fn crop_offsets_round_halves_to_even_like_python() {
    assert_eq!(center_crop_offsets((256, 341), (224, 224)), (16, 58)); // 58.5 -> 58
    assert_eq!(center_crop_offsets((227, 229), (224, 224)), (2, 2)); // 1.5 -> 2, 2.5 -> 2
    assert_eq!(center_crop_offsets((225, 224), (224, 224)), (0, 0)); // 0.5 -> 0
    assert_eq!(center_crop_offsets((100, 100), (224, 224)), (0, 0));
}

#[test]
fn normalization_is_exact_per_channel() {
    let (mean, std) = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]);
    let rgb = [10u8, 128, 250];
    let tensor = to_chw_normalized(&solid(5, 4, rgb), mean, std, "pixels").unwrap();
    assert_eq!(
        (tensor.name.as_str(), tensor.dtype, tensor.shape.as_slice()),
        ("pixels", Dtype::F32, &[3, 4, 5][..])
    );
    let values = values(&tensor);
    for c in 0..3 {
        let expected = (f32::from(rgb[c]) / 255.0 - mean[c]) / std[c];
        assert!(
            values[c * 20..(c + 1) * 20].iter().all(|&v| v == expected),
            "channel {c}"
        );
    }
    // Spot-check one value by hand: (128/255 - 0.456) / 0.224 = 0.2051...
    assert!((values[20] - 0.205_182).abs() < 1e-5, "{}", values[20]);
}

#[test]
fn normalized_output_is_channel_major() {
    let image = RgbImage {
        width: 2,
        height: 1,
        pixels: vec![0, 51, 102, 153, 204, 255],
    };
    let tensor = to_chw_normalized(&image, [0.0; 3], [1.0; 3], "x").unwrap();
    assert_eq!(tensor.shape, [3, 1, 2]);
    assert_eq!(values(&tensor), [0.0, 0.6, 0.2, 0.8, 0.4, 1.0]);
}

#[test]
fn an_inconsistent_image_is_an_internal_error() {
    let image = RgbImage {
        width: 4,
        height: 4,
        pixels: vec![0; 5],
    };
    assert!(
        matches!(resize(&image, 2, 2), Err(crate::HandlerError::Internal(m)) if m.contains("has 5 bytes"))
    );
}
