#!/usr/bin/env bash
# Idempotent setup: libtorch (PyTorch from PyPI, in a venv outside the clone), the
# wasm32-wasip2 target, and .cargo/config.toml wiring so plain `cargo build`/`cargo test`
# work afterwards. Safe to run again: each step checks before it acts.
set -euo pipefail

TORCH_VERSION="2.13.0"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${FERROSERVE_CACHE:-$HOME/.cache/ferroserve}"
venv="$cache/venv"
mkdir -p "$cache"

log() { printf '[setup] %s\n' "$*" >&2; }

# 1. The venv with torch==$TORCH_VERSION (plus what the model scripts and tests use).
have=""
if [ -x "$venv/bin/python" ]; then
  have="$("$venv/bin/python" -c 'import torch; print(torch.__version__.split("+")[0])' 2>/dev/null || true)"
fi
if [ "$have" != "$TORCH_VERSION" ]; then
  log "creating $venv with torch==$TORCH_VERSION (found: ${have:-none}); ~5 GB, a few minutes"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --upgrade pip
  "$venv/bin/pip" install --quiet "torch==$TORCH_VERSION"
else
  log "torch $have present in $venv"
fi
# Small extras, installed only when missing (pip is slow even when satisfied), each as
# "requirement:module to import". torchvision 0.28.0 is the release built against torch
# 2.13.0 (examples/models/make_test_models.py uses its ResNet-18); torch-model-archiver is
# for the archive compatibility test; scikit-learn ships the digits data the example trains on;
# kubernetes-validate (with jsonschema and PyYAML) checks deploy/'s manifests offline;
# tritonclient, kserve (KServe's Python SDK) and grpcio-tools (stubs from TorchServe's
# protos) are the real clients the protocol tests drive. tritonclient and kserve both
# register protobuf package `inference`: never import them in one process.
extras=("numpy:numpy" "torchvision==0.28.0:torchvision" "torch-model-archiver==0.12.0:model_archiver" "scikit-learn:sklearn" "kubernetes-validate==1.37.0:kubernetes_validate" "tritonclient[all]==2.73.0:tritonclient.grpc" "kserve==0.21.0:kserve" "grpcio-tools==1.81.1:grpc_tools")
missing=()
for entry in "${extras[@]}"; do
  "$venv/bin/python" -c "import ${entry##*:}" 2>/dev/null || missing+=("${entry%:*}")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  "$venv/bin/pip" install --quiet "${missing[@]}"
fi

# 2. The guest target.
if ! rustup target list --installed | grep -qx wasm32-wasip2; then
  log "adding rust target wasm32-wasip2"
  rustup target add wasm32-wasip2
fi

# 3. The Python and JavaScript handler toolchains, where `ferroserve handler build` looks
#    for them ($FERROSERVE_HANDLER_TOOLS, default ~/.cache/ferroserve/handler-tools; the
#    versions are crates/cli/src/handler/tools.rs's): componentize-py in a venv of its own,
#    componentize-js in a node_modules (npm; ~400 MB). Skipped without python3 or npm.
tools="${FERROSERVE_HANDLER_TOOLS:-$cache/handler-tools}"
if [ ! -x "$tools/python/bin/componentize-py" ]; then
  log "installing componentize-py 0.25.1 into $tools/python"
  python3 -m venv "$tools/python"
  "$tools/python/bin/pip" install --quiet "componentize-py==0.25.1"
fi
if [ ! -f "$tools/node/node_modules/@bytecodealliance/componentize-js/package.json" ]; then
  if command -v npm >/dev/null; then
    log "installing @bytecodealliance/componentize-js 0.23.0 into $tools/node"
    mkdir -p "$tools/node"
    [ -f "$tools/node/package.json" ] || echo '{"private": true}' > "$tools/node/package.json"
    npm install --prefix "$tools/node" --no-audit --no-fund --loglevel=error "@bytecodealliance/componentize-js@0.23.0"
  else
    log "npm not found: JavaScript handlers cannot be built (apt install npm)"
  fi
fi

# 4. Cargo wiring: torch-sys reads LIBTORCH; the ABI flag comes from the wheel itself.
torch_dir="$("$venv/bin/python" -c 'import torch, os; print(os.path.dirname(torch.__file__))')"
abi="$("$venv/bin/python" -c 'import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))')"
mkdir -p "$root/.cargo"
config="$root/.cargo/config.toml"
want="$(cat <<TOML
# Written by scripts/setup.sh; not tracked. Points torch-sys at the venv's libtorch.
[env]
LIBTORCH = "$torch_dir"
LIBTORCH_CXX11_ABI = "$abi"
FERROSERVE_PYTHON = "$venv/bin/python"
TOML
)"
if [ ! -f "$config" ] || [ "$(cat "$config")" != "$want" ]; then
  log "writing $config"
  printf '%s\n' "$want" > "$config"
fi
log "ready: libtorch at $torch_dir"
