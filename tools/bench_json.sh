#!/usr/bin/env bash
# JSON parse and JSON Schema validation benchmark, all figures from one run:
# Skiff vs Foundation's JSONSerialization (parse MB/s) and vs Python jsonschema and
# jsonschema-rs (validation instances/s) on ../shared/data/jsonschemabench-dev.
# Makes a virtual environment in .venv-bench (gitignored) with both Python packages.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
venv="$root/.venv-bench"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -c "import jsonschema, jsonschema_rs" 2>/dev/null ||
  "$venv/bin/pip" install --quiet "jsonschema==4.26.0" "jsonschema-rs==0.60.3"
swift build -c release --product skiff >/dev/null
.build/release/skiff bench json --corpus "${1:-../shared/data/jsonschemabench-dev}" --python "$venv/bin/python" "${@:2}"
