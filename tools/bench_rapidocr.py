#!/usr/bin/env python3
"""Times onnxruntime + rapidocr (PP-OCRv5 mobile, the settings Skiff's PP-OCR engine copies) on
the same receipts as `skiff bench ppocr`, and Skiff's runtime in the same run, then prints the
ratio. Reference engine only: run in the throwaway venv of tools/make_ppocr_fixtures.py.

    .venv-ppocr/bin/python tools/bench_rapidocr.py ../shared/data/sroie-dev --pages 10
    .venv-ppocr/bin/python tools/bench_rapidocr.py DIR --pages 10 --skiff "" # rapidocr only

Prints wall and CPU (process user + system) seconds per page for each engine; the machine's load
average is printed too, since shared cores move both. Skiff runs as a separate process
(`skiff bench ppocr --skip-tesseract`), whose own CPU s/page line is quoted.
"""
import argparse, glob, os, resource, subprocess, sys, time

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
    args = ap.parse_args()
    images = sorted(glob.glob(os.path.join(args.directory, "img", "*.jpg")))[: args.pages]
    if not images:
        sys.exit(f"no images in {args.directory}/img")
    print(f"{len(images)} pages of {args.directory}; load {os.getloadavg()}", flush=True)

    ocr = engine()
    ocr(cv2.imread(images[0]))  # warm-up: sessions and arenas
    wall0, cpu0 = time.perf_counter(), cpu()
    for path in images:
        ocr(cv2.imread(path))
    wall, cpus = (time.perf_counter() - wall0) / len(images), (cpu() - cpu0) / len(images)
    print(f"rapidocr + onnxruntime (2 threads): {wall:.3f} s/page wall, {cpus:.3f} CPU s/page", flush=True)

    if args.skiff:
        cmd = [args.skiff, "bench", "ppocr", args.directory, "--pages", str(len(images)), "--skip-tesseract"]
        cmd += args.skiff_args.split()
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        print(out.strip())
        for line in out.splitlines():
            if "s/page wall" in line:
                parts = line.split("s/page wall")[0].split()
                s_wall = float(parts[-1])
                s_cpu = float(line.split("s/page wall,")[1].split()[0])
                print(f"ratio skiff / onnxruntime: wall {s_wall / wall:.2f}, CPU {s_cpu / cpus:.2f}")
    print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
