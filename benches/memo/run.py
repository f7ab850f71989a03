#!/usr/bin/env python3
"""The statement memo, side by side with it switched off, in one run.

    /var/lib/pg_embed-dev/venv/bin/python benches/memo/run.py [--rounds 30]

Starts a throwaway cluster (tests/reliability/cluster.py) holding the FAQ corpus of the
retrieval benchmark (benches/accuracy/data/faq: 474 Python and Perl FAQ answers, embedded with
embed_doc, HNSW index), then,
alternating pg_embed.statement_memo off and on for every round:
  - the README's search, SELECT id ... ORDER BY embedding <=> embed_doc(query) LIMIT 10, through
    the HNSW index and with the index switched off (a sequential scan ranks every row);
  - INSERT ... SELECT embed_doc(body) of every entry (every text distinct: the memo can only
    cost here).
Reports the p50 of each (client wall time) and the texts embedded per search
(pg_embed_stats), and writes benches/memo/results.json.
"""
import argparse
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(ROOT, "tests", "reliability"))
from cluster import Cluster  # noqa: E402

QUERY = "how do I copy an object"


def corpus():
    texts = []
    path = os.path.join(ROOT, "benches", "accuracy", "data", "faq", "corpus.jsonl")
    with open(path) as f:
        for line in f:
            d = json.loads(line)
            texts.append((d.get("title", "") + "\n" + d["text"]).strip())
    return texts


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=30)
    a = ap.parse_args()
    docs = corpus()
    with Cluster("memo-bench") as c:
        conn = c.connect()
        conn.prepare_threshold = None  # a cached plan would keep its scan whatever enable_indexscan says
        conn.execute("SET client_min_messages = warning")
        conn.execute("CREATE TABLE faq (id int PRIMARY KEY, body text, embedding vector(384))")
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO faq (id, body) VALUES (%s, %s)", list(enumerate(docs, 1)))
        conn.execute("UPDATE faq SET embedding = embed_doc(body)")
        conn.execute("CREATE INDEX ON faq USING hnsw (embedding vector_cosine_ops)")
        conn.execute("CREATE TABLE sink (id int, embedding vector(384))")
        conn.execute("ANALYZE faq")
        conn.execute("SET max_parallel_workers_per_gather = 0")
        search = "SELECT id FROM faq ORDER BY embedding <=> embed_doc(%s) LIMIT 10"
        times = {}
        texts = {}

        def timed(key, sql, params=()):
            t = time.perf_counter()
            conn.execute(sql, params).fetchall() if sql.lstrip().upper().startswith("SELECT") else conn.execute(sql, params)
            times.setdefault(key, []).append((time.perf_counter() - t) * 1000)

        for r in range(a.rounds + 1):
            for memo in ("off", "on"):
                conn.execute(f"SET pg_embed.statement_memo = {memo}")
                for scan, setting in (("index", "on"), ("seqscan", "off")):
                    conn.execute(f"SET enable_indexscan = {setting}")
                    conn.execute("SELECT pg_embed_stats_reset()")
                    timed((memo, scan) if r else ("warm", scan), search, (QUERY,))
                    texts[(memo, scan)] = conn.execute("SELECT sum(texts)::int FROM pg_embed_stats").fetchone()[0]
                conn.execute("RESET enable_indexscan")
                if r % 10 == 1:
                    conn.execute("TRUNCATE sink")
                    timed((memo, "insert"), "INSERT INTO sink SELECT id, embed_doc(body) FROM faq")
        cpu = open("/proc/cpuinfo").read()
        model = next(l.split(":", 1)[1].strip() for l in cpu.splitlines() if l.startswith("model name"))
    rows = []
    for what in ("index", "seqscan", "insert"):
        off, on = statistics.median(times[("off", what)]), statistics.median(times[("on", what)])
        rows.append({"statement": what, "memo_off_ms": round(off, 1), "memo_on_ms": round(on, 1),
                     "off_over_on": round(off / on, 2),
                     "texts_off": texts.get(("off", what)), "texts_on": texts.get(("on", what)),
                     "runs": len(times[("on", what)])})
    with open(os.path.join(HERE, "results.json"), "w") as f:
        json.dump({"cpu": model, "rounds": a.rounds, "rows": rows}, f, indent=1)
    print(f"CPU: {model}")
    print("| statement | p50 memo off | p50 memo on | off / on | texts embedded off / on | runs |")
    print("|---|---|---|---|---|---|")
    names = {"index": "search, HNSW index (top 10)", "seqscan": f"search, sequential scan ({len(docs)} rows)",
             "insert": f"INSERT ... SELECT embed_doc(body), {len(docs)} rows"}
    for r in rows:
        t = f"{r['texts_off']} / {r['texts_on']}" if r["texts_off"] is not None else f"{len(docs)} / {len(docs)}"
        print(f"| {names[r['statement']]} | {r['memo_off_ms']} ms | {r['memo_on_ms']} ms | {r['off_over_on']} | {t} | {r['runs']} |")


if __name__ == "__main__":
    main()
