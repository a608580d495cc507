#!/usr/bin/env bash
# Hostile-neighbour benchmark (issue 13): tenant B sends steady traffic to its MLP with
# default quotas, first alone, then while tenant A, also on default quotas, attacks at its
# quota with everything it has at once: calls that spin and calls that sleep until their
# deadline (its 16 in-flight slots), 200 stalled request bodies reopened as the server
# closes them, a loop of scale requests (in range and out of it) on its own model, and a
# loop of 5 MB junk uploads (each loop one long-lived client, benches/load/churn.py: a curl
# process per request cost these shared cores more than its requests did). Reports B's
# rps, p50, p99, non-2xx alone, during the attack and alone again, and the p99 during over
# the mean of the two alone phases (target: B 100 % successful, p99 <= 1.5x alone);
# docs/benchmarks.md has runs.
#
#   benches/hostile_neighbour.sh     (env: DURATION=20, B_CONNECTIONS=2, FERROSERVE_BIN,
#                                     ATTACKS="spin sleep stall scale upload": a subset,
#                                     ATTACKER_NICE=N: A's client processes at nice N)
duration="${DURATION:-20}"
# A attacks from 1 s before B's measurement until 1 s after it.
a_duration=$((duration + 2))
attacks="${ATTACKS:-spin sleep stall scale upload}"
on() { [[ " $attacks " == *" $1 "* ]]; }
# A's clients share these 2 cores with the server; ATTACKER_NICE lowers their priority
# (not the server's work for them), as if they ran on a machine of their own.
nice_a=(nice -n "${ATTACKER_NICE:-0}")
b_conns="${B_CONNECTIONS:-2}"
source "$(dirname "${BASH_SOURCE[0]}")/load/common.sh"
fixture_archive spin spin
fixture_archive sleep sleep
start_server --auth tokens --tenants-use-model-store true ${SERVE_ARGS:-}
admin="$(cat "$state/admin.token")"
token() { # name
  curl -sf -X POST "$mgmt/tenants" -H "Authorization: Bearer $admin" -H "Content-Type: application/json" -d "{\"name\":\"$1\"}" \
    | "$python" -c 'import json,sys; print(json.load(sys.stdin)["token"])'
}
a="$(token a)"
b="$(token b)"
for m in mlp spin sleep; do
  curl -sf -X POST "$mgmt/models?url=$m.mar" -H "Authorization: Bearer $a" >/dev/null
done
curl -sf -X POST "$mgmt/models?url=mlp.mar" -H "Authorization: Bearer $b" >/dev/null
printf '10' > "$work/sleep.txt"
head -c $((5 << 20)) /dev/urandom > "$work/junk.bin"

wrk_b() {
  BODY="$work/mlp.json" CONTENT_TYPE=application/json wrk -t1 -c"$b_conns" -d"${duration}s" --latency \
    -H "Authorization: Bearer $b" -s benches/load/post.lua "$inf/predictions/mlp" | sed -n 's/^RESULT /B /p'
}
wrk_a() { # model body connections
  BODY="$2" CONTENT_TYPE=application/json "${nice_a[@]}" wrk -t1 -c"$3" -d"${a_duration}s" \
    -H "Authorization: Bearer $a" -s benches/load/post.lua "$inf/predictions/$1" | sed -n 's/^RESULT /A-'"$1"' /p'
}
scale_loop() {
  "${nice_a[@]}" "$python" benches/load/churn.py "${mgmt#http://}" "$a" "$a_duration" scale mlp | sed 's/^/A-/'
}
upload_loop() {
  "${nice_a[@]}" "$python" benches/load/churn.py "${mgmt#http://}" "$a" "$a_duration" upload "$work/junk.bin" | sed 's/^/A-junk-/'
}
echo "machine: $(nproc) cores, $(uname -r); B: wrk -c$b_conns; both tenants on default quotas"
echo "== B alone"
before=$(wrk_b)
echo "$before"
echo "== B while A attacks at its quota"
before_fds=$(ls /proc/$server_pid/fd | wc -l)
pids=()
if on spin; then wrk_a spin "$work/mlp.json" 8 & pids+=($!); fi
if on sleep; then wrk_a sleep "$work/sleep.txt" 8 & pids+=($!); fi
if on stall; then
  "${nice_a[@]}" "$python" benches/load/stall.py "${inf#http://}" /predictions/mlp "$a" 200 "$a_duration" | sed 's/^/A-/' & pids+=($!)
fi
if on scale; then scale_loop & pids+=($!); fi
if on upload; then upload_loop & pids+=($!); fi
echo "A: $attacks"
sleep 1
during=$(wrk_b)
echo "$during"
# (A bare `wait` would wait for the server too.)
if [ ${#pids[@]} -gt 0 ]; then wait "${pids[@]}"; fi
sleep 3 # refusals still held (up to 2 s) when A's clients stop
echo "server: pid $server_pid alive=$(kill -0 $server_pid 2>/dev/null && echo yes || echo no), fds $before_fds -> $(ls /proc/$server_pid/fd | wc -l) 3 s after, state dir $(du -sb "$state" | cut -f1) bytes"
echo "== B alone again"
after=$(wrk_b)
echo "$after"
p99() { sed -n 's/.*p99_ms=\([0-9.]*\).*/\1/p' <<<"$1"; }
"$python" -c 'import sys; b, d, a = map(float, sys.argv[1:]); print(f"RATIO B p99 during / mean of alone before and after = {d:.3f} / {(b + a) / 2:.3f} = {d / ((b + a) / 2):.2f}x")' \
  "$(p99 "$before")" "$(p99 "$during")" "$(p99 "$after")"
