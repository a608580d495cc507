#!/usr/bin/env bash
# Triton's perf_analyzer against ferroserve's KServe v2 endpoints (HTTP, binary tensors;
# gRPC) beside wrk on TorchServe's REST route, for the same MLP in one server and one run.
# Prints throughput and latency per case; docs/benchmarks.md records them.
#
#   benches/perf_analyzer.sh     (env: CONCURRENCY=8 INTERVAL_MS=5000 DURATION=20s)
#
# The MLP ([4] → [3], the JSON `ok` handler for REST) is batched up to 8 after 1 ms, two
# workers (benches/load/mlp.yaml). perf_analyzer sends batch-1 requests of random data.
conc="${CONCURRENCY:-8}"
interval="${INTERVAL_MS:-5000}"
duration="${DURATION:-20s}"
source "$(dirname "${BASH_SOURCE[0]}")/load/common.sh"
bash scripts/perf-analyzer.sh
start_server --models mlp.mar --log-format json
grpc="$(sed -n 's/.*grpc_inference=\([^ ]*\).*/\1/p' "$state/out")"

pa() { # name args...
  local name="$1"; shift
  bash scripts/perf-analyzer.sh -m mlp --concurrency-range "$conc" \
    --measurement-interval "$interval" "$@" 2>&1 \
    | awk -v n="$name" '/Throughput:/ {t=$2} /p50 latency:/ {p50=$3} /p99 latency:/ {p99=$3}
        END {if (t == "") exit 1; printf "%s rps=%s p50_ms=%.2f p99_ms=%.2f\n", n, t, p50/1000, p99/1000}'
}
echo "machine: $(nproc) cores, $(uname -r); concurrency $conc; perf_analyzer interval ${interval} ms; wrk -t2 -c$conc -d$duration"
curl -sf -X POST -H "Content-Type: application/json" --data-binary "@$work/mlp.json" "$inf/predictions/mlp" >/dev/null
BODY="$work/mlp.json" CONTENT_TYPE=application/json wrk -t2 -c"$conc" -d"$duration" --latency \
  -s benches/load/post.lua "$inf/predictions/mlp" | sed -n 's/^RESULT /wrk-rest-predictions /p'
pa perf_analyzer-http-v2 -i http -u "${inf#http://}"
if [ -n "$grpc" ] && [ "$grpc" != off ]; then
  pa perf_analyzer-grpc-v2 -i grpc -u "$grpc"
else
  echo "perf_analyzer-grpc-v2: no gRPC listener" >&2
fi
