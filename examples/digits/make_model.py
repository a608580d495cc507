"""Trains the digits example's model on real data: scikit-learn's bundled handwritten digits
(1,797 8x8 images, values 0..16; no download). Run with the project's venv:

    ~/.cache/ferroserve/venv/bin/python examples/digits/make_model.py OUT_DIR

Writes OUT_DIR/digits.pt (TorchScript: [N,1,8,8] f32, pixel/16 -> [N,10] logits) and
OUT_DIR/digits_test.json ({"images": [8x8 ints], "labels": [ints]}: the held-out quarter,
which the end-to-end test sends through HTTP). Deterministic: fixed split and seeds.
"""

import json
import sys
import time

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn


class DigitsNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2),  # 8x8 -> 4x4
        )
        self.classify = nn.Sequential(nn.Flatten(), nn.Dropout(0.2), nn.Linear(32 * 4 * 4, 10))

    def forward(self, x):
        return self.classify(self.features(x))


def main(out_dir: str) -> None:
    torch.manual_seed(0)
    # Batches of 64 8x8 images are too small to share across threads: one thread trains
    # 4-16x faster here (2 s instead of 8-30 s on a 2-core VM) and the same on any machine.
    torch.set_num_threads(1)
    digits = load_digits()
    x_train, x_test, y_train, y_test = train_test_split(
        digits.images, digits.target, test_size=0.25, random_state=0, stratify=digits.target)
    to_input = lambda a: torch.tensor(a, dtype=torch.float32).unsqueeze(1) / 16.0
    xt, yt = to_input(x_train), torch.tensor(y_train)
    model = DigitsNet()
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    started = time.time()
    for epoch in range(40):
        model.train()
        order = torch.randperm(len(xt))
        for i in range(0, len(xt), 64):
            batch = order[i:i + 64]
            optimiser.zero_grad()
            loss = nn.functional.cross_entropy(model(xt[batch]), yt[batch])
            loss.backward()
            optimiser.step()
    model.eval()
    with torch.no_grad():
        predicted = model(to_input(x_test)).argmax(1).numpy()
    accuracy = float((predicted == y_test).mean())
    print(f"digits: trained in {time.time() - started:.1f} s; held-out accuracy {accuracy:.4f} "
          f"on {len(y_test)} images", file=sys.stderr)
    traced = torch.jit.trace(model, torch.zeros(1, 1, 8, 8))
    traced.save(f"{out_dir}/digits.pt")
    with open(f"{out_dir}/digits_test.json", "w") as f:
        json.dump({"images": x_test.astype(np.int64).tolist(), "labels": y_test.tolist(),
                   "python_accuracy": accuracy}, f)


if __name__ == "__main__":
    main(sys.argv[1])
