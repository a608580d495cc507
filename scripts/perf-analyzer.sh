#!/usr/bin/env bash
# Runs Triton's perf_analyzer with ARGS, installing it first when missing (idempotent).
#
#   scripts/perf-analyzer.sh -m mlp -u 127.0.0.1:8080 -i http ...
#
# PyPI's `perf-analyzer` (0.1.0) is an empty placeholder, and the tritonclient wheels after
# 2.51 ship a perf_analyzer built for glibc 2.38 (Debian 12 has 2.36). So this takes the
# binary from tritonclient 2.51.0's manylinux wheel, its libcudart.so.12 from PyPI's
# nvidia-cuda-runtime-cu12 (it links the CUDA runtime even when it never uses a GPU), and
# libb64 from Debian, into ~/.cache/ferroserve/perf_analyzer.
set -euo pipefail
dir="${PERF_ANALYZER_DIR:-$HOME/.cache/ferroserve/perf_analyzer}"
python="${FERROSERVE_PYTHON:-$HOME/.cache/ferroserve/venv/bin/python}"
log() { echo "[perf-analyzer] $*" >&2; }

if [ ! -x "$dir/bin/perf_analyzer" ] || [ ! -f "$dir/lib/libcudart.so.12" ]; then
  log "installing perf_analyzer (tritonclient 2.51.0 wheel) into $dir"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  pip_download() {
    "$python" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.11 \
      --platform manylinux1_x86_64 --platform manylinux2014_x86_64 -d "$tmp" "$1"
  }
  pip_download tritonclient==2.51.0
  pip_download "nvidia-cuda-runtime-cu12==12.9.79"
  mkdir -p "$dir/bin" "$dir/lib"
  "$python" - "$tmp" "$dir" <<'PY'
import glob, os, shutil, sys, zipfile
tmp, dest = sys.argv[1], sys.argv[2]
for wheel, member, out in [
    ("tritonclient-2.51.0-*.whl", "tritonclient-2.51.0.data/data/bin/perf_analyzer", "bin/perf_analyzer"),
    ("nvidia_cuda_runtime_cu12-*.whl", "nvidia/cuda_runtime/lib/libcudart.so.12", "lib/libcudart.so.12"),
]:
    (path,) = glob.glob(os.path.join(tmp, wheel))
    with zipfile.ZipFile(path) as z, z.open(member) as src, open(os.path.join(dest, out), "wb") as dst:
        shutil.copyfileobj(src, dst)
os.chmod(os.path.join(dest, "bin/perf_analyzer"), 0o755)
PY
fi
if ! ldconfig -p 2>/dev/null | grep -q 'libb64.so.0d'; then
  log "installing libb64-0d (Debian package)"
  if [ "$(id -u)" = 0 ]; then apt_get=(apt-get); else apt_get=(sudo apt-get); fi
  DEBIAN_FRONTEND=noninteractive "${apt_get[@]}" install -y -q libb64-0d >/dev/null \
    || { "${apt_get[@]}" update -q >/dev/null && DEBIAN_FRONTEND=noninteractive "${apt_get[@]}" install -y -q libb64-0d >/dev/null; }
fi
export LD_LIBRARY_PATH="$dir/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
[ $# -gt 0 ] || exit 0
exec "$dir/bin/perf_analyzer" "$@"
