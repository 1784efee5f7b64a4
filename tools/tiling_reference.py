#!/usr/bin/env python3
"""Reference tile-grid selection for InternVL2 and H2OVL-Mississippi.

    python3 tools/tiling_reference.py              (from the repo root)

Writes Tests/SkiffImageTests/Fixtures/tiling/grids.json and candidates.json.

This re-states, in plain Python, the grid selection of:

* InternVL2 `dynamic_preprocess` / `find_closest_aspect_ratio`
  (OpenGVLab/InternVL internvl_chat/internvl/train/dataset.py and the
  InternVL2 model cards), and
* H2OVL-Mississippi's MSAC (multi-scale adaptive cropping) as shipped in
  huggingface.co/h2oai/h2ovl-mississippi-2b image_process.py and ported to
  vLLM (vllm-project/vllm vllm/model_executor/models/h2ovl.py:
  get_h2ovl_target_ratios, image_to_pixel_values_h2ovl).

Semantics reproduced exactly (see the report in the commit that added this):

1. Candidate grids (cols i, rows j) are collected into a Python *set* by
   iterating n = min..max, i = 1..n, j = 1..n and keeping min <= i*j <= max,
   then `sorted(..., key=i*j)`. sorted() is stable, so grids with the same
   tile count keep the set's iteration order (CPython >= 3.8 tuple hashing).
2. Selection walks that list with aspect = width/height (float division):
   diff = |aspect - i/j|; a strictly smaller diff wins; on an exactly equal
   diff the candidate replaces the current best iff
   width*height > 0.5 * image_size * image_size * i * j. The initial best
   is (1, 1) with diff = +inf (so an empty candidate list yields (1, 1)).
3. Tiles: cols*rows tiles, plus a thumbnail (whole image resized to
   image_size^2) only when cols*rows != 1.
4. MSAC (H2OVL, single image): pass 1 = min 1..max with thumbnail; pass 2 =
   min 3..max restricted to grids (i, j) with a % i != 0 and b % j != 0,
   where (a, b) is pass 1's grid, also with thumbnail; output =
   pass2[:-1] + pass1[:-1] + pass2[-1:], i.e. pass-2 tiles, pass-1 tiles,
   one thumbnail. A pass whose grid is 1x1 has no thumbnail, so its `[:-1]`
   drops its only tile (and for pass 2 its single tile becomes the final
   image, which is pixel-identical to a thumbnail).
"""

import json
import os
import sys
from fractions import Fraction

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "SkiffImageTests", "Fixtures", "tiling")
IMAGE_SIZE = 448


# --------------------------------------------------------------------------
# the algorithm

def candidate_set(min_num, max_num):
    """The unsorted set, built in the reference's insertion order."""
    return set((i, j)
               for n in range(min_num, max_num + 1)
               for i in range(1, n + 1)
               for j in range(1, n + 1)
               if min_num <= i * j <= max_num)


def candidates(min_num, max_num):
    return sorted(candidate_set(min_num, max_num), key=lambda g: g[0] * g[1])


def closest_grid(width, height, grids, image_size=IMAGE_SIZE, log=None):
    aspect = width / height
    area = width * height
    best = (1, 1)
    best_diff = float("inf")
    for g in grids:
        diff = abs(aspect - g[0] / g[1])
        if diff < best_diff:
            best, best_diff = g, diff
        elif diff == best_diff:
            take = area > 0.5 * image_size * image_size * g[0] * g[1]
            if log is not None:
                log.append({"candidate": list(g), "against": list(best), "replaced": take})
            if take:
                best = g
    return best


def images_for(grid, use_thumbnail=True):
    blocks = grid[0] * grid[1]
    return blocks + (1 if use_thumbnail and blocks != 1 else 0)


