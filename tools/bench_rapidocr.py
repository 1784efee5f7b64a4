#!/usr/bin/env python3
"""Times onnxruntime + rapidocr (PP-OCRv5 mobile, the settings Skiff's PP-OCR engine copies) on
the same receipts as `skiff bench ppocr`, and Skiff's runtime in the same run, then prints the
ratio. Reference engine only: run in the throwaway venv of tools/make_ppocr_fixtures.py.

    .venv-ppocr/bin/python tools/bench_rapidocr.py ../shared/data/sroie-dev --pages 10
    .venv-ppocr/bin/python tools/bench_rapidocr.py DIR --pages 10 --skiff "" # rapidocr only

Prints wall and CPU (process user + system) seconds per page for each engine; the machine's load
average is printed too, since shared cores move both. The engines take turns on blocks of
--block pages, so load that comes and goes falls on both. Skiff runs as a separate process per
block (`skiff bench ppocr --skip-tesseract`, its per-page figures exclude loading the models).
Both engines get the same settings (--max-side, --min-width, --limit-type, --limit-side;
defaults: rapidocr's own, without the orientation classifier).
"""
import argparse, glob, os, resource, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_ppocr_fixtures import engine  # noqa: E402  (the same RapidOCR settings as the fixtures)

import cv2  # noqa: E402


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("directory", nargs="?", default="../shared/data/sroie-dev")
    ap.add_argument("--pages", type=int, default=10)
    ap.add_argument("--skiff", default=".build/release/skiff",
                    help="skiff binary to time in the same run ('' to skip)")
    ap.add_argument("--skiff-args", default="", help="extra arguments for skiff bench ppocr")
    # Settings given to both engines, so the ratio stays like for like.
    ap.add_argument("--max-side", type=int, default=2000,
                    help="scale pages down to this long side before detection (rapidocr: use_preprocess_img + max_side_len)")
    ap.add_argument("--min-width", type=int, default=320, help="recognition: pad lines to at least this width")
    ap.add_argument("--limit-type", default="min")
    ap.add_argument("--limit-side", type=int, default=736)
    ap.add_argument("--block", type=int, default=5, help="pages per turn: the engines alternate")
    args = ap.parse_args()
    images = sorted(glob.glob(os.path.join(args.directory, "img", "*.jpg")))[: args.pages]
    if not images:
        sys.exit(f"no images in {args.directory}/img")
    print(f"{len(images)} pages of {args.directory}; load {os.getloadavg()}", flush=True)

    overrides = {"Rec.rec_img_shape": [3, 48, args.min_width], "Det.limit_type": args.limit_type,
                 "Det.limit_side_len": args.limit_side}
    if args.max_side > 0:
        overrides.update({"Global.use_preprocess_img": True, "Global.max_side_len": args.max_side})
    print(f"settings: max side {args.max_side or 'off'}, det limit {args.limit_type} {args.limit_side}, "
          f"rec min width {args.min_width}", flush=True)
    ocr = engine(overrides)
    ocr(cv2.imread(images[0]))  # warm-up: sessions and arenas

    # The engines take turns, a block of pages each, so that the other tenants' load (which moves
    # both wall and CPU time by tens of percent here) falls on both alike.
    skiff_cmd = None
    if args.skiff:
        skiff_cmd = [args.skiff, "bench", "ppocr", "--skip-tesseract",
                     "--max-side", str(args.max_side), "--min-width", str(args.min_width),
                     "--limit-type", args.limit_type, "--limit-side", str(args.limit_side)]
        skiff_cmd += args.skiff_args.split()
    totals = {"rapidocr": [0.0, 0.0], "skiff": [0.0, 0.0]}
    blocks = []
    for b in range(0, len(images), args.block):
        block = images[b: b + args.block]
        wall0, cpu0 = time.perf_counter(), cpu()
        for path in block:
            ocr(cv2.imread(path))
        r = (time.perf_counter() - wall0, cpu() - cpu0)
        totals["rapidocr"][0] += r[0]
        totals["rapidocr"][1] += r[1]
        if skiff_cmd is None:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            # The block as a receipt folder of its own (skiff bench reads the first --pages).
            for sub in ("img", "box", "key"):
                os.makedirs(os.path.join(tmp, sub))
                for path in block:
                    stem = os.path.splitext(os.path.basename(path))[0]
                    for cand in glob.glob(os.path.join(args.directory, sub, stem + ".*")):
                        os.symlink(os.path.abspath(cand), os.path.join(tmp, sub, os.path.basename(cand)))
            out = subprocess.run(skiff_cmd + [tmp, "--pages", str(len(block))], capture_output=True, text=True,
                                 check=True).stdout
        line = next((l for l in out.splitlines() if "s/page wall" in l), None)
        if line is None:
            sys.exit(f"skiff bench ppocr printed no s/page line for pages {b + 1}-{b + len(block)}:\n{out}")
        s_wall = float(line.split("s/page wall")[0].split()[-1])
        s_cpu = float(line.split("s/page wall,")[1].split()[0])
        totals["skiff"][0] += s_wall * len(block)
        totals["skiff"][1] += s_cpu * len(block)
        blocks.append((r[0] / len(block), s_wall))
        print(f"  pages {b + 1}-{b + len(block)}: rapidocr {r[0] / len(block):.2f} s/page wall, "
              f"skiff {s_wall:.2f}; ratio {s_wall / (r[0] / len(block)):.2f}; load {os.getloadavg()[0]:.2f}",
              flush=True)
    n = len(images)
    wall, cpus = totals["rapidocr"][0] / n, totals["rapidocr"][1] / n
    print(f"rapidocr + onnxruntime (2 threads): {wall:.3f} s/page wall, {cpus:.3f} CPU s/page", flush=True)
    if skiff_cmd is not None:
        s_wall, s_cpu = totals["skiff"][0] / n, totals["skiff"][1] / n
        print(f"skiff (2 threads): {s_wall:.3f} s/page wall, {s_cpu:.3f} CPU s/page")
        print(f"ratio skiff / onnxruntime: wall {s_wall / wall:.2f}, CPU {s_cpu / cpus:.2f} "
              f"(blocks of {args.block} pages: ratio {min(s / r for r, s in blocks):.2f}-{max(s / r for r, s in blocks):.2f})")
    print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
