#!/usr/bin/env python3
"""Tiny random decoders for the architectures no installable model covers, with
an independent numpy reference (SkiffDecoder tests).

For each of qwen2 (QKV biases, tied embeddings), llama (H2O-Danube3 layout,
untied head) and mistral (H2O-Danube2 layout, one KV head) it writes
  Tests/SkiffDecoderTests/Fixtures/tiny/<name>/        Hugging Face folder: config.json +
                                                      safetensors (qwen2 BF16, llama F16 in
                                                      two shards with an index, mistral F32)
  Tests/SkiffDecoderTests/Fixtures/tiny/<name>.gguf    the same weights as llama.cpp's converter
                                                      lays them out (Q/K rows permuted for the
                                                      llama architecture), F32
  Tests/SkiffDecoderTests/Fixtures/tiny/llama-q4_0.gguf / -q8_0.gguf  quantized with gguf.quants
  Tests/SkiffDecoderTests/Fixtures/tiny/qwen2-q8_0.gguf  Qwen2 (biases, tied embeddings) in Q8_0
and tiny/reference.json: for each file, a prompt, the reference's last-position
logits and 8 greedy tokens. The reference is a plain float64 numpy transcription
of the Hugging Face modelling code (rotate-half RoPE, repeat_kv GQA, SiLU MLP) run
on the exact stored (rounded / dequantized) weights.

Usage: .venv-tok/bin/pip install gguf numpy safetensors && .venv-tok/bin/python tools/make_tiny_models.py
"""
import json
import os
import shutil

import gguf
import numpy as np
from safetensors.numpy import save_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests/SkiffDecoderTests/Fixtures/tiny")
VOCAB = 96
PROMPT = [5, 17, 3, 42, 88, 1, 60]

SPECS = {
    "qwen2": dict(model_type="qwen2", hidden=32, ffn=64, layers=2, heads=4, kv=2, head_dim=8, theta=1e6, eps=1e-6,
                  tied=True, bias=True, dtype="bf16"),
    "llama": dict(model_type="llama", hidden=32, ffn=64, layers=2, heads=4, kv=4, head_dim=8, theta=10000.0,
                  eps=1e-5, tied=False, bias=False, dtype="f16"),
    "mistral": dict(model_type="mistral", hidden=32, ffn=96, layers=3, heads=2, kv=1, head_dim=16, theta=10000.0,
                    eps=1e-5, tied=False, bias=False, dtype="f32"),
}


def bf16_round(a):
    bits = a.astype(np.float32).view(np.uint32)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)
    return rounded


def make_weights(spec, rng):
    h, f, nh, kv, d = spec["hidden"], spec["ffn"], spec["heads"], spec["kv"], spec["head_dim"]
    w = {"model.embed_tokens.weight": rng.normal(0, 1.0, (VOCAB, h)),
         "model.norm.weight": 1 + rng.normal(0, 0.1, h)}
    if not spec["tied"]:
        w["lm_head.weight"] = rng.normal(0, 0.2, (VOCAB, h))
    for i in range(spec["layers"]):
        p = f"model.layers.{i}."
        w[p + "input_layernorm.weight"] = 1 + rng.normal(0, 0.1, h)
        w[p + "post_attention_layernorm.weight"] = 1 + rng.normal(0, 0.1, h)
        w[p + "self_attn.q_proj.weight"] = rng.normal(0, 0.3, (nh * d, h))
        w[p + "self_attn.k_proj.weight"] = rng.normal(0, 0.3, (kv * d, h))
        w[p + "self_attn.v_proj.weight"] = rng.normal(0, 0.3, (kv * d, h))
        w[p + "self_attn.o_proj.weight"] = rng.normal(0, 0.2, (h, nh * d))
        if spec["bias"]:
            w[p + "self_attn.q_proj.bias"] = rng.normal(0, 0.5, nh * d)
            w[p + "self_attn.k_proj.bias"] = rng.normal(0, 0.5, kv * d)
            w[p + "self_attn.v_proj.bias"] = rng.normal(0, 0.5, kv * d)
        w[p + "mlp.gate_proj.weight"] = rng.normal(0, 0.3, (f, h))
        w[p + "mlp.up_proj.weight"] = rng.normal(0, 0.3, (f, h))
        w[p + "mlp.down_proj.weight"] = rng.normal(0, 0.2, (h, f))
    return {k: v.astype(np.float32) for k, v in w.items()}


def stored(w, dtype):
    """Arrays as saved in the given dtype, and their exact float64 values."""
    if dtype == "f32":
        return w, {k: v.astype(np.float64) for k, v in w.items()}
    if dtype == "f16":
        s = {k: v.astype(np.float16) for k, v in w.items()}
        return s, {k: v.astype(np.float64) for k, v in s.items()}
    raw = {k: bf16_round(v) for k, v in w.items()}
    exact = {k: (v.astype(np.uint32) << 16).view(np.float32).astype(np.float64) for k, v in raw.items()}
    return raw, exact


def rmsnorm(x, w, eps):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w


