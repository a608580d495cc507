#!/usr/bin/env bash
# Noisy-neighbour benchmark: tenant B sends steady traffic to its MLP, first alone, then
# while tenant A floods at 10x its concurrency quota, half of it to a handler that loops
# until its deadline. Reports B's success rate and p99 in both phases (docs/benchmarks.md).
#
#   benches/noisy_neighbour.sh      (env: DURATION=20s, QUOTA=4, B_CONNECTIONS=2)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
duration="${DURATION:-20s}"
quota="${QUOTA:-4}"
b_conns="${B_CONNECTIONS:-2}"
work="${LOAD_WORK:-$root/target/load-bench}"
mkdir -p "$work/store"
command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 1; }
scripts/setup.sh >/dev/null
python="${FERROSERVE_PYTHON:-$HOME/.cache/ferroserve/venv/bin/python}"
cargo build --release -p ferroserve -p ferroserve-test-fixtures -q
bin="$root/target/release/ferroserve"
guests="$root/target/wasm-guests/wasm32-wasip2/release"
"$python" examples/models/make_test_models.py "$work/models" >/dev/null
for h in ok spin; do
  "$bin" archive --model-name "$h" --version 1.0 --serialized-file "$work/models/mlp.pt" \
    --handler "$guests/fixture_$h.wasm" --config-file benches/load/mlp.yaml --export-path "$work/store" -f >/dev/null
done
printf '[0.5, -1.25, 2.0, 3.5]' > "$work/mlp.json"

state="$(mktemp -d)"
"$bin" serve --model-store "$work/store" --auth tokens --state-dir "$state" --no-snapshot ${SERVE_ARGS:-} \
  --inference-address 127.0.0.1:0 --management-address 127.0.0.1:0 --metrics-address 127.0.0.1:0 \
  > "$state/out" 2> "$state/log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$state"' EXIT
for _ in $(seq 600); do grep -q "ferroserve listening" "$state/out" 2>/dev/null && break; sleep 0.1; done
inf="$(sed -n 's/.*inference=\([^ ]*\).*/\1/p' "$state/out")"
mgmt="$(sed -n 's/.*management=\([^ ]*\).*/\1/p' "$state/out")"
admin="$(cat "$state/admin.token")"
token() { # name quotas-json
  curl -sf -X POST "$mgmt/tenants" -H "Authorization: Bearer $admin" -H "Content-Type: application/json" -d "{\"name\":\"$1\",\"quotas\":$2}" \
    | "$python" -c 'import json,sys; print(json.load(sys.stdin)["token"])'
}
a="$(token a "{\"max_concurrent_requests\": $quota, \"max_handler_deadline_ms\": 200}")"
b="$(token b '{}')"
curl -sf -X POST "$mgmt/models?url=ok.mar&model_name=mlp" -H "Authorization: Bearer $a" >/dev/null
curl -sf -X POST "$mgmt/models?url=spin.mar" -H "Authorization: Bearer $a" >/dev/null
curl -sf -X POST "$mgmt/models?url=ok.mar&model_name=mlp" -H "Authorization: Bearer $b" >/dev/null

wrk_b() {
  BODY="$work/mlp.json" CONTENT_TYPE=application/json wrk -t1 -c"$b_conns" -d"$duration" --latency \
    -H "Authorization: Bearer $b" -s benches/load/post.lua "$inf/predictions/mlp" | sed -n 's/^RESULT /B /p'
}
wrk_a() { # path connections
  BODY="$work/mlp.json" CONTENT_TYPE=application/json wrk -t1 -c"$2" -d"$duration" --latency \
    -H "Authorization: Bearer $a" -s benches/load/post.lua "$inf$1" | sed -n 's/^RESULT /A'"${1##*/}"' /p'
}
flood=$((quota * 10 / 2))
echo "machine: $(nproc) cores; B: wrk -c$b_conns; A's quota: $quota in flight, 200 ms handler deadline"
echo "== B alone"
wrk_b
echo "== B while A floods with $((flood * 2)) connections (10x its quota), half to a looping handler"
wrk_a "${SPIN_PATH:-/predictions/spin}" "$flood" & spin=$!
wrk_a /predictions/mlp "$flood" & mlp=$!
wrk_b
wait "$spin" "$mlp"
