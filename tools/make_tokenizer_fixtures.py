#!/usr/bin/env python3
"""Reference token ids for the Swift BPE tokenizer (SkiffTokenizer tests).

Builds Hugging Face `tokenizers` BPE tokenizers from the vocabulary and merges
stored in the SmolLM2 GGUF (read with the `gguf` package), one per
pre-tokenizer (smollm, gpt2, llama-bpe, qwen2), encodes >= 10,000 varied strings
(every text line of ../shared/data's SROIE, invoice2data and ZUGFeRD folders plus
seeded synthetic strings: Unicode scripts, whitespace runs, digits, code, JSON,
contractions, special tokens) and writes a gzip'd binary fixture:

  magic b"SKTK1", u32 case count, u8 pre-tokenizer count, then per pre-tokenizer
  u8 name length + name; then per case: u32 utf-8 length + bytes, and per
  pre-tokenizer u32 id count + u16 ids (vocabulary < 65,536).

Usage: python3 -m venv .venv-tok && .venv-tok/bin/pip install gguf tokenizers numpy
       .venv-tok/bin/python tools/make_tokenizer_fixtures.py [model.gguf]
"""
import gzip
import json
import os
import random
import struct
import sys

import gguf
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
DATA = os.path.join(ROOT, "..", "shared", "data")
OUT = os.path.join(ROOT, "Tests/SkiffTokenizerTests/Fixtures/tokenizer_reference.bin.gz")

GPT2 = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
LLAMA3 = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
QWEN2 = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""


def gguf_strings(reader, key):
    field = reader.fields[key]
    return [bytes(field.parts[i]).decode("utf-8") for i in field.data]


def gguf_ints(reader, key):
    field = reader.fields[key]
    return [int(field.parts[i][0]) for i in field.data]