def internvl_case(width, height, min_num, max_num):
    log = []
    g = closest_grid(width, height, candidates(min_num, max_num), log=log)
    blocks = g[0] * g[1]
    case = {"width": width, "height": height, "min": min_num, "max": max_num,
            "msac": False, "grids": [list(g)], "tiles": images_for(g),
            "thumbnail": blocks != 1, "kept": [blocks]}
    if log:
        case["ties"] = [log]
    return case


def msac_case(width, height, max_num, second_min=3):
    log1, log2 = [], []
    g1 = closest_grid(width, height, candidates(1, max_num), log=log1)
    second = [g for g in candidates(second_min, max_num)
              if g1[0] % g[0] != 0 and g1[1] % g[1] != 0]
    g2 = closest_grid(width, height, second, log=log2)
    n1, n2 = images_for(g1), images_for(g2)
    # pass2[:-1] + pass1[:-1] + pass2[-1:]
    kept2, kept1 = n2 - 1, n1 - 1
    total = kept2 + kept1 + 1
    assert total == n1 + n2 - 1  # vLLM's get_num_image_tokens formula
    b1, b2 = g1[0] * g1[1], g2[0] * g2[1]
    assert kept1 == (b1 if b1 != 1 else 0) and kept2 == (b2 if b2 != 1 else 0)
    case = {"width": width, "height": height, "min": 1, "max": max_num,
            "msac": True, "second_pass_min": second_min,
            "grids": [list(g2), list(g1)], "tiles": total, "thumbnail": True,
            "kept": [kept2, kept1],
            "second_pass_candidates_empty": len(second) == 0}
    if log1 or log2:
        case["ties"] = [log2, log1]
    return case


# --------------------------------------------------------------------------
# cases

SIZES = [
    # square
    (1, 1), (100, 100), (447, 447), (448, 448), (449, 449), (600, 600), (672, 672),
    (896, 896), (897, 897), (1000, 1000), (1344, 1344), (4000, 4000),
    # tiny
    (2, 3), (3, 2), (1, 2), (2, 1), (7, 5), (5, 7), (1, 1000), (1000, 1),
    # typical scans, portrait
    (2480, 3508), (1240, 1754), (816, 1056), (436, 605), (810, 2000), (4961, 7016),
    (1700, 2200), (2550, 3300), (600, 800), (1080, 1920), (595, 842), (1654, 2339),
    (300, 400), (463, 1000), (1275, 1650), (3000, 4000),
    # typical, landscape
    (3508, 2480), (1754, 1240), (1056, 816), (1920, 1080), (640, 480), (800, 600),
    (1280, 720), (2000, 810), (4000, 3000),
    # strips
    (5000, 40), (40, 5000), (2000, 100), (100, 2000), (10000, 10), (10, 10000),
    (3000, 200), (200, 3000), (1792, 448), (448, 1792), (2688, 448), (448, 2688),
    # huge
    (20000, 30000), (30000, 20000), (65535, 65535),
    # equal aspect, different areas (the area rule decides)
    (224, 224), (896, 448), (448, 896), (1792, 896), (896, 1792), (200, 400), (400, 200),
    (1344, 896), (896, 1344), (634, 634), (635, 635),
    # exact midpoints between common grid ratios
    (375, 100), (560, 448), (448, 560), (125, 100), (100, 125), (1120, 448), (448, 1120),
    (5, 4), (4, 5), (5, 2), (2, 5), (7, 4), (4, 7), (3, 4), (4, 3),
]

SETTINGS = [(1, 6), (1, 12), (1, 1), (2, 6), (6, 6), (1, 40)]


