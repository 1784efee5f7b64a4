#!/usr/bin/env python3
"""Generate malformed-file fixtures for SkiffImageTests.

    python3 tools/make_malformed_fixtures.py        (from the repo root)

Writes Tests/SkiffImageTests/Fixtures/malformed/: a set of broken, mislabelled
or hostile files (each at most a few KB) and manifest.json with, per file:

    {"file", "expect", "note", "pillow", "libjpeg"?}

expect is one of: empty | truncated | corrupt | mislabelled | tooLarge |
unrecognized. "pillow" records what Pillow 13 does with the file
(Image.open + load), "libjpeg" what the system libjpeg does with default
error handling (only for JPEG payloads; needs gcc and libjpeg headers, else
null). Both are informational: they show, for instance, that libjpeg only
*warns* on a truncated JPEG and pads the image with gray, so Skiff must turn
that warning into an error itself.

Deterministic and idempotent: deletes and rewrites the output folder.
"""

import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pngenc import Prng, chunk, encode_png, gen_samples, PNG_SIGNATURE  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "SkiffImageTests", "Fixtures", "malformed")

entries = []
_jpeg_dump = None


def jpeg_dump_exe():
    global _jpeg_dump
    if _jpeg_dump is None:
        tmp = tempfile.mkdtemp()
        exe = os.path.join(tmp, "jpeg_dump")
        try:
            subprocess.check_call(["gcc", "-O2", "-o", exe,
                                   os.path.join(ROOT, "tools", "jpeg_dump.c"), "-ljpeg"],
                                  stderr=subprocess.DEVNULL)
            _jpeg_dump = exe
        except (OSError, subprocess.CalledProcessError):
            _jpeg_dump = ""
    return _jpeg_dump


def pillow_result(path):
    try:
        with Image.open(path) as im:
            im.load()
            return "ok: %s %dx%d %s" % (im.format, im.size[0], im.size[1], im.mode)
    except Exception as e:  # noqa: BLE001 - we want to record anything
        return "%s: %s" % (type(e).__name__, str(e).replace(path, os.path.basename(path)))


def libjpeg_result(path):
    exe = jpeg_dump_exe()
    if not exe:
        return None
    p = subprocess.run([exe, "-n", path], capture_output=True)
    err = " | ".join(l for l in p.stderr.decode(errors="replace").splitlines() if l.strip())
    if p.returncode == 0:
        nl = p.stdout.index(b"\n")
        w, h, c, _ = p.stdout[:nl].split()
        if "header only" in err:
            return "header read without error: %sx%sx%s (not decoded here)" % (
                w.decode(), h.decode(), c.decode())
        return "decoded %sx%sx%s; stderr: %s" % (w.decode(), h.decode(), c.decode(), err)
    return "error (rc %d): %s" % (p.returncode, err)


def add(name, data, expect, note, jpeg_payload=False, **extra):
    assert expect in ("empty", "truncated", "corrupt", "mislabelled", "tooLarge", "unrecognized")
    assert len(data) <= 8192, (name, len(data))
    path = os.path.join(OUT, name)
    with open(path, "wb") as f:
        f.write(data)
    e = {"file": name, "expect": expect, "note": note, "size": len(data),
         "pillow": pillow_result(path)}
    if jpeg_payload:
        e["libjpeg"] = libjpeg_result(path)
    e.update(extra)
    entries.append(e)


# --------------------------------------------------------------------------
# sources

def base_png():
    px = gen_samples(32, 32, 3, 8, 500)
    return encode_png(px, 32, 32, 2, 8, filters=(1, 4))


def png_chunks(data):
    """[(offset, length, type)] for each chunk of a PNG."""
    out = []
    i = 8
    while i + 8 <= len(data):
        n = struct.unpack(">I", data[i:i + 4])[0]
        out.append((i, n, data[i + 4:i + 8]))
        i += 12 + n
    return out


def base_jpeg(progressive=False):
    px = gen_samples(48, 48, 3, 8, 501)
    im = Image.fromarray(np.array(px, np.uint8).reshape(48, 48, 3), "RGB")
    b = io.BytesIO()
    im.save(b, "JPEG", quality=90, subsampling=2, progressive=progressive)
    return b.getvalue()


