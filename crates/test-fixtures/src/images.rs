//! Synthetic photo-like images (gradients, waves and noise), made on the fly so no binary
//! file is checked in. Noise keeps the JPEG's entropy close to a real photo's, so decode
//! timings are not flattered by an easy image.

/// Interleaved 8-bit RGB pixels of a `width × height` synthetic photo.
pub fn photo_rgb(width: u32, height: u32) -> Vec<u8> {
    let mut state = 0x9e37_79b9_u32;
    let mut pixels = Vec::with_capacity(width as usize * height as usize * 3);
    for y in 0..height {
        for x in 0..width {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let noise = state >> 27; // 0..32
            let wave = ((x as f32 / 23.0).sin() * (y as f32 / 31.0).cos() * 40.0 + 40.0) as u32;
            pixels.push((x * 150 / width + wave + noise).min(255) as u8);
            pixels.push((y * 150 / height + wave / 2 + noise).min(255) as u8);
            pixels.push(((x + y) * 100 / (width + height) + 80 - wave / 2 + noise).min(255) as u8);
        }
    }
    pixels
}

/// The same photo as a baseline JPEG, quality 90, 4:2:0 chroma subsampling (what cameras
/// and browsers usually send).
pub fn photo_jpeg(width: u32, height: u32) -> Vec<u8> {
    let pixels = photo_rgb(width, height);
    let mut out = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut out, 90);
    encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::F_2_2);
    encoder
        .encode(
            &pixels,
            width as u16,
            height as u16,
            jpeg_encoder::ColorType::Rgb,
        )
        .expect("encoding a synthetic JPEG");
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn makes_a_jpeg_of_the_requested_size() {
        let jpeg = super::photo_jpeg(64, 48);
        assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
        // SOF0 carries height then width, big-endian.
        let sof = jpeg.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        assert_eq!(&jpeg[sof + 5..sof + 9], &[0, 48, 0, 64]);
    }
}
