//! Separable resampling with PIL's bilinear (triangle) filter, restricted to a window of the
//! output so a resize followed by a crop only computes the pixels it keeps.
//!
//! The vertical pass runs first, over whole (contiguous) stretches of source rows, which the
//! compiler vectorizes; the horizontal pass then works on one f32 line at a time with a fixed
//! number of taps per output pixel, writing planar R, G and B rows for the caller.

use super::RgbImage;
use super::kernels;

/// The part of the resized image to compute: columns `left..left + width`, rows
/// `top..top + height` of an image resized to the full output size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    pub left: u32,
    pub top: u32,
    pub width: u32,
    pub height: u32,
}

/// Filter weights for a range of output positions along one axis.
#[derive(Debug)]
struct Weights {
    /// First source index each output reads.
    start: Vec<usize>,
    /// Number of source indices each output reads.
    len: Vec<usize>,
    /// `taps` weights per output; the first `len[i]` are used.
    weights: Vec<f32>,
    taps: usize,
}

impl Weights {
    /// Weights for outputs `first..first + count` of a resize from `in_size` to `out_size`.
    /// Output `x` is centered on source coordinate `(x + 0.5) * in / out`; when shrinking the
    /// triangle is stretched by the scale factor, so every source pixel contributes.
    fn new(in_size: u32, out_size: u32, first: u32, count: u32) -> Weights {
        let scale = f64::from(in_size) / f64::from(out_size);
        let stretch = scale.max(1.0);
        let support = stretch; // the triangle's radius is 1 output pixel
        let taps = (support.ceil() as usize) * 2 + 1;
        let mut w = Weights {
            start: Vec::with_capacity(count as usize),
            len: Vec::with_capacity(count as usize),
            weights: vec![0.0; count as usize * taps],
            taps,
        };
        let mut row = vec![0f64; taps];
        for (i, x) in (first..first + count).enumerate() {
            let center = (f64::from(x) + 0.5) * scale;
            let lo = ((center - support + 0.5).floor().max(0.0) as usize).min(in_size as usize - 1);
            let hi = ((center + support + 0.5).floor() as usize).clamp(lo + 1, in_size as usize);
            let n = (hi - lo).min(taps);
            let mut sum = 0.0;
            for (k, r) in row[..n].iter_mut().enumerate() {
                let t = ((lo + k) as f64 - center + 0.5) / stretch;
                *r = (1.0 - t.abs()).max(0.0);
                sum += *r;
            }
            // Drop taps that contribute nothing, so the vertical pass skips whole rows.
            let skip = row[..n]
                .iter()
                .take_while(|&&r| r == 0.0)
                .count()
                .min(n - 1);
            let trailing = row[skip + 1..n]
                .iter()
                .rev()
                .take_while(|&&r| r == 0.0)
                .count();
            let keep = n - skip - trailing;
            for k in 0..keep {
                w.weights[i * taps + k] = (row[skip + k] / sum) as f32;
            }
            w.start.push(lo + skip);
            w.len.push(keep);
        }
        w
    }

    /// The source range `lo..hi` that all outputs together read.
    fn span(&self) -> (usize, usize) {
        let lo = self.start.iter().copied().min().unwrap_or(0);
        let hi = self
            .start
            .iter()
            .zip(&self.len)
            .map(|(s, n)| s + n)
            .max()
            .unwrap_or(0);
        (lo, hi)
    }

    /// The same weights with exactly `taps` per output (zero-padded), starting at offsets
    /// relative to `span_lo`, shifted left where needed so they stay inside a span of
    /// `span_len`. A fixed tap count keeps the horizontal loop simple for the compiler.
    fn padded(&self, span_lo: usize, span_len: usize) -> (usize, Vec<usize>, Vec<f32>) {
        let taps = self.len.iter().copied().max().unwrap_or(1).min(span_len);
        let mut starts = Vec::with_capacity(self.start.len());
        let mut weights = vec![0.0; self.start.len() * taps];
        for i in 0..self.start.len() {
            let rel = self.start[i] - span_lo;
            let at = rel.min(span_len - taps);
            let shift = rel - at;
            let src = &self.weights[i * self.taps..][..self.len[i]];
            weights[i * taps + shift..][..self.len[i]].copy_from_slice(src);
            starts.push(at);
        }
        (taps, starts, weights)
    }
}

/// Resample `src` to `size = (width, height)` but compute only `window`. For each output
/// row `y` of the window (0-based) calls `sink(y, [r, g, b])` with that row's values per
/// channel, in the 0..=255 range of the source, `window.width` values each.
pub(crate) fn resample(
    src: &RgbImage,
    size: (u32, u32),
    window: Window,
    mut sink: impl FnMut(usize, [&[f32]; 3]),
) {
    let (out_w, out_h) = size;
    debug_assert!(window.left + window.width <= out_w && window.top + window.height <= out_h);
    let horizontal = Weights::new(src.width, out_w, window.left, window.width);
    let vertical = Weights::new(src.height, out_h, window.top, window.height);
    let (col_lo, col_hi) = horizontal.span();
    let span = col_hi - col_lo;
    let (taps, starts, weights) = horizontal.padded(col_lo, span);

    let stride = src.width as usize * 3;
    let mut line = vec![0f32; span * 3];
    let out_len = window.width as usize;
    let mut planes = [
        vec![0f32; out_len],
        vec![0f32; out_len],
        vec![0f32; out_len],
    ];
    let mut rows: Vec<&[u8]> = Vec::with_capacity(vertical.taps);
    for y in 0..window.height as usize {
        // Vertical pass: blend the source rows of this output row over the needed columns.
        let (start, len) = (vertical.start[y], vertical.len[y]);
        rows.clear();
        rows.extend(
            (start..start + len).map(|r| &src.pixels[r * stride + col_lo * 3..][..span * 3]),
        );
        kernels::vertical(
            &rows,
            &vertical.weights[y * vertical.taps..][..len],
            &mut line,
        );
        // Horizontal pass: a fixed number of taps per output pixel.
        let [r, g, b] = &mut planes;
        kernels::horizontal(&line, &starts, &weights, taps, [r, g, b]);
        sink(y, [&planes[0], &planes[1], &planes[2]]);
    }
}
