#!/usr/bin/env python3
"""Tiny random vision-language models in the published InternVL2 / H2OVL-Mississippi layout,
with reference outputs on a real receipt (SkiffVision tests).

    bash tools/make_vision_fixtures.sh    (makes .venv-vision: torch, transformers, pillow 12, then runs this)

For each of
  internvl2-qwen2     InternVL2-1B style: Qwen2 decoder (QKV biases), Hermes-2 (ChatML) template,
                      byte-level BPE tokenizer, up to 12 tiles
  h2ovl-llama         H2OVL-Mississippi-0.8B style: Llama (H2O-Danube3) decoder, h2ogpt2 template,
                      SentencePiece-style BPE (Metaspace pre-tokenizer, byte fallback), 6 tiles, no MSAC
  h2ovl-mistral-msac  H2OVL-Mississippi-2B style: Mistral (H2O-Danube2) decoder, one KV head,
                      h2ogpt2 template, legacy SentencePiece normalizer (Prepend + Replace),
                      MSAC two-pass tiling
it writes Tests/SkiffVisionTests/Fixtures/<name>/:
  config.json (vision_config + llm_config + the InternVL keys), generation_config.json,
  model-0000{1,2}-of-00002.safetensors (BF16) + model.safetensors.index.json with the original
  names (vision_model.*, mlp1.*, language_model.model.*, language_model.lm_head.weight),
  tokenizer.json + tokenizer_config.json + special_tokens_map.json,
  expected.json    tile grids and FNV-1a hashes of every tile's RGB bytes, the prompt text and
                   ids, the last-position logits and 8 greedy tokens, tokenizer cases
  features.bin     last ViT layer output, tiles x 1025 x C float32 (CLS first)
  projector.bin    projector output, tiles x 256 x hidden float32

The reference is transformers' own InternVLForConditionalGeneration (not the checkpoints'
remote code): the original weights are renamed into its layout and it is configured with
use_mean_pooling (no final norm), attention_bias, no QK norm, vision_feature_layer -1, the
"default" feature strategy (CLS dropped), GELU projector and an untied head. It runs in
float32 on the exact BF16 values. Tiles come from a PIL transcription of the models'
preprocessing (dynamic_preprocess / H2OVL's MSAC) using tools/tiling_reference.py's grid
choice, not from transformers' image processor, which is not bit-identical to it.
Tokenizer ids come from the `tokenizers` library reading the written tokenizer.json.
"""
import json
import os
import shutil
import sys

import numpy as np
import torch
from PIL import Image
from safetensors.numpy import save_file
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

if int(Image.__version__.split(".")[0]) >= 13:
    sys.exit("make_vision_fixtures.py: needs Pillow < 13 (the classic resize the models were trained with)")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tiling_reference as tiling  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests/SkiffVisionTests/Fixtures")
IMAGE = os.path.join(ROOT, "samples/receipt-004.jpg")
QUESTION = "Extract the company, date, address and total of this receipt as JSON."
GREEDY_STEPS = 8

VISION = dict(hidden=32, heads=2, ffn=64, layers=2, patch=14, size=448)
HERMES_SYSTEM = "你是由上海人工智能实验室联合商汤科技开发的书生多模态大模型，英文名叫InternVL, 是一个有用无害的人工智能助手。"
IMAGE_TOKENS = ["<img>", "</img>", "<IMG_CONTEXT>", "<quad>", "</quad>", "<ref>", "</ref>", "<box>", "</box>"]

MODELS = {
    "internvl2-qwen2": dict(
        arch="InternVLChatModel", model_type="internvl_chat", llm="qwen2", template="Hermes-2",
        hidden=64, ffn=128, layers=2, heads=4, kv=2, head_dim=16, theta=1000000.0, eps=1e-6,
        max_tiles=12, msac=None, tokenizer="bytelevel", seed=11),
    "h2ovl-llama": dict(
        arch="H2OVLChatModel", model_type="h2ovl_chat", llm="llama", template="h2ogpt2",
        hidden=64, ffn=128, layers=2, heads=4, kv=4, head_dim=16, theta=100000.0, eps=1e-5,
        max_tiles=6, msac=False, tokenizer="metaspace", seed=12),
    "h2ovl-mistral-msac": dict(
        arch="H2OVLChatModel", model_type="h2ovl_chat", llm="mistral", template="h2ogpt2",
        hidden=64, ffn=96, layers=2, heads=4, kv=1, head_dim=16, theta=10000.0, eps=1e-5,
        max_tiles=6, msac=True, tokenizer="legacy-sp", seed=13),
}

