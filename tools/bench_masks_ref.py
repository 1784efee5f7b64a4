#!/usr/bin/env python3
"""MaskBench reference run for llguidance and xgrammar (the Python side of `skiff bench masks`).

Builds a Hugging Face `tokenizers` BPE tokenizer from the vocabulary and merges in a GGUF file
(SmolLM2: llama.cpp pre-tokenizer `smollm` = digits split off one by one, then the GPT-2 regex;
same construction as tools/make_tokenizer_fixtures.py on the decoder branch), then for every
`<Subset>/<id>.json` under --data ({"schema", "tests": [{"valid", "data"}]}):

  1. compiles the schema (timed, µs): llguidance `LLMatcher.grammar_from_json_schema` + `LLMatcher`
     construction in its default strict mode (flexible whitespace, `oneOf` not coerced, unknown
     `format` and unsupported keywords are errors); xgrammar `GrammarCompiler.compile_json_schema`
     as upstream maskbench runs it (any_whitespace=False, strict_mode=True: no properties or items
     beyond those the schema names, properties in schema order), with separators (",", ":") to
     match the compact serialisation (--xgrammar-options changes this); keywords xgrammar cannot
     enforce are ignored without error (some with a logged warning, kept under "warnings");
  2. for each test instance: serialises it compactly in its own key order
     (json.dumps(data, separators=(",", ":"), ensure_ascii=False), like serde_json::to_string in
     llguidance's json_stats, which produced llguidance-baseline.jsonl), tokenizes it (the same
     token ids for both engines), and token by token computes the full mask into an int32 bitmask
     (each call timed with perf_counter_ns), checks that the token is allowed and advances; stops
     at the first rejected token; after the last token computes one more mask and checks that EOS
     is allowed. `accepted` = every token and EOS allowed.

Output: JSONL, one line per (engine, file):
  {"engine", "file", "subset", "status": "ok"|"compile_error", "error", "compile_us",
   "mask_us": [...every mask computed for this file, in order...],
   "instances": [{"index", "valid", "tokens", "accepted"}]}
and a summary per engine (stdout): passing schemas, compile errors, validation errors (valid
instance rejected), invalidation errors (invalid instance accepted), mask and compile percentiles,
overall and per subset.

Usage: .venv-masks/bin/python tools/bench_masks_ref.py --data ../shared/data/jsonschemabench-dev \
         --gguf models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf --out out/masks_ref.jsonl \
         [--engines llguidance,xgrammar] [--only SUBSTR] [--compile-timeout SEC]
(tools/bench_masks.sh makes the virtual environment.)
"""
import argparse
import importlib.util
import json
import math
import multiprocessing
import os
import sys
import time
import types

import numpy as np

ENGINES = ("llguidance", "xgrammar")
# upstream maskbench (jsonschemabench/maskbench) runs xgrammar with any_whitespace=False,
# strict_mode=True and separators equal to the instance serialisation; ours is compact
XGR_MASKBENCH = {"any_whitespace": False, "separators": [",", ":"], "strict_mode": True}


# ---------------------------------------------------------------------------------------------
# Tokenizer from the GGUF vocabulary

def gguf_strings(reader, key):
    field = reader.fields[key]
    return [bytes(field.parts[i]).decode("utf-8") for i in field.data]


def gguf_ints(reader, key):
    field = reader.fields[key]
    return [int(field.parts[i][0]) for i in field.data]


def gguf_scalar(reader, key, default=None):
    field = reader.fields.get(key)
    if field is None:
        return default
    value = field.parts[field.data[0]]
    try:
        return bytes(value).decode("utf-8") if field.types[0].name == "STRING" else int(value[0])
    except Exception:
        return default


def load_vocab(path):
    import gguf
    reader = gguf.GGUFReader(path)
    tokens = gguf_strings(reader, "tokenizer.ggml.tokens")
    merges = [tuple(m.split(" ", 1)) for m in gguf_strings(reader, "tokenizer.ggml.merges")]
    types_ = gguf_ints(reader, "tokenizer.ggml.token_type")
    pre = gguf_scalar(reader, "tokenizer.ggml.pre", "gpt2")
    model = gguf_scalar(reader, "tokenizer.ggml.model", "gpt2")
    eos = gguf_scalar(reader, "tokenizer.ggml.eos_token_id")
    if model != "gpt2":
        raise SystemExit(f"{path}: tokenizer model {model!r}, only byte-level BPE (gpt2) is supported")
    return tokens, merges, types_, pre, eos


