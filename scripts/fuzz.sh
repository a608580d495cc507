#!/usr/bin/env bash
# Fuzzes the REST edge's request decoding (docs/fuzzing.md): scripts/fuzz.sh [TARGET|all]
# [SECONDS]. Targets: multipart, kserve_json, kserve_binary, query; default all, 600 s
# each, one after another. Installs cargo-fuzz when missing; builds without a sanitizer
# (`-s none`), which works on the stable toolchain (ASan needs nightly). New corpus units
# go to fuzz/corpus/<target> (not tracked; the committed seeds are fuzz/seeds/<target>),
# findings to fuzz/findings/<target> (one input and report per signature, counts.tsv),
# libFuzzer's output to fuzz/logs/<target>.log. FERROSERVE_FUZZ_STRICT=1 makes the first
# finding a crash (libFuzzer saves it under fuzz/artifacts). Extra libFuzzer flags: FUZZ_ARGS.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
which="${1:-all}"
seconds="${2:-600}"
all=(multipart kserve_json kserve_binary query)
if [ "$which" = all ]; then targets=("${all[@]}"); else targets=("$which"); fi
for t in "${targets[@]}"; do
  [[ " ${all[*]} " == *" $t "* ]] || { echo "unknown target $t; one of: ${all[*]} (or all)" >&2; exit 2; }
done
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "[fuzz] installing cargo-fuzz" >&2
  cargo install cargo-fuzz --locked
fi
# wasmtime errors capture host backtraces when RUST_BACKTRACE is set; not needed here.
export RUST_LIB_BACKTRACE=0
cd "$root/fuzz"
export FERROSERVE_FUZZ_FINDINGS="$root/fuzz/findings"
mkdir -p logs findings
cargo fuzz build -s none
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  echo "[fuzz] $t for ${seconds}s (log: fuzz/logs/$t.log)" >&2
  # -timeout: one input taking 30 s is a hang (the harness flags 10 s per request itself).
  # shellcheck disable=SC2086
  nice -n 10 cargo fuzz run -s none "$t" "corpus/$t" "seeds/$t" -- \
    -max_total_time="$seconds" -timeout=30 -print_final_stats=1 \
    -dict="dicts/$t.dict" ${FUZZ_ARGS:-} 2>&1 | tee "logs/$t.log" | grep -E 'DONE|NEW FINDING|ERROR|panicked' || true
  grep -E '^#[0-9]+ +DONE|stat::' "logs/$t.log" >&2 || true
  # `if`, not `&&`: a run without findings must not end the script with status 1.
  if [ -f "findings/$t/counts.tsv" ]; then
    echo "[fuzz] $t findings:" >&2
    cat "findings/$t/counts.tsv" >&2
  else
    echo "[fuzz] $t: no findings" >&2
  fi
done