QWEN2_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
               r"\s*[\r\n]+|\s+(?!\S)|\s+")


# --------------------------------------------------------------------------------- tokenizers

def corpus():
    lines = []
    for name in sorted(os.listdir(os.path.join(ROOT, "samples"))):
        if name.endswith(".gt.txt"):
            with open(os.path.join(ROOT, "samples", name), encoding="utf-8") as f:
                lines += [l.rstrip("\n") for l in f if l.strip()]
    lines += [QUESTION, "The total is 30.90 and the date is 25/12/2018.",
              '{"company": "MR D.I.Y. (M) SDN BHD", "date": "25/12/2018", "address": "", "total": "30.90"}']
    return lines


def bytelevel_tokenizer():
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_SPLIT), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
    tok.post_processor = processors.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
    trainer = trainers.BpeTrainer(vocab_size=420, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(corpus() + [HERMES_SYSTEM], trainer)
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"] + IMAGE_TOKENS
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    config = {"add_bos_token": False, "add_prefix_space": False, "bos_token": None, "eos_token": "<|im_end|>",
              "pad_token": "<|endoftext|>", "model_max_length": 8192, "tokenizer_class": "Qwen2Tokenizer",
              "clean_up_tokenization_spaces": False}
    return tok, config


def sentencepiece_tokenizer(style, extra):
    """SentencePiece-style BPE as Llama/Mistral/Danube tokenizer.json files have it: <unk> <s> </s>,
    the 256 <0xXX> byte-fallback tokens, then pieces with U+2581 for spaces."""
    trainer_tok = Tokenizer(models.BPE())
    trainer_tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=[], show_progress=False)
    # Single lines and no non-ASCII: newlines, tabs and other characters go through byte fallback.
    trainer_tok.train_from_iterator([l.encode("ascii", "ignore").decode() for l in corpus()], trainer)
    learned = trainer_tok.get_vocab()
    merges = json.loads(trainer_tok.to_str())["model"]["merges"]
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for b in range(256):
        vocab["<0x%02X>" % b] = len(vocab)
    for piece, _ in sorted(learned.items(), key=lambda kv: kv[1]):
        if piece not in vocab:
            vocab[piece] = len(vocab)
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in merges]
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, byte_fallback=True, fuse_unk=True, unk_token="<unk>"))
    if style == "metaspace":
        tok.normalizer = None
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="first", split=False)
        tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="first", split=False)
    else:  # the legacy Llama layout: the dummy prefix is a normalizer, so every text segment gets it
        tok.normalizer = normalizers.Sequence([normalizers.Prepend("\u2581"), normalizers.Replace(" ", "\u2581")])
        tok.pre_tokenizer = None
        tok.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse(),
                                         decoders.Strip(" ", 1, 0)])
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in ["<unk>", "<s>", "</s>"]])
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in extra])
    # H2OVL prompts carry no BOS (tokenizer_config add_bos_token false); the post-processor agrees.
    tok.post_processor = processors.TemplateProcessing(single="$A", pair="$A $B", special_tokens=[])
    config = {"add_bos_token": False, "add_eos_token": False, "legacy": True, "bos_token": "<s>", "eos_token": "</s>",
              "unk_token": "<unk>", "pad_token": "<unk>", "model_max_length": 8192,
              "tokenizer_class": "LlamaTokenizer", "clean_up_tokenization_spaces": False}
    return tok, config


def tokenizer_cases(tok):
    texts = corpus()[:40] + [
        "", " ", "  ", "a", " a", "a ", "hello world", "Hello  World", "  leading", "trailing  ", "tab\there",
        "line\nbreak", "\n", "\n\n", "caf\u00e9 \u20ac 12,50", "\u65e5\u672c\u8a9e", "emoji \U0001F600!", "RM30.90",
        "<|prompt|>Hello<|end|><|answer|>", "<img><IMG_CONTEXT><IMG_CONTEXT></img>\nWhat is this?",
        "<|im_start|>user\nHi<|im_end|><|im_start|>assistant\n", "x</s>y", "<s> spaced </s>", " <|end|> ",
        '{"total": "30.90"}', "TOTAL: 30.90\r\nCASH", "   \n  x", "\u2581already", "a\u00a0b",
    ]
    cases = []
    for t in texts:
        cases.append({"text": t, "ids": tok.encode(t, add_special_tokens=False).ids})
    return cases


# --------------------------------------------------------------------------------- weights

