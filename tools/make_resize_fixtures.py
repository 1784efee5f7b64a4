#!/usr/bin/env python3
"""Generate bicubic-resize (and normalisation) fixtures for SkiffImageTests.

    python3 tools/make_resize_fixtures.py          (from the repo root)

Writes Tests/SkiffImageTests/Fixtures/resize/: small deterministic source
images as raw canonical bytes, Pillow's
`Image.resize((w, h), Image.Resampling.BICUBIC)` of them as raw bytes, and
manifest.json. One case also carries the expected normalised tensor as
torchvision computes it on CPU for InternVL / H2OVL:

    ToTensor:  x.float() / 255            (float32 true division)
    Normalize: (t - mean) / std           (float32, per channel, mean/std
                                           rounded to float32 first)
    layout:    channels-first (3, H, W), little-endian float32

Deterministic and idempotent: deletes and rewrites the output folder.

The reference is classic Pillow (up to 12.x): horizontal pass first, then
vertical, which is what InternVL2 / H2OVL were trained with. Pillow 13 may run
the vertical pass first and differs by up to ~20 levels on some sizes, so
this script refuses to run under it. Use a pinned environment:

    python3 -m venv /tmp/pil12 && /tmp/pil12/bin/pip install pillow==12.0.0 numpy
    /tmp/pil12/bin/python tools/make_resize_fixtures.py
"""

import json
import os
import shutil
import sys

import numpy as np
from PIL import Image

if int(Image.__version__.split(".")[0]) >= 13:
    sys.exit("make_resize_fixtures.py: needs Pillow < 13 (classic pass order); see the docstring")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pngenc import gen_samples  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "SkiffImageTests", "Fixtures", "resize")

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

LAYOUT = {"RGB": "rgb", "L": "gray"}


def write(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def rgb_source(w, h, seed):
    a = np.array(gen_samples(w, h, 3, 8, seed), np.uint8).reshape(h, w, 3)
    return Image.fromarray(a, "RGB")


def checkerboard(w, h, cell):
    a = np.zeros((h, w), np.uint8)
    for y in range(h):
        for x in range(w):
            a[y, x] = 255 if ((x // cell) + (y // cell)) % 2 else 0
    # a soft diagonal ramp on the dark cells so not every value is 0/255
    for y in range(h):
        for x in range(w):
            if a[y, x] == 0:
                a[y, x] = (x + y) % 48
    return Image.fromarray(a, "L")


def normalise(im):
    """torchvision ToTensor + Normalize(IMAGENET) on CPU, float32."""
    x = np.asarray(im, np.uint8).astype(np.float32)          # H, W, 3
    t = x / np.float32(255.0)
    t = np.transpose(t, (2, 0, 1))                           # 3, H, W
    mean = np.array(IMAGENET_MEAN, np.float32).reshape(3, 1, 1)
    std = np.array(IMAGENET_STD, np.float32).reshape(3, 1, 1)
    out = (t - mean) / std
    assert out.dtype == np.float32
    return np.ascontiguousarray(out).astype("<f4")


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)

    sources = {
        "src_rgb_37x23": rgb_source(37, 23, 300),
        "src_rgb_23x37": rgb_source(23, 37, 301),
        "src_rgb_200x30": rgb_source(200, 30, 302),
        "src_rgb_64x64": rgb_source(64, 64, 303),
        "src_gray_50x50_checker": checkerboard(50, 50, 3),
    }
    src_meta = {}
    for name, im in sources.items():
        fname = name + ".raw"
        write(fname, np.asarray(im, np.uint8).tobytes())
        src_meta[name] = {"file": fname, "width": im.size[0], "height": im.size[1],
                          "layout": LAYOUT[im.mode]}

    cases = [
        ("src_rgb_37x23", (448, 448), "upscale to one tile (the 1x1 / thumbnail case)"),
        ("src_rgb_200x30", (448, 896), "non-uniform: 2.24x wider, 29.9x taller"),
        ("src_rgb_64x64", (16, 16), "4x downscale"),
        ("src_gray_50x50_checker", (50, 120), "vertical upscale only (width identity)"),
        ("src_gray_50x50_checker", (17, 13), "downscale, non-integer factors, mode L"),
        ("src_gray_50x50_checker", (100, 75), "upscale, mode L, ringing/clipping at cell edges"),
        ("src_rgb_23x37", (7, 5), "strong downscale, non-integer factors"),
        ("src_rgb_23x37", (61, 43), "upscale, non-integer factors"),
        ("src_rgb_37x23", (37, 23), "identity size (Pillow returns a copy)"),
        ("src_rgb_37x23", (1, 1), "to a single pixel"),
        ("src_rgb_37x23", (74, 1), "to a single row (2x wider, 23x shorter)"),
        ("src_rgb_200x30", (131, 17), "downscale, non-integer factors"),
        ("src_rgb_64x64", (64, 23), "height only downscale"),
    ]
    entries = []
    large = 0
    for src_name, (tw, th), note in cases:
        im = sources[src_name]
        out = im.resize((tw, th), Image.Resampling.BICUBIC)
        assert out.size == (tw, th) and out.mode == im.mode
        fname = "%s_to_%dx%d.raw" % (src_name[4:], tw, th)
        data = np.asarray(out, np.uint8).tobytes()
        nch = 3 if im.mode == "RGB" else 1
        assert len(data) == tw * th * nch
        if len(data) >= 448 * 448 * 3:
            large += 1
        write(fname, data)
        e = {"source": src_meta[src_name], "target": [tw, th], "layout": LAYOUT[im.mode],
             "filter": "bicubic", "expected": fname, "note": note}
        if (src_name, (tw, th)) in (("src_rgb_64x64", (16, 16)), ("src_rgb_37x23", (37, 23))):
            tensor = normalise(out)
            tname = fname[:-4] + "_normalized_f32le.raw"
            write(tname, tensor.tobytes())
            e["normalized"] = {
                "file": tname, "shape": [3, th, tw], "dtype": "float32", "endian": "little",
                "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD),
                "formula": "float32: ((x / 255) - float32(mean[c])) / float32(std[c]), "
                           "true division (torch CPU), channels-first",
            }
        entries.append(e)
    assert large <= 2

    manifest = {
        "generator": "tools/make_resize_fixtures.py",
        "pillow": Image.__version__,
        "reference": "PIL.Image.resize((w, h), Image.Resampling.BICUBIC), no box, no reducing_gap",
        "cases": entries,
    }
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(OUT, n)) for n in os.listdir(OUT))
    print("wrote %d resize cases (%d bytes) to %s" % (len(entries), total, os.path.relpath(OUT, ROOT)))


if __name__ == "__main__":
    main()
