#!/usr/bin/env python3
"""Reference outputs of PP-OCRv5 (onnxruntime + rapidocr's pipeline) for Skiff's own runtime.

Run in a throwaway venv (PyPI: onnxruntime rapidocr numpy opencv-python-headless):
    python3 -m venv .venv-ppocr && .venv-ppocr/bin/pip install onnxruntime rapidocr opencv-python-headless
    .venv-ppocr/bin/python tools/make_ppocr_fixtures.py            # test fixtures (small, committed)
    .venv-ppocr/bin/python tools/make_ppocr_fixtures.py --dev DIR  # + line reference for a receipt folder

Writes Tests/SkiffPPOCRTests/Fixtures/:
  det_input.png, det_reference.json   a receipt resized to 256x544; the probability map's shape, mean,
                                       fraction above 0.3 and 512 values at fixed indices; DB boxes
  rec_line_K.png, rec_reference.json  line crops at height 48 (unpadded); per frame the top-2 classes
                                       and probabilities; decoded text
  pipeline_reference.json             rapidocr's lines (box, text, score) on samples/receipt-*.jpg
  crop_K.png, crop_K_48.png,          OpenCV's perspective crops of four of those boxes (two of them
  crop_reference.json                  tilted) and their resizes to height 48: Skiff's crop and resize
                                       follow OpenCV's arithmetic and are compared pixel by pixel
With --dev: tools/reference/<name>-rapidocr.json, rapidocr's lines for every *.jpg in DIR, which
`skiff bench ppocr --reference` uses for line-text parity: every detected box in rapidocr's order,
with its text, score and "kept" (false for the empty and below-text-score lines rapidocr drops).
The dropped lines are recorded because they share recognition batches with the kept ones: a
batch is padded to its widest line, so a line's padding, and with it sometimes its text, depends
on its neighbours.

Settings (the same in Skiff's PP-OCR engine): no orientation classifier, no page pre-scaling or
vertical padding; detection at limit_side_len 736 (type min), thresh 0.3, box_thresh 0.5,
unclip 1.6, 2x2 dilation; recognition at height 48, batches of 6 sorted by width.
"""
import argparse, glob, json, os, sys
import cv2
import numpy as np
import onnxruntime as ort
from rapidocr import RapidOCR

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
models = os.path.join(root, "models", "ppocrv5")
fixtures = os.path.join(root, "Tests", "SkiffPPOCRTests", "Fixtures")


