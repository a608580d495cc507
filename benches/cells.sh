#!/usr/bin/env bash
# Tenant cells (issue 12), in one run of one release binary:
#   rps      MLP JSON and ResNet-18 JPEG with model_isolation = "in-process", then
#            "process", twice over (wrk, same settings): each mode's rps, p50, p99.
#   density  the cell's private memory (USS: Private_Clean + Private_Dirty of
#            /proc/PID/smaps_rollup) with the MLP loaded, and the server's RSS beside it.
#   restart  SIGKILL the cell, then the time until the model answers 200 again (polled
#            every 10 ms), 5 times; and the MLP's registration time into a running cell.
#   victim   tenant B's steady traffic to its MLP alone, then while tenant A's cell is
#            crashed (a forward past A's 256 MiB memory quota: an OOM kill), stopped (a
#            forward that never returns, 1 s response timeout) and made to allocate
#            (200 MiB, within the quota) in turn, then alone again; A's CPU quota is
#            A_CPU percent of a core (default 50; 0 for none): B's p99 during over
#            the mean of the two alone phases, and B's non-2xx (target: 0, <= 1.5x).
# docs/benchmarks.md has runs.
#
#   benches/cells.sh [rps|density|restart|victim|all]
#       (env: DURATION=15 seconds a phase, CONNECTIONS=8 THREADS=2 for rps; A_CPU=50,
#       B_DELAY_MS=5, A_TIMEOUT=1 and ATTACK="crash:hog loop:forever alloc:hog" for victim;
#       FERROSERVE_BIN)
which="${1:-all}"
duration="${DURATION:-15}"
conns="${CONNECTIONS:-8}"
threads="${THREADS:-2}"
source "$(dirname "${BASH_SOURCE[0]}")/load/common.sh"
part() { [ "$which" = all ] || [ "$which" = "$1" ]; }
for m in forever hog; do
  "$bin" archive --model-name "$m" --version 1.0 --serialized-file "$work/models/$m.pt" \
    --handler "$guests/fixture_ok.wasm" --export-path "$work/store" -f >/dev/null
done
stop_server() { kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; rm -rf "$state"; }
# Cells are forked by the zygote (cell_zygote = true), else started by the server itself.
zygote_pid() { { pgrep -P "$server_pid" -f -- '--zygote' || true; } | head -1; }
cell_pid() { local z; z="$(zygote_pid)"; pgrep -P "${z:-$server_pid}" | head -1; }
uss_kib() { awk '/^Private_(Clean|Dirty):/ {s += $2} END {print s}' "/proc/$1/smaps_rollup"; }
echo "machine: $(nproc) cores, $(uname -r); load average: $(cut -d" " -f1-3 /proc/loadavg)"

if part rps; then
  FERROSERVE_BIN="$bin" scripts/build-examples.sh "$work/examples" >/dev/null
  cp "$work/examples/resnet18.mar" "$work/store/"
  "$python" benches/load/make_photo.py "$work/photo.jpg"
  wrk_one() { # label path body content-type
    curl -sf -X POST -H "Content-Type: $4" --data-binary "@$3" "$inf$2" >/dev/null || { echo "$1: warm-up failed" >&2; exit 1; }
    BODY="$3" CONTENT_TYPE="$4" wrk -t"$threads" -c"$conns" -d"${duration}s" --latency -s benches/load/post.lua "$inf$2" \
      | sed -n 's/^RESULT /'"$1"' /p'
  }
  for round in 1 2; do
    for mode in in-process process; do
      start_server --models mlp.mar,resnet18.mar --model-isolation "$mode"
      wrk_one "round=$round $mode mlp" /predictions/mlp "$work/mlp.json" application/json
      wrk_one "round=$round $mode resnet18" /predictions/resnet18 "$work/photo.jpg" image/jpeg
      stop_server
    done
  done
fi

density() { # label
  cell="$(cell_pid)"
  uss=$(uss_kib "$cell")
  pss=$(awk '/^Pss:/ {print $2}' "/proc/$cell/smaps_rollup")
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$cell/status")
  srv=$(awk '/^VmRSS:/ {print $2}' "/proc/$server_pid/status")
  z="$(zygote_pid)"; zyg="none"; if [ -n "$z" ]; then zyg="$(uss_kib "$z")"; fi
  echo "density $1 cell_uss_kib=$uss cell_pss_kib=$pss cell_rss_kib=$rss zygote_uss_kib=$zyg server_rss_kib=$srv threads_in_cell=$(ls /proc/$cell/task | wc -l)"
}
if part density; then
  # A fresh start of the binary per cell, then cells forked from the zygote (the default).
  for zygote in false true; do
    start_server --models mlp.mar --model-isolation process --cell-zygote "$zygote"
    sleep 1
    density "zygote=$zygote"
    stop_server
  done