def bf16(a):
    bits = np.ascontiguousarray(a, np.float32).view(np.uint32)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)
    return rounded, (rounded.astype(np.uint32) << 16).view(np.float32)


def make_weights(spec, vocab, rng):
    v, C, I, P = VISION, VISION["hidden"], VISION["ffn"], VISION["patch"]
    n = (v["size"] // P) ** 2 + 1
    H, F, nh, kv, d = spec["hidden"], spec["ffn"], spec["heads"], spec["kv"], spec["head_dim"]
    w = {
        "vision_model.embeddings.class_embedding": rng.normal(0, 1.0, (1, 1, C)),
        "vision_model.embeddings.patch_embedding.weight": rng.normal(0, 2.0 / np.sqrt(3 * P * P), (C, 3, P, P)),
        "vision_model.embeddings.patch_embedding.bias": rng.normal(0, 0.2, C),
        "vision_model.embeddings.position_embedding": rng.normal(0, 0.5, (1, n, C)),
    }
    for i in range(v["layers"]):
        p = f"vision_model.encoder.layers.{i}."
        w[p + "norm1.weight"] = 1 + rng.normal(0, 0.1, C)
        w[p + "norm1.bias"] = rng.normal(0, 0.1, C)
        w[p + "attn.qkv.weight"] = rng.normal(0, 1.0 / np.sqrt(C), (3 * C, C))
        w[p + "attn.qkv.bias"] = rng.normal(0, 0.2, 3 * C)
        w[p + "attn.proj.weight"] = rng.normal(0, 1.0 / np.sqrt(C), (C, C))
        w[p + "attn.proj.bias"] = rng.normal(0, 0.1, C)
        w[p + "ls1"] = rng.uniform(0.2, 1.0, C)
        w[p + "norm2.weight"] = 1 + rng.normal(0, 0.1, C)
        w[p + "norm2.bias"] = rng.normal(0, 0.1, C)
        w[p + "mlp.fc1.weight"] = rng.normal(0, 1.0 / np.sqrt(C), (I, C))
        w[p + "mlp.fc1.bias"] = rng.normal(0, 0.2, I)
        w[p + "mlp.fc2.weight"] = rng.normal(0, 1.0 / np.sqrt(I), (C, I))
        w[p + "mlp.fc2.bias"] = rng.normal(0, 0.1, C)
        w[p + "ls2"] = rng.uniform(0.2, 1.0, C)
    w["mlp1.0.weight"] = 1 + rng.normal(0, 0.1, 4 * C)
    w["mlp1.0.bias"] = rng.normal(0, 0.1, 4 * C)
    w["mlp1.1.weight"] = rng.normal(0, 1.0 / np.sqrt(4 * C), (H, 4 * C))
    w["mlp1.1.bias"] = rng.normal(0, 0.1, H)
    w["mlp1.3.weight"] = rng.normal(0, 1.0 / np.sqrt(H), (H, H))
    w["mlp1.3.bias"] = rng.normal(0, 0.1, H)
    lm = "language_model."
    w[lm + "model.embed_tokens.weight"] = rng.normal(0, 1.0, (vocab, H))
    w[lm + "model.norm.weight"] = 1 + rng.normal(0, 0.1, H)
    w[lm + "lm_head.weight"] = rng.normal(0, 1.0 / np.sqrt(H), (vocab, H))
    for i in range(spec["layers"]):
        p = f"{lm}model.layers.{i}."
        w[p + "input_layernorm.weight"] = 1 + rng.normal(0, 0.1, H)
        w[p + "post_attention_layernorm.weight"] = 1 + rng.normal(0, 0.1, H)
        w[p + "self_attn.q_proj.weight"] = rng.normal(0, 0.3, (nh * d, H))
        w[p + "self_attn.k_proj.weight"] = rng.normal(0, 0.3, (kv * d, H))
        w[p + "self_attn.v_proj.weight"] = rng.normal(0, 0.3, (kv * d, H))
        w[p + "self_attn.o_proj.weight"] = rng.normal(0, 0.2, (H, nh * d))
        if spec["llm"] == "qwen2":
            w[p + "self_attn.q_proj.bias"] = rng.normal(0, 0.5, nh * d)
            w[p + "self_attn.k_proj.bias"] = rng.normal(0, 0.5, kv * d)
            w[p + "self_attn.v_proj.bias"] = rng.normal(0, 0.5, kv * d)
        w[p + "mlp.gate_proj.weight"] = rng.normal(0, 0.3, (F, H))
        w[p + "mlp.up_proj.weight"] = rng.normal(0, 0.3, (F, H))
        w[p + "mlp.down_proj.weight"] = rng.normal(0, 0.2, (H, F))
    raw, exact = {}, {}
    for k, a in w.items():
        raw[k], exact[k] = bf16(a.astype(np.float32))
    return raw, exact


def save_sharded(folder, raw):
    names = sorted(raw)
    half = len(names) // 2
    shards = {"model-00001-of-00002.safetensors": names[:half], "model-00002-of-00002.safetensors": names[half:]}
    weight_map = {}
    total = 0
    for shard, keys in shards.items():
        # safetensors.numpy has no bfloat16 type: write uint16 bits, then patch the dtype in the header.
        path = os.path.join(folder, shard)
        save_file({k: raw[k] for k in keys}, path, metadata={"format": "pt"})
        with open(path, "rb") as f:
            data = f.read()
        n = int.from_bytes(data[:8], "little")
        header = json.loads(data[8:8 + n])
        for k in keys:
            header[k]["dtype"] = "BF16"
            weight_map[k] = shard
            total += raw[k].size * 2
        text = json.dumps(header, separators=(",", ":")).encode()
        text += b" " * ((8 - len(text) % 8) % 8)
        with open(path, "wb") as f:
            f.write(len(text).to_bytes(8, "little") + text + data[8 + n:])
    with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2, sort_keys=True)


