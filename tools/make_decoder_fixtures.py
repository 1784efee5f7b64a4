#!/usr/bin/env python3
"""llama.cpp reference for the Swift decoder (SkiffDecoder tests).

Runs SmolLM2-135M-Instruct (the GGUF tools/setup.sh installs) through
llama-cpp-python and writes Tests/SkiffDecoderTests/Fixtures/:
  smollm2_greedy.json   per prompt: text, llama.cpp's prompt token ids, and the
                        64 greedy (argmax) tokens that follow, stop tokens ignored
  smollm2_logits.bin    first-step logits (float32 LE, vocab each): prompt 1 (4 tokens),
                        then the first LOGIT_PROMPTS prompts, in order

llama.cpp settings: F32 KV cache (type_k = type_v = 0) and flash attention off,
so the reference's attention is plain F32 like Skiff's; weights and the
quantized activation path are llama.cpp's own. The prompt is evaluated one token
at a time: llama.cpp's batched prompt path (llamafile sgemm for 2+ rows) gives
logits that differ from its own token-by-token path by up to ~0.5 on longer
prompts (measured with this script's model; its single-token path is the one
greedy generation uses), and Skiff's batched and single-token paths agree
exactly, so the single-token path is the reference.

Skiff reproduces this path's arithmetic bit for bit, so the tests require every
prompt's 64 greedy tokens (generated from Skiff's own history) and every stored
logit row to be identical, not just close.

Setup (builds llama.cpp from source, 10-20 minutes):
  python3 -m venv .venv-ref
  CMAKE_ARGS="-DGGML_NATIVE=ON" .venv-ref/bin/pip install llama-cpp-python numpy
  .venv-ref/bin/python tools/make_decoder_fixtures.py
"""
import json
import os
import sys

import numpy as np
import llama_cpp
from llama_cpp import Llama

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = os.path.join(ROOT, "models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
OUT = os.path.join(ROOT, "Tests/SkiffDecoderTests/Fixtures")
STEPS = 64
LOGIT_PROMPTS = 4
SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"


def chat(user):
    return (f"<|im_start|>system\n{SYSTEM}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n"
            "<|im_start|>assistant\n")


PROMPTS = [
    chat("What is the capital of France?"),
    "The quick brown fox",
    chat("Extract the total from this receipt as JSON: TOTAL RM 12.50, GST 0.71, CASH 20.00"),
    "def fibonacci(n):\n    ",
    chat("Write a haiku about invoices."),
    "Once upon a time, in a small village by the sea,",
    '{"vendor": "ACME Sdn Bhd", "date": "2018-03-12", "total": ',
    chat("Translate to German: The invoice is due in 30 days."),
    "1, 2, 3, 4, 5,",
    chat("List three fruits."),
    "Rechnung Nr. 4711\nDatum: 12.03.2024\nBetrag:",
    chat("Explain what a large language model is in one sentence."),
    "<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\n",
    "Q: What is 17 * 23?\nA:",
    chat("Summarise: SmolLM2 is a family of compact language models available in three sizes: 135M, 360M, and 1.7B parameters."),
    "The following is a list of the largest cities in the world:\n1.",
    "   leading spaces and\ttabs\n\nand blank lines",
    chat("Écris une phrase en français sur la mer."),
    "import numpy as np\nx = np.arange(10)\nprint(",
    chat("What's 2+2? Answer with a number only."),
    "MR D.I.Y. (M) SDN BHD\nCO-REG : 860671-D\nLOT 1851-A & 1851-B, JALAN KPB 6,\nTOTAL INCL. GST @6%",
    chat("Give me a JSON object with keys name and age for a person called Ada who is 36. " * 6),
]


def last_logits(llm):
    # llama-cpp-python 0.3.x keeps `scores` only with logits_all; read the context's last row instead.
    ptr = llama_cpp.llama_get_logits_ith(llm.ctx, -1)
    return np.ctypeslib.as_array(ptr, shape=(llm.n_vocab(),)).astype(np.float32).copy()


def main():
    threads = int(os.environ.get("THREADS", "2"))
    llm = Llama(model_path=MODEL, n_ctx=1024, n_threads=threads, n_threads_batch=threads, n_batch=512,
                type_k=0, type_v=0, flash_attn=False, logits_all=False, verbose=False)
    cases = []
    # Row 0: a 4-token prompt, short enough that both engines' sums agree bit for bit.
    llm.reset()
    for tok in llm.tokenize(PROMPTS[1].encode("utf-8"), add_bos=False, special=True):
        llm.eval([tok])
    logit_rows = [last_logits(llm)]
    for i, text in enumerate(PROMPTS):
        llm.reset()
        ids = llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)
        for tok in ids:  # one token at a time: see the note in the docstring
            llm.eval([tok])
        logits = last_logits(llm)
        if i < LOGIT_PROMPTS:
            logit_rows.append(logits.copy())
        out = []
        for _ in range(STEPS):
            tok = int(np.argmax(logits))
            out.append(tok)
            llm.eval([tok])
            logits = last_logits(llm)
        cases.append({"text": text, "prompt": ids, "greedy": out})
        print(f"{i:2d} {len(ids):4d} prompt tokens -> {llm.detokenize(out)[:60]!r}", file=sys.stderr)
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "smollm2_greedy.json"), "w") as f:
        json.dump({"model": os.path.basename(MODEL), "steps": STEPS, "logit_prompts": LOGIT_PROMPTS,
                   "llama_cpp_python": __import__("llama_cpp").__version__, "cases": cases}, f, ensure_ascii=False)
    np.stack(logit_rows).astype("<f4").tofile(os.path.join(OUT, "smollm2_logits.bin"))
    print(f"wrote {len(cases)} prompts x {STEPS} tokens, {len(logit_rows)} logit rows to {OUT}")


if __name__ == "__main__":
    main()
