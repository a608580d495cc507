"""Makes the text classifier example's model and its two archive files, in the shape of
TorchServe's text_classifier example (a vocabulary plus index_to_name.json):

    ~/.cache/ferroserve/venv/bin/python examples/text-classifier-python/make_model.py OUT_DIR

Writes OUT_DIR/sentiment.pt (TorchScript: [N, 16] i64 token ids, 0-padded -> [N, 2]
logits), OUT_DIR/vocab.txt (one token per line; line i is id i) and
OUT_DIR/index_to_name.json ({"0": "negative", "1": "positive"}). The weights are set by
hand (a bag of sentiment words), so the answers are checkable without training data.
"""

import json
import sys

import torch
from torch import nn

POSITIVE = ["good", "great", "excellent", "love", "wonderful", "happy", "best", "fun"]
NEGATIVE = ["bad", "awful", "terrible", "hate", "boring", "sad", "worst", "broken"]
NEUTRAL = ["the", "a", "movie", "film", "was", "is", "it", "this", "and", "very", "not", "i"]
VOCAB = ["<pad>", "<unk>"] + POSITIVE + NEGATIVE + NEUTRAL
MAX_TOKENS = 16


class BagOfWords(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(len(VOCAB), 2, padding_idx=0)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.embed(ids).sum(1)


def main(out_dir: str) -> None:
    model = BagOfWords()
    with torch.no_grad():
        model.embed.weight.zero_()
        for i, word in enumerate(VOCAB):
            if word in POSITIVE:
                model.embed.weight[i] = torch.tensor([0.0, 2.0])
            elif word in NEGATIVE:
                model.embed.weight[i] = torch.tensor([2.0, 0.0])
    model.eval()
    torch.jit.save(torch.jit.script(model), f"{out_dir}/sentiment.pt")
    with open(f"{out_dir}/vocab.txt", "w") as f:
        f.write("\n".join(VOCAB) + "\n")
    with open(f"{out_dir}/index_to_name.json", "w") as f:
        json.dump({"0": "negative", "1": "positive"}, f)
    print(f"wrote {out_dir}/sentiment.pt, vocab.txt, index_to_name.json")


if __name__ == "__main__":
    main(sys.argv[1])
