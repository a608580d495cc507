#!/usr/bin/env bash
# Side by side: ferroserve against TorchServe 0.12 on this machine, the same TorchScript
# files behind each, the same batch settings, the same wrk (Debian's package) on loopback,
# interleaved case by case so both see the same machine state. Also in the same run the
# machine's HTTP ceiling (nginx answering a fixed small JSON body) and the raw libtorch
# forward rate of the same files. Prints one RESULT line per measurement, then a markdown
# summary (benches/sidebyside/summary.py); numbers for docs/benchmarks.md want a quiet machine.
#
#   FERROSERVE_BIN=path/to/ferroserve bash benches/sidebyside.sh
#
# Cases (each list space-separated; the defaults take ~24 minutes at DURATION=20s, and 4 at
# DURATION=3s ROUNDS=1, once the examples are built):
#   MLP (4->8->3, JSON [0.5, -1.25, 2.0, 3.5]): MLP_BATCHES="1 8" x MLP_WORKERS="1 2" x
#     MLP_CONCS="1 8 64"; the batch delay FS_DELAY_MS=1 for ferroserve, TS_DELAY_MS="10 1:0"
#     for TorchServe: 10 ms, but 0 at -c1 (its best of 0, 1, 5 and 10 at batch 8 here: it
#     waits out the whole delay for a batch that cannot fill, so 80 rps at c1 with 10 ms, but
#     at 0 it runs batches of one at c8 and c64, half the rate of 5 or 10 ms). A delay is "N"
#     (every concurrency) or "N C:N ..." (C:N for concurrency C); the delay is moot at batch 1.
#   ResNet-18 (640x480 JPEG, top-5 labels): RESNET_BATCHES="1 8" x RESNET_WORKERS="1" x
#     RESNET_CONCS="8", delays FS_RESNET_DELAY_MS=10 and TS_RESNET_DELAY_MS=10.
#   nginx at NGINX_CONCS="8 64"; raw forward for RAW_SECONDS=5 per model and batch size.
#   MODELS="mlp resnet" picks the models, SERVERS="torchserve ferroserve" the servers (one
#   alone needs no FERROSERVE_BIN when it is torchserve).
# Other env: DURATION=20s ROUNDS=2 (each round runs every case on both servers, TorchServe
#   first in odd rounds, ferroserve first in even ones) WARMUP=2s (wrk at the block's
#   highest concurrency after each registration, not recorded; and WARMUP_START=5s at c8
#   on each server's MLP once at the start, which JITs TorchServe's JVM) THREADS=2 (wrk
#   threads; 1 at -c1) WRK_TIMEOUT=10s (wrk's --timeout: a slow ResNet-18 answer is not an
#   error); TS_THREADS (libtorch intra-op threads per TorchServe worker; default: libtorch's
#   own default here, which is what each ferroserve worker uses: it leaves the default);
#   LOAD_WORK (models and archives; default $CARGO_TARGET_DIR/load-bench, as benches/load.sh);
#   TS_LOG=access|quiet|default: TorchServe's logging. access (the default):
#   benches/sidebyside/log4j2-access.xml, its access log (one line per request, as ferroserve
#   writes its JSON access log) and warnings, none of the stock config's per-request debug and
#   metric lines; quiet: log4j2-quiet.xml, no access log either; default: the stock config
#   (debug to ts_log.log and stdout, metrics to files: megabytes a second under load).
#   KEEP_LOGS=1 copies both servers' logs to $work/sidebyside/{torchserve,ferroserve}-logs.
#
# Both servers start once and stay up; each (model, batch, workers) setting is registered on
# one server, measured at each concurrency, and unregistered before the other server gets it,
# so only one server holds a model, and only one is under load, at a time. Needs root or sudo
# for apt-get (wrk, nginx, a JRE when java is missing) and installs torchserve==0.12.0 into
# the project's venv (pip, pinned next to the venv's torch so torch stays as it is).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
side="$here/sidebyside"
knobs=(FERROSERVE_BIN CARGO_TARGET_DIR LOAD_WORK DURATION ROUNDS WARMUP WARMUP_START THREADS WRK_TIMEOUT MODELS SERVERS
  MLP_BATCHES MLP_WORKERS MLP_CONCS FS_DELAY_MS TS_DELAY_MS RESNET_BATCHES RESNET_WORKERS RESNET_CONCS
  FS_RESNET_DELAY_MS TS_RESNET_DELAY_MS NGINX_CONCS RAW_SECONDS TS_THREADS TS_LOG KEEP_LOGS OMP_NUM_THREADS LOG_FORMAT)
