# tiermesh — every install step lives here, so a fresh machine needs only `make demo` or `make test`.
SHELL := /bin/bash
# Node 22 comes from the npm registry (devDependency `node`), so the machine's own Node version does not matter.
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)
export npm_config_loglevel := error

CONFIG ?= examples/standalone.yaml
LISTEN ?= 127.0.0.1:4000

.PHONY: test-node node-suite node-packages node-bins node-images
.PHONY: promtool deps build demo test test-unit test-integration test-e2e lint typecheck crds crds-check cluster-bins helm chart-check bench scale eval e2e-kind clean

node_modules/.installed: package.json package-lock.json
	@# The lock lists every platform's optional packages (biome), so `npm ci` works with npm 10 and 11 alike and
	@# never rewrites the lock: the tree stays clean after `make test`. A symlinked node_modules (a second worktree
	@# sharing the first one's) is left alone: `npm ci` would empty the tree it points to.
	@if [ -L node_modules ]; then echo "deps: node_modules is a symlink; not reinstalling it"; \
	  else npm ci --no-audit --no-fund; fi
	@touch $@

deps: node_modules/.installed

build: deps
	tsc -p tsconfig.build.json

## The main job: the sidecar, standalone, on the example config (simulated providers unless API keys are set).
demo: build
	node bin/tiermesh.js sidecar --config $(CONFIG) --listen $(LISTEN)

## Every test suite: static checks, unit, integration (real sockets), e2e (real kube-apiserver + etcd), chart.
test: build cluster-bins helm promtool
	biome check .
	tsc -p tsconfig.json --noEmit
	$(MAKE) crds-check
	$(MAKE) chart-check
	@mkdir -p .cache
	@rm -f .cache/vitest-results.json .cache/vitest-node-results.json
	vitest run --reporter=default --reporter=json --outputFile.json=.cache/vitest-results.json; status=$$?; \
	  $(MAKE) --no-print-directory node-suite || status=1; \
	  tsx scripts/test-summary.ts .cache/vitest-results.json .cache/vitest-node-results.json || status=1; exit $$status

## The real-node suite, after the others so it does not compete with them for the 2 cores. A machine that cannot run
## a node (no root, no apt-get) gets one line saying why, from test/node/global-setup.ts.
node-suite:
	@if scripts/node-packages.sh --check; then \
	  scripts/node-packages.sh && scripts/node-bins.sh && scripts/node-images.sh; fi
	TIERMESH_NODE_E2E=1 vitest run --project node --reporter=default --reporter=json \
	  --outputFile.json=.cache/vitest-node-results.json

test-unit: deps
	vitest run --project unit

test-integration: build promtool
	vitest run --project integration

test-e2e: build cluster-bins
	vitest run --project e2e

lint: deps
	biome check .

typecheck: deps
	tsc -p tsconfig.json --noEmit

crds: deps
	tsx scripts/gen-crds.ts

## Fails when crds/ no longer matches the zod schemas in src/api.
crds-check: deps
	tsx scripts/gen-crds.ts --check

## kube-apiserver, etcd (and helm) built from the Go module proxy, cached under .cache/bin by version.
cluster-bins:
	scripts/cluster-bins.sh

helm:
	scripts/helm-bin.sh

## The `promtool check metrics` linter the sidecar integration tests run on /metrics.
promtool:
	scripts/promtool-bin.sh

chart-check: helm promtool
	scripts/chart-check.sh

## Side by side with a bare proxy, Portkey and LiteLLM (installed into .cache/bench; one that fails to install is
## reported, not fatal): writes bench/RESULTS.md and bench/latency-vs-rate.svg. Not part of `make test` (minutes).
bench: build
	scripts/bench-peers.sh || true
	node --expose-gc --import tsx bench/run.ts

## The operator at many sidecars (real apiserver, TokenReview, ConfigStream clients, budget reporters, failover):
## prints the figures in docs/scale.md. Opt-in, not part of `make test` (minutes). SCALE_ARGS="--sidecars 1000".
SCALE_ARGS ?= --sidecars 200 --reporters 100
scale: build cluster-bins
	tsx bench/scale.ts --compiled $(SCALE_ARGS)

eval: build
	node bin/tiermesh.js eval

## The chart journey of `make test-node` (test/node/chart-journey.ts) on a kind cluster, for machines with Docker.
e2e-kind: deps
	scripts/e2e-kind.sh

## A real node next to the e2e control plane (kubelet, containerd, kube-proxy, controller-manager, scheduler,
## CoreDNS) running the image built from the Dockerfile with buildah, and the chart installed with helm (test/node).
## Needs root; elsewhere the suite prints one line saying why it skipped. `make test` runs it (`node-suite`).
node-packages:
	scripts/node-packages.sh

node-bins:
	scripts/node-bins.sh

node-images: deps node-bins
	scripts/node-images.sh

test-node: build cluster-bins helm
	@if scripts/node-packages.sh --check; then \
	  scripts/node-packages.sh && scripts/node-bins.sh && scripts/node-images.sh; fi
	TIERMESH_NODE_E2E=1 vitest run --project node

clean:
	rm -rf dist node_modules/.installed
