#!/usr/bin/env python3
"""Per model and precision, through SQL: file size, first-call (load) time, memory held, warm
latency at 16 and 128 tokens, and cosine to the same model's fp32 vectors over real texts.

Texts: the first 100 entries of the Python FAQ corpus (question + answer), as the demo builds it.
Usage: models.py [--dsn DSN] [--models a,b] [--texts N]
"""
import argparse
import csv
import os
import statistics
import subprocess
import sys
import time

import numpy as np
import psycopg

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAQ = "/usr/share/doc/python3.11/html/_sources/faq"


def faq_texts(n):
    out = subprocess.run([sys.executable, os.path.join(ROOT, "scripts/faq_corpus.py"), FAQ],
                         check=True, capture_output=True, text=True).stdout
    rows = list(csv.reader(out.splitlines(True)))
    return [f"{r[2]}\n\n{r[3]}" for r in rows[:n]]


def connect(dsn, precision):
    return psycopg.connect(dsn, options=f"-c pg_embed.precision={precision} -c pg_embed.memory_limit=4GB",
                           autocommit=True)


def vec(cur, text, model):
    cur.execute("SELECT embed(%s, %s)::real[]", (text, model))
    return np.array(cur.fetchone()[0], dtype=np.float64)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dsn", default="host=127.0.0.1 port=25432 user=postgres dbname=postgres")
    ap.add_argument("--models", default="all-MiniLM-L6-v2,paraphrase-MiniLM-L3-v2")
    ap.add_argument("--texts", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=100)
    a = ap.parse_args()
    texts = faq_texts(a.texts)
    # 16 and 128 tokens with this vocabulary (special tokens included).
    t16 = "PostgreSQL extensions add functions, types and index methods."
    t128 = " ".join(["Each backend loads its own model lazily under a memory limit."] * 9)
    with connect(a.dsn, "fp32") as c:
        c.execute("LOAD 'pg_embed'")
        model_dir = c.execute("SHOW pg_embed.model_dir").fetchone()[0]
    print("| model | precision | file MB | first call ms | held MB | 16 tokens ms | 128 tokens ms | cosine to fp32 min | mean |")
    print("|---|---|---|---|---|---|---|---|---|")
    for model in a.models.split(","):
        ref = None
        for precision, fname in (("fp32", "model.onnx"), ("int8", "model_int8.onnx")):
            size = os.path.getsize(os.path.join(model_dir, model, fname)) / 2**20
            firsts = []
            for _ in range(5):
                with connect(a.dsn, precision) as c:
                    cur = c.cursor()
                    cur.execute("SELECT 1")
                    t = time.perf_counter()
                    cur.execute("SELECT embed('hello world', %s) IS NOT NULL", (model,))
                    firsts.append((time.perf_counter() - t) * 1000)
            with connect(a.dsn, precision) as c:
                cur = c.cursor()
                vecs = [vec(cur, t, model) for t in texts]
                held = cur.execute("SELECT bytes_held FROM pg_embed_models WHERE name = %s", (model,)).fetchone()[0] / 2**20
                lat = {}
                for name, text in (("16", t16), ("128", t128)):
                    xs = []
                    for _ in range(a.repeat):
                        t = time.perf_counter()
                        cur.execute("SELECT embed(%s, %s) IS NOT NULL", (text, model))
                        cur.fetchone()
                        xs.append((time.perf_counter() - t) * 1000)
                    lat[name] = statistics.median(xs)
            if precision == "fp32":
                ref = vecs
                cmin = cmean = 1.0
            else:
                cos = [float(np.dot(x, y) / np.linalg.norm(x) / np.linalg.norm(y)) for x, y in zip(ref, vecs)]
                cmin, cmean = min(cos), statistics.mean(cos)
            print(f"| {model} | {precision} | {size:.0f} | {statistics.median(firsts):.0f} | {held:.0f} | "
                  f"{lat['16']:.1f} | {lat['128']:.1f} | {cmin:.4f} | {cmean:.4f} |")


if __name__ == "__main__":
    main()