def to_transformers(exact):
    """Original InternVL / H2OVL names -> transformers' InternVLForConditionalGeneration names."""
    out = {}
    C = VISION["hidden"]
    for k, v in exact.items():
        t = torch.from_numpy(np.array(v, np.float32))
        if k.startswith("vision_model."):
            n = "model.vision_tower." + k[len("vision_model."):]
            n = n.replace("embeddings.class_embedding", "embeddings.cls_token")
            n = n.replace("embeddings.patch_embedding.", "embeddings.patch_embeddings.projection.")
            n = n.replace("embeddings.position_embedding", "embeddings.position_embeddings")
            n = n.replace("encoder.layers.", "encoder.layer.")
            n = n.replace("attn.proj.", "attention.projection_layer.")
            n = n.replace("norm1.", "layernorm_before.").replace("norm2.", "layernorm_after.")
            n = n.replace(".ls1", ".lambda_1").replace(".ls2", ".lambda_2")
            if "attn.qkv." in n:
                kind = n.rsplit(".", 1)[1]
                for j, part in enumerate(("q_proj", "k_proj", "v_proj")):
                    out[n.replace("attn.qkv." + kind, f"attention.{part}.{kind}")] = t[j * C:(j + 1) * C].clone()
                continue
            out[n] = t
        elif k.startswith("mlp1."):
            part = {"0": "layer_norm", "1": "linear_1", "3": "linear_2"}[k.split(".")[1]]
            out["model.multi_modal_projector." + part + "." + k.split(".")[2]] = t
        elif k.startswith("language_model.model."):
            out["model.language_model." + k[len("language_model.model."):]] = t
        elif k == "language_model.lm_head.weight":
            out["lm_head.weight"] = t
        else:
            raise KeyError(k)
    return out


# --------------------------------------------------------------------------------- configs

def llm_config(spec, vocab, tok_config, bos, eos):
    arch = {"qwen2": "Qwen2ForCausalLM", "llama": "LlamaForCausalLM", "mistral": "MistralForCausalLM"}[spec["llm"]]
    c = {"architectures": [arch], "model_type": spec["llm"], "hidden_size": spec["hidden"],
         "intermediate_size": spec["ffn"], "num_hidden_layers": spec["layers"],
         "num_attention_heads": spec["heads"], "num_key_value_heads": spec["kv"], "head_dim": spec["head_dim"],
         "rope_theta": spec["theta"], "rms_norm_eps": spec["eps"], "vocab_size": vocab,
         "max_position_embeddings": 8192, "hidden_act": "silu", "tie_word_embeddings": False,
         "torch_dtype": "bfloat16", "bos_token_id": bos, "eos_token_id": eos, "attention_dropout": 0.0}
    if spec["llm"] == "mistral":
        c["sliding_window"] = None
    if spec["llm"] == "qwen2":
        c["use_sliding_window"] = False
    return c