def build_hf_tokenizer(tokens, merges, types_, pre):
    """Same construction as tools/make_tokenizer_fixtures.py (decoder branch)."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers
    vocab = {t: i for i, t in reversed(list(enumerate(tokens)))}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, fuse_unk=False))
    if pre == "smollm":
        tok.pre_tokenizer = pre_tokenizers.Sequence(
            [pre_tokenizers.Digits(individual_digits=True),
             pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    elif pre == "gpt2":
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    else:
        raise SystemExit(f"pre-tokenizer {pre!r} not supported here (smollm, gpt2)")
    tok.decoder = decoders.ByteLevel()
    special = [t for t, ty in zip(tokens, types_) if ty in (3, 4)]
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in special])
    return tok


# ---------------------------------------------------------------------------------------------
# xgrammar without torch / transformers

class _Any:
    """Placeholder for torch / transformers names that xgrammar touches at import time only."""

    def __init__(self, *args, **kwargs):
        pass

    def __call__(self, *args, **kwargs):
        return _Any()

    def __getattr__(self, name):
        return _Any()

    def __class_getitem__(cls, item):
        return cls


class _StubModule(types.ModuleType):
    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _Any


def import_xgrammar():
    """`import xgrammar` imports torch and transformers at module level (bitmask helpers, HF
    tokenizer glue), but compiling a schema, filling a bitmask (any DLPack array: numpy here) and
    accepting tokens go straight to the C++ core through tvm_ffi. If torch / transformers are not
    installed, stand-in modules are registered (after tvm_ffi has been imported, so that it sees no
    torch) and only the torch-free API is used. Returns (module, note)."""
    missing = [m for m in ("torch", "transformers") if importlib.util.find_spec(m) is None]
    if missing:
        import tvm_ffi  # noqa: F401  (must import before the stand-ins exist)
        for name in missing:
            mod = _StubModule(name)
            mod.__path__ = []
            sys.modules[name] = mod
    import xgrammar
    note = "stand-ins for " + ", ".join(missing) if missing else "real torch/transformers"
    return xgrammar, note


# ---------------------------------------------------------------------------------------------
# Engines: each exposes compile(schema) -> state or raises CompileError, new_matcher(state),
# fill(matcher) (fills self.bitmask), consume(matcher, token) -> bool

class CompileError(Exception):
    pass


class LLGuidanceEngine:
    name = "llguidance"

    def __init__(self, hf_json, n_vocab, eos):
        import llguidance
        self.llg = llguidance
        self.version = getattr(llguidance, "__version__", None) or _dist_version("llguidance")
        self.tokenizer = llguidance.LLTokenizer(hf_json, n_vocab=n_vocab, eos_token=eos)
        self.eos = eos
        self.bitmask = np.full((1, (n_vocab + 31) // 32), -1, dtype=np.int32)
        self._ptr = self.bitmask.ctypes.data
        self._nbytes = self.bitmask.nbytes

    def compile(self, schema):
        grammar = self.llg.LLMatcher.grammar_from_json_schema(schema)
        matcher = self.llg.LLMatcher(self.tokenizer, grammar, log_level=0)
        if matcher.is_error():
            raise CompileError(matcher.get_error())
        return matcher

    def new_matcher(self, compiled):
        return compiled.deep_copy()

    def fill(self, matcher):
        matcher.unsafe_compute_mask_ptr(self._ptr, self._nbytes)

    def consume(self, matcher, token):
        return matcher.consume_token(token) and not matcher.is_error()

    def empty_call(self, matcher):
        return matcher.is_error()

    def warnings(self, compiled):
        return list(compiled.get_grammar_warnings())


class XGrammarEngine:
    name = "xgrammar"

    def __init__(self, tokens, n_vocab, eos, threads, options):
        xgr, self.import_note = import_xgrammar()
        self.xgr = xgr
        self.version = getattr(xgr, "__version__", None) or _dist_version("xgrammar")
        info = xgr.TokenizerInfo(tokens, vocab_type=xgr.VocabType.BYTE_LEVEL, vocab_size=n_vocab,
                                 stop_token_ids=[eos], add_prefix_space=False)
        self.compiler = xgr.GrammarCompiler(info, max_threads=threads, cache_enabled=False)
        self.options = dict(options)
        if isinstance(self.options.get("separators"), list):
            self.options["separators"] = tuple(self.options["separators"])
        self.eos = eos
        self.bitmask = np.full((1, (n_vocab + 31) // 32), -1, dtype=np.int32)
        # fill_next_token_bitmask takes any DLPack array; wrapping the numpy buffer once as a
        # tvm_ffi Tensor (same memory) saves the ~0.3 µs numpy -> DLPack conversion per call.
        try:
            import tvm_ffi
            self._target = tvm_ffi.from_dlpack(self.bitmask)
        except Exception:
            self._target = self.bitmask

    def compile(self, schema):
        try:
            return self.compiler.compile_json_schema(json.dumps(schema, ensure_ascii=False), **self.options)
        except Exception as e:  # xgrammar raises RuntimeError / InvalidJSONError and friends
            raise CompileError(f"{type(e).__name__}: {e}")

    def new_matcher(self, compiled):
        return self.xgr.GrammarMatcher(compiled)

    def fill(self, matcher):
        matcher.fill_next_token_bitmask(self._target)

    def consume(self, matcher, token):
        return matcher.accept_token(token)

    def empty_call(self, matcher):
        return matcher.is_terminated()

    def warnings(self, compiled):
        return []


def _dist_version(name):
    try:
        from importlib.metadata import version
        return version(name)
    except Exception:
        return None


def allowed(bitmask, token):
    return (int(bitmask[0, token >> 5]) >> (token & 31)) & 1 == 1


# ---------------------------------------------------------------------------------------------
# One (engine, file)

def run_instances(engine, compiled, cases, result):
    # SKIFF_MASK_CPU_TIME=1: this thread's CPU time, as `skiff bench masks` measures then (steadier
    # than wall time on a shared machine; both engines compute masks on the calling thread).
    clock = time.thread_time_ns if os.environ.get("SKIFF_MASK_CPU_TIME") else time.perf_counter_ns
    mask_us = result["mask_us"]
    bitmask = engine.bitmask
    for case in cases:
        matcher = engine.new_matcher(compiled)
        ok = True
        for token in case["tokens"]:
            t0 = clock()
            engine.fill(matcher)
            t1 = clock()
            mask_us.append((t1 - t0) / 1000.0)
            if not allowed(bitmask, token) or not engine.consume(matcher, token):
                ok = False
                break
        if ok:  # EOS must be allowed once the instance is complete
            t0 = clock()
            engine.fill(matcher)
            t1 = clock()
            mask_us.append((t1 - t0) / 1000.0)
            ok = allowed(bitmask, engine.eos)
        result["instances"].append(
            {"index": case["index"], "valid": case["valid"], "tokens": case["tokens"], "accepted": ok})


class StderrCapture:
    """Collects what native code writes to file descriptor 2 (xgrammar logs the keywords it cannot
    represent exactly as "Warning: ..." lines there). The redirection is outside the timed region."""

    def __enter__(self):
        import tempfile
        sys.stderr.flush()
        self._tmp = tempfile.TemporaryFile(mode="w+b")
        self._saved = os.dup(2)
        os.dup2(self._tmp.fileno(), 2)
        self.lines = []
        return self

    def __exit__(self, *exc):
        sys.stderr.flush()
        os.dup2(self._saved, 2)
        os.close(self._saved)
        self._tmp.seek(0)
        text = self._tmp.read().decode("utf-8", "replace")
        self._tmp.close()
        for line in text.splitlines():
            line = line.strip()
            if line:
                k = line.find("Warning: ")
                self.lines.append(line[k + 9:] if k >= 0 else line)
        return False


def run_file(engine, doc, pipe=None):
    """Compile and run every instance. With `pipe`, runs in a child: sends ("compiled", us) right
    after compiling (the parent's timeout covers only that) and then ("done", result)."""
    result = {"status": "ok", "error": None, "compile_us": 0.0, "mask_us": [], "instances": [],
              "warnings": []}
    with StderrCapture() as captured:
        c0 = time.process_time_ns()
        t0 = time.perf_counter_ns()
        try:
            compiled = engine.compile(doc["schema"])
        except CompileError as e:
            compiled = None
            result["status"], result["error"] = "compile_error", str(e)
        result["compile_us"] = (time.perf_counter_ns() - t0) / 1000.0
        result["compile_cpu_us"] = (time.process_time_ns() - c0) / 1000.0
    result["warnings"] = captured.lines + (engine.warnings(compiled) if compiled is not None else [])
    if pipe is not None:
        pipe.send(("compiled", result["compile_us"]))
    if compiled is not None:
        run_instances(engine, compiled, doc["cases"], result)
    if pipe is not None:
        pipe.send(("done", result))
    return result


class TimeoutRunner:
    """--compile-timeout: files run in one long-lived forked worker (warm, like the in-process
    run); the parent waits at most `timeout` seconds for the compile to finish, then kills the
    worker, records a compile_error and forks a fresh worker for the next file."""

    def __init__(self, engine, corpus, timeout):
        self.engine, self.corpus, self.timeout = engine, corpus, timeout
        self.ctx = multiprocessing.get_context("fork")
        self.proc = None

    def _serve(self, requests, replies):
        while True:
            k = requests.recv()
            if k is None:
                return
            run_file(self.engine, self.corpus[k], replies)

    def _start(self):
        req_r, self.req_w = self.ctx.Pipe(duplex=False)
        self.rep_r, rep_w = self.ctx.Pipe(duplex=False)
        self.proc = self.ctx.Process(target=self._serve, args=(req_r, rep_w), daemon=True)
        self.proc.start()
        req_r.close()
        rep_w.close()

    def _kill(self):
        self.proc.kill()
        self.proc.join()
        self.proc = None

    def run(self, k):
        if self.proc is None:
            self._start()
        self.req_w.send(k)
        try:
            if not self.rep_r.poll(self.timeout):
                self._kill()
                return {"status": "compile_error", "error": f"compile timeout after {self.timeout:g} s",
                        "compile_us": self.timeout * 1e6, "compile_cpu_us": None, "mask_us": [], "instances": [], "warnings": []}
            self.rep_r.recv()
            return self.rep_r.recv()[1]
        except (EOFError, OSError):
            code = self.proc.exitcode
            self._kill()
            return {"status": "compile_error", "error": f"worker died (exit code {code})",
                    "compile_us": 0.0, "compile_cpu_us": None, "mask_us": [], "instances": [], "warnings": []}

    def close(self):
        if self.proc is not None:
            self.req_w.send(None)
            self.proc.join()
            self.proc = None


# ---------------------------------------------------------------------------------------------
# Corpus

def load_corpus(data, only, hf):
    files = []
    for subset in sorted(os.listdir(data)):
        folder = os.path.join(data, subset)
        if not os.path.isdir(folder):
            continue
        for name in sorted(os.listdir(folder)):
            if not name.endswith(".json"):
                continue
            rel = f"{subset}/{name}"
            if only and only not in rel:
                continue
            with open(os.path.join(folder, name), encoding="utf-8") as f:
                raw = json.load(f)
            cases = []
            for i, test in enumerate(raw.get("tests", [])):
                text = json.dumps(test["data"], separators=(",", ":"), ensure_ascii=False)
                ids = hf.encode(text, add_special_tokens=False).ids
                if hf.decode(ids, skip_special_tokens=False) != text:
                    raise SystemExit(f"{rel} test {i}: tokenization does not round-trip")
                cases.append({"index": i, "valid": bool(test["valid"]), "tokens": ids})
            files.append({"file": rel, "subset": subset, "schema": raw["schema"], "cases": cases})
    return files


# ---------------------------------------------------------------------------------------------
# Summary

def pct(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    k = max(0, min(len(s) - 1, math.ceil(p / 100.0 * len(s)) - 1))
    return s[k]


def classify(rec):
    """(passing, compile_error, n_validation_errors, n_invalidation_errors)"""
    if rec["status"] != "ok":
        return False, True, 0, 0
    verr = sum(1 for i in rec["instances"] if i["valid"] and not i["accepted"])
    ierr = sum(1 for i in rec["instances"] if not i["valid"] and i["accepted"])
    return verr == 0 and ierr == 0, False, verr, ierr


def summary_rows(records):
    groups = {}
    for rec in records:
        groups.setdefault(rec["subset"], []).append(rec)
    rows = []
    for name, recs in [("all", records)] + sorted(groups.items()):
        passing = cerr = verr = ierr = vfiles = ifiles = 0
        masks, compiles, cpu = [], [], []
        for rec in recs:
            p, c, v, i = classify(rec)
            passing += p
            cerr += c
            verr += v
            ierr += i
            vfiles += v > 0
            ifiles += i > 0
            masks.extend(rec["mask_us"])
            if rec["status"] == "ok":
                compiles.append(rec["compile_us"] / 1000.0)
                cpu.append(rec.get("compile_cpu_us", float("nan")) / 1000.0)
        rows.append((name, len(recs), passing, cerr, verr, vfiles, ierr, ifiles, len(masks),
                     pct(masks, 50), pct(masks, 99), max(masks) if masks else float("nan"),
                     pct(compiles, 50), pct(compiles, 99), max(compiles) if compiles else float("nan"),
                     pct(cpu, 50), pct(cpu, 99)))
    return rows


def print_summary(engine_name, version, records, wall_s, out):
    print(f"\n== {engine_name} {version}: {len(records)} schemas, {wall_s:.1f} s", file=out)
    head = ("subset", "schemas", "pass", "cerr", "verr(files)", "ierr(files)", "masks",
            "mask p50", "p99", "max µs", "compile p50", "p99", "max ms", "cpu p50", "p99 ms")
    print("%-16s %7s %5s %5s %11s %11s %8s %9s %8s %9s %11s %9s %9s %8s %9s" % head, file=out)
    for r in summary_rows(records):
        print("%-16s %7d %5d %5d %11s %11s %8d %9.1f %8.1f %9.1f %11.2f %9.2f %9.2f %8.2f %9.2f" % (
            r[0], r[1], r[2], r[3], f"{r[4]}({r[5]})", f"{r[6]}({r[7]})", r[8],
            r[9], r[10], r[11], r[12], r[13], r[14], r[15], r[16]), file=out)


def compare_baseline(data, records, out):
    path = os.path.join(data, "llguidance-baseline.jsonl")
    if not os.path.exists(path):
        return
    base = {}
    with open(path) as f:
        for line in f:
            if line.strip():
                row = json.loads(line)
                base[row["file"]] = row["llguidance_expected"]
    agree, diffs = 0, []
    for rec in records:
        exp = base.get(rec["file"])
        if exp is None:
            continue
        want = "compile_error" if "json_error" in exp else ("misjudged" if exp else "pass")
        p, c, v, i = classify(rec)
        got = "compile_error" if c else ("pass" if p else "misjudged")
        if want == got:
            agree += 1
        else:
            diffs.append(f"  {rec['file']}: baseline {want}, here {got}"
                         + (f" ({rec['error'][:100]})" if rec["error"] else ""))
    print(f"llguidance vs llguidance-baseline.jsonl: {agree} of {agree + len(diffs)} files agree", file=out)
    for d in diffs:
        print(d, file=out)


def timer_overhead_ns(n=200000):
    clock = time.perf_counter_ns
    d = []
    for _ in range(n):
        t0 = clock()
        t1 = clock()
        d.append(t1 - t0)
    return pct(d, 50), pct(d, 99)


def call_overhead_ns(engine, compiled, n=20000):
    clock = time.perf_counter_ns
    m = engine.new_matcher(compiled)
    f = engine.empty_call
    d = []
    for _ in range(n):
        t0 = clock()
        f(m)
        t1 = clock()
        d.append(t1 - t0)
    return pct(d, 50), pct(d, 99)


# ---------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="jsonschemabench-dev folder (<Subset>/<id>.json)")
    ap.add_argument("--gguf", required=True, help="GGUF file whose vocabulary and merges to use")
    ap.add_argument("--out", required=True, help="JSONL output file")
    ap.add_argument("--engines", default="llguidance,xgrammar", help="comma-separated: llguidance,xgrammar")
    ap.add_argument("--only", default=None, help="only files whose '<Subset>/<id>.json' contains this")
    ap.add_argument("--compile-timeout", type=float, default=None,
                    help="seconds per schema compile (each file then runs in a forked child); default none")
    ap.add_argument("--xgrammar-threads", type=int, default=1,
                    help="xgrammar GrammarCompiler max_threads (default 1, as upstream maskbench)")
    ap.add_argument("--xgrammar-options", default=json.dumps(XGR_MASKBENCH),
                    help="JSON object of compile_json_schema keyword arguments (default: %(default)s, "
                         "upstream maskbench's xgrammar configuration with separators matching the "
                         "compact serialisation; '{}' = xgrammar's own defaults, any_whitespace=true)")
    ap.add_argument("--details", action="store_true",
                    help="also list every misjudged instance and compile error")
    args = ap.parse_args()

    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    xgr_options = json.loads(args.xgrammar_options)
    for e in engines:
        if e not in ENGINES:
            ap.error(f"unknown engine {e!r} (known: {', '.join(ENGINES)})")

    for path, what in ((args.gguf, "--gguf"), (args.data, "--data")):
        if not os.path.exists(path):
            raise SystemExit(f"bench_masks_ref.py: {what} {path}: not found")
    t_start = time.perf_counter()
    tokens, merges, types_, pre, eos = load_vocab(args.gguf)
    hf = build_hf_tokenizer(tokens, merges, types_, pre)
    n_vocab = len(tokens)
    corpus = load_corpus(args.data, args.only, hf)
    if not corpus:
        raise SystemExit(f"no files under {args.data}" + (f" matching {args.only!r}" if args.only else ""))
    n_inst = sum(len(d["cases"]) for d in corpus)
    n_tok = sum(len(c["tokens"]) for d in corpus for c in d["cases"])
    print(f"vocabulary {n_vocab} tokens, pre-tokenizer {pre}, EOS {eos}; {len(corpus)} files, "
          f"{n_inst} instances, {n_tok} tokens (compact JSON, own key order); setup "
          f"{time.perf_counter() - t_start:.1f} s", flush=True)
    t_o = timer_overhead_ns()
    print(f"perf_counter_ns empty interval: p50 {t_o[0]} ns, p99 {t_o[1]} ns (included in every mask_us)",
          flush=True)

    out_dir = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    all_records = {}
    with open(args.out, "w", encoding="utf-8") as out:
        for name in engines:
            t_e = time.perf_counter()
            if name == "llguidance":
                engine = LLGuidanceEngine(hf.to_str(), n_vocab, eos)
                note = "default strict mode, default slices"
            else:
                engine = XGrammarEngine(tokens, n_vocab, eos, args.xgrammar_threads, xgr_options)
                note = (f"compile_json_schema(**{json.dumps(xgr_options)}), max_threads="
                        f"{args.xgrammar_threads}, {engine.import_note}")
            print(f"\n{name} {engine.version}: tokenizer ready in {time.perf_counter() - t_e:.1f} s; {note}",
                  flush=True)
            records = []
            runner = TimeoutRunner(engine, corpus, args.compile_timeout) if args.compile_timeout else None
            overhead_done = False
            t_e = time.perf_counter()
            for k, doc in enumerate(corpus):
                if runner:
                    res = runner.run(k)
                else:
                    res = run_file(engine, doc)
                rec = {"engine": name, "file": doc["file"], "subset": doc["subset"], **res}
                out.write(json.dumps(rec, ensure_ascii=False, separators=(",", ":")) + "\n")
                out.flush()
                records.append(rec)
                if rec["compile_us"] > 5e6:
                    print(f"  slow compile: {doc['file']} {rec['compile_us'] / 1e6:.1f} s", flush=True)
                if not overhead_done and rec["status"] == "ok":
                    with StderrCapture():
                        compiled = engine.compile(doc["schema"])
                    c_o = call_overhead_ns(engine, compiled)
                    print(f"  empty binding call ({'is_error' if name == 'llguidance' else 'is_terminated'}):"
                          f" p50 {c_o[0]} ns, p99 {c_o[1]} ns", flush=True)
                    overhead_done = True
                if (k + 1) % 50 == 0:
                    print(f"  {k + 1}/{len(corpus)} files, {time.perf_counter() - t_e:.1f} s", flush=True)
            if runner:
                runner.close()
            wall = time.perf_counter() - t_e
            all_records[name] = records
            print_summary(name, engine.version, records, wall, sys.stdout)
            if name == "llguidance":
                compare_baseline(args.data, records, sys.stdout)
            warned = [r for r in records if r["warnings"]]
            if warned:
                print(f"{len(warned)} schemas compiled with warnings (recorded under \"warnings\"), e.g. "
                      f"{warned[0]['file']}: {warned[0]['warnings'][0][:160]}")
            if args.details:
                for rec in records:
                    for w in rec["warnings"]:
                        print(f"  warning {rec['file']}: {w[:160]}")
                    if rec["status"] != "ok":
                        print(f"  compile error {rec['file']}: {rec['error'][:160]}")
                    for inst in rec["instances"]:
                        if inst["valid"] != inst["accepted"]:
                            kind = "valid rejected" if inst["valid"] else "invalid accepted"
                            print(f"  {kind}: {rec['file']} #{inst['index']}")
            sys.stdout.flush()
            del engine
    print(f"\ntotal {time.perf_counter() - t_start:.1f} s -> {args.out}")


if __name__ == "__main__":
    main()
