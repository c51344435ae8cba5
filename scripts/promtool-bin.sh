#!/usr/bin/env bash
# Builds the metrics linter the integration tests run on /metrics (`promtool check metrics` semantics: the
# official expfmt parser + client_golang promlint) into .cache/bin/promlint-<client_golang version>, from the Go
# module proxy. The full promtool drags in the whole Prometheus module graph (cloud SDKs, k8s), too heavy here.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN_DIR="${TIERMESH_CLUSTER_BIN_DIR:-$ROOT/.cache/bin}"
SRC="$ROOT/test/helpers/promlint"

if ! command -v go >/dev/null 2>&1; then
  echo "promtool-bin: 'go' is not on PATH; install Go >= 1.24 to build the metrics linter." >&2
  exit 1
fi

VERSION="$(awk '$1 == "require" && $2 == "github.com/prometheus/client_golang" { print $3; exit }' "$SRC/go.mod")"
OUT="$BIN_DIR/promlint-$VERSION"
if [[ -x "$OUT" ]]; then
  ln -sfn "promlint-$VERSION" "$BIN_DIR/promlint"
  echo "promtool-bin: promlint $VERSION already built ($OUT)"
  exit 0
fi
mkdir -p "$BIN_DIR"
(cd "$SRC" && go build -trimpath -ldflags "-s -w" -o "$OUT.partial" .)
mv -f "$OUT.partial" "$OUT"
ln -sfn "promlint-$VERSION" "$BIN_DIR/promlint"
echo "promtool-bin: built $OUT"