def rapidocr_keys():
    # ppocr_keys_v5.txt is index-aligned with the network (line 0 "blank", the last line a space);
    # rapidocr adds both itself, so it gets the lines in between.
    with open(os.path.join(models, "ppocr_keys_v5.txt"), "rb") as f:
        lines = f.read().decode("utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    assert lines[0] == "blank" and lines[-1] == " ", "unexpected keys file layout"
    path = os.path.join(root, ".venv-ppocr", "rapidocr_keys.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines[1:-1]) + "\n")
    return path


def engine(overrides=None):
    """rapidocr with the settings Skiff's engine copies; `overrides` replaces some (bench_rapidocr.py)."""
    return RapidOCR(params={**{
        "Det.model_path": os.path.join(models, "ppocrv5_det.onnx"),
        "Rec.model_path": os.path.join(models, "ppocrv5_rec.onnx"),
        "Rec.rec_keys_path": rapidocr_keys(),
        "Global.use_cls": False,
        "Global.use_preprocess_img": False,
        "Global.use_vertical_padding": False,
        "Global.log_level": "error",
        "EngineConfig.onnxruntime.intra_op_num_threads": 2,
    }, **(overrides or {})})


def normalize(img_bgr):
    # Both networks take RGB? rapidocr feeds cv2's BGR order as is; so do we.
    x = (img_bgr.astype(np.float32) / 255.0 - 0.5) / 0.5
    return x.transpose(2, 0, 1)[None].astype(np.float32)


def lines(result):
    out = []
    if result.boxes is None:
        return out
    for box, text, score in zip(result.boxes, result.txts, result.scores):
        out.append({"box": [[float(v) for v in p] for p in box], "text": text, "score": round(float(score), 5)})
    return out


def all_lines(ocr, img):
    """Every detected box with its recognition, before rapidocr drops empty and low-score lines."""
    ori = ocr.load_img(img)
    pre, record = ocr.preprocess_img(ori)
    det, _, rec, _ = ocr.run_ocr_steps(pre, record)
    if det.boxes is None:
        return []
    out = []
    for box, text, score in zip(det.boxes, rec.txts, rec.scores):
        kept = bool(text.strip()) and score >= ocr.text_score
        out.append({"box": [[float(v) for v in p] for p in box], "text": text,
                    "score": round(float(score), 5), "kept": kept})
    final = lines(ocr(img))
    assert [(l["box"], l["text"]) for l in out if l["kept"]] == [(l["box"], l["text"]) for l in final], \
        "kept lines differ from rapidocr's own output"
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dev", help="a folder of receipt images (e.g. ../shared/data/sroie-dev/img)")
    ap.add_argument("--name", default="sroie-dev")
    args = ap.parse_args()
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    det = ort.InferenceSession(os.path.join(models, "ppocrv5_det.onnx"), so)
    rec = ort.InferenceSession(os.path.join(models, "ppocrv5_rec.onnx"), so)
    ocr = engine()

    # Detection network on a small real receipt.
    page = cv2.imread(os.path.join(root, "samples", "receipt-004.jpg"))
    small = cv2.resize(page, (256, 544))
    cv2.imwrite(os.path.join(fixtures, "det_input.png"), small)
    small = cv2.imread(os.path.join(fixtures, "det_input.png"))
    prob = det.run(None, {"x": normalize(small)})[0]
    flat = prob.reshape(-1)
    idx = [(i * 7919) % flat.size for i in range(512)]
    det_boxes, det_scores = ocr._load_det_model().postprocess_op(prob, small.shape[:2])
    json.dump({
        "shape": list(prob.shape), "mean": float(flat.mean()), "above_0_3": float((flat > 0.3).mean()),
        "indices": idx, "values": [float(flat[i]) for i in idx],
        "boxes": [[[int(v) for v in p] for p in b] for b in det_boxes],
        "scores": [float(s) for s in det_scores],
    }, open(os.path.join(fixtures, "det_reference.json"), "w"))

    # Recognition network on line crops of the full-size receipt, unpadded, batch of one.
    result = ocr(page)
    crops = []
    for k, b in enumerate(result.boxes[:40:8]):
        from rapidocr.utils.process_img import get_rotate_crop_image
        crop = get_rotate_crop_image(page, np.array(b, dtype=np.float32))
        h, w = crop.shape[:2]
        rw = int(np.ceil(48 * w / h))
        line = cv2.resize(crop, (rw, 48))
        path = os.path.join(fixtures, f"rec_line_{len(crops)}.png")
        cv2.imwrite(path, line)
        line = cv2.imread(path)
        p = rec.run(None, {"x": normalize(line)})[0][0]
        top = np.argsort(-p, axis=1)[:, :2]
        ids = p.argmax(1)
        text = "".join(ocr._load_rec_model().postprocess_op.character[i] for j, i in enumerate(ids)
                       if i != 0 and (j == 0 or ids[j - 1] != i))
        crops.append({"file": os.path.basename(path), "frames": int(p.shape[0]), "classes": int(p.shape[1]),
                      "top": [[int(a), float(p[t, a]), int(bb), float(p[t, bb])] for t, (a, bb) in enumerate(top)],
                      "text": text})
    json.dump(crops, open(os.path.join(fixtures, "rec_reference.json"), "w"), ensure_ascii=False)

    pages = {}
    for path in sorted(glob.glob(os.path.join(root, "samples", "receipt-*.jpg"))):
        pages[os.path.basename(path)] = lines(ocr(cv2.imread(path)))
    json.dump(pages, open(os.path.join(fixtures, "pipeline_reference.json"), "w"), ensure_ascii=False)

    # Crops and their height-48 resizes, as rapidocr makes them, for pixel comparisons.
    from rapidocr.utils.process_img import get_rotate_crop_image
    page_lines = pages["receipt-004.jpg"]
    crops = []
    for k, index in enumerate([0, 3, 10, 20]):
        box = np.array(page_lines[index]["box"], dtype=np.float32)
        crop = get_rotate_crop_image(page, box.copy())
        h, w = crop.shape[:2]
        line = cv2.resize(crop, (int(np.ceil(48 * w / h)), 48))
        cv2.imwrite(os.path.join(fixtures, f"crop_{k}.png"), crop)
        cv2.imwrite(os.path.join(fixtures, f"crop_{k}_48.png"), line)
        crops.append({"page": "receipt-004.jpg", "box": page_lines[index]["box"], "crop": f"crop_{k}.png",
                      "resized": f"crop_{k}_48.png"})
    json.dump(crops, open(os.path.join(fixtures, "crop_reference.json"), "w"))

    if args.dev:
        pages = {}
        for path in sorted(glob.glob(os.path.join(args.dev, "*.jpg"))):
            pages[os.path.basename(path)] = all_lines(ocr, cv2.imread(path))
        os.makedirs(os.path.join(root, "tools", "reference"), exist_ok=True)
        out = os.path.join(root, "tools", "reference", f"{args.name}-rapidocr.json")
        json.dump(pages, open(out, "w"), ensure_ascii=False)
        print(f"{out}: {len(pages)} pages, {sum(len(v) for v in pages.values())} boxes, "
              f"{sum(l['kept'] for v in pages.values() for l in v)} lines kept")


if __name__ == "__main__":
    main()
