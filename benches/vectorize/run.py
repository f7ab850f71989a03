#!/usr/bin/env python3
"""Vectorizers: what a write costs, what the background workers sustain, how far they lag.

    /var/lib/pg_embed-dev/venv/bin/python benches/vectorize/run.py [--rows 2000] [--lag-seconds 60]

Starts a throwaway cluster (tests/reliability/cluster.py) with pg_embed in
shared_preload_libraries and texts of the bulk corpus (benches/bulk/corpus.jsonl: Python
documentation and Stack Overflow posts, code and prose), all-MiniLM-L6-v2 fp32, and measures,
side by side in one run:

1. single-row INSERT latency (autocommit, one text per statement, p50/p99 over --inserts rows)
   into a table with no trigger, with the synchronous provenance trigger (embeds in the
   writer's transaction), and registered with pg_embed_vectorize (queue trigger; its workers
   paused, so the writer's cost alone is timed);
2. rows/s: INSERT ... SELECT embed_doc(body), one embed_doc_batch over all texts, and the
   workers draining a queue of --rows rows with pg_embed.vectorize_workers = 1 and then 2
   (from the first vector written to the last, read from the rows' own timestamps, so the
   workers' start is not counted);
3. lag under a steady write rate of half of one worker's rate for --lag-seconds: per row, the
   time from its INSERT to its vector (a trigger of the table stamps it), p50/p99.

Writes benches/vectorize/results.json.
"""
import argparse
import json
import os
import statistics
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "reliability"))
from cluster import Cluster  # noqa: E402
sys.path.insert(0, os.path.join(HERE, ".."))
from machine import cpu_model  # noqa: E402

def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def texts(n):
    out = []
    with open(os.path.join(HERE, "..", "bulk", "corpus.jsonl")) as f:
        for line in f:
            out.append(json.loads(line)["text"])
            if len(out) == n:
                break
    return out


TABLE = """CREATE TABLE {name} (id bigint PRIMARY KEY, body text, embedding vector(384), model_id text,
    inserted timestamptz DEFAULT clock_timestamp(), embedded timestamptz)"""
# stamps when the vector arrives (the worker's UPDATE fires it)
STAMP = """CREATE FUNCTION stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN IF NEW.embedding IS NOT NULL THEN NEW.embedded := clock_timestamp(); END IF; RETURN NEW; END $$"""


def wait_empty(conn, table, timeout=1800):
    end = time.time() + timeout
    while time.time() < end:
        n = conn.execute(f"SELECT count(*) FROM {table} WHERE embedding IS NULL").fetchone()[0]
        if n == 0:
            return
        time.sleep(0.2)
    raise RuntimeError(f"{table} not embedded after {timeout} s")


