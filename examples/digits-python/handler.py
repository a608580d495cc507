"""The digits handler in Python: the same contract as examples/digits (Rust), for JSON
input. An 8x8 handwritten digit in, the digit and its probabilities out.

Input: JSON {"image": [[8 numbers 0..16] x 8]} or the bare 8x8 array (scikit-learn's
load_digits() images). Output: {"digit": 3, "probabilities": {"0": 0.001, ..., "9": ...}}.
"""

import math

from ferroserve_handler import BadInput, BaseHandler, Tensor, export

SIDE = 8
MAX = 16.0  # scikit-learn's digits use 0..16 per pixel; the model was trained on pixel / 16


class Digits(BaseHandler):
    def preprocess(self, request):
        body = request.json()
        rows = body.get("image") if isinstance(body, dict) else body
        if not isinstance(rows, list) or len(rows) != SIDE or any(
                not isinstance(r, list) or len(r) != SIDE for r in rows):
            widths = [len(r) if isinstance(r, list) else None for r in rows] if isinstance(rows, list) else None
            raise BadInput(f"expected 8 rows of 8 pixels, got {len(rows) if isinstance(rows, list) else 0} rows of widths {widths}")
        scaled = []
        for y, row in enumerate(rows):
            for x, v in enumerate(row):
                if not isinstance(v, (int, float)) or not 0 <= v <= MAX:
                    raise BadInput(f"pixel value {v} at row {y}, column {x} is outside 0..16 (0 = background, 16 = ink)")
                scaled.append(v / MAX)
        # No batch dimension: the host stacks requests into [N, 1, 8, 8].
        return Tensor.from_list("input", scaled, dtype="f32", shape=[1, SIDE, SIDE])

    def postprocess(self, outputs, context):
        logits = outputs[0].flat()
        if len(logits) != 10:
            raise RuntimeError(f"expected 10 logits, got {len(logits)}")
        top = max(logits)
        exp = [math.exp(v - top) for v in logits]
        total = sum(exp)
        probabilities = [e / total for e in exp]
        digit = probabilities.index(max(probabilities))
        return {"digit": digit, "probabilities": {str(i): p for i, p in enumerate(probabilities)}}


Handler = export(Digits)
