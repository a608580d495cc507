//! The steps of [`ImagePipeline`](super::ImagePipeline) one at a time, on whole images.

use super::RgbImage;
use super::resample::{Window, resample};
use crate::{Dtype, HandlerError, Tensor};

/// The size an image of `width`x`height` gets when its shorter side is resized to `shorter`
/// and the longer one keeps the aspect ratio, rounded down (torchvision's `Resize(int)`).
/// Returns `(width, height)`.
pub fn shorter_side_size(width: u32, height: u32, shorter: u32) -> (u32, u32) {
    let long_of = |short: u32, long: u32| {
        let long = u64::from(shorter) * u64::from(long) / u64::from(short.max(1));
        long.clamp(1, u64::from(u32::MAX)) as u32
    };
    if width <= height {
        (shorter, long_of(width, height))
    } else {
        (long_of(height, width), shorter)
    }
}

/// Resize to exactly `width`x`height` with PIL's bilinear filter (antialiased when
/// shrinking), rounding to 8 bits.
pub fn resize(image: &RgbImage, width: u32, height: u32) -> Result<RgbImage, HandlerError> {
    check_image(image)?;
    if width == 0 || height == 0 {
        return Err(HandlerError::internal(format!(
            "resize: cannot resize to {width}x{height}"
        )));
    }
    let mut pixels = vec![0u8; width as usize * height as usize * 3];
    let window = Window {
        left: 0,
        top: 0,
        width,
        height,
    };
    let row_len = width as usize * 3;
    resample(image, (width, height), window, |y, [r, g, b]| {
        let out = &mut pixels[y * row_len..][..row_len];
        for (((o, &r), &g), &b) in out.chunks_exact_mut(3).zip(r).zip(g).zip(b) {
            // Values stay within 0..=255 (the weights are non-negative and sum to 1).
            o.copy_from_slice(&[(r + 0.5) as u8, (g + 0.5) as u8, (b + 0.5) as u8]);
        }
    });
    Ok(RgbImage {
        width,
        height,
        pixels,
    })
}

/// Resize so the shorter side is `shorter` pixels, keeping the aspect ratio
/// ([`shorter_side_size`]).
pub fn resize_shorter_side(image: &RgbImage, shorter: u32) -> Result<RgbImage, HandlerError> {
    let (width, height) = shorter_side_size(image.width, image.height, shorter);
    resize(image, width, height)
}

/// The `(top, left)` corner of a centered `crop = (height, width)` window in an image of
/// `size = (height, width)`: torchvision's `round((size - crop) / 2)`, with Python's rounding
/// of halves to even. Zero along an axis where the crop does not fit.
pub fn center_crop_offsets(size: (u32, u32), crop: (u32, u32)) -> (u32, u32) {
    let offset = |size: u32, crop: u32| {
        let d = size.saturating_sub(crop);
        let half = d / 2;
        if d % 2 == 1 && half % 2 == 1 {
            half + 1
        } else {
            half
        }
    };
    (offset(size.0, crop.0), offset(size.1, crop.1))
}

/// The central `crop = (height, width)` window of `image`.
pub fn center_crop(image: &RgbImage, crop: (u32, u32)) -> Result<RgbImage, HandlerError> {
    check_image(image)?;
    let (ch, cw) = crop;
    if ch > image.height || cw > image.width || ch == 0 || cw == 0 {
        return Err(HandlerError::bad_input(format!(
            "the image is {}x{} pixels, which has no {cw}x{ch} center crop; send an image of at least {cw}x{ch}",
            image.width, image.height
        )));
    }
    let (top, left) = center_crop_offsets((image.height, image.width), crop);
    let stride = image.width as usize * 3;
    let mut pixels = Vec::with_capacity(ch as usize * cw as usize * 3);
    for y in top as usize..(top + ch) as usize {
        pixels
            .extend_from_slice(&image.pixels[y * stride + left as usize * 3..][..cw as usize * 3]);
    }
    Ok(RgbImage {
        width: cw,
        height: ch,
        pixels,
    })
}

/// A `[3, height, width]` f32 tensor of `(v / 255 - mean[c]) / std[c]` (torchvision's
/// `ToTensor()` then `Normalize(mean, std)`, computed in f32 the same way).
pub fn to_chw_normalized(
    image: &RgbImage,
    mean: [f32; 3],
    std: [f32; 3],
    tensor_name: &str,
) -> Result<Tensor, HandlerError> {
    check_image(image)?;
    // Only 256 inputs per channel: a table gives the exact value of the formula.
    let table: [[f32; 256]; 3] =
        [0, 1, 2].map(|c| std::array::from_fn(|v| (v as f32 / 255.0 - mean[c]) / std[c]));
    let plane = image.width as usize * image.height as usize;
    let mut data = vec![0u8; 3 * plane * 4];
    let (r, rest) = data.split_at_mut(plane * 4);
    let (g, b) = rest.split_at_mut(plane * 4);
    let outs = r
        .chunks_exact_mut(4)
        .zip(g.chunks_exact_mut(4))
        .zip(b.chunks_exact_mut(4));
    for (((r, g), b), p) in outs.zip(image.pixels.chunks_exact(3)) {
        r.copy_from_slice(&table[0][usize::from(p[0])].to_le_bytes());
        g.copy_from_slice(&table[1][usize::from(p[1])].to_le_bytes());
        b.copy_from_slice(&table[2][usize::from(p[2])].to_le_bytes());
    }
    Ok(Tensor {
        name: tensor_name.to_string(),
        dtype: Dtype::F32,
        shape: vec![3, u64::from(image.height), u64::from(image.width)],
        data,
    })
}

/// A hand-built [`RgbImage`] must hold exactly `width * height * 3` bytes.
pub(super) fn check_image(image: &RgbImage) -> Result<(), HandlerError> {
    let expected = image.width as usize * image.height as usize * 3;
    if image.pixels.len() != expected || expected == 0 {
        return Err(HandlerError::internal(format!(
            "RgbImage of {}x{} has {} bytes of pixels, expected {expected} (and a non-zero size)",
            image.width,
            image.height,
            image.pixels.len()
        )));
    }
    Ok(())
}
