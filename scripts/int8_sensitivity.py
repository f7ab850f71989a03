#!/usr/bin/env python3
"""What a model's dynamic int8 copy must compute apart in fp32 to keep retrieval quality.

Offline analysis; its result is the model's entry in scripts/int8_recipes.json, which
prepare_models.py applies at set-up. Run it again only to change that entry:

    /var/lib/pg_embed-dev/venv/bin/python scripts/int8_sensitivity.py all-MiniLM-L6-v2
    /var/lib/pg_embed-dev/venv/bin/python scripts/int8_sensitivity.py paraphrase-MiniLM-L3-v2
    /var/lib/pg_embed-dev/venv/bin/python scripts/int8_sensitivity.py all-mpnet-base-v2 \
        --model-dir /var/lib/pg_embed-dev/models-extra

Calibration texts are disjoint from the benchmark in benches/accuracy/data/:
- code: CPython standard library pairs that pass build_data.py's filters but are not among the
  2,000 benchmark pairs (docstring summary -> function), plain and with names masked;
- prose: =head2 sections of Perl manual pages other than perlfaq*/perl*delta (heading -> body).

With ONNX Runtime in this process, one thread, one text per run (as pg_embed runs int8):
1. the largest |input| of every input channel of every weight MatMul, over a sample; for each
   --factors value, the channels whose peak is over factor x the median channel's peak are
   computed apart in fp32 (prepare_models.split_outlier_channels). Printed per candidate: the
   MRR@10 of each calibration retrieval set relative to fp32, and CPU per text relative to
   fp32. The candidate with the fewest channels that keeps --target everywhere is printed as
   JSON for int8_recipes.json;
2. with --sensitivity, also the classic per-MatMul analysis: the gain in mean (1 - cosine to
   fp32) from leaving each MatMul alone in fp32, and the same checks for the k most sensitive
   MatMuls left in fp32 (keep_fp32 in the recipe).
Deterministic: samples are chosen by SHA-1 of their ids.
"""
import argparse
import hashlib
import json
import os
import re
import sys
import tempfile
import time

import numpy as np
import onnx
import onnxruntime as ort
from tokenizers import Tokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benches", "accuracy"))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import build_data  # noqa: E402
from prepare_models import quantize_int8, weight_matmuls  # noqa: E402

PERL_SKIP = re.compile(r"^perl(faq\d*|\d+delta|toc|cheat|api|intern|artistic|gpl|hist)\.pod$")


def by_hash(items, key=lambda x: x[0]):
    return sorted(items, key=lambda x: hashlib.sha1(key(x).encode()).hexdigest())


def code_sets(n):
    bench = set()
    with open(os.path.join(ROOT, "benches", "accuracy", "data", "code", "corpus.jsonl")) as f:
        for line in f:
            bench.add(json.loads(line)["_id"])
    pairs, _ = build_data.build_code(10 ** 9)
    held = by_hash([p for p in pairs if p[0] not in bench])[:n]
    return ([(p[0], p[1], p[2]) for p in held], [(p[0], p[1], p[3]) for p in held])


def perl_sections(n):
    pod_dir = next(d for d in build_data.PERL_POD_DIRS if os.path.isdir(d))
    out, seen = [], set()
    for name in sorted(os.listdir(pod_dir)):
        if not name.endswith(".pod") or PERL_SKIP.match(name):
            continue
        with open(os.path.join(pod_dir, name), encoding="utf-8", errors="replace") as f:
            parts = re.split(r"^(=head2[ \t]+.*)$", f.read(), flags=re.M)
        for i, (head, body) in enumerate(zip(parts[1::2], parts[2::2])):
            q = " ".join(build_data.pod_inline(head[6:].strip()).split())
            a = build_data.pod_to_text(re.split(r"^=head1", body, flags=re.M)[0])
            if len(q.split()) >= 3 and len(a) >= 200 and q.lower() not in seen:
                seen.add(q.lower())
                out.append((f"{name}:{i}", q, a))
    return by_hash(out)[:n]


class Embedder:
    def __init__(self, path, tokenizer, max_tokens):
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        so.inter_op_num_threads = 1
        self.s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.s.get_inputs()}
        self.tok, self.max = tokenizer, max_tokens
        self.cpu = 0.0

    def one(self, text):
        full = self.tok.encode(text).ids
        ids = full[: self.max]
        if len(full) > self.max:
            ids[-1] = full[-1]  # the closing special token ([SEP], </s>), as truncation keeps it
        a = np.array([ids], dtype=np.int64)
        feed = {"input_ids": a, "attention_mask": np.ones_like(a)}
        if "token_type_ids" in self.inputs:
            feed["token_type_ids"] = np.zeros_like(a)
        t = time.process_time()
        out = self.s.run(["last_hidden_state"], feed)[0][0]
        self.cpu += time.process_time() - t
        v = out.mean(axis=0)
        return v / np.linalg.norm(v)

    def many(self, texts):
        return np.stack([self.one(t) for t in texts])


