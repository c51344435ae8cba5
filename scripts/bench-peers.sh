#!/usr/bin/env bash
# Installs the peer gateways that `make bench` compares tiermesh with into .cache/bench, and builds the compiled one
# into .cache/peers (idempotent, never committed).
# Pinned versions so a rerun measures the same peers; a peer that fails to install is reported, not fatal:
# bench/run.ts records the failure in bench/RESULTS.md and measures the others.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"

PORTKEY_VERSION=1.15.2
# Newer @hono/node-server hands Portkey immutable fetch headers and streaming fails with `TypeError: immutable`
# (Portkey-AI/gateway issue 1389; on Node 22 1.14.2 fails too, measured here); 1.13.8 works.
HONO_NODE_SERVER_VERSION=1.13.8
LITELLM_VERSION=1.100.5
DIR=.cache/bench
mkdir -p "$DIR"
status=0

# Portkey's open-source gateway: a Node (hono) server, installed from npm into its own prefix.
portkey="$DIR/portkey"
if [[ -f "$portkey/.installed-$PORTKEY_VERSION-$HONO_NODE_SERVER_VERSION" ]]; then
  echo "portkey gateway $PORTKEY_VERSION: already installed"
else
  rm -rf "$portkey" && mkdir -p "$portkey"
  # An override, because the gateway's own @hono/node-ws would otherwise pull a newer node-server in beside it.
  printf '{ "name": "bench-portkey", "private": true, "overrides": { "@hono/node-server": "%s" } }\n' \
    "$HONO_NODE_SERVER_VERSION" >"$portkey/package.json"
  if (cd "$portkey" && npm install --no-audit --no-fund --loglevel=error "@portkey-ai/gateway@$PORTKEY_VERSION") \
    >"$DIR/portkey-install.log" 2>&1; then
    touch "$portkey/.installed-$PORTKEY_VERSION-$HONO_NODE_SERVER_VERSION"
    echo "portkey gateway $PORTKEY_VERSION: installed"
  else
    echo "portkey gateway $PORTKEY_VERSION: install FAILED (see $DIR/portkey-install.log)" >&2
    status=1
  fi
fi

# LiteLLM proxy: Python, installed from PyPI into a venv of its own.
venv="$DIR/venv"
if [[ -f "$venv/.installed-$LITELLM_VERSION" ]]; then
  echo "litellm $LITELLM_VERSION: already installed"
else
  # pyenv shims exist for versions that are not active, so take the first interpreter that actually runs.
  python=python3
  for candidate in python3.12 python3.11 python3; do
    if "$candidate" -c 'import sys; assert sys.version_info >= (3, 9)' >/dev/null 2>&1; then
      python=$candidate
      break
    fi
  done
  rm -rf "$venv"
  if "$python" -m venv "$venv" >"$DIR/litellm-install.log" 2>&1 &&
    "$venv/bin/pip" install --quiet --disable-pip-version-check "litellm[proxy]==$LITELLM_VERSION" \
      >>"$DIR/litellm-install.log" 2>&1; then
    touch "$venv/.installed-$LITELLM_VERSION"
    echo "litellm $LITELLM_VERSION: installed ($("$venv/bin/python" --version))"
  else
    echo "litellm $LITELLM_VERSION: install FAILED (see $DIR/litellm-install.log)" >&2
    status=1
  fi
fi

# The compiled peer (Rust, from the crates registry), built once into .cache/peers: minutes the first time.
bench/peers/install-compiled.sh || status=1

exit $status
