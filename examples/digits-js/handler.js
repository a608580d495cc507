// The digits handler in JavaScript: the same contract as examples/digits (Rust), for JSON
// input. An 8x8 handwritten digit in, the digit and its probabilities out.
//
// Input: JSON {"image": [[8 numbers 0..16] x 8]} or the bare 8x8 array (scikit-learn's
// load_digits() images). Output: {"digit": 3, "probabilities": {"0": 0.001, ..., "9": ...}}.

import { BadInput, BaseHandler, Tensor, exportHandler } from './ferroserve-handler.js';

const SIDE = 8;
const MAX = 16; // scikit-learn's digits use 0..16 per pixel; the model was trained on pixel / 16

class Digits extends BaseHandler {
  preprocess(request) {
    const body = request.json();
    const rows = Array.isArray(body) ? body : body?.image;
    if (!Array.isArray(rows) || rows.length !== SIDE || rows.some((r) => !Array.isArray(r) || r.length !== SIDE)) {
      const widths = Array.isArray(rows) ? rows.map((r) => (Array.isArray(r) ? r.length : null)) : [];
      throw new BadInput(`expected 8 rows of 8 pixels, got ${widths.length} rows of widths [${widths.join(', ')}]`);
    }
    const scaled = [];
    rows.forEach((row, y) => row.forEach((v, x) => {
      if (typeof v !== 'number' || !(v >= 0 && v <= MAX)) {
        throw new BadInput(`pixel value ${v} at row ${y}, column ${x} is outside 0..16 (0 = background, 16 = ink)`);
      }
      scaled.push(v / MAX);
    }));
    // No batch dimension: the host stacks requests into [N, 1, 8, 8].
    return Tensor.fromList('input', scaled, 'f32', [1, SIDE, SIDE]);
  }

  postprocess(outputs) {
    const logits = outputs[0].flat();
    if (logits.length !== 10) throw new Error(`expected 10 logits, got ${logits.length}`);
    const top = Math.max(...logits);
    const exp = logits.map((v) => Math.exp(v - top));
    const total = exp.reduce((a, b) => a + b, 0);
    const probabilities = exp.map((e) => e / total);
    const digit = probabilities.indexOf(Math.max(...probabilities));
    return { digit, probabilities: Object.fromEntries(probabilities.map((p, i) => [String(i), p])) };
  }
}

export const handler = exportHandler(Digits);