def vision_config():
    v = VISION
    return {"architectures": ["InternVisionModel"], "model_type": "intern_vit_6b", "hidden_size": v["hidden"],
            "intermediate_size": v["ffn"], "num_attention_heads": v["heads"], "num_hidden_layers": v["layers"],
            "patch_size": v["patch"], "image_size": v["size"], "num_channels": 3, "hidden_act": "gelu",
            "layer_norm_eps": 1e-6, "norm_type": "layer_norm", "qkv_bias": True, "qk_normalization": False,
            "use_flash_attn": False, "drop_path_rate": 0.0, "dropout": 0.0, "attention_dropout": 0.0,
            "initializer_factor": 1.0, "torch_dtype": "bfloat16"}


def top_config(spec, llm):
    c = {"architectures": [spec["arch"]], "model_type": spec["model_type"], "downsample_ratio": 0.5,
         "dynamic_image_size": True, "force_image_size": VISION["size"], "max_dynamic_patch": spec["max_tiles"],
         "min_dynamic_patch": 1, "ps_version": "v2", "select_layer": -1, "template": spec["template"],
         "use_thumbnail": True, "torch_dtype": "bfloat16", "vision_config": vision_config(), "llm_config": llm}
    if spec["msac"] is not None:
        c["use_msac"] = spec["msac"]
    return c


# --------------------------------------------------------------------------------- tiles

def fnv1a(data):
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def fnv1a_fast(arr):
    return fnv1a(arr.tobytes())