def rope(x, positions, theta):
    d = x.shape[-1]
    inv = theta ** (-np.arange(0, d, 2, dtype=np.float64) / d)
    ang = positions[:, None] * inv[None, :]
    cos = np.concatenate([np.cos(ang)] * 2, -1)[:, None, :]
    sin = np.concatenate([np.sin(ang)] * 2, -1)[:, None, :]
    rot = np.concatenate([-x[..., d // 2:], x[..., :d // 2]], -1)
    return x * cos + rot * sin


def forward(w, spec, tokens):
    nh, kv, d, eps = spec["heads"], spec["kv"], spec["head_dim"], spec["eps"]
    t = len(tokens)
    pos = np.arange(t, dtype=np.float64)
    x = w["model.embed_tokens.weight"][tokens]
    mask = np.triu(np.full((t, t), -np.inf), 1)
    for i in range(spec["layers"]):
        p = f"model.layers.{i}."
        xn = rmsnorm(x, w[p + "input_layernorm.weight"], eps)
        q = xn @ w[p + "self_attn.q_proj.weight"].T
        k = xn @ w[p + "self_attn.k_proj.weight"].T
        v = xn @ w[p + "self_attn.v_proj.weight"].T
        if spec["bias"]:
            q, k, v = q + w[p + "self_attn.q_proj.bias"], k + w[p + "self_attn.k_proj.bias"], v + w[p + "self_attn.v_proj.bias"]
        q = rope(q.reshape(t, nh, d), pos, spec["theta"])
        k = rope(k.reshape(t, kv, d), pos, spec["theta"])
        v = v.reshape(t, kv, d)
        k = np.repeat(k, nh // kv, axis=1)
        v = np.repeat(v, nh // kv, axis=1)
        att = np.einsum("thd,shd->hts", q, k) / np.sqrt(d) + mask
        att = np.exp(att - att.max(-1, keepdims=True))
        att /= att.sum(-1, keepdims=True)
        o = np.einsum("hts,shd->thd", att, v).reshape(t, nh * d)
        x = x + o @ w[p + "self_attn.o_proj.weight"].T
        xn = rmsnorm(x, w[p + "post_attention_layernorm.weight"], eps)
        g = xn @ w[p + "mlp.gate_proj.weight"].T
        u = xn @ w[p + "mlp.up_proj.weight"].T
        x = x + ((g / (1 + np.exp(-g))) * u) @ w[p + "mlp.down_proj.weight"].T
    xn = rmsnorm(x[-1], w["model.norm.weight"], eps)
    head = w.get("lm_head.weight", w["model.embed_tokens.weight"])
    return xn @ head.T


def reference(w, spec):
    logits = forward(w, spec, PROMPT)
    tokens, seq, cur = [], list(PROMPT), logits
    for _ in range(8):
        tok = int(np.argmax(cur))
        tokens.append(tok)
        seq.append(tok)
        cur = forward(w, spec, seq)
    return {"prompt": PROMPT, "logits": [float(v) for v in logits], "greedy": tokens}


def config_json(spec):
    return {"architectures": ["Qwen2ForCausalLM" if spec["model_type"] == "qwen2" else
                              "MistralForCausalLM" if spec["model_type"] == "mistral" else "LlamaForCausalLM"],
            "model_type": spec["model_type"], "hidden_size": spec["hidden"], "intermediate_size": spec["ffn"],
            "num_hidden_layers": spec["layers"], "num_attention_heads": spec["heads"],
            "num_key_value_heads": spec["kv"], "head_dim": spec["head_dim"], "rope_theta": spec["theta"],
            "rms_norm_eps": spec["eps"], "vocab_size": VOCAB, "max_position_embeddings": 256,
            "tie_word_embeddings": spec["tied"], "torch_dtype": {"bf16": "bfloat16", "f16": "float16", "f32": "float32"}[spec["dtype"]]}


def write_safetensors(folder, arrays, dtype):
    os.makedirs(folder, exist_ok=True)
    if dtype == "bf16":
        # safetensors.numpy has no bfloat16: write the header by hand.
        header, blobs, offset = {}, [], 0
        for k in sorted(arrays):
            b = arrays[k].astype("<u2").tobytes()
            header[k] = {"dtype": "BF16", "shape": list(arrays[k].shape), "data_offsets": [offset, offset + len(b)]}
            blobs.append(b)
            offset += len(b)
        hb = json.dumps(header).encode()
        hb += b" " * (-len(hb) % 8)
        with open(os.path.join(folder, "model.safetensors"), "wb") as f:
            f.write(len(hb).to_bytes(8, "little") + hb + b"".join(blobs))
    elif dtype == "f16":
        names = sorted(arrays)
        half = len(names) // 2
        shards = {"model-00001-of-00002.safetensors": names[:half], "model-00002-of-00002.safetensors": names[half:]}
        weight_map = {}
        for shard, keys in shards.items():
            save_file({k: np.ascontiguousarray(arrays[k]) for k in keys}, os.path.join(folder, shard))
            weight_map.update({k: shard for k in keys})
        with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {}, "weight_map": weight_map}, f, indent=1)
    else:
        save_file({k: np.ascontiguousarray(v) for k, v in arrays.items()}, os.path.join(folder, "model.safetensors"))


def permute(w, n_head):
    # llama.cpp's convert_hf_to_gguf.py: rows reordered so adjacent-pair RoPE equals rotate-half.
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


GGUF_NAMES = {
    "input_layernorm.weight": "attn_norm.weight", "post_attention_layernorm.weight": "ffn_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight", "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.v_proj.weight": "attn_v.weight", "self_attn.o_proj.weight": "attn_output.weight",
    "self_attn.q_proj.bias": "attn_q.bias", "self_attn.k_proj.bias": "attn_k.bias", "self_attn.v_proj.bias": "attn_v.bias",
    "mlp.gate_proj.weight": "ffn_gate.weight", "mlp.up_proj.weight": "ffn_up.weight", "mlp.down_proj.weight": "ffn_down.weight",
}


def write_gguf(path, exact, spec, quant=None):
    arch = "qwen2" if spec["model_type"] == "qwen2" else "llama"
    writer = gguf.GGUFWriter(path, arch)
    writer.add_block_count(spec["layers"])
    writer.add_context_length(256)
    writer.add_embedding_length(spec["hidden"])
    writer.add_feed_forward_length(spec["ffn"])
    writer.add_head_count(spec["heads"])
    writer.add_head_count_kv(spec["kv"])
    writer.add_rope_freq_base(spec["theta"])
    writer.add_layer_norm_rms_eps(spec["eps"])
    writer.add_vocab_size(VOCAB)
    used = {}
    for name, value in exact.items():
        v = value.astype(np.float32)
        if name == "model.embed_tokens.weight":
            g = "token_embd.weight"
        elif name == "model.norm.weight":
            g = "output_norm.weight"
        elif name == "lm_head.weight":
            g = "output.weight"
        else:
            layer, rest = name[len("model.layers."):].split(".", 1)
            g = f"blk.{layer}.{GGUF_NAMES[rest]}"
            if arch == "llama" and rest == "self_attn.q_proj.weight":
                v = permute(v, spec["heads"])
            if arch == "llama" and rest == "self_attn.k_proj.weight":
                v = permute(v, spec["kv"])
        if quant is not None and v.ndim == 2:
            q = gguf.quants.quantize(v, quant)
            writer.add_tensor(g, q, raw_dtype=quant)
            used[name] = gguf.quants.dequantize(q, quant).astype(np.float64)
        else:
            writer.add_tensor(g, v)
            used[name] = v.astype(np.float64)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return used


def unpermute_back(used, spec):
    """The HF-layout weights a quantized llama GGUF stands for (inverse row permutation)."""
    out = dict(used)
    for i in range(spec["layers"]):
        for name, heads in (("q_proj", spec["heads"]), ("k_proj", spec["kv"])):
            key = f"model.layers.{i}.self_attn.{name}.weight"
            w = used[key]
            n = heads
            out[key] = w.reshape(n, w.shape[0] // n // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)
    return out


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    rng = np.random.default_rng(6)
    ref = {}
    for name, spec in SPECS.items():
        w = make_weights(spec, rng)
        arrays, exact = stored(w, spec["dtype"])
        folder = os.path.join(OUT, name)
        write_safetensors(folder, arrays, spec["dtype"])
        with open(os.path.join(folder, "config.json"), "w") as f:
            json.dump(config_json(spec), f, indent=1)
        r = reference(exact, spec)
        ref[name] = r
        write_gguf(os.path.join(OUT, name + ".gguf"), exact, spec)
        ref[name + ".gguf"] = r  # F32 GGUF of the same stored values
    spec = SPECS["llama"]
    w = make_weights(spec, np.random.default_rng(7))
    for quant in (gguf.GGMLQuantizationType.Q4_0, gguf.GGMLQuantizationType.Q8_0):
        fname = f"llama-{quant.name.lower()}.gguf"
        used = write_gguf(os.path.join(OUT, fname), {k: v.astype(np.float64) for k, v in w.items()}, spec, quant)
        ref[fname] = reference(unpermute_back(used, spec), spec)
    # Qwen2 quantized: Q/K/V biases, NeoX RoPE and tied embeddings on the fused
    # one-token path (which takes quantized models only).
    spec = SPECS["qwen2"]
    w = make_weights(spec, np.random.default_rng(8))
    fname = "qwen2-q8_0.gguf"
    used = write_gguf(os.path.join(OUT, fname), {k: v.astype(np.float64) for k, v in w.items()}, spec,
                      gguf.GGMLQuantizationType.Q8_0)
    ref[fname] = reference(used, spec)
    with open(os.path.join(OUT, "reference.json"), "w") as f:
        json.dump(ref, f)
    total = sum(os.path.getsize(os.path.join(d, x)) for d, _, fs in os.walk(OUT) for x in fs)
    print(f"wrote {len(ref)} reference entries, {total} bytes under {OUT}")


if __name__ == "__main__":
    main()
