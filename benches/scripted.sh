#!/usr/bin/env bash
# Python and JavaScript handlers against Rust: builds the scripted fixtures
# (crates/test-fixtures/scripted/hostile.{py,js}) with `ferroserve handler build`, then runs
# the sandbox's `scripted` bench (size, compile at registration cold and from the cache,
# fresh instance + trivial call). docs/benchmarks.md records a run.
#
#   benches/scripted.sh          (env: FERROSERVE_BIN, default: the release binary, built here)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
target="${CARGO_TARGET_DIR:-$root/target}"
# Workspace-wide feature flags, as the test suite builds: `-p` alone unifies features
# differently and rebuilds wasmtime (and cranelift) a second time.
if [ -z "${FERROSERVE_BIN:-}" ]; then
  cargo build --release --workspace --all-features --locked -q --bin ferroserve
  FERROSERVE_BIN="$target/release/ferroserve"
fi
work="$target/scripted-bench"
for lang in python js; do
  ext=$([ "$lang" = python ] && echo py || echo js)
  mkdir -p "$work/$lang"
  cp -p "crates/test-fixtures/scripted/hostile.$ext" "$work/$lang/"
  printf 'name = "hostile-%s"\nlang = "%s"\nsource = "hostile.%s"\n' "$lang" "$lang" "$ext" > "$work/$lang/ferroserve-handler.toml.new"
  cmp -s "$work/$lang/ferroserve-handler.toml.new" "$work/$lang/ferroserve-handler.toml" 2>/dev/null \
    || mv "$work/$lang/ferroserve-handler.toml.new" "$work/$lang/ferroserve-handler.toml"
  rm -f "$work/$lang/ferroserve-handler.toml.new"
  "$FERROSERVE_BIN" handler build "$work/$lang" | tail -1
done
echo "machine: $(nproc) cores, $(uname -r); load average: $(cut -d" " -f1-3 /proc/loadavg)"
FERROSERVE_BENCH_PYTHON="$work/python/build/hostile-python.wasm" \
FERROSERVE_BENCH_JS="$work/js/build/hostile-js.wasm" \
  cargo bench --workspace --all-features --locked --bench scripted -- --noplot "$@"
echo "load average after: $(cut -d" " -f1-3 /proc/loadavg)"