command_line=""
for k in "${knobs[@]}"; do
  [ -n "${!k+x}" ] && command_line+="$k=$(printf '%q' "${!k}") "
done
command_line+="bash benches/sidebyside.sh${*:+ $*}"

duration="${DURATION:-20s}"
rounds="${ROUNDS:-2}"
warmup="${WARMUP:-2s}"
warmup_start="${WARMUP_START:-5s}"
wrk_threads="${THREADS:-2}"
wrk_timeout="${WRK_TIMEOUT:-10s}"
models="${MODELS:-mlp resnet}"
servers="${SERVERS:-torchserve ferroserve}"
mlp_batches="${MLP_BATCHES:-1 8}" mlp_workers="${MLP_WORKERS:-1 2}" mlp_concs="${MLP_CONCS:-1 8 64}"
fs_delay="${FS_DELAY_MS:-1}" ts_delay="${TS_DELAY_MS:-10 1:0}"
resnet_batches="${RESNET_BATCHES:-1 8}" resnet_workers="${RESNET_WORKERS:-1}" resnet_concs="${RESNET_CONCS:-8}"
fs_resnet_delay="${FS_RESNET_DELAY_MS:-10}" ts_resnet_delay="${TS_RESNET_DELAY_MS:-10}"
nginx_concs="${NGINX_CONCS-8 64}"
raw_seconds="${RAW_SECONDS:-5}"
ts_log="${TS_LOG:-access}"
case "$ts_log" in default|access|quiet) ;; *) echo "TS_LOG=$ts_log: default, access or quiet" >&2; exit 2 ;; esac
has() { case " $1 " in *" $2 "*) return 0 ;; *) return 1 ;; esac; }
# delay_for DELAYS CONC: the delay for concurrency CONC from "N C:N ..." (N: all the others).
delay_for() {
  local e d=""
  for e in ${1//,/ }; do
    case "$e" in
      *:*) if [ "${e%%:*}" = "$2" ]; then echo "${e#*:}"; return 0; fi ;;
      *) d="$e" ;;
    esac
  done
  [ -n "$d" ] || { echo "no delay for concurrency $2 in '$1'" >&2; exit 2; }
  echo "$d"
}
if has "$servers" ferroserve; then
  : "${FERROSERVE_BIN:?set FERROSERVE_BIN to the ferroserve binary to measure (e.g. \$HOME/.cache/ferroserve/bench-target/release/ferroserve)}"
  [ -x "$FERROSERVE_BIN" ] || { echo "FERROSERVE_BIN=$FERROSERVE_BIN is not an executable" >&2; exit 2; }
  # common.sh changes directory: an absolute path.
  FERROSERVE_BIN="$(cd "$(dirname "$FERROSERVE_BIN")" && pwd)/$(basename "$FERROSERVE_BIN")"
fi

log() { printf '[sidebyside] %s\n' "$*" >&2; }
echo "command: $command_line"
echo "machine: nproc=$(nproc), $(uname -r), $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(free -g | awk '/^Mem:/ {print $2}') GiB"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

