#!/usr/bin/env python3
"""Copy Skiff's receipt samples from the SROIE dev data.

For each id below, writes into the output folder (default: samples/):
  receipt-NNN.jpg            byte-identical copy of sroie-dev/img/NNN.jpg
  receipt-NNN.expected.json  company, date, address, total from key/NNN.json, strings unchanged
  receipt-NNN.gt.txt         the transcripts of box/NNN.csv: each row split on its first
                             8 commas only, field 9 onward kept, file order, one per line

Usage: python3 tools/copy_receipt_samples.py [SROIE_DIR [OUTDIR]]
       (SROIE_DIR defaults to ../shared/data/sroie-dev relative to the repo root)
SROIE: CC-BY-4.0, Huang et al., ICDAR 2019, doi:10.1109/icdar.2019.00244.
"""

import json
import os
import shutil
import sys

# 007: clear, crisp print; 004: faint blue thermal print; 383: long (888x2904) pharmacy receipt
IDS = ["007", "004", "383"]
FIELDS = ["company", "date", "address", "total"]


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "..", "shared", "data", "sroie-dev")
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(root, "samples")
    os.makedirs(out, exist_ok=True)
    for n in IDS:
        shutil.copyfile(os.path.join(src, "img", n + ".jpg"), os.path.join(out, f"receipt-{n}.jpg"))
        with open(os.path.join(src, "key", n + ".json"), encoding="utf-8") as f:
            key = json.load(f)
        with open(os.path.join(out, f"receipt-{n}.expected.json"), "w", encoding="utf-8") as f:
            json.dump({k: key[k] for k in FIELDS}, f, ensure_ascii=False, indent=2)
            f.write("\n")
        lines = []
        with open(os.path.join(src, "box", n + ".csv"), encoding="utf-8", newline="") as f:
            for row in f.read().splitlines():          # handles the CRLF files too
                if not row.strip():
                    continue
                parts = row.split(",", 8)
                if len(parts) != 9:
                    raise SystemExit(f"{n}.csv: malformed row {row!r}")
                lines.append(parts[8])
        with open(os.path.join(out, f"receipt-{n}.gt.txt"), "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        print(f"receipt-{n}: {len(lines)} text lines, total {key['total']!r}")


if __name__ == "__main__":
    main()
