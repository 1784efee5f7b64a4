#!/usr/bin/env bash
# Benchmark: whole-process times of `skiff score` next to dinglehopper and jiwer, in one run.
#
#   bash tools/bench_score.sh [SROIE_DIR]     (default ../shared/data/sroie-dev)
#
# - Installs dinglehopper 0.11.0 and jiwer 4.0.0 from PyPI into .bench-venv/venv (gitignored, reused).
# - Builds skiff in release mode twice: the default build (.build/release, `swift build -c release`)
#   and the one compared (.build-bench/release), which links the Swift runtime and libstdc++
#   statically and is not position-independent, so the dynamic loader has only libc, libm and
#   libgcc_s to map and relocate:
#     swift build -c release --product skiff --static-swift-stdlib -Xlinker -no-pie \
#       -Xlinker -L.build-bench/static-cxx --scratch-path .build-bench
#   where .build-bench/static-cxx holds only a link to GCC's libstdc++.a (`c++ -print-file-name`),
#   so the toolchain's `-lstdc++` picks the archive. Both are shown; the first starts slower.
# - OCR: `skiff ocr --psm 4` on the SROIE receipts (text and JSON, cached in .bench-venv/sroie-*).
# - Pages: ground truth (box CSV rows) and Tesseract text of consecutive receipts, concatenated
#   to about 3,000 and 30,000 characters.
# - Times each whole process (start-up included), median of N runs (3; 1 for the slow folder loops):
#     skiff score GT OCR --json                    (CER + WER with counts)
#     skiff score GT OCR --report DIR              (also the HTML + JSON report)
#     dinglehopper GT OCR  (its CLI: always writes an HTML + JSON report)
#     python -c 'jiwer.process_words + jiwer.process_characters'  (one process, no report)
#   Folder: skiff on the 60-file folder in one process; dinglehopper once per file (it takes files
#   only); jiwer in one process over the 60 pairs.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
sroie="${1:-../shared/data/sroie-dev}"
cache="$root/.bench-venv"
venv="$cache/venv"
mkdir -p "$cache"

if [ ! -x "$venv/bin/dinglehopper" ] || ! "$venv/bin/python" -c "import jiwer" 2>/dev/null; then
  echo "bench: installing dinglehopper and jiwer into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "dinglehopper==0.11.0" "jiwer==4.0.0"
fi

echo "bench: building skiff (release, and release with the Swift runtime and libstdc++ static, no PIE)"
swift build -c release --product skiff >/dev/null
static_cxx="$root/.build-bench/static-cxx"
mkdir -p "$static_cxx"
libstdcxx="$(c++ -print-file-name=libstdc++.a 2>/dev/null || true)"
if [ -f "$libstdcxx" ]; then
  ln -sf "$libstdcxx" "$static_cxx/libstdc++.a"
else
  echo "bench: no libstdc++.a found (Debian: libstdc++-12-dev); libstdc++ stays dynamic"
  rm -f "$static_cxx/libstdc++.a"
fi
swift build -c release --product skiff --static-swift-stdlib -Xlinker -no-pie -Xlinker -L"$static_cxx" \
  --scratch-path "$root/.build-bench" >/dev/null
skiff="$root/.build-bench/release/skiff"
skiff_default="$root/.build/release/skiff"

if [ ! -d "$cache/sroie-json" ] || [ "$(ls "$cache/sroie-json" | wc -l)" -lt "$(ls "$sroie"/img/*.jpg | wc -l)" ]; then
  echo "bench: OCR of the SROIE receipts (skiff ocr --psm 4, cached)"
  "$skiff" ocr --psm 4 --format json --quiet --out "$cache/sroie-json" "$sroie/img" >/dev/null
  "$skiff" ocr --psm 4 --format text --quiet --out "$cache/sroie-text" "$sroie/img" >/dev/null
fi

"$venv/bin/python" - "$skiff" "$sroie" "$cache" "$skiff_default" <<'PY'
import os, shutil, statistics, subprocess, sys, tempfile, time
skiff, sroie, cache, skiff_default = sys.argv[1:5]
work = tempfile.mkdtemp(prefix="skiff-bench-")
py = sys.executable
dinglehopper = os.path.join(os.path.dirname(py), "dinglehopper")

def box_text(path):
    with open(path, encoding="utf-8", newline="") as f:
        rows = [l.rstrip("\r\n") for l in f if l.strip()]
    return "\n".join(r.split(",", 8)[8] for r in rows)

