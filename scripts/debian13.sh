#!/usr/bin/env bash
# The second libtorch line in CI: a Debian 13 (trixie) root with libtorch 2.6, made with
# debootstrap on the machine's default mirror and cached between runs.
#
#   scripts/debian13.sh root         make (or update) the cached root: debootstrap + packages
#   scripts/debian13.sh test         the README's test command on a clean copy of this checkout
#                                    inside the root (libtorch 2.6, Python torch 2.6 for parity)
#   scripts/debian13.sh cuda-build   compile and link the addon against Debian 13's CUDA libtorch
#                                    2.6 with ProcessGroupNCCL (files taken with apt-get download
#                                    + dpkg -x: the packages cannot be installed without a GPU
#                                    stack), then check what it links
#   scripts/debian13.sh bench [SUITE...]   npm run bench in the root (against Python torch 2.6)
#   scripts/debian13.sh shell        a shell in the root (for a person)
#
# Cache: ${TORCHLIGHT_CACHE:-/var/cache/torchlight}. Needs root (debootstrap, chroot, mounts).
#
# TORCHLIGHT_DEBIAN_SUITE=sid: the same in a Debian unstable root, whose libtorch is the newest
# Debian ships (2.14 when this was written; `npm run test:sid`). Not in CI: unstable moves.
set -euo pipefail
cd "$(dirname "$0")/.."
CHECKOUT=$(pwd)
CACHE=${TORCHLIGHT_CACHE:-/var/cache/torchlight}
SUITE=${TORCHLIGHT_DEBIAN_SUITE:-trixie}
case "$SUITE" in trixie|sid) ;; *) echo "[debian13] TORCHLIGHT_DEBIAN_SUITE=$SUITE: expected trixie (the default, Debian 13) or sid (unstable)" >&2; exit 2 ;; esac
ROOT=$CACHE/$SUITE-root
# unstable's Release files carry a Valid-Until that a mirror's copy can outlive (its signature is
# still checked); stable's have none
APT_OPTS=$([ "$SUITE" = sid ] && echo "-o Acquire::Check-Valid-Until=false" || true)
PACKAGES="libtorch-dev python3-torch python3-torchvision nodejs npm g++ make python3 libgloo-dev libopenblas0-pthread libjemalloc2 dataset-fashion-mnist ca-certificates ccache"
CUDA_PACKAGES="libtorch-cuda-dev libtorch-cuda-2.6 nvidia-cuda-dev libcu++-dev libnccl-dev libnccl2 libcudart12 libnvtoolsext1"
say() { echo "[debian13] $*"; }

[ "$(id -u)" = 0 ] || { echo "[debian13] needs root (debootstrap, chroot and mounts); run it as root" >&2; exit 1; }

make_root() {
  if [ ! -f "$ROOT/.torchlight-root" ]; then
    command -v debootstrap >/dev/null || { say "installing debootstrap"; apt-get install -y -qq debootstrap >/dev/null; }
    say "debootstrap: a minimal Debian $SUITE root in $ROOT (once; cached)"
    rm -rf "$ROOT"
    mkdir -p "$CACHE"
    debootstrap --variant=minbase --components=main,contrib,non-free "$SUITE" "$ROOT" >"$CACHE/debootstrap-$SUITE.log" 2>&1 \
      || { tail -20 "$CACHE/debootstrap-$SUITE.log" >&2; exit 1; }
    touch "$ROOT/.torchlight-root"
  fi
  mounts
  if [ "$(cat "$ROOT/.torchlight-packages" 2>/dev/null)" != "$PACKAGES" ]; then
    say "installing into the root: $PACKAGES"
    in_root "apt-get $APT_OPTS update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $PACKAGES >/dev/null"
    echo "$PACKAGES" >"$ROOT/.torchlight-packages"
  fi
}

# /proc, /dev and the host's resolver and CA bundle (the registries may sit behind a proxy
# with its own CA); undone on exit
mounts() {
  mountpoint -q "$ROOT/proc" || { mount -t proc proc "$ROOT/proc"; trap unmount EXIT; }
  mountpoint -q "$ROOT/dev" || mount --bind /dev "$ROOT/dev"
  cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
  local ca
  ca=$(npm config get cafile 2>/dev/null || true)
  [ -n "$ca" ] && [ "$ca" != "null" ] && [ -f "$ca" ] || ca=/etc/ssl/certs/ca-certificates.crt
  mkdir -p "$ROOT/usr/local/share/torchlight"
  cp "$ca" "$ROOT/usr/local/share/torchlight/host-ca.crt"
}
unmount() {
  umount "$ROOT/dev" 2>/dev/null || umount -l "$ROOT/dev" 2>/dev/null || true
  umount "$ROOT/proc" 2>/dev/null || umount -l "$ROOT/proc" 2>/dev/null || true
}

