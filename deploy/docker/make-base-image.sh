#!/usr/bin/env bash
# Make a local stand-in for node:20-bookworm-slim where no image registry can be reached: a Debian bookworm minbase
# root file system from Debian's mirror (debootstrap), with this machine's Node 20 binary, npm and corepack laid out as
# the official image does (/usr/local/bin/node, /usr/local/lib/node_modules), imported with `docker import`.
# Usage: deploy/docker/make-base-image.sh [TAG]   (default clawd402-base:bookworm-node20). Root only.
# Cached: an image with TAG whose label matches this Node version is kept; the debootstrap tree is kept under
# $BASE_CACHE (default /var/cache/clawd402-base) so a rebuild after `docker image rm` skips the download.
set -euo pipefail
TAG="${1:-clawd402-base:bookworm-node20}"
CACHE="${BASE_CACHE:-/var/cache/clawd402-base}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
NODE_BIN="$(readlink -f "$(command -v node)")"
NODE_VERSION="$("$NODE_BIN" --version)"
case "$NODE_VERSION" in v20.*) ;; *) echo "make-base-image: host node is $NODE_VERSION; Node 20 is required" >&2; exit 1 ;; esac

if [ "$(docker image inspect -f '{{ index .Config.Labels "org.clawd402.node" }} {{ index .Config.Labels "org.clawd402.base" }}' "$TAG" 2>/dev/null || true)" = "$NODE_VERSION 2" ] && [ "${REBUILD_BASE:-}" != 1 ]; then
  echo "make-base-image: $TAG (node $NODE_VERSION) present, kept"
  exit 0
fi

start=$(date +%s)
mkdir -p "$CACHE"
if [ ! -x "$CACHE/rootfs/bin/sh" ]; then
  rm -rf "$CACHE/rootfs.partial"
  debootstrap --variant=minbase bookworm "$CACHE/rootfs.partial" "$MIRROR"
  mv "$CACHE/rootfs.partial" "$CACHE/rootfs"
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp -a "$CACHE/rootfs" "$work/rootfs"
root="$work/rootfs"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/var/log/* "$root"/tmp/*

# Node: the host's binary (dynamically linked against the same bookworm glibc/libstdc++ minbase carries) plus npm and
# corepack, where the official image keeps them.
npm_dir="$(npm root -g)"
install -D -m 0755 "$NODE_BIN" "$root/usr/local/bin/node"
mkdir -p "$root/usr/local/lib/node_modules"
# Node's C headers (the official image ships them too): node-gyp builds addons against them instead of downloading.
mkdir -p "$root/usr/local/include"
cp -a "$(dirname "$(dirname "$NODE_BIN")")/include/node" "$root/usr/local/include/node"
for tool in npm corepack; do cp -a "$npm_dir/$tool" "$root/usr/local/lib/node_modules/$tool"; done
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
ln -sf ../lib/node_modules/corepack/dist/corepack.js "$root/usr/local/bin/corepack"
chroot "$root" /usr/local/bin/node --version >/dev/null
# A machine whose egress goes through a TLS-inspecting proxy trusts that proxy's CA (NODE_EXTRA_CA_CERTS); the local
# base carries the same bundle so npm inside the build stage can fetch. The public base needs none of this.
ca_env=()
if [ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f "$NODE_EXTRA_CA_CERTS" ]; then
  install -D -m 0644 "$NODE_EXTRA_CA_CERTS" "$root/etc/ssl/certs/ca-certificates.crt"
  ca_env=(--change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt')
fi

tar -C "$root" --numeric-owner -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "ENV NODE_VERSION=${NODE_VERSION#v}" \
  --change "LABEL org.clawd402.node=$NODE_VERSION org.clawd402.base=2" \
  --change 'CMD ["node"]' "${ca_env[@]}" \
  - "$TAG" >/dev/null
echo "make-base-image: $TAG (debian bookworm minbase + node $NODE_VERSION) in $(( $(date +%s) - start ))s"
