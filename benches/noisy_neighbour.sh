#!/usr/bin/env bash
# Noisy-neighbour benchmark: tenant B sends steady traffic to its MLP, first alone, then
# while tenant A floods at 10x its concurrency quota, half of it to a handler that loops
# until its deadline. Reports B's success rate and p99 in both phases (docs/benchmarks.md).
#
#   benches/noisy_neighbour.sh      (env: DURATION=20s, QUOTA=4, B_CONNECTIONS=2)
duration="${DURATION:-20s}"
quota="${QUOTA:-4}"
b_conns="${B_CONNECTIONS:-2}"
source "$(dirname "${BASH_SOURCE[0]}")/load/common.sh"
fixture_archive spin spin
start_server --auth tokens --tenants-use-model-store true ${SERVE_ARGS:-}
admin="$(cat "$state/admin.token")"
token() { # name quotas-json
  curl -sf -X POST "$mgmt/tenants" -H "Authorization: Bearer $admin" -H "Content-Type: application/json" -d "{\"name\":\"$1\",\"quotas\":$2}" \
    | "$python" -c 'import json,sys; print(json.load(sys.stdin)["token"])'
}
a="$(token a "{\"max_concurrent_requests\": $quota, \"max_handler_deadline_ms\": 200}")"
b="$(token b '{}')"
curl -sf -X POST "$mgmt/models?url=mlp.mar" -H "Authorization: Bearer $a" >/dev/null
curl -sf -X POST "$mgmt/models?url=spin.mar" -H "Authorization: Bearer $a" >/dev/null
curl -sf -X POST "$mgmt/models?url=mlp.mar" -H "Authorization: Bearer $b" >/dev/null

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
