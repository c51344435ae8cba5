#!/usr/bin/env bash
# Builds the real kube-apiserver and etcd used by the e2e tests into .cache/bin/<name>-<version>,
# from the Go module proxy (no Docker). Versions come from the go.mod files in test/cluster/, so
# bumping a version there is the only step; an existing binary for that version is never rebuilt.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN_DIR="${TIERMESH_CLUSTER_BIN_DIR:-$ROOT/.cache/bin}"

if ! command -v go >/dev/null 2>&1; then
  echo "cluster-bins: 'go' is not on PATH. Install Go >= 1.24 (https://go.dev/dl/) to build kube-apiserver and etcd." >&2
  exit 1
fi

# The version a go.mod requires for one module, e.g. `modversion test/cluster/etcd/go.mod go.etcd.io/etcd/server/v3`.
modversion() {
  awk -v mod="$2" '($1 == mod || ($1 == "require" && $2 == mod)) { v = ($1 == "require") ? $3 : $2; print v; exit }' "$1"
}

ETCD_VERSION="$(modversion "$ROOT/test/cluster/etcd/go.mod" go.etcd.io/etcd/server/v3)"
KUBE_VERSION="$(modversion "$ROOT/test/cluster/apiserver/go.mod" k8s.io/kubernetes)"
if [[ -z "$ETCD_VERSION" || -z "$KUBE_VERSION" ]]; then
  echo "cluster-bins: could not read the etcd or kubernetes version from test/cluster/*/go.mod" >&2
  exit 1
fi
mkdir -p "$BIN_DIR"

# build NAME VERSION DIR PACKAGE [LDFLAGS...]: builds into a temp file and renames it, so an interrupted
# build never leaves a binary that a later run would mistake for a finished one.
build() {
  local name="$1" version="$2" dir="$3" pkg="$4" ldflags="$5"
  local out="$BIN_DIR/$name-$version"
  if [[ -x "$out" ]]; then
    echo "cluster-bins: $name $version already built ($out)"
    return
  fi
  echo "cluster-bins: building $name $version with $(go version | awk '{print $3}') (kube-apiserver takes ~7 min on 2 cores) ..."
  local start=$SECONDS
  (cd "$ROOT/$dir" && go build -trimpath -ldflags "$ldflags" -o "$out.partial" "$pkg")
  mv -f "$out.partial" "$out"
  echo "cluster-bins: built $out in $((SECONDS - start))s"
}

build etcd "$ETCD_VERSION" test/cluster/etcd . "-s -w"

KUBE_MINOR="$(echo "$KUBE_VERSION" | cut -d. -f2)"
build kube-apiserver "$KUBE_VERSION" test/cluster/apiserver k8s.io/kubernetes/cmd/kube-apiserver \
  "-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$KUBE_MINOR -X k8s.io/client-go/pkg/version.gitVersion=$KUBE_VERSION"