# 1. What the run needs, installed only when missing.
if [ "$(id -u)" = 0 ]; then apt_get=(apt-get); else apt_get=(sudo apt-get); fi
apt_install() {
  log "installing $* (Debian)"
  DEBIAN_FRONTEND=noninteractive "${apt_get[@]}" install -y -q "$@" >/dev/null \
    || { "${apt_get[@]}" update -q >/dev/null && DEBIAN_FRONTEND=noninteractive "${apt_get[@]}" install -y -q "$@" >/dev/null; }
}
command -v wrk >/dev/null || apt_install wrk
nginx_bin="$(command -v nginx || echo /usr/sbin/nginx)"
if [ ! -x "$nginx_bin" ]; then
  apt_install nginx
  nginx_bin="$(command -v nginx || echo /usr/sbin/nginx)"
  # Debian's package may start the system nginx; it idles on port 80, but is not ours to stop.
  [ -s /run/nginx.pid ] && log "the nginx package started the system nginx (pid $(cat /run/nginx.pid)); 'nginx -s quit' stops it"
fi
java_major() { java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1; }
if ! command -v java >/dev/null || [ "$(java_major)" -lt 11 ]; then apt_install openjdk-17-jre-headless; fi
venv="${FERROSERVE_VENV:-$HOME/.cache/ferroserve/venv}"
# The venv with torch (scripts/setup.sh makes it; common.sh runs that too, quietly).
[ -x "$venv/bin/python" ] || "$here/../scripts/setup.sh" >/dev/null
if ! "$venv/bin/python" -c 'import sys, ts; sys.exit(ts.__version__ != "0.12.0")' 2>/dev/null; then
  torch_now="$("$venv/bin/python" -c 'import torch; print(torch.__version__.split("+")[0])')"
  log "installing torchserve==0.12.0 into $venv (torch stays $torch_now)"
  "$venv/bin/pip" install --quiet "torchserve==0.12.0" "torch==$torch_now"
fi
"$venv/bin/python" -c 'import model_archiver' 2>/dev/null || "$venv/bin/pip" install --quiet "torch-model-archiver==0.12.0"

# 2. Models, archives, the photo. common.sh (ferroserve's side) builds the guest fixtures and
#    makes the test models; without ferroserve the same model scripts run directly.
if has "$servers" ferroserve; then
  # shellcheck source=benches/load/common.sh
  source "$here/load/common.sh"
  FERROSERVE_BIN="$bin" scripts/build-examples.sh "$work/examples" >/dev/null
else
  root="$(cd "$here/.." && pwd)"
  cd "$root"
  work="${LOAD_WORK:-${CARGO_TARGET_DIR:-$root/target}/load-bench}"
  python="${FERROSERVE_PYTHON:-$venv/bin/python}"
  mkdir -p "$work/examples/work/image-classifier"
  "$python" examples/models/make_test_models.py "$work/models" >/dev/null
  printf '[0.5, -1.25, 2.0, 3.5]' > "$work/mlp.json"
  ic="$work/examples/work/image-classifier"
  if [ ! -f "$ic/resnet18.pt" ] || [ ! -f "$ic/labels.txt" ]; then
    "$python" examples/image-classifier/make_model.py "$ic"
  fi
fi
mlp_pt="$work/models/mlp.pt"
ic="$work/examples/work/image-classifier"
resnet_pt="$ic/resnet18.pt"
mkdir -p "$work/sidebyside" "$work/ts-store"
if [ ! -f "$work/photo.jpg" ]; then
  "$python" benches/load/make_photo.py "$work/photo.jpg"
fi

# stale TARGET INPUT...: whether TARGET is missing or older than any input.
stale() {
  local target="$1" f; shift
  [ -f "$target" ] || return 0
  for f in "$@"; do [ "$f" -nt "$target" ] && return 0; done
  return 1
}
# TorchServe's archives: the same .pt files behind this directory's handlers; batch
# settings and workers come at registration.
ts_archive() { # torch-model-archiver ARGS...: quiet unless it fails
  local out
  out="$("$venv/bin/torch-model-archiver" "$@" --export-path "$work/ts-store" -f 2>&1)" || { echo "$out" >&2; exit 1; }
}
if stale "$work/ts-store/mlp.mar" "$mlp_pt" "$side/mlp_handler.py" "$side/ts_threads.py"; then
  ts_archive --model-name mlp --version 1.0 --serialized-file "$mlp_pt" --handler "$side/mlp_handler.py" \
    --extra-files "$side/ts_threads.py"