fi
if part restart; then
  start_server --models mlp.mar --model-isolation process
  for i in 1 2 3 4 5; do
    cell="$(cell_pid)"
    start=$(date +%s%N)
    kill -9 "$cell"
    until [ "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
              --data-binary "@$work/mlp.json" "$inf/predictions/mlp")" = 200 ]; do sleep 0.01; done
    echo "restart run=$i to_serving_ms=$(( ($(date +%s%N) - start) / 1000000 ))"
  done
  t=$(curl -s -o /dev/null -w '%{time_total}' -X POST "$mgmt/models?url=mlp.mar&model_name=mlp_again")
  echo "restart mlp_registration_into_a_running_cell_s=$t"
  stop_server
fi

if part victim; then
  start_server --auth tokens --tenants-use-model-store true --model-isolation process
  admin="$(cat "$state/admin.token")"
  token() { # name quotas
    curl -sf -X POST "$mgmt/tenants" -H "Authorization: Bearer $admin" -H "Content-Type: application/json" \
      -d "{\"name\":\"$1\",\"quotas\":$2}" | "$python" -c 'import json,sys; print(json.load(sys.stdin)["token"])'
  }
  # B_DELAY_MS: each of B's two connections waits this long between requests (default 5:
  # steady traffic, ~300 rps); empty: a closed loop that saturates the machine, so B's
  # p99 measures only how much CPU A leaves over.
  b_delay="${B_DELAY_MS-5}"
  # A_TIMEOUT: the response timeout of A's models in seconds (default 1); a long one keeps
  # the loop spinning under A's CPU quota with no kill or restart in the phase.
  a_timeout="${A_TIMEOUT:-1}"
  # A_CPU: tenant A's max_model_cpu_percent (0: no CPU cap, its loop takes a whole core).
  a="$(token a "{\"max_model_memory_mib\":256,\"max_model_cpu_percent\":${A_CPU:-50}}")"
  b="$(token b '{}')"
  reg() { curl -s -o /dev/null -X POST "$mgmt/models?$2" -H "Authorization: Bearer $1"; }
  reg "$a" "url=hog.mar"
  reg "$a" "url=forever.mar&response_timeout=$a_timeout"
  reg "$b" "url=mlp.mar"
  wrk_b() {
    BODY="$work/mlp.json" CONTENT_TYPE=application/json DELAY_MS="$b_delay" wrk -t1 -c2 -d"${duration}s" --latency \
      -H "Authorization: Bearer $b" -s benches/load/post.lua "$inf/predictions/mlp" | sed -n 's/^RESULT /B /p'
  }
  attack() {
    local end=$((SECONDS + duration + 2)) n=0 codes=""
    printf '[1024, 0, 0, 0]' > "$work/crash.json"
    printf '[200, 0, 0, 0]' > "$work/alloc.json"
    while [ $SECONDS -lt $end ]; do
      for step in ${ATTACK:-crash:hog loop:forever alloc:hog}; do
        body="$work/${step%%:*}.json"; [ "${step%%:*}" = loop ] && body="$work/mlp.json"
        code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $a" \
          -H 'Content-Type: application/json' --data-binary "@$body" "$inf/predictions/${step#*:}")
        n=$((n + 1)); codes="$codes ${step%%:*}=$code"
        # A model marked failed after three deaths in a row is registered again.
        if [ "$code" = 503 ]; then
          curl -s -o /dev/null -X DELETE "$mgmt/models/${step#*:}" -H "Authorization: Bearer $a"
          reg "$a" "url=${step#*:}.mar&response_timeout=$a_timeout"
        fi
      done
    done
    echo "A requests=$n codes:$(echo "$codes" | tr ' ' '\n' | sort | uniq -c | tr -s ' \n' ' ')"
  }
  sleep 1
  echo "phase alone"; wrk_b
  attack > "$work/attack.out" &
  attacker=$!
  sleep 1
  echo "phase attacked"; wrk_b
  wait "$attacker"
  cat "$work/attack.out"
  echo "phase alone again"; wrk_b
  echo "server pid $server_pid alive: $(kill -0 "$server_pid" && echo yes)"
  stop_server
fi
echo "load average after: $(cut -d" " -f1-3 /proc/loadavg)"
