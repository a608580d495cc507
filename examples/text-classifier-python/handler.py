"""A port of TorchServe's text classifier handler (ts/torch_handler/text_classifier.py):
text in, `[{"label": probability, ...}]` out, the labels from the archive's
`index_to_name.json` and the tokens from its `vocab.txt`, both read at `/`.

What changes from TorchServe: the model runs on the host, so `inference` is gone;
`initialize` reads the archive files per instance (each request gets a fresh one, and the
files are not there at build time); tokenising is a plain lower-case split, since
torchtext is not available inside the component.
"""

import math
import re

from ferroserve_handler import BadInput, BaseHandler, Tensor, export, read_json, read_text

MAX_TOKENS = 16  # the model's fixed input length; shorter texts are 0-padded
PAD, UNK = 0, 1


class TextClassifier(BaseHandler):
    def initialize(self):
        # TorchServe: mapping = load_label_mapping("index_to_name.json")
        self.mapping = read_json("index_to_name.json")
        self.vocab = {token: i for i, token in enumerate(read_text("vocab.txt").split("\n")) if token}

    def preprocess(self, request):
        # TorchServe's handlers take the text raw, or in a JSON {"data"/"text": ...}.
        text = request.text()
        if request.media_type == "application/json":
            body = request.json()
            text = body.get("text", body.get("data")) if isinstance(body, dict) else body
        if not isinstance(text, str) or not text.strip():
            raise BadInput('send the text as the body, or JSON {"text": "..."}')
        tokens = re.findall(r"[a-z']+", text.lower())[:MAX_TOKENS]
        ids = [self.vocab.get(t, UNK) for t in tokens]
        ids += [PAD] * (MAX_TOKENS - len(ids))
        return Tensor.from_list("ids", ids, dtype="i64"), {"tokens": len(tokens)}

    def postprocess(self, outputs, context):
        logits = outputs[0].flat()
        top = max(logits)
        exp = [math.exp(v - top) for v in logits]
        total = sum(exp)
        # TorchServe: map_class_to_label(probs, mapping) -> [{label: prob}]
        return [{self.mapping[str(i)]: e / total for i, e in enumerate(exp)}]


Handler = export(TextClassifier)
