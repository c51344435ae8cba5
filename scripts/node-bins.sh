#!/usr/bin/env bash
# Builds what the real test node (test/node) runs besides the control plane, into .cache/bin/<name>-<version>
# like scripts/cluster-bins.sh: kubelet, kube-proxy, kube-controller-manager, kube-scheduler and kubectl from the
# same k8s.io/kubernetes release test/cluster/apiserver pins, CoreDNS (CGO_ENABLED=0: it runs from a scratch
# image) and the pod sandbox's pause process. An existing binary for a version is never rebuilt.
# Usage: scripts/node-bins.sh   (TIERMESH_CLUSTER_BIN_DIR picks the cache; `go` >= 1.24 on PATH)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN_DIR="${TIERMESH_CLUSTER_BIN_DIR:-$ROOT/.cache/bin}"
say() { echo "node-bins: $*" >&2; }

if ! command -v go >/dev/null 2>&1; then
  say "'go' is not on PATH. Install Go >= 1.24 (https://go.dev/dl/) to build the node components."
  exit 1
fi

modversion() {
  awk -v mod="$2" '($1 == mod || ($1 == "require" && $2 == mod)) { v = ($1 == "require") ? $3 : $2; print v; exit }' "$1"
}
KUBE_VERSION="$(modversion "$ROOT/test/cluster/apiserver/go.mod" k8s.io/kubernetes)"
NODE_KUBE_VERSION="$(modversion "$ROOT/test/cluster/node/go.mod" k8s.io/kubernetes)"
COREDNS_VERSION="$(modversion "$ROOT/test/cluster/coredns/go.mod" github.com/coredns/coredns)"
if [[ -z "$KUBE_VERSION" || -z "$COREDNS_VERSION" ]]; then
  say "could not read the kubernetes or CoreDNS version from test/cluster/*/go.mod"
  exit 1
fi
if [[ "$KUBE_VERSION" != "$NODE_KUBE_VERSION" ]]; then
  say "test/cluster/node/go.mod pins k8s.io/kubernetes $NODE_KUBE_VERSION but the apiserver is $KUBE_VERSION: bump both"
  exit 1
fi
mkdir -p "$BIN_DIR"

KUBE_MINOR="$(echo "$KUBE_VERSION" | cut -d. -f2)"
KUBE_LDFLAGS="-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$KUBE_MINOR -X k8s.io/client-go/pkg/version.gitVersion=$KUBE_VERSION"
KUBE_CMDS=(kubelet kube-proxy kube-controller-manager kube-scheduler kubectl)

# The kubernetes commands share almost every package, so one `go build` compiles them all at once; each lands in a
# temp dir and is renamed, so an interrupted build never leaves a binary a later run would trust.
missing=()
for cmd in "${KUBE_CMDS[@]}"; do [[ -x "$BIN_DIR/$cmd-$KUBE_VERSION" ]] || missing+=("$cmd"); done
if ((${#missing[@]} == 0)); then
  say "kubelet, kube-proxy, kube-controller-manager, kube-scheduler, kubectl $KUBE_VERSION already built ($BIN_DIR)"
else
  say "building ${missing[*]} $KUBE_VERSION with $(go version | awk '{print $3}') (~5 min on 2 cores after kube-apiserver) ..."
  start=$SECONDS
  tmp="$(mktemp -d "$BIN_DIR/.node-build.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  pkgs=()
  for cmd in "${missing[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$cmd"); done
  (cd "$ROOT/test/cluster/node" && go build -trimpath -ldflags "$KUBE_LDFLAGS" -o "$tmp/" "${pkgs[@]}")
  for cmd in "${missing[@]}"; do mv -f "$tmp/$cmd" "$BIN_DIR/$cmd-$KUBE_VERSION"; done
  say "built ${missing[*]} in $((SECONDS - start))s"
fi

# build NAME VERSION DIR: a small module of test/cluster built with CGO off (static, runs from a scratch image).
build_static() {
  local name="$1" version="$2" dir="$3" out="$BIN_DIR/$1-$2"
  if [[ -x "$out" ]]; then
    say "$name $version already built ($out)"
    return
  fi
  say "building $name $version ..."
  local start=$SECONDS
  (cd "$ROOT/$dir" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$out.partial" .)
  mv -f "$out.partial" "$out"
  say "built $out in $((SECONDS - start))s"
}
build_static coredns "$COREDNS_VERSION" test/cluster/coredns
# The pause process has no upstream version of its own here; its source's hash names it.
PAUSE_VERSION="src-$(sha256sum "$ROOT/test/cluster/pause/main.go" | cut -c1-12)"
build_static pause "$PAUSE_VERSION" test/cluster/pause
