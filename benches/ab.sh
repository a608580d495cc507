#!/usr/bin/env bash
# A/B load benchmark of two ferroserve binaries in one run: the MLP case of benches/load.sh
# against each, alternating, ROUNDS times (default 2), so both see the same machine state.
#
#   benches/ab.sh BEFORE_BIN AFTER_BIN [ROUNDS]     (env as for load.sh: DURATION, CONNECTIONS)
#
# Build the "before" binary from another checkout, e.g.:
#   git worktree add /tmp/before <rev> && (cd /tmp/before && scripts/setup.sh && cargo build --release -p ferroserve)
set -euo pipefail
before="$1" after="$2" rounds="${3:-2}"
here="$(dirname "${BASH_SOURCE[0]}")"
for round in $(seq "$rounds"); do
  for side in before after; do
    bin="$before"; [ "$side" = after ] && bin="$after"
    FERROSERVE_BIN="$bin" bash "$here/load.sh" mlp | sed -n "s/^mlp /round $round $side /p"
  done
done
