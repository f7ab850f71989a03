#!/usr/bin/env python3
"""Concurrency soak: 8 sessions embedding through a trigger and searching, for minutes.

Not part of run.sh (it takes --duration seconds, 300 by default). On a throwaway cluster with
pg_embed.memory_limit = --memory-limit (512MB), each of --workers (8) client connections
repeats, until the time is up:

  - INSERT of 1-4 rows into docs(body), whose BEFORE INSERT trigger sets
    embedding := embed_doc(body);
  - SELECT id FROM docs ORDER BY embedding <=> embed_doc(q) LIMIT 5 (an HNSW index).

From outside, the resident memory of each backend (pid from pg_backend_pid()) is read from
/proc/<pid>/status every second (VmRSS, RssAnon, RssShmem), and VmHWM, the kernel's peak, at
the end. Checked: no statement fails (no deadlock either), every inserted row has an
embedding, the searches use the HNSW index, no backend is replaced, the server log shows no
crash, and each backend's peak RSS stays within pg_embed.memory_limit plus the per-backend
overhead the README states (about 60 MB, --overhead-mb).

Usage: soak.py [--duration S] [--workers N] [--memory-limit 512MB] [--overhead-mb 60]
               [--precision auto] [--seed N] [--keep-log PATH]
Last line: `N passed, M failed`; exit status 1 on any failure.
"""
import argparse
import collections
import os
import random
import re
import sys
import threading
import time

import psycopg

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Checks, Cluster, rss_kb  # noqa: E402
from inputs import Inputs  # noqa: E402

SCHEMA = """
CREATE TABLE docs (id bigserial PRIMARY KEY, worker int NOT NULL, body text NOT NULL, embedding vector(384));
CREATE FUNCTION docs_embed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.embedding := embed_doc(NEW.body);
  RETURN NEW;
END $$;
CREATE TRIGGER docs_embed BEFORE INSERT OR UPDATE OF body ON docs FOR EACH ROW EXECUTE FUNCTION docs_embed();
CREATE INDEX docs_embedding_idx ON docs USING hnsw (embedding vector_cosine_ops);
"""
QUERY = "SELECT id FROM docs ORDER BY embedding <=> embed_doc(%s) LIMIT 5"


def mb(limit):
    m = re.fullmatch(r"(\d+)\s*(MB|GB)", limit.strip(), re.I)
    if not m:
        raise SystemExit(f"--memory-limit must be like 512MB or 1GB, not {limit!r}")
    return int(m.group(1)) * (1024 if m.group(2).upper() == "GB" else 1)


class Worker(threading.Thread):
    def __init__(self, n, cluster, deadline, seed, precision):
        super().__init__(name=f"worker-{n}")
        self.n = n
        self.deadline = deadline
        self.gen = Inputs(random.Random(seed * 1000 + n))
        self.rnd = random.Random(seed * 7919 + n)
        self.conn = cluster.connect(options=f"-c pg_embed.precision={precision}")
        self.conn.add_notice_handler(lambda d: None)
        self.pid = self.conn.info.backend_pid
        self.rows = self.inserts = self.queries = 0
        self.errors = collections.Counter()
        self.error_examples = []
        self.empty_results = 0
        self.pid_changed = False

    def text(self):
        return self.gen.prose(self.rnd.randint(8, 120))

    def run(self):
        try:
            while time.time() < self.deadline:
                try:
                    if self.rnd.random() < 0.5:
                        texts = [self.text() for _ in range(self.rnd.randint(1, 4))]
                        self.conn.execute("INSERT INTO docs (worker, body) SELECT %s, unnest(%s::text[])",
                                          (self.n, texts))
                        self.inserts += 1
                        self.rows += len(texts)
                    else:
                        got = self.conn.execute(QUERY, (self.gen.words(self.rnd.randint(2, 12)),)).fetchall()
                        self.queries += 1
                        if not got:
                            self.empty_results += 1
                except psycopg.Error as e:
                    self.errors[e.sqlstate or "connection"] += 1
                    if len(self.error_examples) < 3:
                        self.error_examples.append(f"{e.sqlstate}: {str(e).splitlines()[0] if str(e) else e!r}")
                    if self.conn.broken or self.conn.closed:
                        return
            self.pid_changed = self.conn.execute("SELECT pg_backend_pid()").fetchone()[0] != self.pid
        finally:
            pass