def grid_tiles(image, grid, size, thumbnail):
    cols, rows = grid
    resized = image.resize((cols * size, rows * size), Image.Resampling.BICUBIC)
    tiles = [resized.crop(((i % cols) * size, (i // cols) * size, (i % cols + 1) * size, (i // cols + 1) * size))
             for i in range(cols * rows)]
    if thumbnail and len(tiles) != 1:
        tiles.append(image.resize((size, size), Image.Resampling.BICUBIC))
    return tiles


def tiles_for(image, spec):
    w, h = image.size
    size = VISION["size"]
    if spec["msac"]:
        case = tiling.msac_case(w, h, spec["max_tiles"])
        g2, g1 = [tuple(g) for g in case["grids"]]
        pass1 = grid_tiles(image, g1, size, True)
        pass2 = grid_tiles(image, g2, size, True)
        return pass2[:-1] + pass1[:-1] + pass2[-1:], case["grids"]
    case = tiling.internvl_case(w, h, 1, spec["max_tiles"])
    return grid_tiles(image, tuple(case["grids"][0]), size, True), case["grids"]


def normalise(tile):
    x = np.asarray(tile, np.uint8).astype(np.float32) / np.float32(255.0)
    x = np.transpose(x, (2, 0, 1))
    mean = np.array((0.485, 0.456, 0.406), np.float32).reshape(3, 1, 1)
    std = np.array((0.229, 0.224, 0.225), np.float32).reshape(3, 1, 1)
    return (x - mean) / std


# --------------------------------------------------------------------------------- prompts

def build_query(spec, tiles):
    question = "<image>\n" + QUESTION
    if spec["template"] == "Hermes-2":
        query = ("<|im_start|>system\n" + HERMES_SYSTEM + "<|im_end|>" + "<|im_start|>user\n" + question +
                 "<|im_end|>" + "<|im_start|>assistant\n")
    else:  # h2ogpt2: NO_COLON_SINGLE, empty system message, sep <|end|>
        query = "<|prompt|>" + question + "<|end|>" + "<|answer|>"
    image_tokens = "<img>" + "<IMG_CONTEXT>" * (256 * tiles) + "</img>"
    return query.replace("<image>", image_tokens, 1)


# --------------------------------------------------------------------------------- main

def build(name, spec):
    folder = os.path.join(OUT, name)
    os.makedirs(folder)
    if spec["tokenizer"] == "bytelevel":
        tok, tok_config = bytelevel_tokenizer()
        eos_text = "<|im_end|>"
    else:
        tok, tok_config = sentencepiece_tokenizer(spec["tokenizer"], ["<|prompt|>", "<|answer|>", "<|end|>"] + IMAGE_TOKENS)
        eos_text = "</s>"
    tok.save(os.path.join(folder, "tokenizer.json"))
    with open(os.path.join(folder, "tokenizer_config.json"), "w") as f:
        json.dump(tok_config, f, indent=2)
    with open(os.path.join(folder, "special_tokens_map.json"), "w") as f:
        json.dump({k: tok_config[k] for k in ("bos_token", "eos_token", "pad_token", "unk_token") if tok_config.get(k)},
                  f, indent=2)
    tok = Tokenizer.from_file(os.path.join(folder, "tokenizer.json"))  # the file as written is the reference
    vocab = tok.get_vocab_size(with_added_tokens=True)
    img_id = tok.token_to_id("<IMG_CONTEXT>")
    eos = tok.token_to_id(eos_text)
    bos = tok.token_to_id("<s>")
    llm = llm_config(spec, vocab, tok_config, bos, eos)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(top_config(spec, llm), f, indent=2)
    stops = [eos] + ([tok.token_to_id("<|end|>")] if spec["template"] == "h2ogpt2" else [])
    with open(os.path.join(folder, "generation_config.json"), "w") as f:
        json.dump({"_from_model_config": True, "eos_token_id": stops, "bos_token_id": bos}, f, indent=2)

    rng = np.random.default_rng(spec["seed"])
    raw, exact = make_weights(spec, vocab, rng)
    save_sharded(folder, raw)

    from transformers import InternVLConfig, InternVLForConditionalGeneration
    text = dict(llm)
    text.pop("architectures")
    text.pop("torch_dtype")
    v = VISION
    cfg = InternVLConfig(
        vision_config=dict(hidden_size=v["hidden"], num_hidden_layers=v["layers"], num_attention_heads=v["heads"],
                           intermediate_size=v["ffn"], attention_bias=True, use_qk_norm=False, use_mean_pooling=True,
                           layer_norm_eps=1e-6, hidden_act="gelu", image_size=[448, 448], patch_size=[14, 14]),
        text_config=text, image_token_id=img_id, downsample_ratio=0.5, projector_hidden_act="gelu",
        vision_feature_layer=-1, vision_feature_select_strategy="default", tie_word_embeddings=False)
    model = InternVLForConditionalGeneration(cfg).eval()
    state = to_transformers(exact)
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [m for m in missing if "rotary" not in m]
    assert not missing and not unexpected, (missing, unexpected)

    image = Image.open(IMAGE).convert("RGB")
    tiles, grids = tiles_for(image, spec)
    pixel = torch.from_numpy(np.stack([normalise(t) for t in tiles]))
    query = build_query(spec, len(tiles))
    ids = tok.encode(query, add_special_tokens=True).ids
    with torch.no_grad():
        features = model.model.vision_tower(pixel_values=pixel).last_hidden_state
        projected = model.model.get_image_features(pixel_values=pixel, vision_feature_layer=-1,
                                                   vision_feature_select_strategy="default")
        if not torch.is_tensor(projected):  # transformers returns an output object in some versions
            projected = getattr(projected, "pooler_output", None)
            projected = projected if torch.is_tensor(projected) else torch.stack(list(projected))
        projected = projected.reshape(len(tiles), -1, spec["hidden"])
        out = model(input_ids=torch.tensor([ids]), pixel_values=pixel, use_cache=True)
        logits = out.logits[0, -1].clone()
        past = out.past_key_values
        greedy, cur = [], logits
        for _ in range(GREEDY_STEPS):
            t = int(torch.argmax(cur))
            greedy.append(t)
            out = model(input_ids=torch.tensor([[t]]), past_key_values=past, use_cache=True)
            past, cur = out.past_key_values, out.logits[0, -1]
    features.numpy().astype("<f4").tofile(os.path.join(folder, "features.bin"))
    projected.numpy().astype("<f4").tofile(os.path.join(folder, "projector.bin"))
    expected = {
        "generator": "tools/make_vision_fixtures.py",
        "reference": "transformers %s InternVLForConditionalGeneration, torch %s, float32" % (
            __import__("transformers").__version__, torch.__version__),
        "image": "samples/receipt-004.jpg",
        "grids": grids, "tiles": len(tiles),
        "tile_fnv1a": ["%016x" % fnv1a_fast(np.asarray(t, np.uint8)) for t in tiles],
        "features_shape": list(features.shape), "projector_shape": list(projected.shape),
        "question": QUESTION, "prompt_ids": ids, "image_token_id": img_id,
        "logits": [float(x) for x in logits], "greedy": greedy,
        "tokenizer_cases": tokenizer_cases(tok),
    }
    with open(os.path.join(folder, "expected.json"), "w") as f:
        json.dump(expected, f)
    print("%-20s %d tiles %s, %d prompt ids, vocab %d, greedy %s" % (name, len(tiles), grids, len(ids), vocab, greedy))


def main():
    torch.manual_seed(0)
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    for name, spec in MODELS.items():
        build(name, spec)


if __name__ == "__main__":
    main()
