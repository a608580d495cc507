"""Makes the image-classifier example's model: torchvision's ResNet-18, traced, with its
1,000 ImageNet labels. Run with the project's venv:

    ~/.cache/ferroserve/venv/bin/python examples/image-classifier/make_model.py OUT_DIR

The weights are RANDOM (seed 0): this machine cannot download torchvision's pretrained
weights, so the top-5 are labels of the right shape, not a real classification. The labels
are real: torchvision ships ImageNet's category names inside the package. To serve the
pretrained model, replace `weights=None` with `weights=ResNet18_Weights.IMAGENET1K_V1` on
a machine that can download it; nothing else changes.

Writes OUT_DIR/resnet18.pt ([N,3,224,224] f32 -> [N,1000] logits) and OUT_DIR/labels.txt.
"""

import sys

import torch
from torchvision.models import ResNet18_Weights, resnet18


def main(out_dir: str) -> None:
    torch.manual_seed(0)
    model = resnet18(weights=None).eval()
    with torch.no_grad():
        traced = torch.jit.trace(model, torch.zeros(1, 3, 224, 224))
    traced.save(f"{out_dir}/resnet18.pt")
    labels = ResNet18_Weights.IMAGENET1K_V1.meta["categories"]
    assert len(labels) == 1000
    with open(f"{out_dir}/labels.txt", "w") as f:
        f.write("\n".join(labels) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
