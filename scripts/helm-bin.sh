#!/usr/bin/env bash
# Builds helm from the Go module proxy into .cache/bin/helm-<version> (no Docker, no release tarballs);
# an existing binary for that version is never rebuilt. Prints nothing but progress on stderr.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN_DIR="${TIERMESH_CLUSTER_BIN_DIR:-$ROOT/.cache/bin}"
# v3.19 is built against the Kubernetes 1.34 libraries, the same minor as the e2e kube-apiserver.
HELM_VERSION="${HELM_VERSION:-v3.19.5}"
# The Kubernetes minor helm's libraries were built against; helm's own Makefile stamps it in, and without it
# `helm template` assumes Kubernetes v1.20 and refuses the chart's kubeVersion.
HELM_K8S_MINOR="${HELM_K8S_MINOR:-34}"
OUT="$BIN_DIR/helm-$HELM_VERSION"

if [[ -x "$OUT" ]]; then
  echo "helm-bin: helm $HELM_VERSION already built ($OUT)" >&2
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "helm-bin: 'go' is not on PATH. Install Go >= 1.24 (https://go.dev/dl/) to build helm." >&2
  exit 1
fi

mkdir -p "$BIN_DIR"
TMP="$(mktemp -d "$BIN_DIR/.helm-build.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
echo "helm-bin: building helm $HELM_VERSION with $(go version | awk '{print $3}') (a few minutes on 2 cores) ..." >&2
start=$SECONDS
# Built into a temp dir and renamed, so an interrupted build never leaves a binary a later run would trust.
LDFLAGS="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
for pkg in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
  LDFLAGS+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$HELM_K8S_MINOR"
done
GOBIN="$TMP" GOFLAGS=-buildvcs=false go install -trimpath -ldflags "$LDFLAGS" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
mv -f "$TMP/helm" "$OUT"
echo "helm-bin: built $OUT in $((SECONDS - start))s" >&2
