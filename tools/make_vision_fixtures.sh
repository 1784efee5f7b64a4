#!/usr/bin/env bash
# Makes .venv-vision (PyPI torch + transformers, about 5.7 GB with the CUDA wheels torch pulls in;
# it runs on the CPU) and regenerates Tests/SkiffVisionTests/Fixtures with tools/make_vision_fixtures.py.
# Pillow is pinned below 13: the models were trained with the classic bicubic resize.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv-vision"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet torch transformers safetensors tokenizers numpy "pillow==12.0.0"
fi
"$venv/bin/python" "$root/tools/make_vision_fixtures.py"
