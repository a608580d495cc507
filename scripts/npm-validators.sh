#!/usr/bin/env bash
# Prints the npm prefix holding the schema validators deploy/validate.py uses for kinds
# outside Kubernetes and KServe, installing them first when missing (idempotent):
# @kubernetes-models/prometheus-operator 6.0.0 (validators generated from the
# prometheus-operator CRDs: ServiceMonitor, PodMonitor, ...) into ~/.cache/ferroserve/npm.
set -euo pipefail
prefix="${NPM_VALIDATORS_DIR:-$HOME/.cache/ferroserve/npm}"
if [ ! -d "$prefix/node_modules/@kubernetes-models/prometheus-operator" ]; then
  echo "[npm-validators] installing @kubernetes-models/prometheus-operator 6.0.0 into $prefix" >&2
  if ! command -v npm >/dev/null; then
    if [ "$(id -u)" = 0 ]; then apt_get=(apt-get); else apt_get=(sudo apt-get); fi
    DEBIAN_FRONTEND=noninteractive "${apt_get[@]}" install -y -q npm >/dev/null \
      || { "${apt_get[@]}" update -q >/dev/null && DEBIAN_FRONTEND=noninteractive "${apt_get[@]}" install -y -q npm >/dev/null; }
  fi
  mkdir -p "$prefix"
  npm install --silent --no-audit --no-fund --prefix "$prefix" @kubernetes-models/prometheus-operator@6.0.0 >&2
fi
echo "$prefix"