in_root() {
  chroot "$ROOT" env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
    NODE_EXTRA_CA_CERTS=/usr/local/share/torchlight/host-ca.crt npm_config_cafile=/usr/local/share/torchlight/host-ca.crt \
    npm_config_nodedir=/usr npm_config_update_notifier=false CI="${CI:-}" TORCHLIGHT_MKLDNN="${TORCHLIGHT_MKLDNN:-}" \
    TORCHLIGHT_BROWSER_INSTALL="${TORCHLIGHT_BROWSER_INSTALL:-}" LIBTORCH="${LIBTORCH:-}" bash -c "$1"
}

# the checkout's tracked and unignored files, as a clean clone would have them
copy_checkout() {
  local dest=$ROOT/work/torchlight
  rm -rf "$dest"
  mkdir -p "$dest"
  (cd "$CHECKOUT" && git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$dest")
}

case "${1:-}" in
  root)
    make_root
    ;;
  test)
    make_root
    copy_checkout
    say "npm test in the root: libtorch $(in_root "dpkg-query -W -f='\${Version}' libtorch-dev"), Python torch $(in_root "python3 -c 'import torch; print(torch.__version__)'")"
    # TORCHLIGHT_MKLDNN=0: Debian 13's libtorch 2.6 computes racy oneDNN convolution gradients
    # (README, "Support matrix"); both torchlight and the Python references then use ATen's.
    # TORCHLIGHT_BROWSER_INSTALL=0: the dashboard's page does not depend on libtorch; the host
    # line runs its browser test, and chromium is not installed into the root (CI's time).
    TORCHLIGHT_MKLDNN=0 TORCHLIGHT_BROWSER_INSTALL=0 in_root "cd /work/torchlight && npm test"
    ;;
  cuda-build)
    [ "$SUITE" = trixie ] || { echo "[debian13] cuda-build uses Debian 13's CUDA libtorch; run it without TORCHLIGHT_DEBIAN_SUITE" >&2; exit 2; }
    make_root
    DEBS=$ROOT/var/cache/torchlight-cuda/debs
    TREE=$ROOT/opt/torchlight-cuda
    if [ "$(cat "$DEBS/.packages" 2>/dev/null)" != "$CUDA_PACKAGES" ]; then
      say "downloading Debian 13's CUDA libtorch 2.6, CUDA 12.4 and NCCL (about 1.7 GB the first time; cached)"
      mkdir -p "$DEBS"
      in_root "cd /var/cache/torchlight-cuda/debs && apt-get download $CUDA_PACKAGES >/dev/null"
      echo "$CUDA_PACKAGES" >"$DEBS/.packages"
      rm -rf "$TREE"
    fi
    if [ ! -f "$TREE/.extracted" ]; then
      say "extracting the CUDA packages into /opt/torchlight-cuda (dpkg -x)"
      rm -rf "$TREE"
      mkdir -p "$TREE"
      for d in "$DEBS"/*.deb; do dpkg -x "$d" "$TREE/usr-tree"; done
      # LIBTORCH's layout: include/ and lib/
      ln -s usr-tree/usr/include "$TREE/include"
      ln -s usr-tree/usr/lib/x86_64-linux-gnu "$TREE/lib"
      touch "$TREE/.extracted"
    fi
    copy_checkout
    say "building the addon against /opt/torchlight-cuda (LIBTORCH; CUDA and NCCL on)"
    LIBTORCH=/opt/torchlight-cuda in_root "cd /work/torchlight && node scripts/setup.mjs --build-only >/dev/null && node native/find-libtorch.mjs --json | grep -E '\"(cuda|version)\"'"
    in_root "cd /work/torchlight && readelf -d build/Release/torchlight.node | grep -E 'NEEDED.*(torch_cuda|c10_cuda)' && nm -C -D build/Release/torchlight.node | grep -c 'ProcessGroupNCCL' | sed 's/^/ProcessGroupNCCL symbols referenced: /'"
    say "compiled and linked against CUDA libtorch 2.6 with NCCL (loading it needs cuDNN and a driver: scripts/gpu-check.sh)"
    ;;
  bench)
    shift
    make_root
    copy_checkout
    in_root "cd /work/torchlight && npm run bench -- $*"
    ;;
  shell)
    make_root
    in_root "cd /work/torchlight 2>/dev/null || cd /; exec bash -i"
    ;;
  *)
    sed -n '2,17p' "$0"
    exit 2
    ;;
esac
