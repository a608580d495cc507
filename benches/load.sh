#!/usr/bin/env bash
# Load benchmark of the real binary on loopback with wrk (Debian's package):
#   tiny MLP behind the JSON `ok` handler, and ResNet-18 behind the image-classifier example
#   with a 640x480 JPEG; `digits`: the digits example's JSON behind its Rust, Python and
#   JavaScript handlers, one after the other. Prints rps, p50, p99 per case;
#   docs/benchmarks.md records them.
#
#   benches/load.sh [mlp|resnet|digits|all]     (env: DURATION=20s CONNECTIONS=8 THREADS=2)
which="${1:-all}"
duration="${DURATION:-20s}"
conns="${CONNECTIONS:-8}"
threads="${THREADS:-2}"
source "$(dirname "${BASH_SOURCE[0]}")/load/common.sh"
if [ "$which" = digits ]; then
  FERROSERVE_BIN="$bin" scripts/build-examples.sh "$work/examples" >/dev/null
  cp "$work/examples/digits.mar" "$work/examples/digits-python.mar" "$work/examples/digits-js.mar" "$work/store/"
  "$python" -c 'import json, sys; t = json.load(open(sys.argv[1])); json.dump({"image": t["images"][0]}, open(sys.argv[2], "w"))' \
    "$work/examples/digits_test.json" "$work/digit.json"
  start_server --models digits.mar,digits-python.mar,digits-js.mar --log-format "${LOG_FORMAT:-json}"
  url="$inf"
fi
if [ "$which" != mlp ] && [ "$which" != digits ]; then
  FERROSERVE_BIN="$bin" scripts/build-examples.sh "$work/examples" >/dev/null
  cp "$work/examples/resnet18.mar" "$work/store/"
  "$python" benches/load/make_photo.py "$work/photo.jpg"
fi

if [ "$which" != digits ]; then
  start_server --models "$( [ "$which" = mlp ] && echo mlp.mar || echo mlp.mar,resnet18.mar )" \
    --log-format "${LOG_FORMAT:-json}"
  url="$inf"
fi

run() { # name path body content-type
  curl -sf -X POST -H "Content-Type: $4" --data-binary "@$3" "$url$2" > /dev/null || { echo "$1: warm-up request failed" >&2; exit 1; }
  BODY="$3" CONTENT_TYPE="$4" wrk -t"$threads" -c"$conns" -d"$duration" --latency -s benches/load/post.lua "$url$2" \
    | sed -n 's/^RESULT /'"$1"' /p'
}
echo "machine: $(nproc) cores, $(uname -r); wrk -t$threads -c$conns -d$duration; load average: $(cut -d" " -f1-3 /proc/loadavg)"
if [ "$which" = digits ]; then
  for m in digits digits-python digits-js; do run "$m" "/predictions/$m" "$work/digit.json" application/json; done
  echo "load average after: $(cut -d" " -f1-3 /proc/loadavg)"
  exit 0
fi
[ "$which" = resnet ] || run mlp /predictions/mlp "$work/mlp.json" application/json
[ "$which" = mlp ] || run resnet18 /predictions/resnet18 "$work/photo.jpg" image/jpeg
