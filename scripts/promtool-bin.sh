#!/usr/bin/env bash
# Builds the two promtool checks the tests run, from the Go module proxy, into .cache/bin:
#   promlint-<client_golang version>  `promtool check metrics` semantics (the official expfmt parser + client_golang
#                                     promlint), run by the integration tests on /metrics;
#   promrules-<prometheus version>    `promtool check rules` semantics (rulefmt.ParseFile with promtool's PromQL
#                                     parser, then the duplicate-rules lint), run by scripts/chart-check.sh on the
#                                     chart's PrometheusRule.
# The full promtool links every service discovery (cloud SDKs, k8s), too heavy to build here; both helpers call
# the same packages promtool calls for these two commands.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN_DIR="${TIERMESH_CLUSTER_BIN_DIR:-$ROOT/.cache/bin}"

if ! command -v go >/dev/null 2>&1; then
  echo "promtool-bin: 'go' is not on PATH; install Go >= 1.26 to build the promtool checks." >&2
  exit 1
fi

# build <name> <source dir> <module whose version names the binary>
build() {
  local name="$1" src="$ROOT/$2" module="$3" version out
  version="$(awk -v m="$module" '($1 == "require" && $2 == m) || $1 == m { print ($1 == m ? $2 : $3); exit }' "$src/go.mod")"
  out="$BIN_DIR/$name-$version"
  if [[ -x "$out" ]]; then
    ln -sfn "$name-$version" "$BIN_DIR/$name"
    echo "promtool-bin: $name $version already built ($out)"
    return
  fi
  mkdir -p "$BIN_DIR"
  (cd "$src" && go build -trimpath -ldflags "-s -w" -o "$out.partial" .)
  mv -f "$out.partial" "$out"
  ln -sfn "$name-$version" "$BIN_DIR/$name"
  echo "promtool-bin: built $out"
}

build promlint test/helpers/promlint github.com/prometheus/client_golang
build promrules test/helpers/promrules github.com/prometheus/prometheus
