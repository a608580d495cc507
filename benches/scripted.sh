#!/usr/bin/env bash
# Python and JavaScript handlers against Rust: builds the scripted fixtures
# (crates/test-fixtures/scripted/hostile.{py,js}, files.js) with `ferroserve handler build`, then runs
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
# hostile.py, hostile.js and files.js (the JS handler that reads archive files, built
# against the world with wasi:filesystem).
for fixture in hostile.py hostile.js files.js; do
  name="${fixture%.*}"; ext="${fixture#*.}"
  lang=$([ "$ext" = py ] && echo python || echo js)
  dir="$work/$([ "$name" = hostile ] && echo "$lang" || echo "$name-$lang")"
  mkdir -p "$dir"
  cp -p "crates/test-fixtures/scripted/$fixture" "$dir/"
  printf 'name = "%s-%s"\nlang = "%s"\nsource = "%s"\n' "$name" "$lang" "$lang" "$fixture" > "$dir/ferroserve-handler.toml.new"
  cmp -s "$dir/ferroserve-handler.toml.new" "$dir/ferroserve-handler.toml" 2>/dev/null \
    || mv "$dir/ferroserve-handler.toml.new" "$dir/ferroserve-handler.toml"
  rm -f "$dir/ferroserve-handler.toml.new"
  "$FERROSERVE_BIN" handler build "$dir" | tail -1
done
echo "machine: $(nproc) cores, $(uname -r); load average: $(cut -d" " -f1-3 /proc/loadavg)"
FERROSERVE_BENCH_PYTHON="$work/python/build/hostile-python.wasm" \
FERROSERVE_BENCH_JS="$work/js/build/hostile-js.wasm" \
FERROSERVE_BENCH_JS_FILES="$work/files-js/build/files-js.wasm" \
  cargo bench --workspace --all-features --locked --bench scripted -- --noplot "$@"
echo "load average after: $(cut -d" " -f1-3 /proc/loadavg)"
