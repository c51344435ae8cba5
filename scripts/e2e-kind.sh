#!/usr/bin/env bash
# The chart's user journey on a kind cluster, for machines with Docker: the same test body the real test node runs
# (test/node/chart-journey.ts, through test/kind/chart.test.ts): helm install, operator Ready, a labelled namespace,
# the example ModelRoute/ModelBudget, an app Deployment calling its injected sidecar with the openai SDK (JSON and
# streaming), kubectl get columns, budget spend, last-known-good with no operator, helm upgrade with no failed call,
# helm uninstall leaving no webhook and no Lease. This script makes the cluster and builds the two images with
# Docker; the test loads them (`kind load docker-image`) and runs the journey.
# Usage: scripts/e2e-kind.sh   (KEEP_CLUSTER=1 keeps a cluster it created; KIND_CLUSTER names it)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CLUSTER="${KIND_CLUSTER:-tiermesh-e2e}"
IMAGE="${IMAGE:-tiermesh:e2e}"
APP_IMAGE="${APP_IMAGE:-tiermesh-openai-app:e2e}"
cd "$ROOT"
export PATH="$ROOT/node_modules/.bin:$PATH"

missing=()
for tool in docker kind kubectl; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
if ((${#missing[@]} > 0)); then
  echo "e2e-kind: needs ${missing[*]} on PATH (Docker engine, https://kind.sigs.k8s.io, kubectl)." >&2
  echo "e2e-kind: without Docker, \`make test-node\` (root) runs the same journey on a real node." >&2
  exit 2
fi
if ! docker info >/dev/null 2>&1; then
  echo "e2e-kind: docker is installed but its engine is not reachable (is the daemon running?)." >&2
  exit 2
fi
for f in Dockerfile charts/tiermesh/Chart.yaml test/node/app/Dockerfile node_modules/.bin/vitest; do
  [[ -e "$f" ]] || { echo "e2e-kind: $f is missing (run \`make deps\` for node_modules)" >&2; exit 2; }
done

# helm from PATH, else the one `make helm` builds from source.
HELM="$(command -v helm || true)"
if [[ -z "$HELM" ]]; then
  scripts/helm-bin.sh
  HELM="$(ls -1 .cache/bin/helm-v* | sort -V | tail -1)"
fi

step() { echo "e2e-kind: $*"; }
WORK="$(mktemp -d)"
created=0
cleanup() {
  rm -rf "$WORK"
  if ((created == 0)); then return; fi
  if [[ "${KEEP_CLUSTER:-}" == 1 ]]; then step "keeping cluster $CLUSTER (kind delete cluster --name $CLUSTER)"
  else kind delete cluster --name "$CLUSTER" >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

if ! kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
  step "creating kind cluster $CLUSTER"
  kind create cluster --name "$CLUSTER" --wait 180s
  created=1
else
  step "using the existing kind cluster $CLUSTER (it must not have a tiermesh release yet)"
fi
kind get kubeconfig --name "$CLUSTER" >"$WORK/kubeconfig"

step "building $IMAGE (Dockerfile) and $APP_IMAGE (test/node/app)"
docker build -t "$IMAGE" .
OPENAI_VERSION="$(node -p "require('./package-lock.json').packages['node_modules/openai'].version")"
docker build -t "$APP_IMAGE" --build-arg "OPENAI_VERSION=$OPENAI_VERSION" test/node/app

step "running the chart journey (test/kind/chart.test.ts)"
TIERMESH_KIND_E2E=1 \
  TIERMESH_KIND_CLUSTER="$CLUSTER" \
  TIERMESH_KIND_KUBECONFIG="$WORK/kubeconfig" \
  TIERMESH_KIND_IMAGE="$IMAGE" \
  TIERMESH_KIND_APP_IMAGE="$APP_IMAGE" \
  TIERMESH_KIND_HELM="$HELM" \
  TIERMESH_KIND_KUBECTL="$(command -v kubectl)" \
  vitest run --project kind
step "ok: the chart journey passed on kind cluster $CLUSTER"
