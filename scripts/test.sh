#!/usr/bin/env bash
# The test command: installs what it needs (idempotent), then runs every test in the
# workspace: unit tests, router/integration tests and end-to-end tests of the real binary.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh
# wasmtime errors capture host backtraces when RUST_BACKTRACE is set; tests don't need them.
export RUST_LIB_BACKTRACE=0
cargo test --workspace --all-features --locked "$@"