def build(tokens, merges, special, pre):
    vocab = {t: i for i, t in reversed(list(enumerate(tokens)))}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, fuse_unk=False))
    if pre == "smollm":
        tok.pre_tokenizer = pre_tokenizers.Sequence(
            [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    elif pre == "gpt2":
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    else:
        pattern = LLAMA3 if pre == "llama-bpe" else QWEN2
        tok.pre_tokenizer = pre_tokenizers.Sequence(
            [pre_tokenizers.Split(Regex(pattern), behavior="isolated", invert=False),
             pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in special])
    return tok


def data_lines():
    lines = []
    for folder in ("sroie-dev", "invoice2data-dev", "zugferd-xrechnung-dev"):
        base = os.path.join(DATA, folder)
        for dirpath, _, files in sorted(os.walk(base)):
            for name in sorted(files):
                if not name.endswith((".csv", ".json", ".jsonl", ".md", ".xml", ".txt")):
                    continue
                with open(os.path.join(dirpath, name), encoding="utf-8", errors="replace") as f:
                    for line in f:
                        line = line.rstrip("\n")
                        if line.strip():
                            lines.append(line)
    return lines


def synthetic(rng, n):
    words = ["the", "The", "invoice", "Total", "TOTAL:", "Rechnung", "Müller", "straße", "café", "naïve", "Ελληνικά",
             "Привет", "мир", "日本語", "中文字符", "한국어", "العربية", "हिन्दी", "ไทย", "🙂", "🚀🔥", "👨‍👩‍👧", "ﬁ", "Ⅻ",
             "½", "²", "٣٤٥", "१२३", "x", "A", "I'm", "you're", "WE'LL", "it's", "they'VE", "'d", "''", "don't",
             "RM", "$", "€", "£", "¥", "%", "GST", "SDN.", "BHD", "(M)", "No.", "#", "@", "&amp;", "<Invoice>",
             "</ram:ID>", "{", "}", "[", "]", "\"key\":", "null", "true", "3.14", "-42", "1,234.56", "0001",
             "12/05/2018", "10:45:59", "+60-3-1234", "a_b", "fooBar", "snake_case", "__init__", "def", "return",
             "=>", "->", "!=", "==", "...", "—", "–", "“quoted”", "«guillemets»", "¿Qué?", "¡Hola!", "Ω", "µ", "ß"]
    spaces = [" ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", " \n", "\n ", "\u00a0", "\u3000", "\u2009", "    ", "\t\t", " \t "]
    specials = ["<|im_start|>", "<|im_end|>", "<|endoftext|>"]
    code = ['def f(x):\n    return x * 2\n', 'for (int i = 0; i < n; i++) { sum += a[i]; }',
            '{"vendor": "ACME Sdn Bhd", "total": 12.50, "items": [1, 2, 3]}', 'SELECT * FROM t WHERE id = 42;',
            '<ram:ChargeAmount currencyID="EUR">100.00</ram:ChargeAmount>', 'let x: [Int] = [1,2,3]\n\tprint(x)']
    out = []
    for _ in range(n):
        kind = rng.random()
        parts = []
        if kind < 0.15:
            parts.append(rng.choice(code))
        if kind < 0.25:
            # random code points from assorted blocks
            for _ in range(rng.randint(1, 20)):
                lo, hi = rng.choice([(0x20, 0x7e), (0xa0, 0x24f), (0x370, 0x3ff), (0x400, 0x4ff), (0x590, 0x6ff),
                                     (0x900, 0x97f), (0x3040, 0x30ff), (0x4e00, 0x4fff), (0xac00, 0xacff),
                                     (0x1f300, 0x1f64f), (0x2000, 0x206f), (0xff00, 0xffef)])
                parts.append(chr(rng.randint(lo, hi)))
        for _ in range(rng.randint(1, 12)):
            r = rng.random()
            if r < 0.45:
                parts.append(rng.choice(words))
            elif r < 0.7:
                parts.append(rng.choice(spaces))
            elif r < 0.85:
                parts.append(str(rng.randint(0, 10 ** rng.randint(1, 9))))
            elif r < 0.9:
                parts.append(rng.choice(specials))
            else:
                parts.append(rng.choice("!?.,;:'\"()[]{}<>/\\|-_=+*&^%$#@~`"))
            if rng.random() < 0.5:
                parts.append(" ")
        out.append("".join(parts))
    return out


def main():
    reader = gguf.GGUFReader(MODEL)
    tokens = gguf_strings(reader, "tokenizer.ggml.tokens")
    merges = [tuple(m.split(" ", 1)) for m in gguf_strings(reader, "tokenizer.ggml.merges")]
    types = gguf_ints(reader, "tokenizer.ggml.token_type")
    special = [t for t, ty in zip(tokens, types) if ty in (3, 4)]
    rng = random.Random(6)
    cases = data_lines()
    n_data = len(cases)
    cases += synthetic(rng, max(4000, 10500 - n_data))
    cases += ["", " ", "  ", "\n", "a", "1", "12345678901234", "<|im_start|>user\nHi<|im_end|>\n", "   leading",
              "trailing   ", "tab\tsep", "\r\n\r\n", "ÀÉÎÕÜ", "a'S b'LL", "'s", "x  \n  y"]
    assert len(tokens) <= 65536
    pres = ["smollm", "gpt2", "llama-bpe", "qwen2"]
    toks = {p: build(tokens, merges, special, p) for p in pres}
    buf = bytearray(b"SKTK1")
    buf += struct.pack("<IB", len(cases), len(pres))
    for p in pres:
        buf += struct.pack("<B", len(p)) + p.encode()
    total = 0
    for s in cases:
        b = s.encode("utf-8")
        buf += struct.pack("<I", len(b)) + b
        for p in pres:
            ids = toks[p].encode(s, add_special_tokens=False).ids
            total += len(ids)
            buf += struct.pack("<I", len(ids)) + struct.pack("<%dH" % len(ids), *ids)
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with gzip.open(OUT, "wb", compresslevel=9) as f:
        f.write(bytes(buf))
    print(f"{len(cases)} strings ({n_data} data lines), {total} ids over {len(pres)} pre-tokenizers -> {OUT} "
          f"({os.path.getsize(OUT)} bytes)")


if __name__ == "__main__" and not os.environ.get("SMALL_JSON_ONLY"):
    main()
    small_tokenizer_json()


def small_tokenizer_json():
    """tokenizer.json files as Hugging Face `tokenizers` writes them, for a cut-down
    vocabulary (the byte tokens, the special tokens and the first 3,000 merges of the
    SmolLM2 GGUF), one per pre-tokenizer, with reference ids for 500 strings:
    Tests/SkiffTokenizerTests/Fixtures/tokenizer_json/<pre>.json and reference.json."""
    reader = gguf.GGUFReader(MODEL)
    tokens = gguf_strings(reader, "tokenizer.ggml.tokens")
    merges = [tuple(m.split(" ", 1)) for m in gguf_strings(reader, "tokenizer.ggml.merges")][:3000]
    types = gguf_ints(reader, "tokenizer.ggml.token_type")
    keep = set()
    for i, (t, ty) in enumerate(zip(tokens, types)):
        if ty in (3, 4) or len(t) == 1:
            keep.add(t)
    for a, b in merges:
        keep.update((a, b, a + b))
    small = [t for t in tokens if t in keep]
    special = [t for t, ty in zip(tokens, types) if ty in (3, 4)]
    folder = os.path.join(os.path.dirname(OUT), "tokenizer_json")
    os.makedirs(folder, exist_ok=True)
    rng = random.Random(7)
    cases = data_lines()
    cases = rng.sample(cases, 300) + synthetic(rng, 200)
    ref = {"cases": cases}
    for pre in ["smollm", "gpt2", "llama-bpe", "qwen2"]:
        tok = build(small, merges, special, pre)
        tok.save(os.path.join(folder, pre + ".json"))
        ref[pre] = [tok.encode(s, add_special_tokens=False).ids for s in cases]
    with open(os.path.join(folder, "reference.json"), "w") as f:
        json.dump(ref, f, ensure_ascii=False)
    print(f"tokenizer.json fixtures: {len(small)} tokens, {len(merges)} merges, {len(cases)} strings -> {folder}")


if __name__ == "__main__" and os.environ.get("SMALL_JSON_ONLY"):
    small_tokenizer_json()
