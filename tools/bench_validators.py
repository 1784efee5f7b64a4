#!/usr/bin/env python3
"""Times Python `jsonschema` and `jsonschema-rs` on the jsonschemabench corpus, the way
`skiff bench json` times Skiff: compile each schema once (format checking on, as the corpus
labels were made), then validate every `tests` instance with is_valid, best of repeated passes,
timed in thread CPU time (time.thread_time), as Skiff's side is, so load from other processes
on a shared machine does not distort the ratio.
Prints one JSON object: {name: {instances_per_s, compile_ms, agree}}. Used by `skiff bench json`."""
import json, pathlib, sys, time

corpus = pathlib.Path(sys.argv[1])
seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 2.0
cases = []
for path in sorted(corpus.rglob("*.json")):
    doc = json.loads(path.read_text())
    if not isinstance(doc, dict) or "schema" not in doc or not doc.get("tests"):
        continue
    cases.append((doc["schema"], [(t["data"], t["valid"]) for t in doc["tests"]]))
count = sum(len(t) for _, t in cases)

def bench(compile_one):
    t0 = time.thread_time()
    compiled = [(compile_one(s), tests) for s, tests in cases]
    compile_ms = (time.thread_time() - t0) * 1000
    agree = sum(1 for v, tests in compiled for d, ok in tests if v.is_valid(d) == ok)
    best, start, passes = float("inf"), time.perf_counter(), 0
    while passes < 1 or time.perf_counter() - start < seconds:
        t = time.thread_time()
        for v, tests in compiled:
            for d, _ in tests:
                v.is_valid(d)
        best = min(best, time.thread_time() - t)
        passes += 1
    return {"instances_per_s": count / best, "compile_ms": compile_ms, "agree": agree}

results = {}
import jsonschema
def py_compile(s):
    cls = jsonschema.validators.validator_for(s, default=jsonschema.Draft202012Validator)
    return cls(s, format_checker=cls.FORMAT_CHECKER)
results["jsonschema"] = bench(py_compile)
import jsonschema_rs
results["jsonschema-rs"] = bench(lambda s: jsonschema_rs.validator_for(s, validate_formats=True))
print(json.dumps(results))