fi
if has "$models" resnet && stale "$work/ts-store/resnet18.mar" "$resnet_pt" "$ic/labels.txt" "$side/resnet_handler.py" "$side/ts_threads.py"; then
  ts_archive --model-name resnet18 --version 1.0 --serialized-file "$resnet_pt" \
    --handler "$side/resnet_handler.py" --extra-files "$ic/labels.txt,$side/ts_threads.py"
fi
# ferroserve's: one archive per worker count (it grows a model's workers from minWorkers up
# to maxWorkers under load, so both are pinned); batch size and delay come at registration.
if has "$servers" ferroserve; then
  wasm="${EXAMPLES_TARGET_DIR:-$root/target/examples}/wasm32-wasip2/release"
  for w in $mlp_workers; do
    cat > "$work/sidebyside/mlp-w$w.yaml" <<YAML
batchSize: 8
maxBatchDelay: 1
minWorkers: $w
maxWorkers: $w
ferroserve:
  formatVersion: 1
  inputs:
    - {name: input, dtype: float32, shape: [4]}
YAML
    "$bin" archive --model-name mlp --version 1.0 --serialized-file "$mlp_pt" --handler "$guests/fixture_ok.wasm" \
      --config-file "$work/sidebyside/mlp-w$w.yaml" --export-path "$work/sidebyside" -f >/dev/null
    mv "$work/sidebyside/mlp.mar" "$work/store/sidebyside-mlp-w$w.mar"
  done
  if has "$models" resnet; then
    for w in $resnet_workers; do
      sed -e "s/^minWorkers:.*/minWorkers: $w/" -e "s/^maxWorkers:.*/maxWorkers: $w/" \
        examples/image-classifier/model-config.yaml > "$work/sidebyside/resnet18-w$w.yaml"
      "$bin" archive --model-name resnet18 --version 1.0 --serialized-file "$resnet_pt" \
        --handler "$wasm/image_classifier.wasm" --extra-files "$ic/labels.txt" \
        --config-file "$work/sidebyside/resnet18-w$w.yaml" --export-path "$work/sidebyside" -f >/dev/null
      mv "$work/sidebyside/resnet18.mar" "$work/store/sidebyside-resnet18-w$w.mar"
    done
  fi
fi

# libtorch's intra-op default for one process here: what each ferroserve model worker uses
# (it leaves the count at libtorch's default); TorchServe's workers get the same explicitly.
ts_threads="${TS_THREADS:-$("$python" -c 'import torch; print(torch.get_num_threads())')}"
echo "versions: ferroserve $(has "$servers" ferroserve && "$bin" --version 2>/dev/null | head -1 || echo -), torchserve $("$venv/bin/python" -c 'import ts; print(ts.__version__)'), torch $("$python" -c 'import torch; print(torch.__version__)'), $(java -version 2>&1 | head -1), $("$nginx_bin" -v 2>&1), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
echo "settings: wrk -t$wrk_threads (-t1 at -c1) -d$duration --timeout $wrk_timeout --latency, rounds $rounds, warm-up $warmup per registration ($warmup_start at the start); batch delays (ms; C:N at concurrency C) ferroserve '$fs_delay' (resnet '$fs_resnet_delay'), torchserve '$ts_delay' (resnet '$ts_resnet_delay'); torch threads per worker: ferroserve default ($ts_threads here), torchserve $ts_threads (OMP_NUM_THREADS and torch.set_num_threads); TS_LOG=$ts_log"

results="$(mktemp -t sidebyside-results.XXXXXX)"
scratch="$(mktemp -d -t sidebyside.XXXXXX)"
record() { echo "RESULT $*" | tee -a "$results"; }

# 3. Raw forward, before any server is up.
if has "$models" mlp; then
  for b in $mlp_batches; do
    "$python" "$side/raw_forward.py" mlp "$mlp_pt" "$b" 4 "$raw_seconds" | sed -n 's/^RESULT //p' | while read -r l; do record "$l"; done
  done