class Monitor(threading.Thread):
    """Samples the backends' memory from /proc every `interval` seconds."""

    def __init__(self, pids, interval=1.0):
        super().__init__(name="monitor", daemon=True)
        self.pids = pids
        self.interval = interval
        self.stop = threading.Event()
        self.max = {p: {"VmRSS": 0, "RssAnon": 0, "RssShmem": 0} for p in pids}
        self.max_total = 0
        self.samples = 0
        self.anon_at_30s = None  # RssAnon of each backend once the models are loaded and warm
        self.anon_last = {}

    def run(self):
        t0 = time.time()
        while not self.stop.is_set():
            if self.anon_at_30s is None and time.time() - t0 >= 30:
                self.anon_at_30s = {p: rss_kb(p, "RssAnon") or 0 for p in self.pids}
            self.anon_last = {p: rss_kb(p, "RssAnon") or 0 for p in self.pids}
            total = 0
            for p in self.pids:
                for field in ("VmRSS", "RssAnon", "RssShmem"):
                    v = rss_kb(p, field)
                    if v is not None:
                        self.max[p][field] = max(self.max[p][field], v)
                        if field == "VmRSS":
                            total += v
            self.max_total = max(self.max_total, total)
            self.samples += 1
            self.stop.wait(self.interval)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--duration", type=float, default=300)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--memory-limit", default="512MB")
    ap.add_argument("--overhead-mb", type=int, default=60, help="per-backend overhead stated in README.md")
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep-log", help="copy the server log here before the cluster is removed")
    a = ap.parse_args()
    limit_mb = mb(a.memory_limit)
    checks = Checks()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"soak: {a.workers} sessions, {a.duration:.0f} s, pg_embed.memory_limit = {a.memory_limit}, "
          f"precision {a.precision}, started {started}", flush=True)
    with Cluster("soak", keep_log=a.keep_log,
                 settings={"pg_embed.memory_limit": f"'{a.memory_limit}'"}) as c:
        with c.connect() as conn:
            conn.execute(SCHEMA)
            # Some rows first, so that every search has neighbours to find.
            seed_gen = Inputs(random.Random(a.seed))
            conn.execute("INSERT INTO docs (worker, body) SELECT -1, unnest(%s::text[])",
                         ([seed_gen.prose(40) for _ in range(50)],))
            plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + QUERY, ("plan",)).fetchall())
        checks.check("the search uses the HNSW index", "docs_embedding_idx" in plan, plan.replace("\n", " | ")[:200])
        deadline = time.time() + a.duration
        workers = [Worker(n, c, deadline, a.seed, a.precision) for n in range(a.workers)]
        pids = [w.pid for w in workers]
        mon = Monitor(pids)
        mon.start()
        load_start = os.getloadavg()[0]
        t0 = time.time()
        for w in workers:
            w.start()
        next_report = t0 + 30
        while any(w.is_alive() for w in workers):
            time.sleep(1)
            if time.time() >= next_report:
                rows = sum(w.rows for w in workers)
                queries = sum(w.queries for w in workers)
                rss = max(m["VmRSS"] for m in mon.max.values()) // 1024
                print(f"  {time.time() - t0:4.0f} s: {rows} rows, {queries} searches, max backend RSS {rss} MB",
                      flush=True)
                next_report += 30
        elapsed = time.time() - t0
        load_end = os.getloadavg()[0]
        hwm = {p: rss_kb(p, "VmHWM") or 0 for p in pids}
        mon.stop.set()
        mon.join()
        with c.connect() as conn:
            held = conn.execute("SELECT count(*) FILTER (WHERE worker >= 0), count(*) FILTER (WHERE embedding IS NULL) "
                                "FROM docs").fetchone()
            deadlocks = conn.execute("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"
                                     ).fetchone()[0]
        for w in workers:
            w.conn.close()
        crashes = c.crash_lines()

    rows = sum(w.rows for w in workers)
    inserts = sum(w.inserts for w in workers)
    queries = sum(w.queries for w in workers)
    errors = collections.Counter()
    for w in workers:
        errors.update(w.errors)
    examples = [e for w in workers for e in w.error_examples]
    peak = {p: max(hwm[p], mon.max[p]["VmRSS"]) for p in pids}
    bound_kb = (limit_mb + a.overhead_mb) * 1024

    print(f"\nsoak results ({started}, {elapsed:.0f} s, {a.workers} sessions, pg_embed.memory_limit = "
          f"{a.memory_limit}, precision {a.precision}, library sha256 {c.library_sha256[:16]}):")
    print(f"  rows inserted through the trigger: {rows} in {inserts} INSERTs ({rows / elapsed:.1f} rows/s)")
    print(f"  similarity searches: {queries} ({queries / elapsed:.1f}/s); searches that found nothing: "
          f"{sum(w.empty_results for w in workers)}")
    print(f"  machine: {os.cpu_count()} cores, load average (1 min) {load_start:.1f} at the start, "
          f"{load_end:.1f} at the end")
    print(f"  errors: {sum(errors.values())} {dict(errors)}; deadlocks (pg_stat_database): {deadlocks}")
    print("  | session | rows | searches | peak RSS MB (VmHWM) | max RssAnon MB | max RssShmem MB |")
    print("  |---|---|---|---|---|---|")
    for w in workers:
        m = mon.max[w.pid]
        print(f"  | {w.n} | {w.rows} | {w.queries} | {peak[w.pid] / 1024:.0f} | {m['RssAnon'] / 1024:.0f} | "
              f"{m['RssShmem'] / 1024:.0f} |")
    if mon.anon_at_30s:
        growth = max(mon.anon_last.get(p, 0) - mon.anon_at_30s[p] for p in pids) / 1024
        print(f"  private memory (RssAnon) growth of a backend from 30 s to the end: at most {growth:.0f} MB; "
              f"VmRSS also counts the shared buffers a backend has touched (RssShmem), which grow with the table")
    print(f"  largest peak RSS of one backend: {max(peak.values()) / 1024:.0f} MB "
          f"(bound {limit_mb} + {a.overhead_mb} MB); sum of the {a.workers} backends' RSS at the fullest sample: "
          f"{mon.max_total / 1024:.0f} MB ({mon.samples} samples)")

    checks.check("no statement failed", not errors, "; ".join(examples))
    checks.check("no deadlock", deadlocks == 0 and "40P01" not in errors, f"{deadlocks} deadlocks")
    checks.check("every inserted row has an embedding", held[0] == rows and held[1] == 0,
                 f"{held[0]} rows in docs (inserted {rows}), {held[1]} without an embedding")
    checks.check("every session kept its backend", not any(w.pid_changed for w in workers))
    checks.check("the sessions did work (rows and searches)", rows > 0 and queries > 0)
    over = {p: v for p, v in peak.items() if v > bound_kb}
    checks.check(f"each backend's peak RSS <= memory_limit + overhead ({limit_mb + a.overhead_mb} MB)", not over,
                 ", ".join(f"pid {p}: {v / 1024:.0f} MB" for p, v in over.items()))
    checks.check("server log has no crash", not crashes, "; ".join(crashes[:3]))
    sys.exit(checks.summary())


if __name__ == "__main__":
    main()