def tie_sizes(min_num, max_num, limit=None):
    """(w, h) whose aspect is exactly midway between neighbouring candidate
    ratios, in a small and a large version (the area rule may differ)."""
    ratios = sorted({Fraction(i, j) for (i, j) in candidates(min_num, max_num)})
    out = []
    for a, b in zip(ratios, ratios[1:]):
        m = (a + b) / 2
        w, h = m.numerator, m.denominator
        for k in (1, 64):
            out.append((w * k, h * k))
    if limit:
        out = out[:limit]
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    cases = []
    seen = set()

    def add(c):
        key = (c["width"], c["height"], c["min"], c["max"], c["msac"])
        if key not in seen:
            seen.add(key)
            cases.append(c)

    for (w, h) in SIZES:
        for (mn, mx) in SETTINGS:
            add(internvl_case(w, h, mn, mx))
    for (mn, mx) in [(1, 6), (1, 12), (6, 6), (2, 6), (1, 4), (3, 8)]:
        for (w, h) in tie_sizes(mn, mx):
            add(internvl_case(w, h, mn, mx))
    for mx in (6, 12):
        for (w, h) in SIZES:
            add(msac_case(w, h, mx))
        for (w, h) in tie_sizes(1, mx) + tie_sizes(3, mx):
            add(msac_case(w, h, mx))

    n_ties = sum(1 for c in cases if "ties" in c)
    n_replaced = sum(1 for c in cases if any(t["replaced"] for log in c.get("ties", []) for t in log))
    n_empty = sum(1 for c in cases if c.get("second_pass_candidates_empty"))
    doc = {
        "image_size": IMAGE_SIZE,
        "generator": "tools/tiling_reference.py",
        "python": sys.version.split()[0],
        "fields": {
            "grids": "[cols, rows] per pass; for msac: [second pass, first pass]",
            "tiles": "number of 448x448 images produced, thumbnail included",
            "kept": "tiles kept from each grid (same order as grids); a 1x1 grid "
                    "contributes 0 in msac mode (its only tile is dropped by [:-1])",
            "thumbnail": "whether a whole-image thumbnail is the last image",
            "ties": "per pass (same order as grids), every exact diff tie met while "
                    "scanning candidates: candidate, best so far, whether it replaced it",
            "second_pass_candidates_empty": "msac only: the filtered list was empty, "
                                            "so the second pass fell back to (1, 1)",
        },
        "counts": {"cases": len(cases), "with_ties": n_ties,
                   "tie_replaced_best": n_replaced, "msac_second_pass_empty": n_empty},
        "cases": cases,
    }
    # one case per line keeps the file readable and diffs small
    head = dict(doc)
    del head["cases"]
    text = json.dumps(head, indent=1)[:-2]
    text += ',\n "cases": [\n' + ",\n".join(
        "  " + json.dumps(c, separators=(",", ":")) for c in cases) + "\n ]\n}\n"
    json.loads(text)
    with open(os.path.join(OUT, "grids.json"), "w") as f:
        f.write(text)

    cands = []
    pairs = [(mn, mx) for mx in range(1, 13) for mn in range(1, mx + 1)] + [(1, 24), (1, 40)]
    for (mn, mx) in pairs:
        cands.append({"min": mn, "max": mx,
                      "order": [list(g) for g in candidates(mn, mx)],
                      "set_order": [list(g) for g in candidate_set(mn, mx)]})
    with open(os.path.join(OUT, "candidates.json"), "w") as f:
        json.dump({"generator": "tools/tiling_reference.py",
                   "python": sys.version.split()[0],
                   "note": "order = sorted(set(...), key=i*j) exactly as the reference; "
                           "set_order = the set's own iteration order before sorting "
                           "(CPython >= 3.8 tuple hash, default set growth)",
                   "sets": "PLACEHOLDER"}, f, indent=1)
    # again one entry per line
    path = os.path.join(OUT, "candidates.json")
    text = open(path).read().replace('"PLACEHOLDER"', "[\n" + ",\n".join(
        "  " + json.dumps(c, separators=(",", ":")) for c in cands) + "\n ]")
    json.loads(text)
    with open(path, "w") as f:
        f.write(text + "\n")
    print("grids.json: %d cases (%d with exact ties, %d where a tie replaced the best, "
          "%d msac cases with an empty second-pass list); candidates.json: %d (min, max) pairs"
          % (len(cases), n_ties, n_replaced, n_empty, len(cands)))


if __name__ == "__main__":
    main()
