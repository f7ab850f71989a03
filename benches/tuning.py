#!/usr/bin/env python3
"""The measurements behind the session-tuning defaults, through SQL: for each setting variant,
in a new backend, warm latency on a 16-token and a 128-token text, batch throughput on 96
texts of mixed length (embed_doc_batch), and the memory the model then holds.

Usage: tuning.py [--dsn DSN] [--repeat N]
"""
import argparse
import statistics
import time

import psycopg

VARIANTS = [
    ("defaults (all, arena on, 1 thread)", {}),
    ("graph_optimization = basic", {"pg_embed.graph_optimization": "basic"}),
    ("graph_optimization = disable", {"pg_embed.graph_optimization": "disable"}),
    ("memory_arena = off", {"pg_embed.memory_arena": "off"}),
    ("threads = 2", {"pg_embed.threads": "2"}),
    ("threads = 2, intra_op_spinning = on", {"pg_embed.threads": "2", "pg_embed.intra_op_spinning": "on"}),
    ("max_tokens_per_run = 512", {"pg_embed.max_tokens_per_run": "512"}),
    ("batch_size = 32, max_tokens_per_run = 8192", {"pg_embed.batch_size": "32", "pg_embed.max_tokens_per_run": "8192"}),
    ("batch_size = 1", {"pg_embed.batch_size": "1"}),
]

T16 = "PostgreSQL extensions add functions, types and index methods."
T128 = " ".join(["Each backend loads its own model lazily under a memory limit."] * 9)
MIXED = [" ".join(["word%d" % (i % 7)] * (3 + (i * 37) % 200)) for i in range(96)]


def timed(cur, sql, args=()):
    t = time.perf_counter()
    cur.execute(sql, args)
    cur.fetchall()
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dsn", default="host=127.0.0.1 port=25432 user=postgres dbname=postgres")
    ap.add_argument("--repeat", type=int, default=60)
    a = ap.parse_args()
    print("| variant | 16 tokens ms | 128 tokens ms | batch of 96 mixed, texts/s | held MB |")
    print("|---|---|---|---|---|")
    for name, settings in VARIANTS:
        opts = " ".join(f"-c {k}={v}" for k, v in settings.items()) + " -c pg_embed.precision=fp32"
        with psycopg.connect(a.dsn, options=opts, autocommit=True) as conn:
            cur = conn.cursor()
            timed(cur, "SELECT embed_doc('warm up') IS NOT NULL")
            s16 = statistics.median(timed(cur, "SELECT embed_doc(%s) IS NOT NULL", (T16,)) for _ in range(a.repeat)) * 1000
            s128 = statistics.median(timed(cur, "SELECT embed_doc(%s) IS NOT NULL", (T128,)) for _ in range(a.repeat // 2)) * 1000
            batch = [len(MIXED) / timed(cur, "SELECT count(embedding) FROM embed_doc_batch(%s)", (MIXED,)) for _ in range(3)]
            held = cur.execute("SELECT bytes_held FROM pg_embed_models WHERE name = 'all-MiniLM-L6-v2'").fetchone()[0] / 2**20
        print(f"| {name} | {s16:.1f} | {s128:.1f} | {statistics.median(batch):.1f} | {held:.0f} |", flush=True)


if __name__ == "__main__":
    main()
