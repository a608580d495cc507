# Shared by the load scripts (sourced): checks wrk, builds the release binary and the guest
# fixtures, makes the test models, and archives the MLP behind the JSON `ok` handler (and,
# with `fixture_archive NAME`, the same MLP behind another fixture) into $work/store.
# Sets: root, work, python, bin (FERROSERVE_BIN, or the one built here), guests. Then `start_server ARGS...` runs `ferroserve serve`
# on free ports (stopped on exit) and sets inf, mgmt, state (the listening line in
# "$state/out" also names the gRPC listeners).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
target="${CARGO_TARGET_DIR:-$root/target}"
work="${LOAD_WORK:-$target/load-bench}"
mkdir -p "$work/store"
command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 1; }
scripts/setup.sh >/dev/null
python="${FERROSERVE_PYTHON:-$HOME/.cache/ferroserve/venv/bin/python}"
# FERROSERVE_BIN: measure a binary built elsewhere (benches/ab.sh compares two).
if [ -n "${FERROSERVE_BIN:-}" ]; then
  cargo build --release -p ferroserve-test-fixtures -q
  bin="$FERROSERVE_BIN"
else
  # Workspace-wide feature flags, as benches/scripted.sh and the test suite build.
  cargo build --release --workspace --all-features --locked -q --bin ferroserve
  cargo build --release -p ferroserve-test-fixtures -q
  bin="$target/release/ferroserve"
fi
guests="$target/wasm-guests/wasm32-wasip2/release"
"$python" examples/models/make_test_models.py "$work/models" >/dev/null
printf '[0.5, -1.25, 2.0, 3.5]' > "$work/mlp.json"

fixture_archive() { # NAME FIXTURE: the MLP behind guest fixture FIXTURE, as NAME.mar
  "$bin" archive --model-name "$1" --version 1.0 --serialized-file "$work/models/mlp.pt" \
    --handler "$guests/fixture_$2.wasm" --config-file benches/load/mlp.yaml --export-path "$work/store" -f >/dev/null
}
fixture_archive mlp ok

start_server() {
  state="$(mktemp -d)"
  "$bin" serve --model-store "$work/store" --state-dir "$state" --no-snapshot \
    --inference-address 127.0.0.1:0 --management-address 127.0.0.1:0 --metrics-address 127.0.0.1:0 \
    --grpc-inference-address 127.0.0.1:0 --grpc-management-address 127.0.0.1:0 \
    "$@" > "$state/out" 2> "$state/log" &
  server_pid=$!
  trap 'kill $server_pid 2>/dev/null; wait $server_pid 2>/dev/null; rm -rf "$state"' EXIT
  for _ in $(seq 600); do grep -q "ferroserve listening" "$state/out" 2>/dev/null && break; sleep 0.1; done
  # " inference=", not "grpc_inference=".
  inf="$(sed -n 's/.* inference=\([^ ]*\).*/\1/p' "$state/out")"
  mgmt="$(sed -n 's/.* management=\([^ ]*\).*/\1/p' "$state/out")"
  [ -n "$inf" ] || { cat "$state/log" >&2; exit 1; }
}