def mrr(qv, dv):
    sims = qv @ dv.T
    order = np.argsort(-sims, axis=1, kind="stable")[:, :10]
    rr = [1.0 / (list(row).index(i) + 1) if i in row else 0.0 for i, row in enumerate(order)]
    return float(np.mean(rr))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("--model-dir", default="/var/lib/pg_embed-dev/models")
    ap.add_argument("--sample", type=int, default=60, help="texts per calibration set for the sample")
    ap.add_argument("--pairs", type=int, default=300, help="pairs per calibration retrieval set")
    ap.add_argument("--max-k", type=int, default=4)
    ap.add_argument("--target", type=float, default=0.995)
    ap.add_argument("--factors", type=lambda v: [float(x) for x in v.split(",")], default=[8, 6, 4, 3])
    ap.add_argument("--max-channels", type=int, default=8, help="outlier channels per MatMul, at most")
    ap.add_argument("--sensitivity", action="store_true", help="also leave-one-MatMul-in-fp32 analysis")
    a = ap.parse_args()
    with open(os.path.join(ROOT, "crates", "engine", "models.json")) as f:
        spec = next(m for m in json.load(f)["models"] if m["name"] == a.model)
    d = os.path.join(a.model_dir, a.model)
    fp32 = os.path.join(d, "model.onnx")
    tok = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()

    code, masked = code_sets(a.pairs)
    perl = perl_sections(a.pairs)
    sets = {"code (held out)": code, "code-masked (held out)": masked, "perl manual sections": perl}
    print(f"calibration: {len(code)} held-out code pairs, {len(perl)} Perl manual sections", flush=True)
    sample = [t for s in sets.values() for _, q, doc in s[: a.sample // 2] for t in (q, doc)]

    ref = Embedder(fp32, tok, spec["max_tokens"])
    ref_sample = ref.many(sample)
    ref_sets = {k: (ref.many([q for _, q, _ in v]), ref.many([doc for _, _, doc in v])) for k, v in sets.items()}
    ref_cpu = ref.cpu / (len(sample) + sum(2 * len(v) for v in sets.values()))
    base_mrr = {k: mrr(*v) for k, v in ref_sets.items()}

    names = weight_matmuls(onnx.load(fp32))
    tmp = tempfile.mkdtemp()

    def int8(keep=(), outliers=None):
        path = os.path.join(tmp, "m.onnx")
        quantize_int8(fp32, path, keep, outliers)
        return Embedder(path, tok, spec["max_tokens"])

    def loss(e):
        return float(np.mean(1 - np.sum(e.many(sample) * ref_sample, axis=1)))

    def check(e):
        """Retention of fp32 MRR@10 per calibration set, CPU per text relative to fp32."""
        ret = {}
        for key, v in sets.items():
            ret[key] = mrr(e.many([q for _, q, _ in v]), e.many([doc for _, _, doc in v])) / base_mrr[key]
        return ret, e.cpu / sum(2 * len(v) for v in sets.values()) / ref_cpu

    def show(label, ret, cpu):
        print(f"{label}: " + ", ".join(f"{k} {100 * r:.2f}%" for k, r in ret.items())
              + f"; CPU per text {cpu:.2f} of fp32", flush=True)

    # 1. Outlier channels: the largest |activation| of every input channel of every weight
    # MatMul over the sample; a channel is an outlier when its maximum is over `factor` times
    # the median channel's.
    peaks = channel_peaks(fp32, names, sample, tok, spec["max_tokens"])
    print(f"fp32 MRR@10 on calibration: " + ", ".join(f"{k} {v:.3f}" for k, v in base_mrr.items()))
    ret, cpu = check(int8())
    show("plain int8", ret, cpu)
    results = {"plain": (ret, cpu)}
    chosen = None
    for factor in a.factors:
        outliers = {}
        for n in names:
            pk = peaks[n]
            idx = [int(i) for i in np.argsort(-pk)[: a.max_channels] if pk[i] > factor * np.median(pk)]
            if idx:
                outliers[n] = sorted(idx)
        ret, cpu = check(int8((), outliers))
        show(f"outlier channels over {factor}x the median ({sum(map(len, outliers.values()))} channels "
             f"in {len(outliers)} MatMuls)", ret, cpu)
        if chosen is None and min(ret.values()) >= a.target:
            chosen = {"outlier_factor": factor, "outlier_channels": outliers}
    if chosen:
        print(f"\nchosen (the fewest channels with retention >= {100 * a.target:.1f}% everywhere):")
        print(json.dumps(chosen))
    if not a.sensitivity:
        return

    # 2. Per-MatMul sensitivity: the gain in mean (1 - cosine) from leaving one MatMul fp32.
    base = loss(int8())
    print(f"\nall {len(names)} weight MatMuls int8: mean 1 - cos = {base:.5f}", flush=True)
    gains = sorted(((base - loss(int8([n])), n) for n in names), reverse=True)
    for g, n in gains:
        print(f"  fp32 {n}: gain {g:+.5f}", flush=True)
    for k in range(1, a.max_k + 1):
        ret, cpu = check(int8([n for _, n in gains[:k]]))
        show(f"{k} most sensitive MatMuls in fp32 (last: {gains[k - 1][1]})", ret, cpu)


def channel_peaks(path, names, texts, tok, max_tokens):
    """{MatMul label: largest |input| per channel over the texts}, from the fp32 graph."""
    model = onnx.load(path)
    inits = {i.name for i in model.graph.initializer}
    inputs = [n.input[0] for n in model.graph.node if n.op_type == "MatMul" and n.input[1] in inits]
    for x in dict.fromkeys(inputs):
        model.graph.output.append(onnx.helper.make_tensor_value_info(x, onnx.TensorProto.FLOAT, None))
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    s = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    feeds = {i.name for i in s.get_inputs()}
    peaks = {}
    for t in texts:
        ids = tok.encode(t).ids[:max_tokens]
        a = np.array([ids], dtype=np.int64)
        feed = {"input_ids": a, "attention_mask": np.ones_like(a)}
        if "token_type_ids" in feeds:
            feed["token_type_ids"] = np.zeros_like(a)
        for n, x in zip(names, s.run(inputs, feed)):
            m = np.abs(x.reshape(-1, x.shape[-1])).max(axis=0)
            peaks[n] = np.maximum(peaks.get(n, m), m)
    return peaks


if __name__ == "__main__":
    main()
