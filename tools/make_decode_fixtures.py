#!/usr/bin/env python3
"""Generate decode fixtures for SkiffImageTests.

    python3 tools/make_decode_fixtures.py            (from the repo root)

Writes Tests/SkiffImageTests/Fixtures/decode/: small PNG/JPEG files, one
NAME.raw per file holding the expected decoded pixels in Skiff's canonical
layout, and manifest.json describing them.

Canonical layouts: gray (1 byte/px), grayAlpha (2), rgb (3), rgba (4); 8 bits
per sample, row-major, no padding.

The reference decoder is Pillow. PNG files are written by the small encoder in
tools/pngenc.py (so every colour type / bit depth / interlace combination is
covered) and the expected pixels are derived twice: from the raw samples we
encoded (PNG spec / libpng "expand + strip 16" semantics) and from Pillow's
decode; the script asserts that both agree. The only places where the spec
value is used without a Pillow cross-check are alpha channels Pillow cannot
compute correctly (tRNS on gray < 8 bit and on 16-bit images, where Pillow
compares the unscaled / 16-bit key against its 8-bit samples); the colour
channels of those images are still checked against Pillow.

JPEG files are written by Pillow (except jpeg_ycck / jpeg_cmyk_noadobe, which
Pillow cannot write: those come from tools/jpeg_cmyk_encode.c compiled
against the system libjpeg, so gcc and libjpeg-dev are needed) and decoded by
Pillow; EXIF orientation is applied with PIL.ImageOps.exif_transpose, CMYK is
converted with Image.convert("RGB"). tools/check_jpeg_libjpeg.py compares
Pillow's JPEG decoding with the system libjpeg's.

The script is deterministic and idempotent: it deletes and rewrites the
output folder on every run.
"""

import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image, ImageOps, features

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pngenc import Prng, encode_png, gen_samples, CHANNELS  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "SkiffImageTests", "Fixtures", "decode")

LAYOUT_CHANNELS = {"gray": 1, "grayAlpha": 2, "rgb": 3, "rgba": 4}

entries = []


# --------------------------------------------------------------------------
# helpers