stems = sorted(n[:-4] for n in os.listdir(os.path.join(sroie, "box")) if n.endswith(".csv"))
gt_dir, ocr_dir = os.path.join(work, "gt"), os.path.join(work, "ocr")
os.makedirs(gt_dir); os.makedirs(ocr_dir)
pairs = []
for s in stems:
    gt = box_text(os.path.join(sroie, "box", s + ".csv"))
    # Tesseract's text, upper-cased like the SROIE ground truth, blank lines dropped.
    ocr = open(os.path.join(cache, "sroie-text", s + ".jpg.txt"), encoding="utf-8").read().upper()
    ocr = "\n".join(l for l in ocr.splitlines() if l.strip())
    open(os.path.join(gt_dir, s + ".txt"), "w", encoding="utf-8").write(gt)
    open(os.path.join(ocr_dir, s + ".txt"), "w", encoding="utf-8").write(ocr)
    pairs.append((gt, ocr))

def page(n):
    gt, ocr, i = "", "", 0
    while len(gt) < n:
        g, o = pairs[i % len(pairs)]
        gt += ("\n" if gt else "") + g
        ocr += ("\n" if ocr else "") + o
        i += 1
    return gt, ocr, i

def timed(cmd, runs, cwd=None):
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t)
    return statistics.median(times)

jiwer_code = ("import sys, jiwer\n"
              "args = sys.argv[1:]\n"
              "for i in range(0, len(args), 2):\n"
              "    r = open(args[i], encoding='utf-8').read(); h = open(args[i+1], encoding='utf-8').read()\n"
              "    jiwer.process_words(r, h); jiwer.process_characters(r, h)\n")

rows = []
for label, size in [("3k page", 3000), ("30k page", 30000)]:
    gt, ocr, n = page(size)
    g, o = os.path.join(work, f"{size}.gt.txt"), os.path.join(work, f"{size}.ocr.txt")
    open(g, "w", encoding="utf-8").write(gt); open(o, "w", encoding="utf-8").write(ocr)
    rep = os.path.join(work, f"report-{size}")
    os.makedirs(rep, exist_ok=True)
    runs = 3
    t_skiff = timed([skiff, "score", g, o, "--json"], 5)
    t_default = timed([skiff_default, "score", g, o, "--json"], 5)
    t_skiff_report = timed([skiff, "score", g, o, "--report", rep], 5)
    t_dingle = timed([dinglehopper, "--plain-encoding", "utf-8", g, o, "report"], runs, cwd=rep)
    t_jiwer = timed([py, "-c", jiwer_code, g, o], runs)
    rows.append((f"{label} ({len(gt):,} chars, {n} receipts)", t_skiff, t_skiff_report, t_dingle, t_jiwer, t_default))

# The folder: 60 documents.
rep = os.path.join(work, "report-folder")
os.makedirs(rep, exist_ok=True)
t_skiff = timed([skiff, "score", gt_dir, ocr_dir, "--json"], 3)
t_default = timed([skiff_default, "score", gt_dir, ocr_dir, "--json"], 3)
t_skiff_report = timed([skiff, "score", gt_dir, ocr_dir, "--report", rep], 3)
t = time.perf_counter()
for s in stems:
    subprocess.run([dinglehopper, "--plain-encoding", "utf-8", os.path.join(gt_dir, s + ".txt"), os.path.join(ocr_dir, s + ".txt"), s],
                   cwd=rep, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
t_dingle = time.perf_counter() - t
args = [p for s in stems for p in (os.path.join(gt_dir, s + ".txt"), os.path.join(ocr_dir, s + ".txt"))]
t_jiwer = timed([py, "-c", jiwer_code] + args, 3)
rows.append((f"sroie-dev folder ({len(stems)} pages)", t_skiff, t_skiff_report, t_dingle, t_jiwer, t_default))
# Skiff straight from the box CSVs and its OCR JSON (no conversion).
t_native = timed([skiff, "score", "--profile", "casefold", os.path.join(sroie, "box"), os.path.join(cache, "sroie-json"), "--json"], 3)

def ms(x): return f"{x * 1000:9.1f} ms"
print()
print("whole-process times, median of runs; ratios = reference tool / skiff (above 1: skiff is faster)")
print(f"{'input':42} {'skiff':>12} {'skiff+report':>13} {'dinglehopper':>13} {'jiwer':>12}  {'dingle/skiff':>12} {'jiwer/skiff':>11} {'dingle/skiff+report':>19}  {'skiff default build':>19}")
for label, s, sr, d, j, dflt in rows:
    print(f"{label:42} {ms(s):>12} {ms(sr):>13} {ms(d):>13} {ms(j):>12}  {d / s:11.1f}x {j / s:10.1f}x {d / sr:18.1f}x  {ms(dflt):>19}")
print(f"skiff on the raw box CSVs vs its OCR JSON (casefold): {ms(t_native).strip()}")
shutil.rmtree(work)
PY
