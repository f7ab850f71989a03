#!/usr/bin/env python3
"""Backfill cost along a large table: is every chunk as fast as the first?

    /var/lib/pg_embed-dev/venv/bin/python benches/backfill/run.py [--rows 100000] [--chunk 1000]

Starts a throwaway cluster (tests/reliability/cluster.py), fills a table with --rows short texts
("row N: a short text about TOPIC"), and runs CALL pg_embed_backfill over it with
paraphrase-MiniLM-L3-v2 in int8 (the cheapest model here, so the embedding does not hide what
the procedure itself costs per chunk). A second connection reads pg_embed_backfills every
second; the rows done and the run's own timestamps give the rate of each interval. Prints the
rate of the first and last tenth of the table and their ratio (a procedure that rescanned the
table from its start for every chunk would slow down linearly), writes
benches/backfill/results.json.
"""
import argparse
import json
import os
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "reliability"))
from cluster import Cluster  # noqa: E402
sys.path.insert(0, os.path.join(HERE, ".."))
from machine import cpu_model  # noqa: E402

TOPICS = ["indexes", "vacuum", "replication", "backups", "locks", "queries", "storage", "roles"]

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--chunk", type=int, default=1000)
    a = ap.parse_args()
    with Cluster("backfill-bench") as c:
        conn = c.connect()
        conn.autocommit = True
        conn.execute("CREATE TABLE bench (id bigint PRIMARY KEY, body text, embedding vector(384))")
        conn.execute(
            "INSERT INTO bench SELECT i, format('row %%s: a short text about %%s', i, (%s::text[])[1 + i %% 8]) "
            "FROM generate_series(1, %s) i",
            (TOPICS, a.rows),
        )
        conn.execute("VACUUM ANALYZE bench")
        samples = []
        done = threading.Event()

        def watch():
            w = c.connect()
            w.autocommit = True
            while not done.is_set():
                row = w.execute(
                    "SELECT rows_done, extract(epoch FROM updated - started) FROM pg_embed_backfills "
                    "WHERE relation = 'bench'::regclass").fetchone()
                if row and (not samples or samples[-1][0] != row[0]):
                    samples.append((int(row[0]), float(row[1])))
                time.sleep(1)
            w.close()

        t = threading.Thread(target=watch)
        t.start()
        started = time.monotonic()
        conn.execute("SET client_min_messages = warning")
        conn.execute("SET pg_embed.precision = 'int8'")
        conn.execute("CALL pg_embed_backfill('bench', 'body', 'embedding', model => 'paraphrase-MiniLM-L3-v2', "
                     "chunk_size => %s)", (a.chunk,))
        wall = time.monotonic() - started
        done.set()
        t.join()
        final = conn.execute("SELECT rows_done, rows_total, finished, extract(epoch FROM updated - started) "
                             "FROM pg_embed_backfills WHERE relation = 'bench'::regclass").fetchone()
        samples.append((int(final[0]), float(final[3])))
        missing = conn.execute("SELECT count(*) FROM bench WHERE embedding IS NULL").fetchone()[0]
    tenth = a.rows / 10

    def rate(lo, hi):
        inside = [s for s in samples if lo <= s[0] <= hi]
        if len(inside) < 2:
            return None
        (r0, t0), (r1, t1) = inside[0], inside[-1]
        return (r1 - r0) / (t1 - t0) if t1 > t0 else None

    first, last = rate(0, 2 * tenth), rate(a.rows - 2 * tenth, a.rows)
    result = {
        "rows": a.rows, "chunk": a.chunk, "cpu": cpu_model(), "wall_s": round(wall, 1),
        "finished": bool(final[2]), "rows_without_vector": missing,
        "rows_per_s_first_fifth": round(first, 1) if first else None,
        "rows_per_s_last_fifth": round(last, 1) if last else None,
        "last_over_first": round(last / first, 3) if first and last else None,
        "samples": samples,
    }
    with open(os.path.join(HERE, "results.json"), "w") as f:
        json.dump(result, f, indent=1)
    print(f"| rows | chunk | finished | first fifth rows/s | last fifth rows/s | last / first | wall |")
    print(f"|---|---|---|---|---|---|---|")
    print(f"| {a.rows:,} | {a.chunk} | {result['finished']} | {result['rows_per_s_first_fifth']} | "
          f"{result['rows_per_s_last_fifth']} | {result['last_over_first']} | {wall:.0f} s |")
    print(f"CPU: {result['cpu']}")


if __name__ == "__main__":
    main()
