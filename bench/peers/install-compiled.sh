#!/usr/bin/env bash
# Builds the compiled peer gateway that `make bench` measures beside the Node and Python ones, from the crates registry, at a
# pinned exact version, into .cache/peers/<name> (gitignored; nothing fetched or built is committed). Built once:
# a rerun with the binary present does nothing. Slow on a small machine (a release build with the crate's own
# profile: fat LTO, one codegen unit), so scripts/bench-peers.sh runs it and bench/run.ts reports a missing binary.
#
# Why this one: see "How each peer was run" in bench/RESULTS.md (the Go gateway Bifrost is not served by the Go
# module proxy; of the Rust gateways, TensorZero's and agentgateway's are not published in the crates registry, Helicone's
# crate name belongs to another project).
set -uo pipefail
cd "$(dirname "$0")/../.."

NAME=noveum-ai-gateway
VERSION=2.0.1
ROOT=.cache/peers/$NAME
BIN=$ROOT/bin/$NAME
LOG=.cache/peers/$NAME-install.log

if [[ -x "$BIN" && -f "$ROOT/.installed-$VERSION" ]]; then
  echo "$NAME $VERSION: already built ($BIN)"
  exit 0
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "$NAME $VERSION: cargo not found, not built" >&2
  exit 1
fi
mkdir -p .cache/peers
echo "$NAME $VERSION: building from the crates registry (minutes; log in $LOG)"
# --locked: the crate's own Cargo.lock, so a rebuild measures the same dependency versions. The target directory is
# kept under .cache so an interrupted build resumes instead of starting over; it is removed once the binary is in.
# nice: the build shares the machine with other work.
if CARGO_TARGET_DIR=.cache/peers/target nice -n 10 \
  cargo install --locked --version "$VERSION" --root "$ROOT" "$NAME" >"$LOG" 2>&1; then
  touch "$ROOT/.installed-$VERSION"
  rm -rf .cache/peers/target
  echo "$NAME $VERSION: built ($BIN)"
else
  echo "$NAME $VERSION: build FAILED (see $LOG)" >&2
  exit 1
fi
