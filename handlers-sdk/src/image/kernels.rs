//! The inner loops of [`resample`](super::resample), specialized on the number of taps so
//! the compiler unrolls them and vectorizes across pixels (natively, and in wasm built with
//! `+simd128`). Each output is summed in tap order whatever the specialization, so results
//! do not depend on which one runs.

/// `line[j] = Σ_k weights[k] * rows[k][j]`, for rows of at least `line.len()` bytes.
pub(super) fn vertical(rows: &[&[u8]], weights: &[f32], line: &mut [f32]) {
    match rows.len() {
        1 => vertical_n::<1>(rows, weights, line),
        2 => vertical_n::<2>(rows, weights, line),
        3 => vertical_n::<3>(rows, weights, line),
        4 => vertical_n::<4>(rows, weights, line),
        5 => vertical_n::<5>(rows, weights, line),
        6 => vertical_n::<6>(rows, weights, line),
        _ => {
            line.fill(0.0);
            for (row, &w) in rows.iter().zip(weights) {
                line.iter_mut()
                    .zip(*row)
                    .for_each(|(l, &p)| *l += w * f32::from(p));
            }
        }
    }
}

fn vertical_n<const N: usize>(rows: &[&[u8]], weights: &[f32], line: &mut [f32]) {
    let rows: [&[u8]; N] = std::array::from_fn(|k| &rows[k][..line.len()]);
    let weights: [f32; N] = std::array::from_fn(|k| weights[k]);
    for (j, out) in line.iter_mut().enumerate() {
        let mut sum = 0.0;
        for k in 0..N {
            sum += weights[k] * f32::from(rows[k][j]);
        }
        *out = sum;
    }
}

/// For each output pixel `x`: the weighted sum of `taps` interleaved RGB pixels of `line`
/// starting at pixel `starts[x]`, with weights `weights[x * taps..][..taps]`, written to
/// the planar rows `out`.
pub(super) fn horizontal(
    line: &[f32],
    starts: &[usize],
    weights: &[f32],
    taps: usize,
    out: [&mut [f32]; 3],
) {
    match taps {
        1 => horizontal_n::<1>(line, starts, weights, out),
        2 => horizontal_n::<2>(line, starts, weights, out),
        3 => horizontal_n::<3>(line, starts, weights, out),
        4 => horizontal_n::<4>(line, starts, weights, out),
        5 => horizontal_n::<5>(line, starts, weights, out),
        6 => horizontal_n::<6>(line, starts, weights, out),
        7 => horizontal_n::<7>(line, starts, weights, out),
        8 => horizontal_n::<8>(line, starts, weights, out),
        _ => horizontal_any(line, starts, weights, taps, out),
    }
}

fn horizontal_n<const N: usize>(
    line: &[f32],
    starts: &[usize],
    weights: &[f32],
    [r, g, b]: [&mut [f32]; 3],
) {
    let pixels = r.iter_mut().zip(g.iter_mut()).zip(b.iter_mut());
    for ((((r, g), b), &start), w) in pixels.zip(starts).zip(weights.chunks_exact(N)) {
        let p = &line[start * 3..][..3 * N];
        let (mut sr, mut sg, mut sb) = (0f32, 0f32, 0f32);
        for k in 0..N {
            sr += w[k] * p[3 * k];
            sg += w[k] * p[3 * k + 1];
            sb += w[k] * p[3 * k + 2];
        }
        (*r, *g, *b) = (sr, sg, sb);
    }
}

fn horizontal_any(
    line: &[f32],
    starts: &[usize],
    weights: &[f32],
    taps: usize,
    [r, g, b]: [&mut [f32]; 3],
) {
    let pixels = r.iter_mut().zip(g.iter_mut()).zip(b.iter_mut());
    for ((((r, g), b), &start), w) in pixels.zip(starts).zip(weights.chunks_exact(taps)) {
        let p = &line[start * 3..][..3 * taps];
        let (mut sr, mut sg, mut sb) = (0f32, 0f32, 0f32);
        for (w, p) in w.iter().zip(p.chunks_exact(3)) {
            sr += w * p[0];
            sg += w * p[1];
            sb += w * p[2];
        }
        (*r, *g, *b) = (sr, sg, sb);
    }
}
