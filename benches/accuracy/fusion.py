#!/usr/bin/env python3
"""Vector search fused with BM25: does a strong text ranker close the gap on code-masked?

Reads the rankings evaluate.py saved (top 100 per query: BM25 in Python, and every model run
through SQL), fuses each model's fp32 ranking with BM25's by weighted reciprocal rank fusion,

    score(d) = 1 / (k + rank_vector(d)) + w / (k + rank_bm25(d))     (absent from a list: no term)

and scores the top 10 with evaluate.py's metrics. The setting (k, w) is chosen per model on the
`code` set (highest MRR@10 over the grid) and then applied unchanged to code-masked and faq, so
the figures on those two sets are not tuned on them. Reports MRR@10 against vector search alone
with evaluate.py's 95% paired-bootstrap interval of the ratio.

    python3 benches/accuracy/fusion.py [--rankings DIR]

Writes fusion_results.md and fusion_results.json next to this script.
"""
import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from evaluate import SETS, load_set, ranking_path, retention_interval, score_run, write_results  # noqa: E402

KS = [1, 5, 10, 30, 60]
WEIGHTS = [0.1, 0.25, 0.5, 0.75, 1.0, 1.5]
TUNE_SET = "code"


def fuse(vector, text, k, w, depth=10):
    fused = {}
    for qid, docs in vector.items():
        score = {}
        for r, d in enumerate(docs, 1):
            score[d] = score.get(d, 0.0) + 1.0 / (k + r)
        for r, d in enumerate(text.get(qid, []), 1):
            score[d] = score.get(d, 0.0) + w / (k + r)
        fused[qid] = sorted(score, key=lambda d: (-score[d], d))[:depth]
    return fused


def load(folder, set_name, system):
    with open(ranking_path(folder, set_name, system), encoding="utf-8") as f:
        return json.load(f)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rankings", default=os.path.join(HERE, "rankings"))
    ap.add_argument("--data", default=os.path.join(HERE, "data"))
    a = ap.parse_args()
    if not os.path.isdir(os.path.join(a.rankings, TUNE_SET)):
        sys.exit(f"fusion.py: no rankings under {a.rankings}: run evaluate.py first")
    models = sorted(f[:-len("_fp32.json")] for f in os.listdir(os.path.join(a.rankings, TUNE_SET))
                    if f.endswith("_fp32.json"))
    qrels = {s: load_set(a.data, s, 0)[2] for s in SETS}
    text = {s: load(a.rankings, s, "bm25") for s in SETS}
    out = {"method": __doc__.split("\n\n")[1].strip(), "grid": {"k": KS, "w": WEIGHTS}, "models": {}}
    lines = ["| model | setting (chosen on code) | set | BM25 | vector | fused | fused / vector | interval |",
             "|---|---|---|---|---|---|---|---|"]
    for model in models:
        vec = {s: load(a.rankings, s, f"{model} fp32") for s in SETS}
        grid = []
        for k in KS:
            for w in WEIGHTS:
                m, _ = score_run(fuse(vec[TUNE_SET], text[TUNE_SET], k, w), qrels[TUNE_SET])
                grid.append((m["mrr@10"], k, w))
        best, k, w = max(grid)
        entry = {"chosen": {"k": k, "w": w, "code mrr@10": best}, "sets": {}}
        for s in SETS:
            mb, _ = score_run(text[s], qrels[s])
            mv, rv = score_run(vec[s], qrels[s])
            mf, rf = score_run(fuse(vec[s], text[s], k, w), qrels[s])
            lo, hi = retention_interval(rv, rf)
            entry["sets"][s] = {"bm25": mb, "vector": mv, "fused": mf, "ratio interval": [lo, hi]}
            lines.append(f"| {model} | k = {k}, w = {w} | {s} | {mb['mrr@10']:.3f} | {mv['mrr@10']:.3f} | "
                         f"{mf['mrr@10']:.3f} | {mf['mrr@10'] / mv['mrr@10']:.3f} | {lo:.3f}–{hi:.3f} |")
        out["models"][model] = entry
    table = "MRR@10, vector search alone and fused with BM25:\n\n" + "\n".join(lines) + "\n"
    write_results(out, os.path.join(HERE, "fusion_results.json"), table)
    print(table)


if __name__ == "__main__":
    main()
