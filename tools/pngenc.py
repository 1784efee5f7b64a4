"""Tiny pure-Python PNG encoder and deterministic pixel generator.

Used by the fixture generators in this folder (not by Skiff itself). It can
write every colour type / bit depth combination that PNG allows, with or
without Adam7 interlacing, and with optional PLTE, tRNS and pHYs chunks, so
that fixtures cover variants Pillow cannot write. Output is fully
deterministic for a given input.
"""

import struct
import zlib

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# colour type -> samples per pixel
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
ALLOWED_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}

# Adam7 passes: (x start, y start, x step, y step)
ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4),
         (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


class Prng:
    """splitmix64: small, fast enough, and identical on every platform."""

    def __init__(self, seed):
        self.state = (seed * 0x9E3779B97F4A7C15 + 0x1234567) & 0xFFFFFFFFFFFFFFFF

    def next64(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
        return z ^ (z >> 31)

    def below(self, n):
        return self.next64() % n

    def bytes(self, n):
        return bytes(self.below(256) for _ in range(n))


def chunk(ctype, data):
    return (struct.pack(">I", len(data)) + ctype + data
            + struct.pack(">I", zlib.crc32(ctype + data) & 0xFFFFFFFF))


def _pack_row(row, channels, depth):
    """row: flat list of samples (len = width*channels) -> bytes (unfiltered)."""
    if depth == 8:
        return bytes(row)
    if depth == 16:
        return b"".join(struct.pack(">H", v) for v in row)
    out = bytearray()
    per_byte = 8 // depth
    acc = 0
    n = 0
    for v in row:
        acc = (acc << depth) | v
        n += 1
        if n == per_byte:
            out.append(acc)
            acc = 0
            n = 0
    if n:
        out.append(acc << (depth * (per_byte - n)))
    return bytes(out)


def _paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    if pb <= pc:
        return b
    return c


def _filter_row(ftype, cur, prev, bpp):
    out = bytearray([ftype])
    for i, x in enumerate(cur):
        a = cur[i - bpp] if i >= bpp else 0
        b = prev[i] if prev is not None else 0
        c = prev[i - bpp] if (prev is not None and i >= bpp) else 0
        if ftype == 0:
            p = 0
        elif ftype == 1:
            p = a
        elif ftype == 2:
            p = b
        elif ftype == 3:
            p = (a + b) // 2
        else:
            p = _paeth(a, b, c)
        out.append((x - p) & 0xFF)
    return bytes(out)


def _image_data(pixels, width, height, channels, depth, filters, row_counter):
    """pixels[y][x] is a tuple of `channels` samples. Returns filtered bytes."""
    bpp = max(1, channels * depth // 8)
    out = bytearray()
    prev = None
    for y in range(height):
        flat = [s for px in pixels[y] for s in px]
        cur = _pack_row(flat, channels, depth)
        ftype = filters[row_counter[0] % len(filters)]
        row_counter[0] += 1
        out += _filter_row(ftype, cur, prev, bpp)
        prev = cur
    return bytes(out)


def encode_png(pixels, width, height, color_type, depth, *, interlace=False,
               palette=None, trns=None, phys=None, filters=(0, 1, 2, 3, 4),
               idat_split=None, level=9, extra_chunks_before_idat=()):
    """Encode a PNG.

    pixels: list of rows, each a list of per-pixel tuples of raw samples
            (palette indices for colour type 3).
    palette: list of (r, g, b) for colour type 3.
    trns: colour type 0 -> int sample; 2 -> (r, g, b); 3 -> list of alphas.
    phys: (px_per_unit_x, px_per_unit_y, unit) or None.
    filters: filter types cycled over all scanlines (across Adam7 passes too).
    idat_split: if set, split the zlib stream into IDAT chunks of this size.
    """
    assert depth in ALLOWED_DEPTHS[color_type], (color_type, depth)
    channels = CHANNELS[color_type]
    assert len(pixels) == height and all(len(r) == width for r in pixels)
    maxv = (1 << depth) - 1
    for row in pixels:
        for px in row:
            assert len(px) == channels and all(0 <= s <= maxv for s in px), px

    counter = [0]
    if not interlace:
        raw = _image_data(pixels, width, height, channels, depth, filters, counter)
    else:
        raw = bytearray()
        for (x0, y0, dx, dy) in ADAM7:
            sub = [[pixels[y][x] for x in range(x0, width, dx)]
                   for y in range(y0, height, dy)]
            sw = len(sub[0]) if sub else 0
            sh = len(sub) if sw else 0
            if sw == 0 or sh == 0:
                continue
            raw += _image_data(sub, sw, sh, channels, depth, filters, counter)
        raw = bytes(raw)

    z = zlib.compress(raw, level)
    out = bytearray(PNG_SIGNATURE)
    out += chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, color_type,
                                      0, 0, 1 if interlace else 0))
    if phys is not None:
        out += chunk(b"pHYs", struct.pack(">IIB", *phys))
    if palette is not None:
        out += chunk(b"PLTE", b"".join(bytes(c) for c in palette))
    if trns is not None:
        if color_type == 0:
            out += chunk(b"tRNS", struct.pack(">H", trns))
        elif color_type == 2:
            out += chunk(b"tRNS", struct.pack(">HHH", *trns))
        elif color_type == 3:
            out += chunk(b"tRNS", bytes(trns))
        else:
            raise ValueError("tRNS not allowed for colour type %d" % color_type)
    for c in extra_chunks_before_idat:
        out += c
    if idat_split:
        for i in range(0, len(z), idat_split):
            out += chunk(b"IDAT", z[i:i + idat_split])
    else:
        out += chunk(b"IDAT", z)
    out += chunk(b"IEND", b"")
    return bytes(out)


def gen_samples(width, height, channels, depth, seed, noise=True):
    """Deterministic gradient (+ noise) content covering the sample range.

    Returns pixels[y][x] = tuple of `channels` samples in 0..2**depth-1.
    """
    rng = Prng(seed)
    maxv = (1 << depth) - 1
    rows = []
    for y in range(height):
        row = []
        for x in range(width):
            px = []
            for c in range(channels):
                # a different gradient direction per channel
                if c % 4 == 0:
                    g = (x * (maxv + 1)) // max(1, width)
                elif c % 4 == 1:
                    g = (y * (maxv + 1)) // max(1, height)
                elif c % 4 == 2:
                    g = ((x + y) * (maxv + 1)) // max(1, width + height)
                else:
                    g = maxv - (x * (maxv + 1)) // max(1, width)
                if noise:
                    g += rng.below(max(2, (maxv + 1) // 4)) - (maxv + 1) // 8
                px.append(min(maxv, max(0, g)))
            row.append(tuple(px))
        rows.append(row)
    return rows
