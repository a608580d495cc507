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
  Hostile ones, for the tenant-cell tests (each takes x [N, 4] like the MLP):
  forever.pt     scripted; `while True` in forward, never returns
  wide.pt        scripted; returns x[:, :1].expand(N, 2**38): a view whose copy is 1 TiB a row
  hog.pt         scripted; allocates and fills x[0, 0] MiB, then returns x (0: nothing)
  deep_pickle.pt a 400 KB file whose data.pkl nests 200,000 lists (overflows a loader's stack)
  lying.pt       a 1.6 KB file whose pickle declares a 2 GiB storage for a 4-float buffer
  reads.pt       scripted; returns the first 16 bytes of /etc/passwd (torch.from_file), a row each
  chatty.pt      scripted; prints 200,000 lines (~6 MB), then returns x
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


class Forever(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        i = 0
        while True:
            i += 1
        return x


class Wide(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :1].expand(x.size(0), 1 << 38)


class Hog(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mib = int(x[0, 0].item())
        if mib > 0:
            # ones() writes every page, so the memory is really taken.
            return x + torch.ones(mib * 262144).sum() * 0.0
        return x


class Reads(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        leaked = torch.from_file("/etc/passwd", False, 16, dtype=torch.uint8)
        return leaked.to(torch.float32).unsqueeze(0).repeat(x.size(0), 1)


class Chatty(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i in range(200_000):
            print("chatty model line", i)
        return x


class Buffer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("w", torch.zeros(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.w.sum()


def rewrite_pickle(src: str, dst: str, edit) -> None:
    """Copies a saved TorchScript zip with its data.pkl passed through `edit`."""
    import zipfile

    tmp = f"{dst}.tmp.{os.getpid()}"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename.endswith("/data.pkl"):
                data = edit(data)
            zout.writestr(item, data)
    os.replace(tmp, dst)


def make_hostile(out: str) -> None:
    for name, cls in {"forever": Forever, "wide": Wide, "hog": Hog, "reads": Reads, "chatty": Chatty}.items():
        save_atomic(torch.jit.script(cls().eval()), os.path.join(out, f"{name}.pt"))
    base = os.path.join(out, f"buffer.tmp.{os.getpid()}.pt")
    save_atomic(torch.jit.script(Buffer().eval()), base)
    depth = 200_000
    # EMPTY_LIST x depth, then APPEND x (depth - 1): each list inside the one before.
    nested = b"\x80\x02" + b"]" * depth + b"a" * (depth - 1) + b"."
    rewrite_pickle(base, os.path.join(out, "deep_pickle.pt"), lambda _: nested)
    # The storage's element count (BININT1 4, after the device string) becomes 2**29.
    marker = b"X\x03\x00\x00\x00cpuq\x06K\x04t"

    def lie(pkl: bytes) -> bytes:
        assert pkl.count(marker) == 1, "the buffer's storage record moved; update the marker"
        return pkl.replace(marker, marker[:-3] + b"J" + (1 << 29).to_bytes(4, "little") + b"t")

    rewrite_pickle(base, os.path.join(out, "lying.pt"), lie)
    os.remove(base)


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


HOSTILE = ["forever", "wide", "hog", "deep_pickle", "lying", "reads", "chatty"]


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
        make_hostile(args.out_dir)
        make_resnet18(args.out_dir, arrays, args.force)

    models = {name: f"{name}.pt" for name in ["mlp", "resnet18", *SCRIPTED, *HOSTILE]}
    manifest = {"torch": torch.__version__, "seed": SEED, "models": models, "arrays": arrays}
    tmp = os.path.join(args.out_dir, f"fixtures.json.tmp.{os.getpid()}")
    with open(tmp, "w") as f:
        json.dump(manifest, f, indent=2, sort_keys=True)
    os.replace(tmp, os.path.join(args.out_dir, "fixtures.json"))
    print(f"test models written to {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
