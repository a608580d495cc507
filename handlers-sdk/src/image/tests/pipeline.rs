use super::*;
use crate::Dtype;
use crate::image::{ImagePipeline, center_crop, resize_shorter_side, to_chw_normalized};
use jpeg_encoder::ColorType;

#[test]
fn imagenet_settings() {
    let p = ImagePipeline::imagenet();
    assert_eq!((p.resize_shorter, p.crop), (256, (224, 224)));
    assert_eq!(
        (p.mean, p.std),
        ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    );
}

#[test]
fn a_solid_image_gives_the_normalized_color_everywhere() {
    let rgb = [200u8, 30, 99];
    let bytes = png(&solid(300, 200, rgb).pixels, 300, 200, ColorSpace::RGB);
    let p = ImagePipeline::imagenet();
    let tensor = p.run(&bytes, "input").unwrap();
    assert_eq!((tensor.name.as_str(), tensor.dtype), ("input", Dtype::F32));
    assert_eq!(tensor.shape, [3, 224, 224]);
    let values = values(&tensor);
    let plane = 224 * 224;
    for c in 0..3 {
        let expected = (f32::from(rgb[c]) / 255.0 - p.mean[c]) / p.std[c];
        let worst = values[c * plane..(c + 1) * plane]
            .iter()
            .map(|v| (v - expected).abs())
            .fold(0f32, f32::max);
        assert!(worst < 2e-6, "channel {c}: off by {worst} from {expected}");
    }
}

#[test]
fn the_fused_pipeline_matches_the_step_by_step_one() {
    let p = ImagePipeline::imagenet();
    for (w, h) in [(640, 480), (480, 640), (300, 301), (100, 80)] {
        let image = synthetic(w, h);
        let fused = values(&p.run_decoded(&image, "input").unwrap());
        let resized = resize_shorter_side(&image, p.resize_shorter).unwrap();
        let cropped = center_crop(&resized, p.crop).unwrap();
        let stepwise = values(&to_chw_normalized(&cropped, p.mean, p.std, "input").unwrap());
        assert_eq!(fused.len(), stepwise.len());
        // The step-by-step path rounds the resized image to 8 bits: half a level, over std.
        let worst = fused
            .iter()
            .zip(&stepwise)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(
            worst <= 0.5 / 255.0 / 0.224 + 1e-5,
            "{w}x{h}: differs by {worst}"
        );
    }
}

#[test]
fn a_jpeg_runs_end_to_end_close_to_its_source_pixels() {
    let image = synthetic(640, 480);
    let bytes = jpeg(&image.pixels, 640, 480, ColorType::Rgb);
    let p = ImagePipeline::imagenet();
    let from_jpeg = values(&p.run(&bytes, "input").unwrap());
    let from_pixels = values(&p.run_decoded(&image, "input").unwrap());
    assert_eq!(from_jpeg.len(), 3 * 224 * 224);
    let mean_error = from_jpeg
        .iter()
        .zip(&from_pixels)
        .map(|(a, b)| (a - b).abs())
        .sum::<f32>()
        / from_jpeg.len() as f32;
    assert!(mean_error < 0.03, "mean error {mean_error}"); // about 1.7 gray levels
    // The gradient survives: red grows left to right, green top to bottom.
    let at = |c: usize, y: usize, x: usize| from_jpeg[c * 224 * 224 + y * 224 + x];
    assert!(
        at(0, 112, 220) - at(0, 112, 3) > 1.5,
        "red gradient missing"
    );
    assert!(
        at(1, 220, 112) - at(1, 3, 112) > 1.5,
        "green gradient missing"
    );
}

#[test]
fn scaled_jpeg_decoding_stays_close_to_the_full_decode() {
    let bytes = jpeg(&synthetic(1200, 900).pixels, 1200, 900, ColorType::Rgb);
    let full = ImagePipeline {
        scaled_jpeg_decode: false,
        ..ImagePipeline::imagenet()
    };
    let scaled = ImagePipeline::imagenet(); // decodes at 1/2: 600x450
    let (a, b) = (
        values(&full.run(&bytes, "input").unwrap()),
        values(&scaled.run(&bytes, "input").unwrap()),
    );
    assert_eq!(a.len(), b.len());
    let mean_error = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).sum::<f32>() / a.len() as f32;
    assert!(mean_error < 0.03, "mean error {mean_error}"); // under 2 gray levels
    // Same geometry: the gradient lines up.
    let centre = |v: &[f32]| v[112 * 224 + 112];
    assert!((centre(&a) - centre(&b)).abs() < 0.05);
}

#[test]
fn other_crops_and_orientations() {
    let p = ImagePipeline {
        crop: (200, 300),
        resize_shorter: 240,
        ..ImagePipeline::imagenet()
    };
    // 640x480 -> 320x240, which holds a 300-wide, 200-high crop.
    let tensor = p.run_decoded(&synthetic(640, 480), "x").unwrap();
    assert_eq!(tensor.shape, [3, 200, 300]);
    assert_eq!(tensor.data.len(), 3 * 200 * 300 * 4);
    // 480x640 -> 240x320, which does not.
    match p.run_decoded(&synthetic(480, 640), "x") {
        Err(crate::HandlerError::Internal(m)) => {
            assert!(m.contains("smaller than the 300x200 crop"), "{m}")
        }
        other => panic!("expected an internal error, got {other:?}"),
    }
}

#[test]
fn bad_bytes_and_bad_settings_fail_clearly() {
    let message = bad_input(ImagePipeline::imagenet().run(b"GIF89a....", "input"));
    assert!(
        message.contains("not a JPEG or PNG image (first bytes: 47 49 46 38"),
        "{message}"
    );
    let p = ImagePipeline {
        std: [0.2, 0.0, 0.2],
        ..ImagePipeline::imagenet()
    };
    assert!(
        matches!(p.run_decoded(&synthetic(8, 8), "x"), Err(crate::HandlerError::Internal(m)) if m.contains("std"))
    );
}
