#!/usr/bin/env python3
"""Makes SkiffScoring's XML reader fixtures and the text dinglehopper extracts from them.

- phototest.alto.xml: `tesseract phototest.tif - alto` (Tesseract 5, Debian), the shared
  tesseract-testing-gt-dev page.
- phototest.page.xml: PAGE XML built with OCR-D's ocrd_models (PAGE 2019) from the same
  Tesseract run's TSV: one TextRegion per block with region-, line- and word-level
  TextEquiv, and a ReadingOrder that lists the blocks in reverse (to test ordering).
- xml-expected.json: dinglehopper 0.11's `alto_text` / `page_text` of both files.

Run with the benchmark venv (tools/bench_score.sh creates it):
  .bench-venv/venv/bin/python tools/gen_scoring_fixtures.py
"""
import csv, io, json, os, subprocess, sys
from lxml import etree
from ocrd_models.ocrd_page import (PcGtsType, PageType, TextRegionType, TextLineType, WordType, TextEquivType,
                                   CoordsType, ReadingOrderType, OrderedGroupType, RegionRefIndexedType, to_xml)
from dinglehopper.ocr_files import alto_text, page_text

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
image = os.path.join(root, "..", "shared", "data", "tesseract-testing-gt-dev", "phototest.tif")
out = os.path.join(root, "Tests", "SkiffScoringTests", "Fixtures")

alto = subprocess.run(["tesseract", image, "-", "alto"], check=True, capture_output=True).stdout
open(os.path.join(out, "phototest.alto.xml"), "wb").write(alto)

tsv = subprocess.run(["tesseract", image, "-", "tsv"], check=True, capture_output=True).stdout.decode()
rows = [r for r in csv.DictReader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE) if r["level"] == "5"]
def coords(x, y, w, h):
    return CoordsType(points=f"{x},{y} {x+w},{y} {x+w},{y+h} {x},{y+h}")
blocks = {}
for r in rows:
    if not r["text"].strip():
        continue
    b = blocks.setdefault(r["block_num"], {})
    b.setdefault((r["par_num"], r["line_num"]), []).append(r)
page = PageType(imageFilename="phototest.tif", imageWidth=640, imageHeight=480)
ids = []
for bn, lines in blocks.items():
    rid = f"r{bn}"
    ids.append(rid)
    region = TextRegionType(id=rid, Coords=coords(0, 0, 640, 480))
    line_texts = []
    for ln, (key, words) in enumerate(lines.items()):
        line = TextLineType(id=f"{rid}_l{ln}", Coords=coords(0, 0, 640, 480))
        for wn, w in enumerate(words):
            line.add_Word(WordType(id=f"{rid}_l{ln}_w{wn}", Coords=coords(int(w["left"]), int(w["top"]), int(w["width"]), int(w["height"])),
                                   TextEquiv=[TextEquivType(Unicode=w["text"], conf=float(w["conf"]) / 100)]))
        text = " ".join(w["text"] for w in words)
        line_texts.append(text)
        line.add_TextEquiv(TextEquivType(Unicode=text))
        region.add_TextLine(line)
    region.add_TextEquiv(TextEquivType(Unicode="\n".join(line_texts), index=1))
    region.add_TextEquiv(TextEquivType(Unicode="(second reading, must be ignored)", index=2))
    page.add_TextRegion(region)
group = OrderedGroupType(id="ro")
for i, rid in enumerate(reversed(ids)):
    group.add_RegionRefIndexed(RegionRefIndexedType(index=i, regionRef=rid))
page.set_ReadingOrder(ReadingOrderType(OrderedGroup=group))
pcgts = PcGtsType(pcGtsId="phototest", Page=page)
xml = to_xml(pcgts)
open(os.path.join(out, "phototest.page.xml"), "w", encoding="utf-8").write(xml)

expected = {
    "tool": "dinglehopper 0.11.0 ocr_files.alto_text / page_text",
    "alto": alto_text(etree.parse(os.path.join(out, "phototest.alto.xml"))),
    "page": page_text(etree.parse(os.path.join(out, "phototest.page.xml"))),
}
json.dump(expected, open(os.path.join(out, "xml-expected.json"), "w", encoding="utf-8"), ensure_ascii=False, indent=1)
print(expected["page"][:200])
