#!/usr/bin/env bash
# Static checks of charts/tiermesh (run by `make chart-check`): helm lint, helm template with the default and every
# ci/*-values.yaml, refusal of bad values, and the chart's CRD copies byte-identical to crds/ (the generated source).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CHART="$ROOT/charts/tiermesh"
HELM="${HELM:-$("$ROOT/scripts/helm-bin.sh" >/dev/null 2>&1; ls -1 "$ROOT"/.cache/bin/helm-v* | sort -V | tail -1)}"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
fail=0

echo "chart-check: CRD copies in charts/tiermesh/crds match crds/"
for f in "$ROOT"/crds/*.yaml; do
  copy="$CHART/crds/$(basename "$f")"
  if ! cmp -s "$f" "$copy"; then
    echo "  out of sync: $copy (run: cp crds/*.yaml charts/tiermesh/crds/)" >&2
    fail=1
  fi
done
for copy in "$CHART"/crds/*.yaml; do
  [[ -e "$ROOT/crds/$(basename "$copy")" ]] || { echo "  stale copy: $copy has no source in crds/" >&2; fail=1; }
done

echo "chart-check: helm lint"
"$HELM" lint --strict "$CHART" >/dev/null || { "$HELM" lint --strict "$CHART"; fail=1; }
for v in "$CHART"/ci/*-values.yaml; do
  "$HELM" lint --strict "$CHART" -f "$v" >/dev/null || { echo "  lint failed with $v" >&2; fail=1; }
done

echo "chart-check: helm template (default and ci/*-values.yaml)"
"$HELM" template tiermesh "$CHART" --namespace tiermesh-system >"$OUT/default.yaml"
for v in "$CHART"/ci/*-values.yaml; do
  "$HELM" template tiermesh "$CHART" --namespace tiermesh-system -f "$v" >"$OUT/$(basename "$v")"
done

echo "chart-check: bad values are refused"
expect_refused() {
  local why="$1"; shift
  if "$HELM" template tiermesh "$CHART" --namespace tiermesh-system "$@" >/dev/null 2>&1; then
    echo "  rendered although $why: $*" >&2
    fail=1
  fi
}
expect_refused "failurePolicy is invalid" --set webhook.failurePolicy=Sometimes
expect_refused "certMode is invalid" --set webhook.certMode=letsencrypt
expect_refused "a value is misspelt (values.schema.json)" --set webhook.failurPolicy=Fail
expect_refused "sidecar memory is not a quantity" --set sidecar.resources.memoryLimit=lots
expect_refused "sidecar.mode is invalid" --set sidecar.mode=sometimes
expect_refused "configScheme is invalid" --set operator.configScheme=grpc
expect_refused "provided mode lacks a caBundle" --set webhook.certMode=provided --set webhook.provided.secretName=x
expect_refused "an alert duration is not a duration" --set metrics.prometheusRule.escalationFor=soon
expect_refused "a ratio is out of range" --set metrics.prometheusRule.driftThreshold=2
expect_refused "the PDB would block every eviction" --set operator.podDisruptionBudget.minAvailable=2
expect_refused "a PDB value is misspelt" --set operator.podDisruptionBudget.minAvaliable=1
expect_refused "minAvailable is neither a count nor a percentage" --set-string operator.podDisruptionBudget.minAvailable=one
expect_refused "the grace period does not cover the shutdown delay" --set operator.shutdownDelaySeconds=30
expect_refused "the shutdown delay is negative" --set operator.shutdownDelaySeconds=-1

# The PrometheusRule (off by default) parsed and linted as `promtool check rules` does, and the checker itself
# shown to refuse a broken expression, so a silently passing checker cannot hide broken alerts.
echo "chart-check: PrometheusRule passes promtool check rules"
"$ROOT/scripts/promtool-bin.sh" >/dev/null
PROMRULES="${PROMRULES:-${TIERMESH_CLUSTER_BIN_DIR:-$ROOT/.cache/bin}/promrules}"
TSX="$ROOT/node_modules/.bin/tsx"
if grep -q 'kind: PrometheusRule' "$OUT/default.yaml"; then echo "  PrometheusRule rendered by default" >&2; fail=1; fi
"$TSX" "$ROOT/scripts/prometheus-rules.ts" <"$OUT/prometheusrule-values.yaml" >"$OUT/rules.json" || fail=1
"$PROMRULES" "$OUT/rules.json" >/dev/null || { "$PROMRULES" "$OUT/rules.json"; fail=1; }
printf 'groups:\n  - name: broken\n    rules:\n      - alert: X\n        expr: sum(rate(x[5m])\n' >"$OUT/broken-rules.yaml"

# The Grafana dashboard's queries, expanded as Grafana does, parsed the same way; each names a metric we export.
echo "chart-check: dashboard queries parse and name exported metrics"
"$TSX" "$ROOT/scripts/dashboard-rules.ts" "$ROOT/charts/tiermesh/files/dashboard.json" >"$OUT/dashboard-rules.json" || fail=1
"$PROMRULES" "$OUT/dashboard-rules.json" >/dev/null || { "$PROMRULES" "$OUT/dashboard-rules.json"; fail=1; }
if "$PROMRULES" "$OUT/broken-rules.yaml" >/dev/null 2>&1; then echo "  promrules accepted a broken expression" >&2; fail=1; fi

# The RBAC promises of docs/rbac.md, checked on the default render: nothing beyond these verbs on secrets and
# webhook configurations, and those always pinned to resourceNames.
grep -q 'resourceNames: \[tiermesh-sidecar-injector\]' "$OUT/default.yaml" || { echo "  webhook RBAC not pinned to its name" >&2; fail=1; }
grep -q 'resourceNames: \[tiermesh-webhook-certs\]' "$OUT/default.yaml" || { echo "  Secret RBAC not pinned to its name" >&2; fail=1; }

if [[ $fail -ne 0 ]]; then
  echo "chart-check: FAILED" >&2
  exit 1
fi
echo "chart-check: ok ($(ls "$OUT" | wc -l) renders, $("$HELM" version --short))"