def set_workers(c, conn, n):
    conn.execute(f"ALTER SYSTEM SET pg_embed.vectorize_workers = {n}")
    conn.execute("SELECT pg_reload_conf()")
    end = time.time() + 30
    while time.time() < end:
        have = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_embed vectorize worker' "
                            "AND datname = current_database()").fetchone()[0]
        if have == n:
            return
        time.sleep(0.2)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=2000)
    ap.add_argument("--inserts", type=int, default=300)
    ap.add_argument("--lag-seconds", type=int, default=60)
    args = ap.parse_args()
    corpus = texts(args.rows)
    settings = {"shared_preload_libraries": "'pg_embed'", "pg_embed.vectorize_naptime": "100",
                "pg_embed.vectorize_workers": "0", "max_worker_processes": "16"}
    result = {"cpu": cpu_model(cores=True), "date": time.strftime("%Y-%m-%d"), "model": "all-MiniLM-L6-v2 fp32",
              "rows": args.rows, "corpus": "benches/bulk/corpus.jsonl (first rows)"}
    with Cluster("vectorize-bench", settings=settings) as c:
        conn = c.connect(autocommit=True)
        # The preloaded library is the installed one (the workers load it by name): the
        # functions use it too, not the cluster's private copy.
        conn.execute("UPDATE pg_proc SET probin = '$libdir/pg_embed' WHERE probin LIKE %s", (c.dir + "%",))
        conn.close()
        conn = c.connect(autocommit=True)
        conn.execute(STAMP)
        conn.execute("SELECT embed_doc('warm up')")

        # 1. single-row INSERT latency
        conn.execute(TABLE.format(name="plain"))
        conn.execute(TABLE.format(name="sync"))
        conn.execute("CREATE TRIGGER embed BEFORE INSERT OR UPDATE ON sync FOR EACH ROW "
                     "EXECUTE FUNCTION pg_embed_provenance_trigger('body', 'embedding', 'model_id')")
        conn.execute(TABLE.format(name="queued"))
        conn.execute("SELECT pg_embed_vectorize('queued', 'body', 'embedding', model_id_column => 'model_id')")
        conn.execute("SELECT pg_embed_vectorize_pause('queued')")
        latency = {}
        for name in ("plain", "sync", "queued"):
            times = []
            for i in range(args.inserts):
                t = time.perf_counter()
                conn.execute(f"INSERT INTO {name} (id, body) VALUES (%s, %s)", (i, corpus[i % len(corpus)]))
                times.append((time.perf_counter() - t) * 1e6)
            latency[name] = {"p50_us": round(pct(times, 50)), "p99_us": round(pct(times, 99))}
            print(f"INSERT one row, {name}: p50 {latency[name]['p50_us']} µs, p99 {latency[name]['p99_us']} µs", flush=True)
        result["insert_latency"] = latency

        # 2. rows/s
        rates = {}
        conn.execute(TABLE.format(name="staging"))
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO staging (id, body) VALUES (%s, %s)", list(enumerate(corpus)))
        t = time.perf_counter()
        conn.execute("CREATE TABLE direct AS SELECT id, embed_doc(body) AS embedding FROM staging")
        rates["insert_select_embed_doc"] = args.rows / (time.perf_counter() - t)
        t = time.perf_counter()
        conn.execute("SELECT count(*) FROM embed_doc_batch((SELECT array_agg(body ORDER BY id) FROM staging))")
        rates["embed_doc_batch"] = args.rows / (time.perf_counter() - t)
        conn.execute("CREATE TRIGGER stamp BEFORE UPDATE ON staging FOR EACH ROW EXECUTE FUNCTION stamp()")
        for workers in (1, 2):
            conn.execute("UPDATE staging SET embedding = NULL, embedded = NULL")
            if workers == 2:
                conn.execute("SELECT pg_embed_unvectorize('staging')")
            set_workers(c, conn, 0)
            conn.execute("SELECT pg_embed_vectorize('staging', 'body', 'embedding')")   # queues every row
            set_workers(c, conn, workers)
            wait_empty(conn, "staging")
            first, last = conn.execute("SELECT min(embedded), max(embedded) FROM staging").fetchone()
            rates[f"workers_{workers}"] = (args.rows - 1) / (last - first).total_seconds()
        for k, v in rates.items():
            print(f"rows/s, {k}: {v:.1f}", flush=True)
        result["rows_per_second"] = {k: round(v, 1) for k, v in rates.items()}
        result["ratios"] = {
            "one_worker_vs_embed_doc_batch": round(rates["workers_1"] / rates["embed_doc_batch"], 3),
            "one_worker_vs_insert_select": round(rates["workers_1"] / rates["insert_select_embed_doc"], 3),
            "two_workers_vs_one": round(rates["workers_2"] / rates["workers_1"], 3),
        }
        print(json.dumps(result["ratios"]), flush=True)

        # 3. lag at half of one worker's rate
        set_workers(c, conn, 1)
        conn.execute(TABLE.format(name="steady"))
        conn.execute("CREATE TRIGGER stamp BEFORE UPDATE ON steady FOR EACH ROW EXECUTE FUNCTION stamp()")
        conn.execute("SELECT pg_embed_vectorize('steady', 'body', 'embedding')")
        rate = rates["workers_1"] / 2
        writer = c.connect(autocommit=True)
        start = time.perf_counter()
        i = 0
        while time.perf_counter() - start < args.lag_seconds:
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            writer.execute("INSERT INTO steady (id, body) VALUES (%s, %s)", (i, corpus[i % len(corpus)]))
            i += 1
        wait_empty(conn, "steady")
        lags = [r[0] for r in conn.execute("SELECT extract(epoch FROM embedded - inserted) * 1000 FROM steady")]
        result["lag"] = {"write_rate_rows_per_s": round(rate, 1), "seconds": args.lag_seconds, "rows": i,
                         "p50_ms": round(pct(lags, 50)), "p99_ms": round(pct(lags, 99)), "max_ms": round(max(lags))}
        print(f"lag at {rate:.1f} rows/s for {args.lag_seconds} s: p50 {result['lag']['p50_ms']} ms, "
              f"p99 {result['lag']['p99_ms']} ms", flush=True)
        bad = c.crash_lines()
        if bad:
            raise SystemExit(f"crash in the server log: {bad[:3]}")
    out = os.path.join(HERE, "results.json")
    with open(out + ".tmp", "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    os.replace(out + ".tmp", out)
    print(f"written: {out}")


if __name__ == "__main__":
    main()
