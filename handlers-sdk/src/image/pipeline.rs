//! [`ImagePipeline`]: the whole preprocessing in one call, resize, crop and normalize fused.

use super::decode::{decode_for_resize, decode_with_limits, read_header};
use super::ops::{self, center_crop_offsets, shorter_side_size};
use super::resample;
use super::rgb::{Limits, RgbImage};
use crate::{HandlerError, Tensor};

/// Decode → resize the shorter side → center crop → normalize, into a `[3, H, W]` f32 tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct ImagePipeline {
    /// The shorter side is resized to this many pixels, keeping the aspect ratio.
    pub resize_shorter: u32,
    /// The central `(height, width)` window that is kept after resizing.
    pub crop: (u32, u32),
    /// Per-channel (R, G, B) mean subtracted from values scaled to 0..=1.
    pub mean: [f32; 3],
    /// Per-channel (R, G, B) standard deviation the centered values are divided by.
    pub std: [f32; 3],
    /// Images declaring a larger size are refused before they are decoded.
    pub limits: Limits,
    /// Decode large JPEGs at 1/2, 1/4 or 1/8 scale when the shorter side stays at least
    /// `resize_shorter` ([`decode_for_resize`], like PIL's `draft()`): a noisy 2400x1800
    /// JPEG went from 28 to 18 ms in wasm (63 to 19 ms without SIMD); the result is a
    /// little softer than a full decode. Off (`false`): the same steps as torchvision.
    pub scaled_jpeg_decode: bool,
}

impl ImagePipeline {
    /// The standard ImageNet preprocessing: resize to 256, crop 224x224, ImageNet mean/std.
    pub fn imagenet() -> Self {
        ImagePipeline {
            resize_shorter: 256,
            crop: (224, 224),
            mean: [0.485, 0.456, 0.406],
            std: [0.229, 0.224, 0.225],
            limits: Limits::default(),
            scaled_jpeg_decode: true,
        }
    }

    /// Decode `bytes` (JPEG or PNG) and preprocess them into a tensor called `tensor_name`.
    pub fn run(&self, bytes: &[u8], tensor_name: &str) -> Result<Tensor, HandlerError> {
        self.check()?;
        let image = if self.scaled_jpeg_decode {
            decode_for_resize(bytes, &self.limits, self.resize_shorter)?
        } else {
            decode_with_limits(bytes, &self.limits)?
        };
        // The geometry comes from the declared size, so a scaled decode crops the same window.
        let (_, width, height) = read_header(bytes)?;
        self.process(
            &image,
            shorter_side_size(width, height, self.resize_shorter),
            tensor_name,
        )
    }

    /// Preprocess an already decoded image into a tensor called `tensor_name`.
    pub fn run_decoded(&self, image: &RgbImage, tensor_name: &str) -> Result<Tensor, HandlerError> {
        self.check()?;
        self.process(
            image,
            shorter_side_size(image.width, image.height, self.resize_shorter),
            tensor_name,
        )
    }

    /// Resize `image` to `(rw, rh)`, crop, normalize: only the cropped window is computed.
    fn process(
        &self,
        image: &RgbImage,
        (rw, rh): (u32, u32),
        tensor_name: &str,
    ) -> Result<Tensor, HandlerError> {
        ops::check_image(image)?;
        let (ch, cw) = self.crop;
        if ch > rh || cw > rw {
            return Err(HandlerError::internal(format!(
                "image pipeline: a {}x{} image resized to {rw}x{rh} is smaller than the {cw}x{ch} crop",
                image.width, image.height
            )));
        }
        let (top, left) = center_crop_offsets((rh, rw), self.crop);
        let window = resample::Window {
            left,
            top,
            width: cw,
            height: ch,
        };
        let plane = ch as usize * cw as usize;
        let mut data = vec![0u8; 3 * plane * 4];
        let (scale, bias) = normalization(self.mean, self.std);
        resample::resample(image, (rw, rh), window, |y, rows| {
            let at = y * cw as usize * 4;
            for c in 0..3 {
                let out = &mut data[c * plane * 4 + at..][..cw as usize * 4];
                for (o, &v) in out.chunks_exact_mut(4).zip(rows[c]) {
                    o.copy_from_slice(&(v * scale[c] + bias[c]).to_le_bytes());
                }
            }
        });
        Ok(Tensor {
            name: tensor_name.to_string(),
            dtype: crate::Dtype::F32,
            shape: vec![3, u64::from(ch), u64::from(cw)],
            data,
        })
    }

    fn check(&self) -> Result<(), HandlerError> {
        let (ch, cw) = self.crop;
        if self.resize_shorter == 0 || ch == 0 || cw == 0 {
            return Err(HandlerError::internal(format!(
                "image pipeline: resize_shorter ({}) and crop ({cw}x{ch}) must be non-zero",
                self.resize_shorter
            )));
        }
        if self.std.iter().any(|s| !s.is_normal()) || self.mean.iter().any(|m| !m.is_finite()) {
            return Err(HandlerError::internal(format!(
                "image pipeline: std {:?} must be finite and non-zero, mean {:?} finite",
                self.std, self.mean
            )));
        }
        Ok(())
    }
}

/// `(v / 255 - mean) / std` as `v * scale + bias`, per channel.
fn normalization(mean: [f32; 3], std: [f32; 3]) -> ([f32; 3], [f32; 3]) {
    let scale = std.map(|s| (1.0 / (255.0 * f64::from(s))) as f32);
    let bias = [0, 1, 2].map(|c| (-f64::from(mean[c]) / f64::from(std[c])) as f32);
    (scale, bias)
}