def write(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def dpi_of(info):
    d = info.get("dpi")
    if d is None:
        return None
    return [float(d[0]), float(d[1])]


def add_entry(file, width, height, layout, buf, dpi, file_dpi, note, **extra):
    assert isinstance(buf, (bytes, bytearray))
    expected_len = width * height * LAYOUT_CHANNELS[layout]
    assert len(buf) == expected_len, (file, len(buf), expected_len)
    raw = os.path.splitext(file)[0] + ".raw"
    write(raw, bytes(buf))
    e = {"file": file, "width": width, "height": height, "layout": layout,
         "dpi": dpi, "file_dpi": file_dpi, "expected_dpi": extra.pop("expected_dpi", file_dpi),
         "pixels": raw, "note": note}
    e.update(extra)
    entries.append(e)


def pillow_canonical(im):
    """Pillow image -> (layout, bytes) following Skiff's canonical rules.

    Only used where Pillow's own semantics are right (see module docstring).
    """
    mode = im.mode
    info = im.info
    if mode == "1":
        a = np.asarray(im.convert("L"), dtype=np.uint8)
        if "transparency" in info:
            alpha = np.where(a == info["transparency"], 0, 255).astype(np.uint8)
            return "grayAlpha", np.stack([a, alpha], -1).tobytes()
        return "gray", a.tobytes()
    if mode == "L":
        a = np.asarray(im, dtype=np.uint8)
        if "transparency" in info:
            alpha = np.where(a == info["transparency"], 0, 255).astype(np.uint8)
            return "grayAlpha", np.stack([a, alpha], -1).tobytes()
        return "gray", a.tobytes()
    if mode in ("I;16", "I;16B", "I"):
        a = np.asarray(im).astype(np.int64)
        hi = (a >> 8).astype(np.uint8)
        if "transparency" in info:
            alpha = np.where(a == info["transparency"], 0, 255).astype(np.uint8)
            return "grayAlpha", np.stack([hi, alpha], -1).tobytes()
        return "gray", hi.tobytes()
    if mode == "P":
        if "transparency" in info:
            return "rgba", np.asarray(im.convert("RGBA"), dtype=np.uint8).tobytes()
        return "rgb", np.asarray(im.convert("RGB"), dtype=np.uint8).tobytes()
    if mode == "RGB":
        a = np.asarray(im, dtype=np.uint8)
        if "transparency" in info:
            t = np.array(info["transparency"], dtype=np.int64)
            alpha = np.where((a.astype(np.int64) == t).all(-1), 0, 255).astype(np.uint8)
            return "rgba", np.concatenate([a, alpha[..., None]], -1).tobytes()
        return "rgb", a.tobytes()
    if mode == "LA":
        return "grayAlpha", np.asarray(im, dtype=np.uint8).tobytes()
    if mode == "RGBA":
        return "rgba", np.asarray(im, dtype=np.uint8).tobytes()
    if mode == "CMYK":
        return "rgb", np.asarray(im.convert("RGB"), dtype=np.uint8).tobytes()
    raise ValueError("unhandled Pillow mode %s" % mode)


# --------------------------------------------------------------------------
# PNG

def spec_canonical(pixels, color_type, depth, palette=None, trns=None):
    """Expected canonical bytes from the raw samples (libpng expand semantics)."""
    out = bytearray()
    scale = {1: 255, 2: 85, 4: 17, 8: 1}

    def s8(v):
        return v >> 8 if depth == 16 else v * scale[depth]

    for row in pixels:
        for px in row:
            if color_type == 0:
                out.append(s8(px[0]))
                if trns is not None:
                    out.append(0 if px[0] == trns else 255)
            elif color_type == 2:
                out += bytes(s8(v) for v in px)
                if trns is not None:
                    out.append(0 if tuple(px) == tuple(trns) else 255)
            elif color_type == 3:
                out += bytes(palette[px[0]])
                if trns is not None:
                    out.append(trns[px[0]] if px[0] < len(trns) else 255)
            elif color_type in (4, 6):
                out += bytes(s8(v) for v in px)
    if color_type == 0:
        layout = "grayAlpha" if trns is not None else "gray"
    elif color_type in (2, 3):
        layout = "rgba" if trns is not None else "rgb"
    elif color_type == 4:
        layout = "grayAlpha"
    else:
        layout = "rgba"
    return layout, bytes(out)


def make_palette(n, seed):
    rng = Prng(seed)
    pal = []
    for i in range(n):
        # distinct, colourful entries; first two fixed for readability
        pal.append((rng.below(256), rng.below(256), rng.below(256)))
    return pal


CT_NAMES = {0: "gray", 2: "rgb", 3: "palette", 4: "gray+alpha", 6: "rgba"}


def png_case(name, width, height, color_type, depth, *, seed, interlace=False,
             trns="none", phys=None, pal_entries=None, idat_split=None,
             note_extra=""):
    channels = CHANNELS[color_type]
    palette = None
    trns_value = None
    if color_type == 3:
        n = pal_entries or (1 << depth)
        palette = make_palette(n, seed + 1000)
        rng = Prng(seed)
        pixels = [[(rng.below(n),) for _ in range(width)] for _ in range(height)]
        # make sure index 0 and the last index appear
        pixels[0][0] = (0,)
        pixels[-1][-1] = (n - 1,)
        if trns == "partial":
            # fewer alpha entries than palette entries; includes 0 and 255
            k = max(1, n // 2)
            trns_value = [(i * 97 + 13) % 256 for i in range(k)]
            trns_value[0] = 0
            if k > 1:
                trns_value[1] = 255
        elif trns == "single":
            # exactly one fully transparent entry, rest opaque (Pillow's
            # "simple palette" path stores this as an int)
            k = min(n, 3)
            trns_value = [255] * k
            trns_value[k - 1] = 0
    else:
        pixels = gen_samples(width, height, channels, depth, seed)
        if trns == "key":
            maxv = (1 << depth) - 1
            if color_type == 0:
                # pick a sample value that occurs
                trns_value = pixels[height // 2][width // 2][0]
                # plant the key in a few places, and for 16-bit also values
                # that share the key's high byte but differ in the low byte
                for k, (y, x) in enumerate([(0, 0), (height - 1, width - 1),
                                            (0, width - 1)]):
                    pixels[y][x] = (trns_value,)
                if depth == 16:
                    near = trns_value ^ 0x01
                    pixels[height - 1][0] = (near,)
                    pixels[height // 2][0] = ((trns_value & 0xFF00) | ((trns_value + 0x80) & 0xFF),)
            elif color_type == 2:
                trns_value = tuple(pixels[height // 2][width // 2])
                for (y, x) in [(0, 0), (height - 1, width - 1), (0, width - 1)]:
                    pixels[y][x] = trns_value
                if depth == 16:
                    pixels[height - 1][0] = (trns_value[0], trns_value[1] ^ 0x01, trns_value[2])
                    pixels[height // 2][0] = (trns_value[0] ^ 0x40, trns_value[1], trns_value[2])
                else:
                    pixels[height - 1][0] = (trns_value[0], trns_value[1] ^ 0x01, trns_value[2])
            assert all(0 <= v <= maxv for v in (trns_value if isinstance(trns_value, tuple) else (trns_value,)))

    data = encode_png(pixels, width, height, color_type, depth, interlace=interlace,
                      palette=palette, trns=trns_value, phys=phys,
                      idat_split=idat_split)
    fname = name + ".png"
    write(fname, data)

    layout, spec = spec_canonical(pixels, color_type, depth, palette, trns_value)

    im = Image.open(io.BytesIO(data))
    im.load()
    assert im.size == (width, height)
    pil_layout, pil = pillow_canonical(im)
    if layout == "grayAlpha" and pil_layout == "rgba" and color_type == 4:
        # Pillow opens 16-bit gray+alpha as mode RGBA (rawmode LA;16B, high
        # bytes, gray replicated into R, G and B)
        q = np.frombuffer(pil, np.uint8).reshape(height, width, 4)
        assert np.array_equal(q[..., 0], q[..., 1]) and np.array_equal(q[..., 0], q[..., 2])
        pil_layout, pil = "grayAlpha", np.stack([q[..., 0], q[..., 3]], -1).tobytes()

    # Where Pillow's alpha semantics are wrong, compare colour channels only.
    pillow_alpha_ok = not (trns_value is not None and
                           ((color_type == 0 and depth in (2, 4)) or
                            (color_type == 2 and depth == 16)))
    if pillow_alpha_ok:
        assert pil_layout == layout, (name, pil_layout, layout)
        assert pil == spec, "Pillow and spec disagree for %s" % name
    else:
        nch = LAYOUT_CHANNELS[layout]
        a = np.frombuffer(spec, np.uint8).reshape(height, width, nch)[..., :nch - 1]
        b = np.frombuffer(pil, np.uint8).reshape(height, width, -1)[..., :nch - 1]
        assert np.array_equal(a, b), "colour mismatch for %s" % name

    file_dpi = None
    if phys is not None and phys[2] == 1:
        file_dpi = [phys[0] * 0.0254, phys[1] * 0.0254]
    note = "PNG %s %d-bit%s%s%s" % (
        CT_NAMES[color_type], depth, ", Adam7" if interlace else "",
        {"none": "", "partial": ", tRNS (partial alpha table)",
         "single": ", tRNS (one transparent entry)", "key": ", tRNS key colour"}[trns],
        (", pHYs %d x %d per %s" % (phys[0], phys[1], "metre" if phys[2] == 1 else "unit(0)"))
        if phys else "")
    if not pillow_alpha_ok:
        note += "; alpha from PNG spec (key compared at full bit depth), colour checked against Pillow"
    if note_extra:
        note += "; " + note_extra
    meta = {"format": "png", "color_type": color_type, "bit_depth": depth,
            "interlaced": interlace}
    add_entry(fname, width, height, layout, spec, dpi_of(im.info), file_dpi, note, source=meta)


def make_pngs():
    # gray, all depths
    png_case("gray1", 13, 7, 0, 1, seed=1)
    png_case("gray2", 37, 23, 0, 2, seed=2)
    png_case("gray4", 37, 23, 0, 4, seed=3)
    png_case("gray8", 64, 3, 0, 8, seed=4)
    png_case("gray16", 37, 23, 0, 16, seed=5)
    # gray + tRNS
    png_case("gray8_trns", 37, 23, 0, 8, seed=6, trns="key")
    png_case("gray16_trns", 37, 23, 0, 16, seed=7, trns="key",
             note_extra="includes samples with the key's high byte but a different low byte (must stay opaque)")
    png_case("gray1_trns", 13, 7, 0, 1, seed=8, trns="key")
    png_case("gray2_trns", 13, 7, 0, 2, seed=9, trns="key")
    # palette
    for d in (1, 2, 4, 8):
        png_case("pal%d" % d, 37, 23, 3, d, seed=10 + d)
        png_case("pal%d_trns" % d, 37, 23, 3, d, seed=20 + d, trns="partial")
    png_case("pal8_short", 37, 23, 3, 8, seed=31, pal_entries=200,
             note_extra="PLTE has 200 entries")
    png_case("pal8_trns_single", 37, 23, 3, 8, seed=32, trns="single")
    # truecolour
    png_case("rgb8", 37, 23, 2, 8, seed=40)
    png_case("rgb16", 37, 23, 2, 16, seed=41)
    png_case("rgb8_trns", 37, 23, 2, 8, seed=42, trns="key")
    png_case("rgb16_trns", 37, 23, 2, 16, seed=43, trns="key",
             note_extra="includes pixels differing from the key only in one 16-bit sample (must stay opaque)")
    # gray + alpha, rgba
    png_case("la8", 37, 23, 4, 8, seed=50)
    png_case("la16", 37, 23, 4, 16, seed=51)
    png_case("rgba8", 37, 23, 6, 8, seed=52)
    png_case("rgba16", 37, 23, 6, 16, seed=53)
    # Adam7
    png_case("gray1_adam7", 37, 23, 0, 1, seed=60, interlace=True)
    png_case("pal4_adam7", 37, 23, 3, 4, seed=61, interlace=True)
    png_case("rgb8_adam7", 37, 23, 2, 8, seed=62, interlace=True)
    png_case("rgba16_adam7", 37, 23, 6, 16, seed=63, interlace=True)
    png_case("gray16_adam7", 13, 7, 0, 16, seed=64, interlace=True)
    png_case("la8_adam7", 13, 7, 4, 8, seed=65, interlace=True)
    png_case("pal2_trns_adam7", 13, 7, 3, 2, seed=66, interlace=True, trns="partial")
    png_case("rgb8_adam7_1x1", 1, 1, 2, 8, seed=67, interlace=True,
             note_extra="only Adam7 pass 1 is non-empty")
    png_case("gray8_adam7_3x2", 3, 2, 0, 8, seed=68, interlace=True,
             note_extra="several Adam7 passes are empty")
    png_case("rgba8_adam7_5x1", 5, 1, 6, 8, seed=69, interlace=True,
             note_extra="single row; passes 3, 5 and 7 are empty")
    # odd sizes
    png_case("rgb8_1x1", 1, 1, 2, 8, seed=70)
    png_case("gray8_1x1", 1, 1, 0, 8, seed=71)
    png_case("rgb8_13x7", 13, 7, 2, 8, seed=72)
    png_case("rgba8_64x3", 64, 3, 6, 8, seed=73)
    png_case("gray4_3x64", 3, 64, 0, 4, seed=74)
    png_case("pal1_9x1", 9, 1, 3, 1, seed=75, note_extra="row of 9 1-bit samples (padding bits in the last byte)")
    # pHYs
    png_case("rgb8_300dpi", 37, 23, 2, 8, seed=80, phys=(11811, 11811, 1))
    png_case("gray8_phys_odd", 37, 23, 0, 8, seed=81, phys=(3937, 5000, 1),
             note_extra="non-round, non-square density")
    png_case("rgb8_phys_unit0", 37, 23, 2, 8, seed=82, phys=(2, 3, 0),
             note_extra="pHYs unit 0 (aspect ratio only): no dpi")
    # multiple IDAT chunks
    png_case("rgb8_multi_idat", 37, 23, 2, 8, seed=83, idat_split=97,
             note_extra="zlib stream split over many IDAT chunks")


# --------------------------------------------------------------------------
# JPEG

def rgb_source(width, height, seed):
    px = gen_samples(width, height, 3, 8, seed)
    a = np.array(px, dtype=np.uint8).reshape(height, width, 3)
    # smooth it a bit so JPEG is not just noise
    return Image.fromarray(a, "RGB")


def orient_source(width, height):
    """Asymmetric content: red grows to the right, green grows downwards, a
    blue marker in the top-left corner, so every orientation is distinct."""
    a = np.zeros((height, width, 3), np.uint8)
    for y in range(height):
        for x in range(width):
            a[y, x] = ((x * 255) // (width - 1), (y * 255) // (height - 1), 0)
    a[0:4, 0:4, 2] = 255
    return Image.fromarray(a, "RGB")


def jfif_patch_units(data, unit, xd, yd):
    """Rewrite the JFIF APP0 density fields of a Pillow-written JPEG."""
    i = data.find(b"JFIF\x00")
    assert i > 0
    b = bytearray(data)
    b[i + 7] = unit
    b[i + 8:i + 12] = struct.pack(">HH", xd, yd)
    return bytes(b)


def exif_be_segment(orientation):
    """A big-endian ("MM") EXIF APP1 holding only an Orientation tag."""
    tiff = b"MM\x00\x2a" + struct.pack(">I", 8)
    ifd = struct.pack(">H", 1) + struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0)
    ifd += struct.pack(">I", 0)
    payload = b"Exif\x00\x00" + tiff + ifd
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def jpeg_case(name, im, save_kwargs, note, patch=None, data=None):
    if data is None:
        buf = io.BytesIO()
        im.save(buf, "JPEG", **save_kwargs)
        data = buf.getvalue()
    if patch:
        data = patch(data)
    fname = name + ".jpg"
    write(fname, data)
    dec = Image.open(io.BytesIO(data))
    dec.load()
    info = dict(dec.info)
    src_mode = dec.mode
    orientation = dec.getexif().get(0x0112, 1)
    out = ImageOps.exif_transpose(dec)
    layout, pix = pillow_canonical(out)
    w, h = out.size
    file_dpi = None
    if info.get("jfif_unit") == 1:
        file_dpi = [float(v) for v in info["jfif_density"]]
    elif info.get("jfif_unit") == 2:
        file_dpi = [v * 2.54 for v in info["jfif_density"]]
    meta = {"format": "jpeg", "pillow_mode": src_mode,
            "progressive": bool(info.get("progressive") or info.get("progression")),
            "exif_orientation": orientation,
            "jfif_unit": info.get("jfif_unit"),
            "jfif_density": list(info["jfif_density"]) if "jfif_density" in info else None,
            "adobe_transform": info.get("adobe_transform"),
            "stored_size": list(dec.size)}
    # Skiff reports the JFIF density, else EXIF X/YResolution in inches or cm, else nothing
    # (unlike Pillow, no 72 dpi default when EXIF lacks resolution tags).
    expected_dpi = file_dpi
    exif = dec.getexif()
    if expected_dpi is None and 0x011A in exif and 0x011B in exif:
        unit = exif.get(0x0128, 2)
        factor = {2: 1.0, 3: 2.54}.get(unit)
        if factor:
            expected_dpi = [float(exif[0x011A]) * factor, float(exif[0x011B]) * factor]
            if orientation in (5, 6, 7, 8):
                expected_dpi.reverse()
    add_entry(fname, w, h, layout, pix, dpi_of(info), file_dpi, note, source=meta,
              expected_dpi=expected_dpi)
    return data


_CMYK_EXE = []


def cmyk_encoder():
    """Compile tools/jpeg_cmyk_encode.c against the system libjpeg."""
    if _CMYK_EXE:
        return _CMYK_EXE[0]
    exe = os.path.join(tempfile.mkdtemp(), "jpeg_cmyk_encode")
    try:
        subprocess.check_call(["gcc", "-O2", "-o", exe,
                               os.path.join(ROOT, "tools", "jpeg_cmyk_encode.c"), "-ljpeg"])
    except (OSError, subprocess.CalledProcessError) as e:
        sys.exit("make_decode_fixtures: needs gcc and the libjpeg headers (libjpeg-dev) "
                 "to write the YCCK fixtures: %s" % e)
    _CMYK_EXE.append(exe)
    return exe


def jpeg_c_case(name, cmyk_im, mode, note):
    """A 4-component JPEG written by the system libjpeg, decoded by Pillow."""
    w, h = cmyk_im.size
    stored = (255 - np.asarray(cmyk_im, np.uint8)).tobytes()  # Adobe polarity, as Pillow writes
    data = subprocess.run([cmyk_encoder(), str(w), str(h), mode, "90"], input=stored,
                          capture_output=True, check=True).stdout
    return jpeg_case(name, None, None, note, data=data)


def make_jpegs():
    src = rgb_source(37, 23, 100)
    jpeg_case("jpeg_420", src, {"quality": 90, "subsampling": 2},
              "baseline YCbCr 4:2:0, 37x23 (partial MCUs), no density (JFIF unit 0)")
    jpeg_case("jpeg_444", src, {"quality": 90, "subsampling": 0},
              "baseline YCbCr 4:4:4")
    jpeg_case("jpeg_422", src, {"quality": 90, "subsampling": 1},
              "baseline YCbCr 4:2:2")
    jpeg_case("jpeg_progressive", src, {"quality": 90, "subsampling": 2, "progressive": True},
              "progressive YCbCr 4:2:0")
    jpeg_case("jpeg_progressive_444", rgb_source(64, 48, 101),
              {"quality": 85, "subsampling": 0, "progressive": True, "optimize": True},
              "progressive YCbCr 4:4:4, optimized Huffman tables, 64x48")
    jpeg_case("jpeg_gray", Image.fromarray(
        np.array(gen_samples(37, 23, 1, 8, 102), np.uint8).reshape(23, 37), "L"),
        {"quality": 90}, "baseline grayscale")
    jpeg_case("jpeg_gray_progressive", Image.fromarray(
        np.array(gen_samples(29, 31, 1, 8, 103), np.uint8).reshape(31, 29), "L"),
        {"quality": 80, "progressive": True}, "progressive grayscale")
    cmyk = Image.fromarray(np.array(gen_samples(37, 23, 4, 8, 104), np.uint8).reshape(23, 37, 4), "CMYK")
    jpeg_case("jpeg_cmyk", cmyk, {"quality": 90},
              "CMYK with Adobe APP14 (transform 0, inverted samples as Photoshop/Pillow write them); "
              "expected = Pillow convert('RGB') of its CMYK decode")
    jpeg_c_case("jpeg_ycck", cmyk, "ycck",
                "YCCK (Adobe APP14 transform 2, Y and K 2x2 subsampled), written by the system "
                "libjpeg from the same CMYK content as jpeg_cmyk; libjpeg converts YCCK->CMYK "
                "(out_color_space JCS_CMYK), samples are Adobe-inverted; expected = Pillow "
                "convert('RGB')")
    jpeg_c_case("jpeg_cmyk_noadobe", cmyk, "cmyk-noadobe",
                "4-component CMYK JPEG WITHOUT an Adobe APP14 marker (libjpeg infers CMYK). "
                "Pillow always assumes Adobe (inverted) polarity for 4-component JPEGs "
                "(rawmode CMYK;I regardless of the marker), so the expected RGB treats the "
                "samples as inverted exactly like jpeg_cmyk")
    jpeg_case("jpeg_1x1", rgb_source(1, 1, 105), {"quality": 95}, "1x1 baseline")
    jpeg_case("jpeg_restart", rgb_source(40, 24, 106),
              {"quality": 90, "subsampling": 2, "restart_marker_blocks": 2},
              "baseline 4:2:0 with restart markers every 2 MCUs")
    # densities
    jpeg_case("jpeg_dpi300", src, {"quality": 90, "dpi": (300, 300)}, "JFIF density 300x300 dots/inch")
    jpeg_case("jpeg_dpi_200x100", src, {"quality": 90, "dpi": (200, 100)}, "JFIF density 200x100 dots/inch")
    jpeg_case("jpeg_dpcm118", src, {"quality": 90, "dpi": (300, 300)},
              "JFIF density 118x118 dots/cm (Pillow reports dpi = 118*2.54)",
              patch=lambda d: jfif_patch_units(d, 2, 118, 118))
    jpeg_case("jpeg_nodensity", src, {"quality": 90},
              "JFIF unit 0, density 1:1 -> no dpi")
    # EXIF orientation 1..8 on a 24x16 image
    osrc = orient_source(24, 16)
    for o in range(1, 9):
        ex = Image.Exif()
        ex[0x0112] = o
        jpeg_case("jpeg_orient%d" % o, osrc,
                  {"quality": 95, "subsampling": 0, "exif": ex.tobytes(), "dpi": (150, 150)},
                  "EXIF (little-endian) Orientation=%d on a 24x16 image; expected pixels are after "
                  "PIL.ImageOps.exif_transpose; red grows with stored x, green with stored y, "
                  "blue marker at stored top-left" % o)

    def insert_be_exif(o):
        def patch(d):
            assert d[:2] == b"\xff\xd8"
            return d[:2] + exif_be_segment(o) + d[2:]
        return patch
    jpeg_case("jpeg_orient6_be", osrc, {"quality": 95, "subsampling": 0, "dpi": (150, 150)},
              "big-endian (MM) EXIF with Orientation=6, APP1 placed before the JFIF APP0",
              patch=insert_be_exif(6))
    jpeg_case("jpeg_orient8_be", osrc, {"quality": 95, "subsampling": 0, "dpi": (150, 150)},
              "big-endian (MM) EXIF with Orientation=8, APP1 placed before the JFIF APP0",
              patch=insert_be_exif(8))
    # Pillow quirk: EXIF present, JFIF has no density -> Pillow reports 72 dpi
    ex = Image.Exif()
    ex[0x0112] = 1
    jpeg_case("jpeg_exif_nodensity", osrc, {"quality": 95, "exif": ex.tobytes()},
              "EXIF without resolution tags and JFIF unit 0: Pillow's info['dpi'] falls back to "
              "(72, 72) (JpegImageFile._read_dpi_from_exif); file_dpi is null")
    ex = Image.Exif()
    ex[0x011A] = 200.0  # XResolution
    ex[0x011B] = 200.0  # YResolution
    ex[0x0128] = 2      # ResolutionUnit = inch
    jpeg_case("jpeg_exif_resolution", src, {"quality": 90, "exif": ex.tobytes()},
              "EXIF XResolution=200, ResolutionUnit=inch, JFIF unit 0: Pillow's dpi comes from EXIF; "
              "file_dpi (JFIF only) is null")


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    make_pngs()
    make_jpegs()
    manifest = {
        "generator": "tools/make_decode_fixtures.py",
        "pillow": Image.__version__,
        "libjpeg_turbo": features.version("libjpeg_turbo"),
        "zlib": features.version("zlib"),
        "layouts": LAYOUT_CHANNELS,
        "fields": {
            "dpi": "Pillow's info['dpi'] as floats, or null (PNG: pHYs unit 1 -> px*0.0254; "
                   "JPEG: JFIF unit 1 -> density, unit 2 -> density*2.54, else EXIF "
                   "XResolution, else 72x72 if an EXIF block exists)",
            "file_dpi": "density declared by the file itself (PNG pHYs unit 1 or JFIF unit 1/2), or null",
            "width/height": "size after EXIF orientation",
        },
        "entries": entries,
    }
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(OUT, n)) for n in os.listdir(OUT))
    print("wrote %d fixtures (%d bytes) to %s" % (len(entries), total, os.path.relpath(OUT, ROOT)))


if __name__ == "__main__":
    main()
