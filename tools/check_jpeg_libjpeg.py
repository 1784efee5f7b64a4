#!/usr/bin/env python3
"""Cross-check Pillow's JPEG decoding against the system libjpeg.

    python3 tools/check_jpeg_libjpeg.py

Compiles tools/jpeg_dump.c against the system libjpeg (gcc ... -ljpeg) into a
temporary folder, decodes every JPEG listed in the decode fixtures manifest
with library defaults (ISLOW IDCT, fancy upsampling), and compares the bytes
with Pillow's decode of the same file (before EXIF orientation; CMYK compared
as raw samples, Pillow's "CMYK;I" inversion undone). Prints one line per file
and a summary; exits 1 on any difference.
"""
import io
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image, features

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEC = os.path.join(ROOT, "Tests", "SkiffImageTests", "Fixtures", "decode")


def muldiv255(a, b):
    t = a.astype(np.int64) * b.astype(np.int64) + 128
    return ((t + (t >> 8)) >> 8).astype(np.int64)


def main():
    tmp = tempfile.mkdtemp()
    exe = os.path.join(tmp, "jpeg_dump")
    subprocess.check_call(["gcc", "-O2", "-o", exe,
                           os.path.join(ROOT, "tools", "jpeg_dump.c"), "-ljpeg"])
    ver = subprocess.run(["sh", "-c", "dpkg-query -W -f='${Version}' libjpeg62-turbo 2>/dev/null"],
                         capture_output=True, text=True).stdout.strip()
    print("system libjpeg-turbo package: %s; Pillow %s bundles libjpeg-turbo %s"
          % (ver or "?", Image.__version__, features.version("libjpeg_turbo")))
    man = json.load(open(os.path.join(DEC, "manifest.json")))
    bad = 0
    for e in man["entries"]:
        if not e["file"].endswith(".jpg"):
            continue
        path = os.path.join(DEC, e["file"])
        p = subprocess.run([exe, path], capture_output=True)
        if p.returncode != 0:
            print("%-28s libjpeg failed: %s" % (e["file"], p.stderr.decode().strip()))
            bad += 1
            continue
        nl = p.stdout.index(b"\n")
        w, h, c, cs = map(int, p.stdout[:nl].split())
        lj = np.frombuffer(p.stdout[nl + 1:], np.uint8).reshape(h, w, c)
        im = Image.open(path)
        im.load()
        pil = np.asarray(im, np.uint8).reshape(h, w, -1)
        if im.mode == "CMYK":
            pil = 255 - pil  # Pillow reads Adobe CMYK as "CMYK;I"
        diff = np.abs(pil.astype(int) - lj.astype(int))
        extra = ""
        if im.mode == "CMYK":
            # also check the expected RGB against a formula on libjpeg's raw output
            exp = np.fromfile(os.path.join(DEC, e["pixels"]), np.uint8).reshape(h, w, 3)
            k = lj[..., 3]
            rgb = np.stack([muldiv255(lj[..., i], k) for i in range(3)], -1)
            extra = "; RGB = round(C*K/255) on libjpeg output matches expected: %s" % \
                np.array_equal(rgb, exp)
            if not np.array_equal(rgb, exp):
                bad += 1
        if diff.max() == 0:
            print("%-28s identical (%dx%dx%d, out_color_space %d)%s" % (e["file"], w, h, c, cs, extra))
        else:
            bad += 1
            print("%-28s DIFFERENT: max abs diff %d, %d of %d samples differ%s"
                  % (e["file"], diff.max(), (diff != 0).sum(), diff.size, extra))
    print("summary: %s" % ("all identical" if bad == 0 else "%d problems" % bad))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
