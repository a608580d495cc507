"""TorchServe handler for the side-by-side benchmark's MLP (benches/sidebyside.sh).

Each request's body is a JSON list of 4 numbers; the batch TorchServe hands over is
stacked into one [B, 4] float tensor, run through the archive's TorchScript file once,
and each request gets its own output row back as a JSON list of 3 numbers.
"""

import json
import os

import torch

from ts_threads import set_threads


class MlpHandler:
    def __init__(self):
        self.model = None

    def initialize(self, context):
        set_threads()
        props = context.system_properties
        path = os.path.join(props["model_dir"], context.manifest["model"]["serializedFile"])
        self.model = torch.jit.load(path, map_location="cpu").eval()

    def handle(self, data, context):
        rows = []
        for request in data:
            body = request.get("body")
            if body is None:
                body = request.get("data")
            if isinstance(body, (bytes, bytearray)):
                body = json.loads(body)
            rows.append(torch.tensor(body, dtype=torch.float32))
        with torch.inference_mode():
            out = self.model(torch.stack(rows))
        answers = []
        for idx, row in enumerate(out.tolist()):
            context.set_response_content_type(idx, "application/json")
            answers.append(json.dumps(row))
        return answers
