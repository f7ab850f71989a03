#!/usr/bin/env python3
"""First-call (cold) and warm latency of embed_doc through SQL, measured from a client.

Cold: a new connection (a new backend) runs its first embed_doc, which loads pg_embed,
ONNX Runtime, the tokenizer and the model session. Warm: the same backend repeats a short text.
Each figure includes the client round trip, as psql's \\timing would.

Usage: latency.py [--dsn DSN] [--cold N] [--warm N] [--precision auto|fp32|int8]
"""
import argparse
import statistics
import time

import psycopg


def timed(cur, sql, *args):
    t = time.perf_counter()
    cur.execute(sql, args)
    cur.fetchall()
    return (time.perf_counter() - t) * 1000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dsn", default="host=127.0.0.1 port=25432 user=postgres dbname=postgres")
    ap.add_argument("--cold", type=int, default=10)
    ap.add_argument("--warm", type=int, default=300)
    ap.add_argument("--precision", default="auto")
    a = ap.parse_args()
    opts = f"-c pg_embed.precision={a.precision}"
    cold, warm_short, warm_long = [], [], []
    long_text = "PostgreSQL extensions can define new functions, types and index methods. " * 8
    for _ in range(a.cold):
        with psycopg.connect(a.dsn, options=opts, autocommit=True) as conn:
            cur = conn.cursor()
            cur.execute("SELECT 1")  # the connection itself is not part of the figure
            cold.append(timed(cur, "SELECT embed_doc('hello world') IS NOT NULL"))
    with psycopg.connect(a.dsn, options=opts, autocommit=True) as conn:
        cur = conn.cursor()
        timed(cur, "SELECT embed_doc('warm up') IS NOT NULL")
        base = [timed(cur, "SELECT 1") for _ in range(50)]
        for _ in range(a.warm):
            warm_short.append(timed(cur, "SELECT embed_doc(%s) IS NOT NULL", "how do I read a file"))
        for _ in range(max(a.warm // 5, 10)):
            warm_long.append(timed(cur, "SELECT embed_doc(%s) IS NOT NULL", long_text))

    def row(name, xs):
        print(f"| {name} | {len(xs)} | {min(xs):.1f} | {statistics.median(xs):.1f} | {max(xs):.1f} |")

    print(f"precision={a.precision}")
    print("| measurement (ms) | n | min | median | max |")
    print("|---|---|---|---|---|")
    row("first call in a new backend", cold)
    row("warm, short text (8 tokens)", warm_short)
    row("warm, long text (130 tokens)", warm_long)
    row("round trip of SELECT 1 (baseline)", base)


if __name__ == "__main__":
    main()
