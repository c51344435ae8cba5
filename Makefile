# tiermesh — every install step lives here, so a fresh machine needs only `make demo` or `make test`.
SHELL := /bin/bash
# Node 22 comes from the npm registry (devDependency `node`), so the machine's own Node version does not matter.
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)
export npm_config_loglevel := error

CONFIG ?= examples/standalone.yaml
LISTEN ?= 127.0.0.1:4000

.PHONY: promtool deps build demo test test-unit test-integration test-e2e lint typecheck crds crds-check cluster-bins helm chart-check bench eval e2e-kind clean

node_modules/.installed: package.json package-lock.json
	@# The lock lists every platform's optional packages (biome), so `npm ci` works with npm 10 and 11 alike and
	@# never rewrites the lock: the tree stays clean after `make test`.
	npm ci --no-audit --no-fund
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
	vitest run --reporter=default --reporter=json --outputFile.json=.cache/vitest-results.json; status=$$?; \
	  tsx scripts/test-summary.ts .cache/vitest-results.json; exit $$status

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

eval: build
	node bin/tiermesh.js eval

e2e-kind:
	scripts/e2e-kind.sh

clean:
	rm -rf dist node_modules/.installed
