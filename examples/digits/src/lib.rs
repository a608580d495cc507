//! The digits handler: an 8x8 handwritten digit in, the digit and its probabilities out.
//!
//! Input, either:
//! - JSON `{"image": [[...8 numbers 0..16...] x 8]}` (or the bare 8x8 array): the form of
//!   scikit-learn's `load_digits()` images;
//! - a PNG (or JPEG) of any size (an `image/*` content type, or recognised by its magic
//!   bytes): made gray, averaged down to 8x8, inverted if dark-on-light, scaled to 0..16.
//!
//! Output: `{"digit": 3, "probabilities": {"0": 0.001, ..., "9": 0.002}}`.

use ferroserve_handler::image::{Limits, RgbImage, decode_with_limits, detect_format};
use ferroserve_handler::{Handler, HandlerError, Prepared, Request, Response, Tensor, json};
use serde::Deserialize;

const SIDE: usize = 8;
/// scikit-learn's digits use 0..16 per pixel; the model was trained on pixel / 16.
const MAX: f32 = 16.0;
/// The archive asks for 64 MiB: 4 MP of RGB (12 MB) leaves room for the PNG decoder.
const IMAGE_LIMITS: Limits = Limits {
    max_width: 4096,
    max_height: 4096,
    max_pixels: 4_000_000,
};

#[derive(Deserialize)]
#[serde(untagged)]
enum Body {
    Object { image: Vec<Vec<f32>> },
    Bare(Vec<Vec<f32>>),
}

struct Digits;

impl Handler for Digits {
    fn preprocess(request: Request) -> Result<Prepared, HandlerError> {
        let media = request.media_type();
        let is_image = media.as_deref().is_some_and(|m| m.starts_with("image/"))
            || detect_format(&request.body).is_some();
        let pixels = if is_image {
            to_cells(&decode_with_limits(&request.body, &IMAGE_LIMITS)?)?
        } else {
            from_json(&request.body, media.as_deref())?
        };
        let scaled: Vec<f32> = pixels.iter().map(|v| v / MAX).collect();
        // No batch dimension: the host stacks requests into [N, 1, 8, 8].
        let input = Tensor::from_slice("input", &[1, SIDE as u64, SIDE as u64], &scaled)?;
        Ok(Prepared {
            inputs: vec![input],
            context: Vec::new(),
        })
    }

    fn postprocess(outputs: Vec<Tensor>, _context: Vec<u8>) -> Result<Response, HandlerError> {
        let logits: Vec<f32> = outputs
            .first()
            .ok_or_else(|| HandlerError::internal("the model returned no output"))?
            .to_vec()?;
        if logits.len() != 10 {
            return Err(HandlerError::internal(format!(
                "expected 10 logits, got {}",
                logits.len()
            )));
        }
        let probabilities = softmax(&logits);
        let digit = argmax(&probabilities);
        // TorchServe's classifiers answer label -> probability; "digit" is the top-1.
        let by_label: serde_json::Map<String, serde_json::Value> = probabilities
            .iter()
            .enumerate()
            .map(|(i, p)| (i.to_string(), serde_json::json!(f64::from(*p))))
            .collect();
        json::response(&serde_json::json!({ "digit": digit, "probabilities": by_label }))
    }
}

fn from_json(body: &[u8], media: Option<&str>) -> Result<Vec<f32>, HandlerError> {
    let rows = match serde_json::from_slice::<Body>(body) {
        Ok(Body::Object { image } | Body::Bare(image)) => image,
        Err(e) => {
            return Err(HandlerError::bad_input(format!(
                "the body ({}) is neither a PNG nor JSON {{\"image\": [[8 numbers 0..16] x 8 rows]}}: {e}",
                media.unwrap_or("no content type")
            )));
        }
    };
    if rows.len() != SIDE || rows.iter().any(|r| r.len() != SIDE) {
        let widths: Vec<usize> = rows.iter().map(Vec::len).collect();
        return Err(HandlerError::bad_input(format!(
            "expected 8 rows of 8 pixels, got {} rows of widths {widths:?}",
            rows.len()
        )));
    }
    for (y, row) in rows.iter().enumerate() {
        if let Some(x) = row.iter().position(|v| !(0.0..=MAX).contains(v)) {
            return Err(HandlerError::bad_input(format!(
                "pixel value {} at row {y}, column {x} is outside 0..16 (0 = background, 16 = ink)",
                row[x]
            )));
        }
    }
    Ok(rows.into_iter().flatten().collect())
}

