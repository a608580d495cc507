"""Makes the TorchScript models that ferroserve's tests and benches run, plus Python's own
outputs for fixed inputs so the Rust side can compare against them.

Run with the project's venv (scripts/setup.sh makes it):

    ~/.cache/ferroserve/venv/bin/python examples/models/make_test_models.py OUT_DIR [--force]

Nothing here is committed: tests call this through `ferroserve_torch::test_models`, which
runs it once into a cache directory. ResNet-18 (~45 MB) is skipped when its file exists
unless --force is given; the small models are always rewritten (they take milliseconds).

What OUT_DIR gets:
  mlp.pt         Linear(4, 8) -> ReLU -> Linear(8, 3), traced; seed 0
  resnet18.pt    torchvision ResNet-18, random weights (seed 0), eval mode, traced
  raises.pt      scripted; doubles x, raises ValueError when any element of x is negative
  tuple.pt       scripted; returns (x + 1, x * 2)
  list.pt        scripted; returns [x, x * 3]
  dict.pt        scripted; returns {"double": x * 2, "negated": -x}
  two_inputs.pt  scripted; forward(a, b) returns a - 2 * b (tells the argument order apart)
  echo.pt        scripted; returns (x.clone(), x.to(float64)) for any dtype
  fixtures.json  {"arrays": {name: {"file", "dtype": "f32", "shape"}}, "models": {...}}
  *.f32          the arrays: raw little-endian float32, row-major

Arrays: mlp.input [8, 4], mlp.output [8, 3] (one batch of 8), mlp.output_alone [8, 3]
(row i = the output for input row i run as a batch of 1); the same three for resnet18
with input [8, 3, 224, 224] and output [8, 1000].
"""

import argparse
import json
import os
import sys
from typing import Dict, List, Tuple

import torch
from torch import nn

SEED = 0
TORCH_VERSION = "2.13.0"


class Mlp(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(4, 8)
        self.fc2 = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(torch.relu(self.fc1(x)))


class Raises(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if bool((x < 0).any()):
            raise ValueError("negative input: this model accepts only x >= 0")
        return x * 2


class ReturnsTuple(nn.Module):
    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        return x + 1, x * 2


class ReturnsList(nn.Module):
    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        return [x, x * 3]


class ReturnsDict(nn.Module):
    def forward(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        return {"double": x * 2, "negated": -x}


class TwoInputs(nn.Module):
    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return a - 2 * b


class Echo(nn.Module):
    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        return x.clone(), x.to(torch.float64)


def save_atomic(module: torch.jit.ScriptModule, path: str) -> None:
    """Writes beside the target and renames, so a reader never sees half a file."""
    tmp = f"{path}.tmp.{os.getpid()}"
    module.save(tmp)
    os.replace(tmp, path)


def save_array(out: str, arrays: dict, name: str, tensor: torch.Tensor) -> None:
    tensor = tensor.detach().to(torch.float32).contiguous()
    file = f"{name}.f32"
    tmp = os.path.join(out, f"{file}.tmp.{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(tensor.numpy().astype("<f4").tobytes())
    os.replace(tmp, os.path.join(out, file))
    arrays[name] = {"file": file, "dtype": "f32", "shape": list(tensor.shape)}


def outputs_alone(model: torch.jit.ScriptModule, inputs: torch.Tensor) -> torch.Tensor:
    """Row i = the model's output for row i of `inputs` run as a batch of one."""
    return torch.cat([model(inputs[i : i + 1]) for i in range(inputs.shape[0])])


def make_mlp(out: str, arrays: dict) -> None:
    torch.manual_seed(SEED)
    model = Mlp().eval()
    traced = torch.jit.trace(model, torch.zeros(1, 4))
    save_atomic(traced, os.path.join(out, "mlp.pt"))
    gen = torch.Generator().manual_seed(SEED + 1)
    inputs = torch.randn(8, 4, generator=gen)
    save_array(out, arrays, "mlp.input", inputs)
    save_array(out, arrays, "mlp.output", traced(inputs))
    save_array(out, arrays, "mlp.output_alone", outputs_alone(traced, inputs))


def make_resnet18(out: str, arrays: dict, force: bool) -> None:
    import torchvision  # only this model needs it

    path = os.path.join(out, "resnet18.pt")
    if force or not os.path.exists(path):
        torch.manual_seed(SEED)
        model = torchvision.models.resnet18(weights=None).eval()
        traced = torch.jit.trace(model, torch.zeros(1, 3, 224, 224))
        save_atomic(traced, path)
    traced = torch.jit.load(path)
    names = ("resnet18.input", "resnet18.output", "resnet18.output_alone")
    if not force and all(os.path.exists(os.path.join(out, f"{n}.f32")) for n in names):
        shapes = ([8, 3, 224, 224], [8, 1000], [8, 1000])
        for name, shape in zip(names, shapes):
            arrays[name] = {"file": f"{name}.f32", "dtype": "f32", "shape": shape}
        return
    gen = torch.Generator().manual_seed(SEED + 2)
    inputs = torch.randn(8, 3, 224, 224, generator=gen)
    save_array(out, arrays, "resnet18.input", inputs)
    save_array(out, arrays, "resnet18.output", traced(inputs))
    save_array(out, arrays, "resnet18.output_alone", outputs_alone(traced, inputs))


SCRIPTED = {
    "raises": Raises,
    "tuple": ReturnsTuple,
    "list": ReturnsList,
    "dict": ReturnsDict,
    "two_inputs": TwoInputs,
    "echo": Echo,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir")
    parser.add_argument("--force", action="store_true", help="remake ResNet-18 too")
    args = parser.parse_args()

    version = torch.__version__.split("+")[0]
    if version != TORCH_VERSION:
        print(f"need torch {TORCH_VERSION} (tch 0.26 links it), found {version}", file=sys.stderr)
        return 2
    os.makedirs(args.out_dir, exist_ok=True)
    # Single-threaded intra-op so the saved outputs do not depend on the machine's cores.
    torch.set_num_threads(1)

    arrays: dict = {}
    with torch.no_grad():
        make_mlp(args.out_dir, arrays)
        for name, cls in SCRIPTED.items():
            save_atomic(torch.jit.script(cls().eval()), os.path.join(args.out_dir, f"{name}.pt"))
        make_resnet18(args.out_dir, arrays, args.force)

    models = {name: f"{name}.pt" for name in ["mlp", "resnet18", *SCRIPTED]}
    manifest = {"torch": torch.__version__, "seed": SEED, "models": models, "arrays": arrays}
    tmp = os.path.join(args.out_dir, f"fixtures.json.tmp.{os.getpid()}")
    with open(tmp, "w") as f:
        json.dump(manifest, f, indent=2, sort_keys=True)
    os.replace(tmp, os.path.join(args.out_dir, "fixtures.json"))
    print(f"test models written to {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