fi
if has "$models" resnet; then
  for b in $resnet_batches; do
    "$python" "$side/raw_forward.py" resnet18 "$resnet_pt" "$b" 3x224x224 "$raw_seconds" | sed -n 's/^RESULT //p' | while read -r l; do record "$l"; done
  done
fi

# 4. The servers, and a cleanup that leaves nothing running.
free_port() { "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
ts_pid="" ng_pid="" tsdir="" ngdir="" ts_inf="" ts_mgmt="" fs_inf="" fs_mgmt=""
cleanup() {
  set +e
  if [ -n "$ts_pid" ]; then
    if [ -n "${KEEP_LOGS:-}" ]; then
      rm -rf "$work/sidebyside/torchserve-logs"
      cp -r "$tsdir/logs" "$work/sidebyside/torchserve-logs" && cp "$tsdir/out" "$work/sidebyside/torchserve-logs/"
    fi
    TMPDIR="$tsdir/tmp" timeout 60 "$venv/bin/torchserve" --stop >/dev/null 2>&1
    kill -TERM -- "-$ts_pid" 2>/dev/null
    for _ in $(seq 50); do pgrep -g "$ts_pid" >/dev/null || break; sleep 0.2; done
    kill -KILL -- "-$ts_pid" 2>/dev/null
    wait "$ts_pid" 2>/dev/null
  fi
  if [ -n "$ng_pid" ]; then
    kill -QUIT "$ng_pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$ng_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$ng_pid" 2>/dev/null
    wait "$ng_pid" 2>/dev/null
  fi
  if [ -n "${server_pid:-}" ]; then
    kill "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
    if [ -n "${KEEP_LOGS:-}" ]; then
      rm -rf "$work/sidebyside/ferroserve-logs"
      cp -r "$state" "$work/sidebyside/ferroserve-logs"
    fi
    rm -rf "$state"
  fi
  local left
  left="$(pgrep -fa "org.pytorch.serve.ModelServer|ts/model_service_worker.py${tsdir:+|$tsdir}${ngdir:+|$ngdir}${state:+|$state}" | grep -v "pgrep" || true)"
  if [ -n "$left" ]; then
    echo "WARNING: still running after cleanup:" >&2
    echo "$left" >&2
  else
    log "cleanup: no TorchServe, nginx or ferroserve of this run left running"
  fi
  rm -rf "$tsdir" "$ngdir" "$scratch" "$results"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if has "$servers" ferroserve; then
  start_server --log-format "${LOG_FORMAT:-json}"
  # start_server's own EXIT trap is replaced: cleanup stops this server too.
  trap cleanup EXIT
  fs_inf="$inf" fs_mgmt="$mgmt"
fi

ngdir="$(mktemp -d -t sidebyside-nginx.XXXXXX)"
ng_port="$(free_port)"
cat > "$ngdir/nginx.conf" <<NGINX
worker_processes 2;
daemon off;
pid $ngdir/nginx.pid;
error_log $ngdir/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $ngdir/body;
  proxy_temp_path $ngdir/proxy;
  fastcgi_temp_path $ngdir/fastcgi;
  uwsgi_temp_path $ngdir/uwsgi;
  scgi_temp_path $ngdir/scgi;
  server {
    listen 127.0.0.1:$ng_port reuseport;
    location / {
      default_type application/json;
      return 200 '[0.2661186456680298, -0.1478918492794037, 0.4137296080589294]';
    }
  }
}
NGINX
"$nginx_bin" -p "$ngdir" -c "$ngdir/nginx.conf" -e "$ngdir/error.log" &
ng_pid=$!
for _ in $(seq 100); do curl -sf -X POST "http://127.0.0.1:$ng_port/" >/dev/null 2>&1 && break; sleep 0.1; done
curl -sf -X POST "http://127.0.0.1:$ng_port/" >/dev/null || { cat "$ngdir/error.log" >&2; exit 1; }

if has "$servers" torchserve; then
  if pgrep -f org.pytorch.serve.ModelServer >/dev/null; then
    echo "another TorchServe is running (pids $(pgrep -f org.pytorch.serve.ModelServer | tr '\n' ' ')): stop it first, it would skew the run" >&2
    exit 1
  fi
  tsdir="$(mktemp -d -t sidebyside-ts.XXXXXX)"
  mkdir -p "$tsdir/tmp" "$tsdir/logs" "$tsdir/report"
  p_inf="$(free_port)" p_mgmt="$(free_port)" p_met="$(free_port)" p_gi="$(free_port)" p_gm="$(free_port)"
  cat > "$tsdir/config.properties" <<PROPS
inference_address=http://127.0.0.1:$p_inf
management_address=http://127.0.0.1:$p_mgmt
metrics_address=http://127.0.0.1:$p_met
grpc_inference_address=127.0.0.1
grpc_management_address=127.0.0.1
grpc_inference_port=$p_gi
grpc_management_port=$p_gm
model_store=$work/ts-store
default_workers_per_model=1
disable_token_authorization=true
enable_model_api=true
disable_system_metrics=true
PROPS
  ts_args=(--start --foreground --ncs --disable-token-auth --enable-model-api
    --model-store "$work/ts-store" --ts-config "$tsdir/config.properties")
  [ "$ts_log" = default ] || ts_args+=(--log-config "$side/log4j2-$ts_log.xml")
  # Its own session (so the whole group, Java frontend and Python workers, can be stopped),
  # its own temp dir (the pid file and the workers' sockets live there), its own log dir.
  (cd "$tsdir" && TEMP="$tsdir/tmp" TMPDIR="$tsdir/tmp" LOG_LOCATION="$tsdir/logs" METRICS_LOCATION="$tsdir/logs" \
    OMP_NUM_THREADS="$ts_threads" SIDEBYSIDE_TORCH_THREADS="$ts_threads" SIDEBYSIDE_REPORT_DIR="$tsdir/report" \
    exec setsid "$venv/bin/torchserve" "${ts_args[@]}") > "$tsdir/out" 2>&1 &
  ts_pid=$!
  ts_inf="http://127.0.0.1:$p_inf" ts_mgmt="http://127.0.0.1:$p_mgmt"
  for _ in $(seq 300); do curl -sf "$ts_inf/ping" >/dev/null 2>&1 && break; sleep 0.2; done
  curl -sf "$ts_inf/ping" >/dev/null || { echo "TorchServe did not start:" >&2; tail -30 "$tsdir/out" >&2; exit 1; }
fi

# register SERVER NAME BATCH DELAY WORKERS: registers NAME and prints what the server says it has.
register() {
  local server="$1" name="$2" batch="$3" delay="$4" workers="$5" api url
  if [ "$server" = torchserve ]; then api="$ts_mgmt" url="$name.mar"; else api="$fs_mgmt" url="sidebyside-$name-w$workers.mar"; fi
  if ! curl -sS -f -X POST "$api/models?url=$url&model_name=$name&batch_size=$batch&max_batch_delay=$delay&initial_workers=$workers&synchronous=true" \
      > "$scratch/register" 2>&1; then
    echo "registering $name on $server failed: $(cat "$scratch/register")" >&2
    [ "$server" = torchserve ] && tail -30 "$tsdir/out" >&2
    [ "$server" = ferroserve ] && tail -30 "$state/log" >&2
    exit 1
  fi
  curl -sf "$api/models/$name" | "$python" -c '
import json, sys
d = json.load(sys.stdin)[0]
print("registered server=%s model=%s batch_size=%s max_batch_delay=%s min_workers=%s max_workers=%s workers=%d" % (
    sys.argv[1], d["modelName"], d["batchSize"], d["maxBatchDelay"], d["minWorkers"], d["maxWorkers"], len(d["workers"])))' "$server"
}
# unregister SERVER NAME: and waits until it is gone (TorchServe: its worker processes too).
unregister() {
  local api="$fs_mgmt"
  [ "$1" = torchserve ] && api="$ts_mgmt"
  curl -sf -X DELETE "$api/models/$2" >/dev/null
  for _ in $(seq 300); do
    if [ "$(curl -s -o /dev/null -w '%{http_code}' "$api/models/$2")" = 404 ] \
      && { [ "$1" != torchserve ] || ! pgrep -g "$ts_pid" -f model_service_worker >/dev/null; }; then
      return 0
    fi
    sleep 0.1
  done
  echo "$2 on $1 did not go away after unregistering" >&2
  exit 1
}
# drain SERVER NAME: waits until the requests a finished wrk left behind (queued when it
# closed its connections; neither server drops them) have been served, so the next run, or
# the other server, does not start behind them: the model's queue empty, then one request.
drain() {
  local api="$fs_mgmt" pending=""
  [ "$1" = torchserve ] && api="$ts_mgmt"
  for _ in $(seq 600); do
    pending="$(curl -sf "$api/models/$2" | "$python" -c 'import json, sys; print(json.load(sys.stdin)[0]["jobQueueStatus"]["pendingRequests"])')"
    [ "$pending" = 0 ] && break
    sleep 0.1
  done
  [ "$pending" = 0 ] || log "$2 on $1: $pending requests still queued after 60 s"
  curl -sf -o /dev/null -X POST -H "Content-Type: $(type_of "$2")" --data-binary "@$(body_of "$2")" \
    "$(inference_url "$1")/predictions/$2" || { echo "$2 on $1: a request after the run failed" >&2; exit 1; }
}
inference_url() { if [ "$1" = torchserve ]; then echo "$ts_inf"; else echo "$fs_inf"; fi; }
body_of() { if [ "$1" = mlp ]; then echo "$work/mlp.json"; else echo "$work/photo.jpg"; fi; }
type_of() { if [ "$1" = mlp ]; then echo application/json; else echo image/jpeg; fi; }

# wrk_run CONC DURATION URL BODY TYPE: wrk's RESULT fields.
wrk_run() {
  local t="$wrk_threads" out line
  [ "$1" -lt "$t" ] && t="$1"
  out="$(BODY="$4" CONTENT_TYPE="$5" wrk -t"$t" -c"$1" -d"$2" --timeout "$wrk_timeout" --latency -s benches/load/post.lua "$3")"
  line="$(sed -n 's/^RESULT //p' <<<"$out")"
  [ -n "$line" ] || { echo "wrk printed no RESULT line: $out" >&2; exit 1; }
  echo "$line"
}

# 5. Correctness: one request of each model to each server; the MLP's numbers must match.
check() { # NAME BATCH FS_DELAY TS_DELAY
  local s
  for s in $servers; do
    register "$s" "$1" "$2" "$([ "$s" = torchserve ] && echo "$4" || echo "$3")" 1 >/dev/null
    curl -sS -f -X POST -H "Content-Type: $(type_of "$1")" --data-binary "@$(body_of "$1")" \
      "$(inference_url "$s")/predictions/$1" > "$scratch/answer.$s.$1" \
      || { echo "$1 on $s: the check request failed" >&2; exit 1; }
    echo "answer server=$s model=$1: $(head -c 400 "$scratch/answer.$s.$1")"
    if [ "$1" = mlp ]; then
      wrk_run 8 "$warmup_start" "$(inference_url "$s")/predictions/$1" "$(body_of "$1")" "$(type_of "$1")" >/dev/null
      drain "$s" "$1"
    fi
    unregister "$s" "$1"
  done
  has "$servers" torchserve && has "$servers" ferroserve || return 0
  "$python" - "$1" "$scratch/answer.torchserve.$1" "$scratch/answer.ferroserve.$1" <<'PY'
import json, sys
name, ts, fs = sys.argv[1], json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
if name == "mlp":
    # TorchServe's handler answers the output row; the `ok` fixture {"outputs": {name: row}, ...}.
    fs_row = next(iter(fs["outputs"].values()))
    diff = max(abs(a - b) for a, b in zip(ts, fs_row)) if len(ts) == len(fs_row) else float("inf")
    print(f"check mlp: torchserve {ts} ferroserve {fs_row}: max |diff| {diff:.2e}")
    sys.exit(0 if diff < 1e-5 else 1)
# ResNet-18 (random weights, so near-uniform scores): the JPEG decoders differ a little.
same = list(ts) == list(fs)
diff = max(abs(ts[k] - fs[k]) for k in ts if k in fs) if set(ts) & set(fs) else float("nan")
print(f"check resnet18: top-5 labels {'the same, in the same order' if same else 'differ: ' + str(list(ts)) + ' vs ' + str(list(fs))}; "
      f"max |diff| of shared probabilities {diff:.2e}")
PY
}
if has "$models" mlp; then check mlp 8 "$(delay_for "$fs_delay" 8)" "$(delay_for "$ts_delay" 8)"; fi
if has "$models" resnet; then check resnet18 8 "$(delay_for "$fs_resnet_delay" 8)" "$(delay_for "$ts_resnet_delay" 8)"; fi
if has "$servers" torchserve; then
  echo "torchserve worker threads: torch.get_num_threads() = $(cat "$tsdir"/report/threads.* 2>/dev/null | sort -u | tr '\n' ' ')in each of the $(find "$tsdir/report" -name 'threads.*' | wc -l) workers so far"
fi

# 6. The rounds.
# block SERVER NAME BATCH WORKERS ROUND CONCS: per batch delay the concurrencies ask for (at
# batch 1 the delay is moot: one), a registration, a warm-up, one run per concurrency.
block() {
  local server="$1" name="$2" batch="$3" workers="$4" round="$5" concs="$6" delays c d top line
  if [ "$name" = mlp ]; then
    delays="$fs_delay"; [ "$server" = torchserve ] && delays="$ts_delay"
  else
    delays="$fs_resnet_delay"; [ "$server" = torchserve ] && delays="$ts_resnet_delay"
  fi
  local url body ctype wanted=""
  url="$(inference_url "$server")/predictions/$name" body="$(body_of "$name")" ctype="$(type_of "$name")"
  for c in $concs; do
    d="$(delay_for "$delays" "$c")"
    [ "$batch" = 1 ] && d="$(delay_for "$delays" 0)"
    has "$wanted" "$d" || wanted+=" $d"
  done
  for d in $wanted; do
    register "$server" "$name" "$batch" "$d" "$workers"
    top=0
    for c in $concs; do
      if [ "$batch" = 1 ] || [ "$(delay_for "$delays" "$c")" = "$d" ]; then [ "$c" -gt "$top" ] && top="$c"; fi
    done
    wrk_run "$top" "$warmup" "$url" "$body" "$ctype" >/dev/null
    drain "$server" "$name"
    for c in $concs; do
      [ "$batch" = 1 ] || [ "$(delay_for "$delays" "$c")" = "$d" ] || continue
      line="$(wrk_run "$c" "$duration" "$url" "$body" "$ctype")"
      record "server=$server case=$name batch=$batch workers=$workers conc=$c round=$round delay_ms=$d $line"
      drain "$server" "$name"
    done
    unregister "$server" "$name"
  done
}
for round in $(seq "$rounds"); do
  order="$servers"
  [ $((round % 2)) = 0 ] && order="$(echo "$servers" | tr ' ' '\n' | tac | tr '\n' ' ')"
  for c in $nginx_concs; do
    record "server=nginx case=http batch=- workers=2 conc=$c round=$round $(wrk_run "$c" "$duration" "http://127.0.0.1:$ng_port/" "$work/mlp.json" application/json)"
  done
  if has "$models" mlp; then
    for b in $mlp_batches; do for w in $mlp_workers; do for s in $order; do
      block "$s" mlp "$b" "$w" "$round" "$mlp_concs"
    done; done; done
  fi
  if has "$models" resnet; then
    for b in $resnet_batches; do for w in $resnet_workers; do for s in $order; do
      block "$s" resnet18 "$b" "$w" "$round" "$resnet_concs"
    done; done; done
  fi
done

# 7. The summary.
echo
echo "## summary ($(date -u +%Y-%m-%dT%H:%MZ), $command_line)"
echo
"$python" "$side/summary.py" "$results"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
