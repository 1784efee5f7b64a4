#!/usr/bin/env python3
"""Decoder and tokenizer speed: Skiff next to llama-cpp-python and Hugging Face
`tokenizers`, in one run, on the same GGUF and the same thread count.

Prints prompt tokens/s and generation tokens/s for both engines (same prompt ids,
greedy, stop tokens ignored), the memory-bandwidth floor (weight bytes read per
generated token / measured copy bandwidth) and each engine's share of it, and
the tokenizers' MB/s on every text line of ../shared/data (if present).

llama.cpp runs with its defaults (F16 KV cache, flash attention as it chooses);
each engine is measured `--repeats` times, alternating, and its best run kept,
since this machine is shared.

Setup: tools/make_decoder_fixtures.py's venv (.venv-ref with llama-cpp-python,
numpy, gguf, tokenizers), then `swift build -c release --product skiff`.
Usage: .venv-ref/bin/python tools/bench_generate.py [--threads 2] [--repeats 3]
"""
import argparse
import glob
import json
import os
import subprocess
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = os.path.join(ROOT, "models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
SKIFF = os.path.join(ROOT, ".build/release/skiff")


def bandwidth(threads):
    """Copy bandwidth (read + write bytes per second) over 512 MiB, best of 5, with the
    copy split over `threads` threads (numpy releases the GIL in copyto) and on one
    thread; the higher is kept, so the floor is the machine's best, not one core's."""
    from concurrent.futures import ThreadPoolExecutor
    a = np.ones(128 * 1024 * 1024, dtype=np.float32)
    b = np.empty_like(a)
    parts = [(a[k * len(a) // threads:(k + 1) * len(a) // threads],
              b[k * len(b) // threads:(k + 1) * len(b) // threads]) for k in range(threads)]
    best = 0.0
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        for _ in range(5):
            t = time.perf_counter()
            np.copyto(b, a)
            best = max(best, 2 * a.nbytes / (time.perf_counter() - t))
            if threads > 1:
                t = time.perf_counter()
                list(pool.map(lambda p: np.copyto(p[1], p[0]), parts))
                best = max(best, 2 * a.nbytes / (time.perf_counter() - t))
    return best


_READER = None


def read_bandwidth(threads):
    """Best read bandwidth (bytes/s) of AVX2 loads over the weights' size on `threads`
    threads, with and without software prefetch (tools/decoder_ceilings.c --read, built
    here with clang); 0 when it cannot be built."""
    global _READER
    if _READER is None:
        _READER = os.path.join(tempfile.mkdtemp(), "decoder_ceilings")
        build = subprocess.run(["clang", "-O2", "-I" + os.path.join(ROOT, "Sources/CSkiffKernels/include"), "-o", _READER,
                                os.path.join(ROOT, "tools/decoder_ceilings.c"), "-lm", "-lpthread", "-ldl"],
                               capture_output=True, text=True)
        if build.returncode != 0:
            print("note: tools/decoder_ceilings.c did not build; the floor uses the copy bandwidth only")
            _READER = ""
    if not _READER:
        return 0.0
    out = subprocess.run([_READER, "--read", str(threads)], capture_output=True, text=True)
    return float(out.stdout.strip()) * 1e9 if out.returncode == 0 else 0.0


def skiff_run(args):
    out = subprocess.run([SKIFF, "bench", "generate", "--model", MODEL, "--threads", str(args.threads),
                          "--prompt-tokens", str(args.prompt_tokens), "--tokens", str(args.tokens),
                          "--repeats", "1", "--json"], check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(out.stdout)


def llama_run(llm, prompt, tokens):
    import llama_cpp
    llm.reset()
    t = time.perf_counter()
    llm.eval(prompt)
    prompt_s = time.perf_counter() - t
    logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm.ctx, -1), shape=(llm.n_vocab(),))
    t = time.perf_counter()
    for _ in range(tokens):
        tok = int(np.argmax(logits))
        llm.eval([tok])
        logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm.ctx, -1), shape=(llm.n_vocab(),))
    gen_s = time.perf_counter() - t
    return len(prompt) / prompt_s, tokens / gen_s


def tokenizer_bench(repeats):
    lines = []
    for folder in ("sroie-dev", "invoice2data-dev", "zugferd-xrechnung-dev"):
        for path in sorted(glob.glob(os.path.join(ROOT, "..", "shared", "data", folder, "**", "*"), recursive=True)):
            if path.endswith((".csv", ".json", ".jsonl", ".md", ".xml", ".txt")):
                with open(path, encoding="utf-8", errors="replace") as f:
                    lines += [l.rstrip("\n") for l in f if l.strip()]
    if not lines:
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
        path = f.name
    out = subprocess.run([SKIFF, "bench", "tokenizer", "--model", MODEL, path, "--repeats", str(repeats), "--json"],
                         check=True, capture_output=True, text=True, cwd=ROOT)
    skiff = json.loads(out.stdout)
    os.unlink(path)
    import gguf
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers
    reader = gguf.GGUFReader(MODEL)
    field = reader.fields["tokenizer.ggml.tokens"]
    toks = [bytes(field.parts[i]).decode() for i in field.data]
    field = reader.fields["tokenizer.ggml.merges"]
    merges = [tuple(bytes(field.parts[i]).decode().split(" ", 1)) for i in field.data]
    field = reader.fields["tokenizer.ggml.token_type"]
    types = [int(field.parts[i][0]) for i in field.data]
    tk = Tokenizer(models.BPE(vocab={t: i for i, t in reversed(list(enumerate(toks)))}, merges=merges))
    tk.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    tk.add_special_tokens([AddedToken(t, special=True, normalized=False) for t, ty in zip(toks, types) if ty in (3, 4)])
    nbytes = sum(len(l.encode()) for l in lines)
    best = 0.0
    for _ in range(repeats):
        t = time.perf_counter()
        for l in lines:  # one call per line, like Skiff's benchmark (no batch parallelism)
            tk.encode(l, add_special_tokens=False)
        best = max(best, nbytes / 1e6 / (time.perf_counter() - t))
    return skiff, best


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--prompt-tokens", type=int, default=128)
    p.add_argument("--tokens", type=int, default=128)
    args = p.parse_args()
    from llama_cpp import Llama
    import llama_cpp

    llm = Llama(model_path=MODEL, n_ctx=args.prompt_tokens + args.tokens + 16, n_batch=512,
                n_threads=args.threads, n_threads_batch=args.threads, verbose=False)
    runs = {"skiff": [], "llama.cpp": []}
    weight_bytes = None
    copy_bw = read_bw = 0.0
    for _ in range(args.repeats):
        s = skiff_run(args)
        weight_bytes = s["weight_bytes_per_token"]
        runs["skiff"].append((s["prompt_tok_s"], s["generation_tok_s"]))
        runs["llama.cpp"].append(llama_run(llm, s["prompt"], args.tokens))
        # Measured in every round and the best kept, like the engines: bandwidth timed
        # while another tenant is busy would lower the floor and flatter both shares.
        copy_bw = max(copy_bw, bandwidth(args.threads))
        read_bw = max(read_bw, read_bandwidth(args.threads))
    bw = max(copy_bw, read_bw)
    floor = bw / weight_bytes
    print(f"decoder: {os.path.basename(MODEL)}, {args.prompt_tokens} prompt tokens, {args.tokens} generated, "
          f"{args.threads} threads, best of {args.repeats} (llama-cpp-python {llama_cpp.__version__})")
    print(f"weights read per token {weight_bytes / 1e6:.1f} MB; copy bandwidth {copy_bw / 1e9:.1f} GB/s (read + write), "
          f"read bandwidth {read_bw / 1e9:.1f} GB/s; floor at the higher: {floor:.0f} tok/s")
    print(f"{'engine':<10} {'prompt tok/s':>13} {'gen tok/s':>10} {'share of floor':>15}")
    best = {}
    for name, r in runs.items():
        pp, tg = max(x[0] for x in r), max(x[1] for x in r)
        best[name] = (pp, tg)
        print(f"{name:<10} {pp:13.1f} {tg:10.1f} {100 * tg / floor:14.0f}%")
    print(f"skiff / llama.cpp: prompt {best['skiff'][0] / best['llama.cpp'][0]:.2f}x, "
          f"generation {best['skiff'][1] / best['llama.cpp'][1]:.2f}x")
    tb = tokenizer_bench(args.repeats)
    if tb:
        skiff, hf = tb
        print(f"tokenizer: {skiff['lines']} lines, {skiff['bytes'] / 1e6:.2f} MB: skiff {skiff['mb_s']:.2f} MB/s, "
              f"HF tokenizers {hf:.2f} MB/s ({skiff['mb_s'] / hf:.2f}x)")


if __name__ == "__main__":
    main()
