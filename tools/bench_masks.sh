#!/usr/bin/env bash
# MaskBench reference engines (llguidance, xgrammar) on ../shared/data/jsonschemabench-dev with
# the SmolLM2 GGUF vocabulary: the Python side of `skiff bench masks`.
#
# Makes (idempotently) a virtual environment in .venv-masks (gitignored) with pinned llguidance
# and xgrammar, without torch: xgrammar is installed with --no-deps plus the dependencies its
# torch-free API needs (tvm-ffi, pydantic, numpy); tools/bench_masks_ref.py registers stand-ins for
# the torch/transformers imports. Then runs tools/bench_masks_ref.py.
#
#   tools/bench_masks.sh --setup-only            # just the venv; prints its python
#   tools/bench_masks.sh [bench_masks_ref.py options]
#       defaults: --data ../shared/data/jsonschemabench-dev
#                 --gguf models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf --out out/masks_ref.jsonl
#       e.g. tools/bench_masks.sh --only Glaiveai2K --engines llguidance
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
venv="$root/.venv-masks"
py="$venv/bin/python"

pins_main=("llguidance==1.9.1" "tokenizers==0.23.3" "gguf==0.19.0" "numpy==2.4.6"
           "apache-tvm-ffi==0.1.15.post2" "pydantic==2.14.3" "typing-extensions==4.16.0")
pin_xgr="xgrammar==0.2.8"

pins_ok() {
  "$py" - "${pins_main[@]}" "$pin_xgr" <<'EOF' 2>/dev/null
import sys
from importlib.metadata import version
for spec in sys.argv[1:]:
    name, want = spec.split("==")
    if version(name) != want:
        sys.exit(1)
EOF
}

if [ ! -x "$py" ]; then
  python3 -m venv "$venv"
fi
if ! pins_ok; then
  "$venv/bin/pip" install --quiet "${pins_main[@]}"
  # xgrammar declares torch, transformers and triton as requirements, but compiling a schema and
  # computing masks do not use them; --no-deps keeps ~2 GB of wheels out.
  "$venv/bin/pip" install --quiet --no-deps "$pin_xgr"
  pins_ok || { echo "bench_masks.sh: pinned versions not installed in $venv" >&2; exit 1; }
fi

if [ "${1:-}" = "--setup-only" ]; then
  echo "$py"
  exit 0
fi

args=("$@")
has() { local a; for a in "${args[@]}"; do [ "$a" = "$1" ] && return 0; done; return 1; }
has --data || args+=(--data "$root/../shared/data/jsonschemabench-dev")
has --gguf || args+=(--gguf "$root/models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
has --out || args+=(--out "$root/out/masks_ref.jsonl")
exec "$py" tools/bench_masks_ref.py "${args[@]}"