/// Gray (ITU-R 601 luma), area-averaged to 8x8, bright digit on dark ground, 0..16.
/// One pass over the RGB pixels into 64 sums, so no full-size gray copy is made.
fn to_cells(image: &RgbImage) -> Result<Vec<f32>, HandlerError> {
    let (w, h) = (image.width as usize, image.height as usize);
    if w < SIDE || h < SIDE {
        return Err(HandlerError::bad_input(format!(
            "the image is {w}x{h}; send at least 8x8"
        )));
    }
    let mut sums = [0f32; SIDE * SIDE];
    let mut counts = [0u32; SIDE * SIDE];
    for (i, p) in image.pixels.chunks_exact(3).enumerate() {
        let (y, x) = (i / w, i % w);
        let cell = (y * SIDE / h) * SIDE + x * SIDE / w;
        sums[cell] += 0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2]);
        counts[cell] += 1;
    }
    let cells: Vec<f32> = sums.iter().zip(counts).map(|(s, n)| s / n as f32).collect();
    let invert = cells.iter().sum::<f32>() / cells.len() as f32 > 127.0;
    Ok(cells
        .into_iter()
        .map(|v| if invert { 255.0 - v } else { v } * MAX / 255.0)
        .collect())
}

fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exp: Vec<f32> = logits.iter().map(|v| (v - max).exp()).collect();
    let sum: f32 = exp.iter().sum();
    exp.into_iter().map(|e| e / sum).collect()
}

fn argmax(values: &[f32]) -> usize {
    (0..values.len()).fold(0, |best, i| if values[i] > values[best] { i } else { best })
}

ferroserve_handler::export!(Digits);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_object_and_bare_array_and_their_errors() {
        let row = "[0,1,2,3,4,5,6,16]";
        let bare = format!("[{}]", [row; 8].join(","));
        assert_eq!(from_json(bare.as_bytes(), None).unwrap()[7], 16.0);
        assert_eq!(
            from_json(format!("{{\"image\": {bare}}}").as_bytes(), None)
                .unwrap()
                .len(),
            64
        );
        let msg = |b: &str| match from_json(b.as_bytes(), Some("text/plain")) {
            Err(HandlerError::BadInput(m)) => m,
            other => panic!("{:?}", other.map(|_| ())),
        };
        assert!(msg("[[1,2,3]]").contains("expected 8 rows of 8 pixels, got 1 rows of widths [3]"));
        assert!(
            msg(&bare.replace("16]", "17]")).contains("17 at row 0, column 7 is outside 0..16")
        );
        assert!(msg("hello").contains("(text/plain) is neither a PNG nor JSON"));
    }

    #[test]
    fn images_are_averaged_to_8x8_and_inverted_when_light() {
        // 16x16 white with a black 2x2 block at the top left: one dark cell after averaging.
        let mut pixels = vec![255u8; 16 * 16 * 3];
        for (y, x) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
            pixels[(y * 16 + x) * 3..][..3].fill(0);
        }
        let cells = to_cells(&RgbImage {
            width: 16,
            height: 16,
            pixels,
        })
        .unwrap();
        assert_eq!(cells[0], 16.0, "the dark stroke becomes full ink");
        assert!(cells[1..].iter().all(|v| *v == 0.0));
        let tiny = RgbImage {
            width: 4,
            height: 4,
            pixels: vec![0; 48],
        };
        assert!(to_cells(&tiny).is_err());
    }

    #[test]
    fn softmax_sums_to_one_and_argmax_finds_the_top() {
        let p = softmax(&[1.0, 3.0, 2.0, 1000.0, -1000.0]);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert_eq!(argmax(&p), 3);
        assert!(p.iter().all(|v| v.is_finite()));
    }
}
