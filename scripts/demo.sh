#!/usr/bin/env bash
# The demo command: installs what it needs (idempotent), builds, makes the example models
# and archives (scripts/build-examples.sh), then serves both examples in the foreground and
# prints the curl lines to try. Ctrl-C stops it (gracefully).
#
# Env: DEMO_DIR (default target/demo), FERROSERVE_* settings (docs/configuration.md).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh
cargo build --release -p ferroserve
target="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
bin="$target/release/ferroserve"
demo="${DEMO_DIR:-$target/demo}"
mkdir -p "$demo/store"
FERROSERVE_BIN="$bin" bash scripts/build-examples.sh "$demo/examples"
cp "$demo/examples/digits.mar" "$demo/examples/resnet18.mar" "$demo/store/"

# Sample inputs: one held-out digit as JSON, and a photo-sized JPEG.
python="${FERROSERVE_PYTHON:-$HOME/.cache/ferroserve/venv/bin/python}"
"$python" - "$demo" <<'PY'
import json, sys
import numpy as np
from PIL import Image
demo = sys.argv[1]
test = json.load(open(f"{demo}/examples/digits_test.json"))
json.dump({"image": test["images"][0]}, open(f"{demo}/digit.json", "w"))
print(f"digit.json is a held-out {test['labels'][0]}", file=sys.stderr)
rng = np.random.default_rng(0)
y, x = np.mgrid[0:480, 0:640]
img = np.stack([(x * 0.4) % 256, (y * 0.5) % 256, ((x + y) * 0.2) % 256], -1)
img = np.clip(img + rng.normal(0, 12, img.shape), 0, 255).astype(np.uint8)
Image.fromarray(img).save(f"{demo}/photo.jpg", quality=90)
PY

cat <<TXT

== ferroserve demo: serving digits and resnet18 from $demo/store. Try, in another terminal:

  curl http://127.0.0.1:8080/ping
  curl -X POST http://127.0.0.1:8080/predictions/digits -H 'Content-Type: application/json' -d @$demo/digit.json
  curl -X POST http://127.0.0.1:8080/predictions/resnet18 -H 'Content-Type: image/jpeg' --data-binary @$demo/photo.jpg
  curl -X POST http://127.0.0.1:8080/predictions/digits -d '{"image": [[1,2]]}'        # a 400 that says why
  curl http://127.0.0.1:8081/models
  curl http://127.0.0.1:8081/models/digits
  curl -X PUT 'http://127.0.0.1:8081/models/digits?min_worker=2&max_worker=2'
  curl -X DELETE http://127.0.0.1:8081/models/resnet18
  curl -X POST http://127.0.0.1:8081/models --data-binary @$demo/store/resnet18.mar   # upload it back
  curl http://127.0.0.1:8082/metrics

(ResNet-18's weights are random: no download is possible here; its labels are ImageNet's.)
Ctrl-C stops the server after in-flight requests finish.

TXT
exec "$bin" serve --model-store "$demo/store" --models digits.mar,resnet18.mar \
  --state-dir "$demo/state" --no-snapshot --log-format "${FERROSERVE_LOG_FORMAT:-text}"