def jpeg_segments(data):
    """[(offset, marker, length-including-marker)] up to and including the first SOS."""
    segs = []
    i = 2
    while i < len(data):
        assert data[i] == 0xFF
        m = data[i + 1]
        n = struct.unpack(">H", data[i + 2:i + 4])[0]
        segs.append((i, m, n + 2))
        if m == 0xDA:
            break
        i += n + 2
    return segs


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)

    png = base_png()
    jpg = base_jpeg()
    pjpg = base_jpeg(progressive=True)
    chunks = png_chunks(png)
    idat = [c for c in chunks if c[2] == b"IDAT"][0]

    # ---- empty
    add("empty.png", b"", "empty", "0 bytes, .png")
    add("empty.jpg", b"", "empty", "0 bytes, .jpg", jpeg_payload=True)

    # ---- truncated
    cut = idat[0] + 8 + idat[1] // 2
    add("truncated_idat.png", png[:cut], "truncated",
        "valid 32x32 RGB PNG cut in the middle of its only IDAT chunk (offset %d of %d)" % (cut, len(png)))
    add("truncated_after_signature.png", png[:8], "truncated",
        "only the 8-byte PNG signature")
    add("truncated_in_ihdr.png", png[:20], "truncated",
        "signature + first 12 bytes of the IHDR chunk")
    segs = jpeg_segments(jpg)
    sos = segs[-1]
    ent_start = sos[0] + sos[2]
    ent_end = len(jpg) - 2  # before EOI
    cut = ent_start + (ent_end - ent_start) // 2
    add("truncated_baseline.jpg", jpg[:cut], "truncated",
        "baseline 48x48 4:2:0 JPEG cut halfway through the entropy-coded data (offset %d of %d); "
        "libjpeg only warns (JWRN_JPEG_EOF) and pads with gray" % (cut, len(jpg)),
        jpeg_payload=True)
    add("truncated_headers.jpg", jpg[:segs[2][0] + 5], "truncated",
        "baseline JPEG cut inside its third marker segment, before any SOF/SOS",
        jpeg_payload=True)
    cut = len(pjpg) // 2
    add("truncated_progressive.jpg", pjpg[:cut], "truncated",
        "progressive 48x48 JPEG cut at half its length (offset %d of %d, inside a later scan)"
        % (cut, len(pjpg)), jpeg_payload=True)

    # ---- corrupt
    b = bytearray(png)
    crc_at = idat[0] + 8 + idat[1]
    b[crc_at:crc_at + 4] = bytes(x ^ 0xFF for x in b[crc_at:crc_at + 4])
    add("bad_idat_crc.png", bytes(b), "corrupt",
        "IDAT CRC inverted (data intact). Pillow ignores IDAT CRCs and decodes it; libpng's default "
        "for a bad CRC on a critical chunk is an error")

    b = bytearray(png)
    ihdr = chunks[0]
    crc_at = ihdr[0] + 8 + ihdr[1]
    b[crc_at] ^= 0x01
    add("bad_ihdr_crc.png", bytes(b), "corrupt", "IHDR CRC off by one bit")

    # zlib garbage with a valid zlib header and a valid chunk CRC
    rng = Prng(502)
    seed = 0
    while True:
        garbage = b"\x78\x9c" + Prng(502 + seed).bytes(600)
        try:
            zlib.decompress(garbage)
        except zlib.error as e:
            zmsg = str(e)
            if "invalid" in zmsg:
                break
        seed += 1
    body = png[:idat[0]] + chunk(b"IDAT", garbage) + png[idat[0] + 12 + idat[1]:]
    add("bad_zlib_data.png", body, "corrupt",
        "IDAT has a correct CRC and a valid zlib header (78 9C) but garbage deflate data "
        "(Python zlib: %s)" % zmsg)
    body = png[:idat[0]] + chunk(b"IDAT", b"\x00\x00" + png[idat[0] + 10:idat[0] + 8 + idat[1]]) \
        + png[idat[0] + 12 + idat[1]:]
    add("bad_zlib_header.png", body, "corrupt",
        "IDAT has a correct CRC but its zlib header bytes are 00 00 (invalid CMF/FLG check)")
    bad_ihdr = PNG_SIGNATURE + chunk(b"IHDR", struct.pack(">IIBBBBB", 16, 16, 3, 2, 0, 0, 0))
    bad_ihdr += png[chunks[1][0]:]
    add("bad_ihdr_depth.png", bad_ihdr, "corrupt",
        "IHDR declares RGB with bit depth 3 (invalid combination); CRCs valid")
    zero = PNG_SIGNATURE + chunk(b"IHDR", struct.pack(">IIBBBBB", 0, 16, 8, 2, 0, 0, 0))
    zero += png[chunks[1][0]:]
    add("zero_width.png", zero, "corrupt", "IHDR width 0 (invalid); CRCs valid")

    # JPEG: garbage over the DQT/SOF/DHT segments (no 0xFF bytes in it, so the
    # decoder cannot resync on a marker before SOS)
    b = bytearray(jpg)
    first = [s for s in segs if s[1] in (0xDB, 0xC0, 0xC4)]
    start = first[0][0]
    end = sos[0]
    g = Prng(503)
    for i in range(start, end):
        b[i] = g.below(255)  # 0..254, never 0xFF
    add("garbage_headers.jpg", bytes(b), "corrupt",
        "SOI and APP0 intact, bytes %d..%d (DQT, SOF0, DHT segments) replaced by garbage without "
        "0xFF; SOS and entropy data intact" % (start, end - 1), jpeg_payload=True)
    add("no_soi.jpg", jpg[2:], "unrecognized",
        "a valid JPEG with its first two bytes (SOI, FF D8) removed: starts FF E0 00 10 'JFIF'. "
        "A content sniffer that requires FF D8 FF sees no known signature (could equally be "
        "classified unrecognized)", jpeg_payload=True)
    b = bytearray(jpg)
    sof = [s for s in segs if s[1] == 0xC0][0]
    b[sof[0] + 9] = 7  # number of components
    add("bad_sof_components.jpg", bytes(b), "corrupt",
        "SOF0 claims 7 components (segment length unchanged)", jpeg_payload=True)

    # ---- mislabelled
    add("png_named.jpg", png, "mislabelled", "a valid 32x32 RGB PNG with a .jpg extension",
        actual="png", width=32, height=32)
    add("jpeg_named.png", jpg, "mislabelled", "a valid 48x48 baseline JPEG with a .png extension",
        jpeg_payload=True, actual="jpeg", width=48, height=48)

    # ---- unrecognized
    add("text.png", b"This is not an image.\nJust some text in a file called text.png.\n",
        "unrecognized", "plain ASCII text with a .png extension")
    gif = io.BytesIO()
    Image.fromarray(np.array(gen_samples(16, 16, 1, 8, 504), np.uint8).reshape(16, 16), "L") \
        .save(gif, "GIF")
    add("gif_named.png", gif.getvalue(), "mislabelled",
        "a valid 16x16 GIF (GIF89a/GIF87a signature) with a .png extension; Skiff names the real format",
        actual="gif")
    bmp = io.BytesIO()
    Image.new("RGB", (4, 4), (10, 20, 30)).save(bmp, "BMP")
    add("bmp_named.jpg", bmp.getvalue(), "mislabelled",
        "a valid 4x4 BMP ('BM' signature) with a .jpg extension; Skiff names the real format",
        actual="bmp", jpeg_payload=True)
    add("random.jpg", Prng(505).bytes(512), "unrecognized",
        "512 pseudo-random bytes with a .jpg extension", jpeg_payload=True)

    # ---- tooLarge (decompression bombs)
    w = h = 100000
    row = b"\x00" + b"\x00" * 1  # filter byte + one gray sample; stream is short on purpose
    tiny = zlib.compress(row * 4, 9)
    bomb = PNG_SIGNATURE + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)) \
        + chunk(b"IDAT", tiny) + chunk(b"IEND", b"")
    add("bomb_100000x100000.png", bomb, "tooLarge",
        "IHDR says 100000x100000 8-bit gray (10^10 pixels), all CRCs valid, tiny IDAT; "
        "must be rejected from the header alone, before allocating", width=w, height=h)
    bomb = PNG_SIGNATURE + chunk(b"IHDR", struct.pack(">IIBBBBB", 2 ** 31 - 1, 2 ** 31 - 1, 16, 6, 0, 0, 0)) \
        + chunk(b"IDAT", tiny) + chunk(b"IEND", b"")
    add("bomb_max_dims.png", bomb, "tooLarge",
        "IHDR says (2^31-1)x(2^31-1) RGBA 16-bit (the largest legal PNG dimensions); all CRCs valid; "
        "byte counts overflow 64-bit arithmetic if multiplied naively", width=2 ** 31 - 1, height=2 ** 31 - 1)
    b = bytearray(jpg)
    b[sof[0] + 5:sof[0] + 9] = struct.pack(">HH", 60000, 60000)  # height, width
    add("bomb_60000x60000.jpg", bytes(b), "tooLarge",
        "baseline JPEG whose SOF0 says 60000x60000 (3.6*10^9 pixels; under libjpeg's own 65500 "
        "limit), entropy data from a 48x48 image; must be rejected from the header",
        jpeg_payload=True, width=60000, height=60000)

    manifest = {
        "generator": "tools/make_malformed_fixtures.py",
        "pillow": Image.__version__,
        "expect_values": ["empty", "truncated", "corrupt", "mislabelled", "tooLarge", "unrecognized"],
        "entries": entries,
    }
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(OUT, n)) for n in os.listdir(OUT))
    print("wrote %d malformed fixtures (%d bytes) to %s" % (len(entries), total, os.path.relpath(OUT, ROOT)))
    for e in entries:
        print("  %-28s %-12s pillow: %s" % (e["file"], e["expect"], e["pillow"][:90]))
        if e.get("libjpeg"):
            print("  %-28s %-12s libjpeg: %s" % ("", "", e["libjpeg"][:110]))


if __name__ == "__main__":
    main()
