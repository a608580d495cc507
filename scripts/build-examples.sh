#!/usr/bin/env bash
# Builds the example archives into OUT_DIR: the handlers (wasm32-wasip2), the models (each
# example's make_model.py), then `ferroserve archive`, and checks the result. Models and
# archives are remade only when older than their inputs: idempotent, ~2 s on a second run.
#
#   scripts/build-examples.sh OUT_DIR
#   env: FERROSERVE_BIN (default target/release/ferroserve), FERROSERVE_PYTHON,
#        EXAMPLES_TARGET_DIR (default target/examples)
#
# OUT_DIR gets digits.mar, resnet18.mar and digits_test.json (scikit-learn's held-out split),
# digits-python.mar and digits-js.mar (the same model behind the Python and JavaScript
# handlers) and sentiment.mar (the Python port of TorchServe's text classifier). The Python
# and JS handlers are built by `ferroserve handler build`, which skips an unchanged build by
# the hash of its inputs (it needs componentize-py/-js: scripts/setup.sh installs them).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:?usage: scripts/build-examples.sh OUT_DIR}"
mkdir -p "$out/work/digits" "$out/work/image-classifier" "$out/work/text-classifier"
out="$(cd "$out" && pwd)"
python="${FERROSERVE_PYTHON:-$HOME/.cache/ferroserve/venv/bin/python}"
bin="${FERROSERVE_BIN:-$root/target/release/ferroserve}"
[ -x "$bin" ] || { echo "no ferroserve binary at $bin: cargo build --release -p ferroserve, or set FERROSERVE_BIN" >&2; exit 1; }
target="${EXAMPLES_TARGET_DIR:-$root/target/examples}"

(cd "$root/examples" && CARGO_TARGET_DIR="$target" cargo build --quiet --release --target wasm32-wasip2)
wasm="$target/wasm32-wasip2/release"

# make_model MODEL_SCRIPT DIR OUTPUT...: run the script unless every output is newer than it.
make_model() {
  local script="$1" dir="$2"; shift 2
  for f in "$@"; do
    if [ ! -f "$dir/$f" ] || [ "$script" -nt "$dir/$f" ]; then
      "$python" "$script" "$dir"
      return
    fi
  done
}
make_model "$root/examples/digits/make_model.py" "$out/work/digits" digits.pt digits_test.json
make_model "$root/examples/image-classifier/make_model.py" "$out/work/image-classifier" resnet18.pt labels.txt
make_model "$root/examples/text-classifier-python/make_model.py" "$out/work/text-classifier" sentiment.pt vocab.txt index_to_name.json

# scripted PROJECT: builds examples/PROJECT from a copy under OUT_DIR/work (so the build's
# generated files stay out of the source tree) into OUT_DIR/work/PROJECT.wasm.
scripted() {
  local src="$out/work/src/$1"
  mkdir -p "$src"
  cp -p "$root/examples/$1/"*.toml "$root/examples/$1/handler."* "$src/"
  "$bin" handler build "$src" --out "$out/work/$1.wasm" | tail -1
}
scripted digits-python
scripted digits-js
scripted text-classifier-python

# stale TARGET INPUT...: whether TARGET is missing or older than any input.
stale() {
  local target="$1" f; shift
  [ -f "$target" ] || return 0
  for f in "$@"; do [ "$f" -nt "$target" ] && return 0; done
  return 1
}
d="$out/work/digits" i="$out/work/image-classifier"
if stale "$out/digits.mar" "$d/digits.pt" "$wasm/digits.wasm" "$root/examples/digits/model-config.yaml" "$bin"; then
  "$bin" archive --model-name digits --version 1.0 \
    --serialized-file "$d/digits.pt" --handler "$wasm/digits.wasm" \
    --config-file "$root/examples/digits/model-config.yaml" --export-path "$out" -f
fi
if stale "$out/resnet18.mar" "$i/resnet18.pt" "$i/labels.txt" "$wasm/image_classifier.wasm" \
    "$root/examples/image-classifier/model-config.yaml" "$bin"; then
  "$bin" archive --model-name resnet18 --version 1.0 \
    --serialized-file "$i/resnet18.pt" --handler "$wasm/image_classifier.wasm" --extra-files "$i/labels.txt" \
    --config-file "$root/examples/image-classifier/model-config.yaml" --export-path "$out" -f
fi
for lang in python js; do
  if stale "$out/digits-$lang.mar" "$d/digits.pt" "$out/work/digits-$lang.wasm" "$root/examples/digits-$lang/model-config.yaml" "$bin"; then
    "$bin" archive --model-name "digits-$lang" --version 1.0 \
      --serialized-file "$d/digits.pt" --handler "$out/work/digits-$lang.wasm" \
      --config-file "$root/examples/digits-$lang/model-config.yaml" --export-path "$out" -f
  fi
done
t="$out/work/text-classifier"
if stale "$out/sentiment.mar" "$t/sentiment.pt" "$t/vocab.txt" "$out/work/text-classifier-python.wasm" \
    "$root/examples/text-classifier-python/model-config.yaml" "$bin"; then
  "$bin" archive --model-name sentiment --version 1.0 \
    --serialized-file "$t/sentiment.pt" --handler "$out/work/text-classifier-python.wasm" \
    --extra-files "$t/vocab.txt,$t/index_to_name.json" \
    --config-file "$root/examples/text-classifier-python/model-config.yaml" --export-path "$out" -f
fi
cp "$out/work/digits/digits_test.json" "$out/"

# Check what was made the way a user would: the archives validate (their handlers compile
# and link against the world), and the digits handler's preprocess runs on the first held-out
# image. The inspections are quiet on success (their verdict line), whole on failure.
quietly() {
  local log
  if log="$("$@" 2>&1)"; then echo "${log##*$'\n'}"; else echo "$log" >&2; exit 1; fi
}
quietly "$bin" archive inspect "$out/digits.mar"
quietly "$bin" archive inspect "$out/resnet18.mar"
"$python" -c 'import json, sys; t = json.load(open(sys.argv[1])); json.dump({"image": t["images"][0]}, open(sys.argv[2], "w"))' \
  "$out/digits_test.json" "$out/work/digits/sample.json"
"$bin" handler check "$wasm/digits.wasm" --body "$out/work/digits/sample.json" --content-type application/json

for f in digits.mar resnet18.mar digits-python.mar digits-js.mar sentiment.mar digits_test.json; do
  printf 'made %s (%s bytes)\n' "$out/$f" "$(stat -c %s "$out/$f")"
done
