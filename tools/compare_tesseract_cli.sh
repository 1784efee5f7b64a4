#!/usr/bin/env bash
# Checks that `skiff ocr --format text` gives the same text as the `tesseract`
# CLI with the same model and page segmentation mode, page by page.
# Usage: tools/compare_tesseract_cli.sh [IMAGE_DIR] [PSM] [fast|standard]
# Exits 1 when fewer than $MIN_SAME pages (default: all) are identical.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="${1:-$root/../shared/data/sroie-dev/img}"
psm="${2:-4}"
model="${3:-fast}"
skiff="${SKIFF:-$root/.build/release/skiff}"
[ -x "$skiff" ] || skiff="$root/.build/debug/skiff"
tessdata=()
[ "$model" = standard ] && tessdata=(--tessdata-dir "$root/models/tessdata-standard")

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$skiff" ocr --quiet --format text --psm "$psm" --model "$model" --out "$work/skiff" "$dir"
same=0; total=0; differ=()
for img in "$dir"/*.jpg "$dir"/*.jpeg "$dir"/*.png; do
  [ -e "$img" ] || continue
  name="$(basename "$img")"
  total=$((total + 1))
  OMP_THREAD_LIMIT=1 tesseract "${tessdata[@]}" "$img" - --psm "$psm" > "$work/cli.txt" 2>/dev/null
  if cmp -s "$work/cli.txt" "$work/skiff/$name.txt"; then
    same=$((same + 1))
  else
    differ+=("$name")
    if [ -n "${VERBOSE:-}" ]; then diff "$work/cli.txt" "$work/skiff/$name.txt" | head -20 || true; fi
  fi
done
echo "identical text: $same of $total pages (psm $psm, model $model)"
[ ${#differ[@]} -eq 0 ] || echo "differ: ${differ[*]}"
[ "$same" -ge "${MIN_SAME:-$total}" ]
