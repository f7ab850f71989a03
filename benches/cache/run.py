#!/usr/bin/env python3
"""The embedding cache on a workload with duplicates, against no cache, in one run.

    /var/lib/pg_embed-dev/venv/bin/python benches/cache/run.py [--rows 2000] [--distinct 400]

Needs the dev cluster (scripts/cluster.sh start) with this build installed, and the bulk
corpus (benches/bulk/corpus.py --out benches/bulk/corpus.jsonl). Works in a database of its
own (pg_embed_cache_bench), dropped afterwards; prints a Markdown table and writes
benches/cache/results.json.

Workload: a table of --rows rows whose texts are drawn from the first --distinct texts of the
corpus with Zipf weights (text k has weight 1/k, fixed seed), as in a table where many rows
carry the same boilerplate (license headers, templated messages, copied docstrings).
"""
import argparse
import json
import os
import random
import time

import psycopg

HERE = os.path.dirname(os.path.abspath(__file__))
DSN = "host=127.0.0.1 port=25432 user=postgres"
DB = "pg_embed_cache_bench"


def proc_cpu(pid):
    """User + system CPU seconds of a process (the backend, on this machine)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def connect(settings):
    opts = " ".join(f"-c {k}={v}" for k, v in settings.items())
    conn = psycopg.connect(f"{DSN} dbname={DB}", autocommit=True, options=opts)
    conn.execute("SELECT embed_doc('load the model before timing')")
    conn.execute("SELECT pg_embed_stats_reset()")
    return conn


def timed(conn, sql):
    pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    cpu, t = proc_cpu(pid), time.perf_counter()
    conn.execute(sql)
    wall, cpu = time.perf_counter() - t, proc_cpu(pid) - cpu
    row = conn.execute(
        "SELECT coalesce(sum(texts), 0)::bigint, coalesce(sum(cache_hits), 0)::bigint, "
        "coalesce(sum(cache_table_hits), 0)::bigint, coalesce(sum(cache_misses), 0)::bigint FROM pg_embed_stats").fetchone()
    return {"wall_s": wall, "cpu_s": cpu, "texts": row[0], "memory_hits": row[1], "table_hits": row[2], "misses": row[3]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=2000)
    ap.add_argument("--distinct", type=int, default=400)
    ap.add_argument("--corpus", default=os.path.join(HERE, "..", "bulk", "corpus.jsonl"))
    ap.add_argument("--overhead-calls", type=int, default=50000)
    a = ap.parse_args()
    load_before = open("/proc/loadavg").read().split()[:3]

    texts = []
    with open(a.corpus) as f:
        for line in f:
            texts.append(json.loads(line)["text"])
            if len(texts) == a.distinct:
                break
    rng = random.Random(8)
    bodies = rng.choices(texts, weights=[1 / (k + 1) for k in range(len(texts))], k=a.rows)

    with psycopg.connect(f"{DSN} dbname=postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {DB}")
        admin.execute(f"CREATE DATABASE {DB}")
    with psycopg.connect(f"{DSN} dbname={DB}", autocommit=True) as conn:
        conn.execute("CREATE EXTENSION pg_embed CASCADE")
        conn.execute("CREATE TABLE src (id int PRIMARY KEY, body text NOT NULL)")
        with conn.cursor().copy("COPY src (id, body) FROM STDIN") as cp:
            for i, b in enumerate(bodies, 1):
                cp.write_row((i, b))
        for name in ("out_off", "out_memory", "out_table_fill", "out_table_read"):
            conn.execute(f"CREATE UNLOGGED TABLE {name} (id int PRIMARY KEY, embedding vector(384))")
        conn.execute("CREATE TABLE docs (id int PRIMARY KEY, body text, embedding vector(384))")
        conn.execute("INSERT INTO docs SELECT id, body FROM src")
        distinct = conn.execute("SELECT count(DISTINCT body) FROM src").fetchone()[0]
        top = conn.execute("SELECT max(n) FROM (SELECT count(*) n FROM src GROUP BY body) s").fetchone()[0]
        so = conn.execute("SELECT setting FROM pg_config WHERE name = 'PKGLIBDIR'").fetchone()[0]

    off = {"pg_embed.precision": "fp32", "pg_embed.cache_size": "0", "pg_embed.persistent_cache": "off"}
    passes = [
        ("insert-select, no cache", "out_off", off),
        ("insert-select, memory cache 64 MB", "out_memory", {**off, "pg_embed.cache_size": "64MB"}),
        ("insert-select, table cache, first run (write)", "out_table_fill", {**off, "pg_embed.persistent_cache": "write"}),
        ("insert-select, table cache, new backend (read)", "out_table_read", {**off, "pg_embed.persistent_cache": "read"}),
    ]
    results = []
    for label, table, settings in passes:
        with connect(settings) as conn:
            r = timed(conn, f"INSERT INTO {table} SELECT id, embed_doc(body) FROM src")
        results.append({"pass": label, **r})
        print(label, r, flush=True)
    # Re-running a backfill over the same table: every vector recomputed, or read from the table.
    for label, settings in [("backfill re-run, no cache", off),
                            ("backfill re-run, table cache (read)", {**off, "pg_embed.persistent_cache": "read"})]:
        with connect(settings) as conn:
            conn.execute("UPDATE docs SET embedding = NULL")
            r = timed(conn, "CALL pg_embed_backfill('docs', 'body', 'embedding', notice_every => 1000000)")
            conn.execute("CREATE TABLE IF NOT EXISTS backfill_off AS SELECT id, embedding FROM docs")
            same = conn.execute(
                "SELECT count(*) FROM docs d JOIN backfill_off o USING (id) WHERE d.embedding = o.embedding").fetchone()[0]
        results.append({"pass": label, **r, "equal_to_no_cache": same})
        print(label, r, flush=True)

    with psycopg.connect(f"{DSN} dbname={DB}", autocommit=True) as conn:
        for r in results[1:4]:
            table = passes[[p[0] for p in passes].index(r["pass"])][1]
            r["equal_to_no_cache"] = conn.execute(
                f"SELECT count(*) FROM {table} t JOIN out_off o USING (id) WHERE t.embedding = o.embedding").fetchone()[0]
        table_rows = conn.execute("SELECT count(*) FROM pg_embed_cache").fetchone()[0]

    # What counting calls costs: cache hits only (the cheapest call there is), stats on and off,
    # alternating, three times each.
    overhead = {"on": [], "off": []}
    hit = {**off, "pg_embed.cache_size": "64MB"}
    for _ in range(3):
        for track in ("on", "off"):
            with connect({**hit, "pg_embed.track_stats": track}) as conn:
                r = timed(conn, f"SELECT count(embed_doc('the same text')) FROM generate_series(1, {a.overhead_calls})")
            overhead[track].append(r)
    per_call = {k: sorted(x["cpu_s"] / a.overhead_calls * 1e6 for x in v)[1] for k, v in overhead.items()}
    wall_per_call = {k: sorted(x["wall_s"] / a.overhead_calls * 1e6 for x in v)[1] for k, v in overhead.items()}

    with psycopg.connect(f"{DSN} dbname=postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE {DB}")

    base = results[0]
    print(f"\n{a.rows} rows, {distinct} distinct texts (most common: {top} rows); pg_embed_cache rows after the runs: {table_rows}")
    print(f"library: {so}/pg_embed.so\n")
    print("| pass | rows/s | CPU ms per row | speed-up (wall) | hit rate | equal to no-cache vectors |")
    print("|---|---|---|---|---|---|")
    for r in results:
        hits = r["memory_hits"] + r["table_hits"]
        looked = hits + r["misses"]
        rate = f"{hits / looked:.1%}" if looked else "–"
        ref = base if not r["pass"].startswith("backfill") else results[4]
        print(f"| {r['pass']} | {a.rows / r['wall_s']:.1f} | {r['cpu_s'] * 1000 / a.rows:.2f} | "
              f"{ref['wall_s'] / r['wall_s']:.2f}× | {rate} | {r.get('equal_to_no_cache', a.rows)} / {a.rows} |")
    print(f"\nper call, all hits in the memory cache (median of 3 × {a.overhead_calls} calls): "
          f"CPU {per_call['on']:.2f} µs with pg_embed.track_stats on, {per_call['off']:.2f} µs off; "
          f"wall {wall_per_call['on']:.2f} / {wall_per_call['off']:.2f} µs")
    with open(os.path.join(HERE, "results.json"), "w") as f:
        json.dump({"rows": a.rows, "distinct": distinct, "most_common": top, "table_rows": table_rows,
                   "passes": results, "overhead": overhead, "overhead_calls": a.overhead_calls,
                   "loadavg_before": load_before, "loadavg_after": open("/proc/loadavg").read().split()[:3]}, f, indent=1)


if __name__ == "__main__":
    main()
