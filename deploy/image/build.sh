#!/usr/bin/env bash
# Builds ferroserve's container image with no registry at all: a Debian rootfs made by
# mmdebstrap from Debian's packages, the release binary and the libtorch/CUDA libraries in
# the layout the binary's rpath expects, committed with buildah; then runs it with podman,
# read-only, non-root, the digits example's archive mounted read-only, and predicts.
#
#   deploy/image/build.sh          (env: IMAGE=ferroserve:0.1.0, KEEP=1 keeps the work dir)
#
# Needs root (mmdebstrap, buildah, podman from Debian; installed when missing) and ~16 GB
# of disk while it runs (vfs storage copies each layer). Not in CI: it takes minutes.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
image="localhost/${IMAGE:-ferroserve:0.1.0}"
log() { echo "[image] $*" >&2; }

for tool in mmdebstrap buildah podman runc; do
  command -v "$tool" >/dev/null || missing="${missing:-} $tool"
done
if [ -n "${missing:-}" ]; then
  log "installing$missing"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing >/dev/null
fi
bash scripts/setup.sh
cargo build --release --locked -p ferroserve
target="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
bin="$target/release/ferroserve"
work="$(mktemp -d /var/tmp/ferroserve-image.XXXXXX)"
[ -n "${KEEP:-}" ] || trap 'rm -rf "$work"' EXIT
FERROSERVE_BIN="$bin" bash scripts/build-examples.sh "$work/examples" >/dev/null

# The libraries, where the rpath looks for them: torch/lib, and nvidia/ beside it (the CUDA
# libraries, which torch's own rpaths name relatively).
torch_lib="$(readelf -d "$bin" | sed -n 's/.*R\(UN\)\?PATH.*\[\(.*\)\]/\2/p' | tr ':' '\n' | grep '/torch/lib$' | head -1)"
[ -d "$torch_lib" ] || { log "no torch/lib in the binary's rpath"; exit 1; }
site="$(dirname "$(dirname "$torch_lib")")"

log "rootfs (mmdebstrap, Debian bookworm minbase)"
mmdebstrap --quiet --variant=minbase --include=ca-certificates,curl bookworm "$work/rootfs" \
  http://deb.debian.org/debian
rootfs="$work/rootfs"
install -D -m 0755 "$bin" "$rootfs/usr/local/bin/ferroserve"
ln -s ferroserve "$rootfs/usr/local/bin/torchserve"
mkdir -p "$rootfs$site"
mkdir -p "$rootfs$site/torch"
cp -a "$torch_lib" "$rootfs$site/torch/"
cp -a "$site/nvidia" "$rootfs$site/"
# Every directory on the way readable by the non-root user (the path may start at /root).
d="$site"; while [ "$d" != / ]; do chmod 0755 "$rootfs$d"; d="$(dirname "$d")"; done
echo 'ferroserve:x:1000:1000::/var/lib/ferroserve:/usr/sbin/nologin' >>"$rootfs/etc/passwd"
echo 'ferroserve:x:1000:' >>"$rootfs/etc/group"
mkdir -p "$rootfs/var/lib/ferroserve" "$rootfs/mnt/models/model-store"
chown 1000:1000 "$rootfs/var/lib/ferroserve"
rm -rf "$rootfs/var/cache/apt/"* "$rootfs/var/lib/apt/lists/"*

log "image $image (buildah)"
export BUILDAH_FORMAT=docker
buildah() { command buildah --storage-driver vfs "$@"; }
ctr="$(buildah from scratch)"
buildah copy --quiet "$ctr" "$rootfs" / >/dev/null
buildah config \
  --entrypoint '["/usr/local/bin/ferroserve"]' \
  --cmd '["serve", "--inference-address", "0.0.0.0:8080", "--management-address", "0.0.0.0:8081", "--metrics-address", "0.0.0.0:8082", "--model-store", "/mnt/models/model-store", "--models", "all", "--state-dir", "/var/lib/ferroserve"]' \
  --user 1000:1000 --workingdir /var/lib/ferroserve \
  --env RUST_LIB_BACKTRACE=0 --port 8080 --port 8081 --port 8082 \
  --volume /var/lib/ferroserve --stop-signal SIGTERM \
  --healthcheck 'CMD curl -fsS http://127.0.0.1:8080/ping' --healthcheck-interval 10s \
  --label org.opencontainers.image.title=ferroserve "$ctr"
buildah commit --quiet --format docker "$ctr" "$image" >/dev/null
buildah rm "$ctr" >/dev/null
log "$(podman --storage-driver vfs image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' "$image")"

log "run (podman: read-only root, non-root, the model store read-only)"
mkdir -p "$work/store" "$work/state"
cp "$work/examples/digits.mar" "$work/store/"
chown 1000:1000 "$work/state"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
# These machines mount cgroup v1 and v2 side by side, which crun refuses: runc with cgroupfs.
podman --storage-driver vfs --runtime runc --cgroup-manager cgroupfs run -d --name ferroserve-demo \
  --network host --read-only --ulimit nofile=20000:20000 --ulimit nproc=4096:4096 \
  -v "$work/store:/mnt/models/model-store:ro" -v "$work/state:/var/lib/ferroserve" \
  "$image" serve --inference-address "127.0.0.1:$port" --management-address 127.0.0.1:0 \
  --metrics-address 127.0.0.1:0 --model-store /mnt/models/model-store --models all \
  --state-dir /var/lib/ferroserve >/dev/null
cleanup_ctr() { podman --storage-driver vfs --runtime runc rm -f ferroserve-demo >/dev/null 2>&1 || true; }
trap 'cleanup_ctr; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
for _ in $(seq 120); do curl -fsS "http://127.0.0.1:$port/ping" >/dev/null 2>&1 && break; sleep 0.5; done
python3 - "$work/examples/digits_test.json" >"$work/digit.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
print(json.dumps({"image": t["images"][0]}))
print(f"held-out digit: {t['labels'][0]}", file=sys.stderr)
PY
log "ping: $(curl -fsS "http://127.0.0.1:$port/ping")"
log "prediction: $(curl -fsS -X POST "http://127.0.0.1:$port/predictions/digits" -H 'Content-Type: application/json' -d @"$work/digit.json")"
log "user in the container: $(podman --storage-driver vfs --runtime runc exec ferroserve-demo /usr/bin/id -u)"
podman --storage-driver vfs --runtime runc stop -t 30 ferroserve-demo >/dev/null
log "stopped with SIGTERM: exit code $(podman --storage-driver vfs --runtime runc inspect -f '{{.State.ExitCode}}' ferroserve-demo)"
