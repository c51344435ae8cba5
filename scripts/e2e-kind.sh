#!/usr/bin/env bash
# End-to-end on a real (kind) cluster, for machines with Docker: builds the image, installs the Helm chart,
# applies the examples into a namespace labelled for injection, and has a sample pod call its injected
# sidecar with curl. The harness in test/cluster covers the same API behaviour without Docker; this adds
# real kubelets, images, DNS and Services. Usage: scripts/e2e-kind.sh  (KEEP_CLUSTER=1 keeps the cluster).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CLUSTER="${KIND_CLUSTER:-tiermesh-e2e}"
IMAGE="${IMAGE:-tiermesh:e2e}"
SYSTEM_NS="${SYSTEM_NS:-tiermesh-system}"
APP_NS="${APP_NS:-tiermesh-demo}"
HELM_ARGS="${HELM_ARGS:-}"
cd "$ROOT"

missing=()
for tool in docker kind kubectl; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
if ((${#missing[@]} > 0)); then
  echo "e2e-kind: needs ${missing[*]} on PATH (Docker engine, https://kind.sigs.k8s.io, kubectl)." >&2
  echo "e2e-kind: without Docker, \`make test-e2e\` runs the same API tests against a local kube-apiserver." >&2
  exit 2
fi
if ! docker info >/dev/null 2>&1; then
  echo "e2e-kind: docker is installed but its engine is not reachable (is the daemon running?)." >&2
  exit 2
fi
for f in Dockerfile charts/tiermesh/Chart.yaml; do
  [[ -f "$f" ]] || { echo "e2e-kind: $f is missing" >&2; exit 2; }
done

# helm from PATH, else the one `make helm` builds from source.
HELM="$(command -v helm || true)"
if [[ -z "$HELM" ]]; then
  scripts/helm-bin.sh
  HELM="$(ls -1 .cache/bin/helm-* | sort -V | tail -1)"
fi

step() { echo "e2e-kind: $*"; }
cleanup() {
  if [[ "${KEEP_CLUSTER:-}" == 1 ]]; then step "keeping cluster $CLUSTER (kind delete cluster --name $CLUSTER)"
  else kind delete cluster --name "$CLUSTER" >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

if ! kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
  step "creating kind cluster $CLUSTER"
  kind create cluster --name "$CLUSTER" --wait 180s
fi
KCTL=(kubectl --context "kind-$CLUSTER")

step "building $IMAGE and loading it into the cluster"
docker build -t "$IMAGE" .
kind load docker-image "$IMAGE" --name "$CLUSTER"

step "installing CRDs and the chart"
"${KCTL[@]}" apply --server-side -f crds/
"${KCTL[@]}" wait --for=condition=Established --timeout=60s -f crds/
# shellcheck disable=SC2086 # HELM_ARGS is a list of extra flags
"$HELM" --kube-context "kind-$CLUSTER" upgrade --install tiermesh charts/tiermesh \
  --namespace "$SYSTEM_NS" --create-namespace \
  --set image.repository="${IMAGE%:*}" --set image.tag="${IMAGE##*:}" --set image.pullPolicy=Never \
  --wait --timeout 5m $HELM_ARGS

step "applying examples/*.yaml into $APP_NS (labelled for sidecar injection)"
"${KCTL[@]}" create namespace "$APP_NS" --dry-run=client -o yaml | "${KCTL[@]}" apply -f -
"${KCTL[@]}" label namespace "$APP_NS" tiermesh.dev/inject=enabled --overwrite
for f in examples/*.yaml; do
  "${KCTL[@]}" apply --server-side -n "$APP_NS" -f <(sed -E "s/^(  namespace:).*/\1 $APP_NS/" "$f")
done

step "running a sample app pod that calls its sidecar"
"${KCTL[@]}" -n "$APP_NS" delete pod sample-app --ignore-not-found
"${KCTL[@]}" -n "$APP_NS" run sample-app --image=curlimages/curl:8.11.1 --restart=Never --command -- \
  sh -c 'for i in $(seq 1 60); do curl -sf http://127.0.0.1:4000/readyz >/dev/null && break; sleep 1; done;
         curl -sS --fail-with-body http://127.0.0.1:4000/v1/chat/completions -H "content-type: application/json" \
           -H "x-tiermesh-task: classification" \
           -d "{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"Is this positive? I love it.\"}]}"'
# The sidecar keeps running after curl exits, so watch the app container rather than the pod phase.
exit_code=""
for _ in $(seq 1 90); do
  exit_code="$("${KCTL[@]}" -n "$APP_NS" get pod sample-app \
    -o jsonpath='{.status.containerStatuses[?(@.name=="sample-app")].state.terminated.exitCode}' 2>/dev/null || true)"
  [[ -n "$exit_code" ]] && break
  sleep 2
done
if [[ "$exit_code" != 0 ]]; then
  echo "e2e-kind: the sample app did not get an answer (exit code '${exit_code:-none}')" >&2
  "${KCTL[@]}" -n "$APP_NS" describe pod sample-app || true
  "${KCTL[@]}" -n "$APP_NS" logs sample-app --all-containers || true
  exit 1
fi
if ! "${KCTL[@]}" -n "$APP_NS" get pod sample-app -o jsonpath='{.spec.containers[*].name}' | grep -qw tiermesh-sidecar; then
  echo "e2e-kind: the sample pod has no tiermesh-sidecar container: injection did not happen" >&2
  exit 1
fi
"${KCTL[@]}" -n "$APP_NS" logs sample-app -c sample-app
echo
step "ok: the sample app got a chat completion through its injected sidecar"
