//! The digits handler: an 8x8 handwritten digit in, the digit and its probabilities out.
//!
//! Input, either:
//! - JSON `{"image": [[...8 numbers 0..16...] x 8]}` (or the bare 8x8 array): the form of
//!   scikit-learn's `load_digits()` images;
//! - a PNG of any size (content type `image/png`, or recognised by its magic bytes): made
//!   gray, averaged down to 8x8, inverted if it is dark-on-light, scaled to 0..16.
//!
//! Output: `{"digit": 3, "probabilities": {"0": 0.001, ..., "9": 0.002}}`.

use ferroserve_handler::image::{ImageFormat, decode, detect_format};
use ferroserve_handler::{Handler, HandlerError, Prepared, Request, Response, Tensor, json};
use serde::Deserialize;

const SIDE: usize = 8;
/// scikit-learn's digits use 0..16 per pixel; the model was trained on pixel / 16.
const MAX: f32 = 16.0;

#[derive(Deserialize)]
#[serde(untagged)]
enum Body {
    Object { image: Vec<Vec<f32>> },
    Bare(Vec<Vec<f32>>),
}

struct Digits;

impl Handler for Digits {
    fn preprocess(request: Request) -> Result<Prepared, HandlerError> {
        let is_png = request.media_type().as_deref() == Some("image/png")
            || detect_format(&request.body) == Some(ImageFormat::Png);
        let pixels = if is_png { from_png(&request.body)? } else { from_json(&request)? };
        let scaled: Vec<f32> = pixels.iter().map(|v| v / MAX).collect();
        let input = Tensor::from_slice("input", &[1, SIDE as u64, SIDE as u64], &scaled)?;
        Ok(Prepared { inputs: vec![input], context: Vec::new() })
    }

    fn postprocess(outputs: Vec<Tensor>, _context: Vec<u8>) -> Result<Response, HandlerError> {
        let logits: Vec<f32> = outputs
            .first()
            .ok_or_else(|| HandlerError::internal("the model returned no output"))?
            .to_vec()?;
        if logits.len() != 10 {
            return Err(HandlerError::internal(format!("expected 10 logits, got {}", logits.len())));
        }
        let probabilities = softmax(&logits);
        let digit = argmax(&probabilities);
        let by_label: serde_json::Map<String, serde_json::Value> = probabilities
            .iter()
            .enumerate()
            .map(|(i, p)| (i.to_string(), serde_json::json!(p)))
            .collect();
        json::response(&serde_json::json!({ "digit": digit, "probabilities": by_label }))
    }
}

fn from_json(request: &Request) -> Result<Vec<f32>, HandlerError> {
    let rows = match serde_json::from_slice::<Body>(&request.body) {
        Ok(Body::Object { image } | Body::Bare(image)) => image,
        Err(e) => {
            return Err(HandlerError::bad_input(format!(
                "send a PNG, or JSON {{\"image\": [[8 numbers 0..16] x 8 rows]}} ({e})"
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
    let pixels: Vec<f32> = rows.into_iter().flatten().collect();
    if let Some(v) = pixels.iter().find(|v| !(0.0..=MAX).contains(*v)) {
        return Err(HandlerError::bad_input(format!("pixel value {v} is outside 0..16")));
    }
    Ok(pixels)
}

/// Gray, area-averaged to 8x8, bright digit on dark ground, 0..16.
fn from_png(bytes: &[u8]) -> Result<Vec<f32>, HandlerError> {
    let image = decode(bytes)?;
    let (w, h) = (image.width as usize, image.height as usize);
    if w < SIDE || h < SIDE {
        return Err(HandlerError::bad_input(format!("the PNG is {w}x{h}; send at least 8x8")));
    }
    let gray: Vec<f32> = image
        .pixels
        .chunks_exact(3)
        .map(|p| 0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2]))
        .collect();
    let mut cells = vec![0f32; SIDE * SIDE];
    for (i, cell) in cells.iter_mut().enumerate() {
        let (cy, cx) = (i / SIDE, i % SIDE);
        let (y0, y1) = (cy * h / SIDE, (cy + 1) * h / SIDE);
        let (x0, x1) = (cx * w / SIDE, (cx + 1) * w / SIDE);
        let sum: f32 = (y0..y1).flat_map(|y| gray[y * w + x0..y * w + x1].iter()).sum();
        *cell = sum / ((y1 - y0) * (x1 - x0)) as f32;
    }
    let mean = cells.iter().sum::<f32>() / cells.len() as f32;
    Ok(cells
        .into_iter()
        .map(|v| if mean > 127.0 { 255.0 - v } else { v } * MAX / 255.0)
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
