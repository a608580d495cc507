#!/usr/bin/env bash
# The demo command: installs what it needs (idempotent), builds, and shows a handler being
# checked and run in the sandbox. (The HTTP server joins the demo when it lands.)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh
cargo build --release -p ferroserve -p ferroserve-test-fixtures
guests="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/wasm-guests/wasm32-wasip2/release"
bin="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/ferroserve"
sample="$(mktemp)"; trap 'rm -f "$sample"' EXIT
echo '[0.5, 1.5, 2.5, 3.5]' > "$sample"
echo "== a well-behaved handler"
"$bin" handler check "$guests/fixture_ok.wasm" --body "$sample" --content-type application/json
echo "== a handler that never returns (stopped at its deadline)"
"$bin" handler check "$guests/fixture_spin.wasm" --body "$sample" --deadline-ms 300 || true
echo "== a handler that tries the network"
"$bin" handler check "$guests/fixture_socket.wasm" --body "$sample" || true
