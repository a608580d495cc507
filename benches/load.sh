#!/usr/bin/env bash
# Load benchmark of the real binary on loopback with wrk (Debian's package):
#   tiny MLP behind the JSON `ok` handler, and ResNet-18 behind the image-classifier example
#   with a 640x480 JPEG. Prints rps, p50, p99 per case; docs/benchmarks.md records them.
#
#   benches/load.sh [mlp|resnet|all]     (env: DURATION=20s CONNECTIONS=8 THREADS=2)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
which="${1:-all}"
duration="${DURATION:-20s}"
conns="${CONNECTIONS:-8}"
threads="${THREADS:-2}"
work="${LOAD_WORK:-$root/target/load-bench}"
mkdir -p "$work/store"

command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 1; }
scripts/setup.sh >/dev/null
python="${FERROSERVE_PYTHON:-$HOME/.cache/ferroserve/venv/bin/python}"
cargo build --release -p ferroserve -q
# The guest fixtures (the JSON `ok` handler) are built by the test-fixtures crate.
cargo build --release -p ferroserve-test-fixtures -q
bin="$root/target/release/ferroserve"
guests="$(ls -d "$root"/target/wasm-guests/wasm32-wasip2/release)"

"$python" examples/models/make_test_models.py "$work/models" >/dev/null
"$bin" archive --model-name mlp --version 1.0 --serialized-file "$work/models/mlp.pt" \
  --handler "$guests/fixture_ok.wasm" --config-file benches/load/mlp.yaml --export-path "$work/store" -f >/dev/null
printf '[0.5, -1.25, 2.0, 3.5]' > "$work/mlp.json"
if [ "$which" != mlp ]; then
  FERROSERVE_BIN="$bin" scripts/build-examples.sh "$work/examples" >/dev/null
  cp "$work/examples/resnet18.mar" "$work/store/"
  "$python" - "$work/photo.jpg" <<'PY'
import sys
import numpy as np
from PIL import Image
# A smooth synthetic 640x480 photo-like image (gradients + noise), JPEG quality 90.
rng = np.random.default_rng(0)
y, x = np.mgrid[0:480, 0:640]
img = np.stack([(x * 0.4) % 256, (y * 0.5) % 256, ((x + y) * 0.2) % 256], -1)
img = np.clip(img + rng.normal(0, 12, img.shape), 0, 255).astype(np.uint8)
Image.fromarray(img).save(sys.argv[1], quality=90)
PY
fi

state="$(mktemp -d)"
"$bin" serve --model-store "$work/store" --models "$( [ "$which" = mlp ] && echo mlp.mar || echo mlp.mar,resnet18.mar )" \
  --state-dir "$state" --no-snapshot --inference-address 127.0.0.1:0 --management-address 127.0.0.1:0 \
  --metrics-address 127.0.0.1:0 --log-format "${LOG_FORMAT:-json}" > "$state/out" 2> "$state/log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$state"' EXIT
for _ in $(seq 600); do grep -q "ferroserve listening" "$state/out" 2>/dev/null && break; sleep 0.1; done
url="$(sed -n 's/.*inference=\([^ ]*\).*/\1/p' "$state/out")"
[ -n "$url" ] || { cat "$state/log" >&2; exit 1; }

run() { # name path body content-type
  curl -sf -X POST -H "Content-Type: $4" --data-binary "@$3" "$url$2" > /dev/null || { echo "$1: warm-up request failed" >&2; exit 1; }
  BODY="$3" CONTENT_TYPE="$4" wrk -t"$threads" -c"$conns" -d"$duration" --latency -s benches/load/post.lua "$url$2" \
    | sed -n 's/^RESULT /'"$1"' /p'
}
echo "machine: $(nproc) cores, $(uname -r); wrk -t$threads -c$conns -d$duration"
[ "$which" = resnet ] || run mlp /predictions/mlp "$work/mlp.json" application/json
[ "$which" = mlp ] || run resnet18 /predictions/resnet18 "$work/photo.jpg" image/jpeg
