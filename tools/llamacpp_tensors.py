#!/usr/bin/env python3
"""Every F32 tensor of llama.cpp's graph for the last token of a prompt, for
finding where Skiff's arithmetic departs from llama.cpp's (how the decoder was
made bit-identical; see Sources/SkiffDecoder/README.md).

Runs SmolLM2 (tools/setup.sh) through llama-cpp-python's low-level API with the
fixture settings (F32 KV cache, no flash attention, one token per decode) and a
graph callback (cb_eval) that copies each computed contiguous F32 tensor; saves
them by name ("attn_norm-0", "Qcur-0", "kq_soft_max-0", "l_out-29", ...; a name's
first value is also kept as "NAME#first", e.g. Q before RoPE) plus "logits" to an
.npz. Compare with the same values written from DecoderSession.forward.

Usage: .venv-ref/bin/python tools/llamacpp_tensors.py CASE [EXTRA_TOKENS] [OUT.npz]
  CASE: index into Tests/SkiffDecoderTests/Fixtures/smollm2_greedy.json; EXTRA_TOKENS
  of its greedy continuation are appended to the prompt.
"""
import ctypes
import json
import os
import sys

import numpy as np
import llama_cpp

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = os.path.join(ROOT, "models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
FIXTURE = os.path.join(ROOT, "Tests/SkiffDecoderTests/Fixtures/smollm2_greedy.json")

base = ctypes.CDLL(os.path.join(os.path.dirname(llama_cpp.__file__), "lib", "libggml-base.so"))
base.ggml_get_name.restype = ctypes.c_char_p
base.ggml_get_name.argtypes = [ctypes.c_void_p]
base.ggml_nelements.restype = ctypes.c_int64
base.ggml_nelements.argtypes = [ctypes.c_void_p]
base.ggml_get_data.restype = ctypes.c_void_p
base.ggml_get_data.argtypes = [ctypes.c_void_p]
base.ggml_is_contiguous.restype = ctypes.c_bool
base.ggml_is_contiguous.argtypes = [ctypes.c_void_p]

store = {}


def on_tensor(t, ask, _):
    if ask:
        return True  # observe every node
    ttype = ctypes.cast(t, ctypes.POINTER(ctypes.c_int32))[0]  # ggml_tensor starts with its type
    if ttype == 0 and base.ggml_is_contiguous(t):
        n, ptr = base.ggml_nelements(t), base.ggml_get_data(t)
        if ptr and n < 10_000_000:
            name = base.ggml_get_name(t).decode()
            values = np.ctypeslib.as_array(ctypes.cast(ptr, ctypes.POINTER(ctypes.c_float)), shape=(n,)).copy()
            store.setdefault(name + "#first", values)
            store[name] = values
    return True


def main():
    case = json.load(open(FIXTURE))["cases"][int(sys.argv[1])]
    extra = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    out = sys.argv[3] if len(sys.argv) > 3 else "llamacpp_tensors.npz"
    ids = case["prompt"] + case["greedy"][:extra]
    callback = llama_cpp.ggml_backend_sched_eval_callback(on_tensor)
    llama_cpp.llama_backend_init()
    model = llama_cpp.llama_model_load_from_file(MODEL.encode(), llama_cpp.llama_model_default_params())
    params = llama_cpp.llama_context_default_params()
    params.n_ctx, params.n_batch, params.n_threads, params.n_threads_batch = 1024, 512, 2, 2
    params.type_k = params.type_v = 0
    params.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED
    params.cb_eval = callback
    ctx = llama_cpp.llama_init_from_model(model, params)
    for tok in ids:
        store.clear()
        one = (llama_cpp.llama_token * 1)(tok)
        if llama_cpp.llama_decode(ctx, llama_cpp.llama_batch_get_one(one, 1)) != 0:
            sys.exit("llama_decode failed")
    store["logits"] = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(ctx, -1),
                                            shape=(llama_cpp.llama_vocab_n_tokens(llama_cpp.llama_model_get_vocab(model)),)).copy()
    np.savez(out, **store)
    print(f"{len(ids)} tokens; {len(store)} tensors -> {out}")


if __name__ == "__main__":
    main()
