#!/usr/bin/env bash
# Builds the example archives into OUT_DIR: the handlers (wasm32-wasip2), the models (each
# example's make_model.py, skipped when its outputs are newer than the script), then
# `ferroserve archive`. Idempotent and quick on a second run.
#
#   scripts/build-examples.sh OUT_DIR
#   env: FERROSERVE_BIN (default target/release/ferroserve), FERROSERVE_PYTHON,
#        EXAMPLES_TARGET_DIR (default target/examples)
#
# OUT_DIR gets digits.mar, resnet18.mar and digits_test.json (scikit-learn's held-out split).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:?usage: scripts/build-examples.sh OUT_DIR}"
mkdir -p "$out/work/digits" "$out/work/image-classifier"
out="$(cd "$out" && pwd)"
python="${FERROSERVE_PYTHON:-$HOME/.cache/ferroserve/venv/bin/python}"
bin="${FERROSERVE_BIN:-$root/target/release/ferroserve}"
[ -x "$bin" ] || { echo "no ferroserve binary at $bin: cargo build --release -p ferroserve, or set FERROSERVE_BIN" >&2; exit 1; }
target="${EXAMPLES_TARGET_DIR:-$root/target/examples}"

(cd "$root/examples" && CARGO_TARGET_DIR="$target" cargo build --quiet --release --target wasm32-wasip2)
wasm="$target/wasm32-wasip2/release"

# make MODEL_SCRIPT DIR OUTPUT...: run the script unless every output is newer than it.
make() {
  local script="$1" dir="$2"; shift 2
  for f in "$@"; do
    if [ ! -f "$dir/$f" ] || [ "$script" -nt "$dir/$f" ]; then
      "$python" "$script" "$dir"
      return
    fi
  done
}
make "$root/examples/digits/make_model.py" "$out/work/digits" digits.pt digits_test.json
make "$root/examples/image-classifier/make_model.py" "$out/work/image-classifier" resnet18.pt labels.txt

"$bin" archive --model-name digits --version 1.0 \
  --serialized-file "$out/work/digits/digits.pt" --handler "$wasm/digits.wasm" \
  --config-file "$root/examples/digits/model-config.yaml" --export-path "$out" -f
"$bin" archive --model-name resnet18 --version 1.0 \
  --serialized-file "$out/work/image-classifier/resnet18.pt" --handler "$wasm/image_classifier.wasm" \
  --extra-files "$out/work/image-classifier/labels.txt" \
  --config-file "$root/examples/image-classifier/model-config.yaml" --export-path "$out" -f
cp "$out/work/digits/digits_test.json" "$out/"
