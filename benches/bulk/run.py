"""The bulk-embedding benchmark: every way to embed many rows, measured in one run.

Run through benches/bulk/run.sh, which builds the engine example and the corpus first:

    benches/bulk/run.sh                      # 3 rounds of 1,500 texts per path
    benches/bulk/run.sh --rounds 5 --size 1000 --no-int8 --no-profile

Paths (all-MiniLM-L6-v2, pg_embed.threads = 1, fp32 unless named int8):

  engine-b8      the engine outside PostgreSQL (crates/engine/examples/throughput.rs): one
                 call over all texts, sorted runs of at most 8 texts (the default RunLimits)
  engine-b1      the same, one call per text (what embed_doc does per row)
  insert-select  INSERT INTO t (id, body, embedding) SELECT id, body, embed_doc(body) FROM src,
                 one backend (max_parallel_workers_per_gather = 0)
  ctas-parallel  CREATE TABLE t AS SELECT id, body, embed_doc(body)::vector(384) FROM src with a
                 Gather over 2 parallel workers (parallel_setup_cost = parallel_tuple_cost =
                 min_parallel_table_scan_size = 0); INSERT ... SELECT is never parallel in PG 15
  batch-fn       INSERT ... SELECT ... FROM embed_doc_batch(array), one statement per chunk
                 of 200 texts, the arrays built from src in the same statement
  backfill       CALL pg_embed_backfill('t', 'body', 'embedding') on a copy of src whose
                 vector column is NULL (default chunk_size 200)
  trigger        one single-row INSERT per text from one client in autocommit, a BEFORE INSERT
                 trigger setting NEW.embedding := embed_doc(NEW.body)
  app            benches/bulk/app_pipeline.py: psycopg + tokenizers + onnxruntime + COPY

Round r of every path embeds the same texts: corpus lines r*size .. (r+1)*size. Paths run
interleaved (round 1 of every path, then round 2 ...), in an order that rotates each round,
so drifting load from other work on the machine spreads over all paths.

For each measurement: wall seconds, texts/s, CPU seconds of the process doing the work where
there is one (engine, backend, app), and the machine's busy cores over the measurement (from
/proc/stat; everything, other work included). Output: results.json, results.md, chart.png
next to this file.
"""

import argparse
import datetime
import hashlib
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import threading
import time

import psycopg
from psycopg import sql

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
DSN = "host=127.0.0.1 port=25432 user=postgres"
DB = "pg_embed_bulk"
MODEL_DIR = "/var/lib/pg_embed-dev/models/all-MiniLM-L6-v2"
PG_LIB = "/usr/lib/postgresql/15/lib/pg_embed.so"
CLK_TCK = os.sysconf("SC_CLK_TCK")
BATCH_CHUNK = 200

PATHS = {
    # name: (label, precision, in_database)
    "engine-b8": ("engine, sorted batches of 8 (no PostgreSQL)", "fp32", False),
    "engine-b1": ("engine, one text per call (no PostgreSQL)", "fp32", False),
    "insert-select": ("INSERT ... SELECT embed_doc(body), one backend", "fp32", True),
    "ctas-parallel": ("CREATE TABLE AS SELECT embed_doc(body), 2 parallel workers", "fp32", True),
    "batch-fn": (f"INSERT ... FROM embed_doc_batch(array of {BATCH_CHUNK})", "fp32", True),
    "backfill": ("CALL pg_embed_backfill (chunk_size 200)", "fp32", True),
    "trigger": ("single-row INSERTs, BEFORE INSERT trigger", "fp32", True),
    "app": ("application pipeline (psycopg + onnxruntime + COPY)", "fp32", False),
    "engine-int8": ("engine, int8 (one text per run)", "int8", False),
    "insert-select-int8": ("INSERT ... SELECT embed_doc(body), one backend, int8", "int8", True),
    "app-int8": ("application pipeline, int8", "int8", False),
}


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


# ---------------------------------------------------------------- machine state


def loadavg():
    return [float(x) for x in open("/proc/loadavg").read().split()[:3]]


def busy_ticks():
    """(busy, total) CPU ticks of the whole machine since boot."""
    f = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    idle = f[3] + (f[4] if len(f) > 4 else 0)
    total = sum(f[:8])
    return total - idle, total


def proc_cpu(pid):
    """User + system CPU seconds of a process, or None if it is gone."""
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_mem(pid):
    """VmRSS, VmHWM and RssAnon of a process in MiB, or None if it is gone."""
    try:
        text = open(f"/proc/{pid}/status").read()
    except OSError:
        return None
    out = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssAnon"):
            out[key] = int(value.split()[0]) / 1024
    return out


def sha256(path, wait=600):
    """SHA-256 of a file; waits (up to `wait` s) while it is missing, as during a reinstall."""
    deadline = time.time() + wait
    while not os.path.exists(path) and time.time() < deadline:
        time.sleep(5)
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class LoadSampler(threading.Thread):
    """Samples the 1-minute load average every few seconds for the whole run."""

    def __init__(self, every=5.0):
        super().__init__(daemon=True)
        self.every, self.samples, self.stop = every, [], threading.Event()

    def run(self):
        t0 = time.time()
        while not self.stop.is_set():
            self.samples.append((round(time.time() - t0, 1), loadavg()[0]))
            self.stop.wait(self.every)


class WorkerSampler(threading.Thread):
    """Watches the parallel workers of one leader backend: peak memory and CPU of each."""

    def __init__(self, leader_pid, every=0.05):
        super().__init__(daemon=True)
        self.leader, self.every, self.stop = leader_pid, every, threading.Event()
        self.workers = {}  # pid -> {"VmHWM", "RssAnon", "cpu_s"} (last values seen)
        self.leader_peak = {}
        self.tag = f"parallel worker for PID {leader_pid}".encode()

    def run(self):
        while not self.stop.is_set():
            for name in os.listdir("/proc"):
                if not name.isdigit() or int(name) == self.leader:
                    continue
                try:
                    cmd = open(f"/proc/{name}/cmdline", "rb").read()
                except OSError:
                    continue
                if self.tag in cmd:
                    mem, cpu = proc_mem(name), proc_cpu(name)
                    if mem and cpu is not None:
                        w = self.workers.setdefault(int(name), {})
                        for k, v in mem.items():
                            w[k] = max(w.get(k, 0), v)
                        w["cpu_s"] = cpu
            mem = proc_mem(self.leader)
            if mem:
                for k, v in mem.items():
                    self.leader_peak[k] = max(self.leader_peak.get(k, 0), v)
            self.stop.wait(self.every)


# ---------------------------------------------------------------- database


def connect(db=DB, autocommit=True):
    return psycopg.connect(f"{DSN} dbname={db}", autocommit=autocommit)


def session(precision, parallel=False):
    """A connection with the model warm, at the given precision, one ORT thread."""
    c = connect()
    c.execute("SET pg_embed.threads = 1")
    c.execute(sql.SQL("SET pg_embed.precision = {}").format(sql.Literal(precision)))
    c.execute("SET client_min_messages = warning")  # one truncation NOTICE per statement otherwise
    if parallel:
        for s in ("max_parallel_workers_per_gather = 2", "parallel_setup_cost = 0", "parallel_tuple_cost = 0",
                  "min_parallel_table_scan_size = 0"):
            c.execute("SET " + s)
    else:
        c.execute("SET max_parallel_workers_per_gather = 0")
    c.execute("SELECT embed_doc('warm up')")
    return c


def backend_pid(conn):
    return conn.info.backend_pid


def prepare_database(corpus, rounds, size):
    with connect("postgres") as c:
        c.execute(f"DROP DATABASE IF EXISTS {DB}")
        c.execute(f"CREATE DATABASE {DB}")
    with connect() as c:
        c.execute("CREATE EXTENSION pg_embed CASCADE")
        c.execute("CREATE TABLE corpus (id int PRIMARY KEY, source text, tokens int, body text)")
        with c.cursor().copy("COPY corpus (id, source, tokens, body) FROM STDIN") as cp:
            for i, it in enumerate(corpus):
                cp.write_row((i + 1, it["source"], it["tokens"], it["text"]))
        for r in range(rounds):
            c.execute(f"CREATE TABLE src_{r} (id int PRIMARY KEY, body text)")
            c.execute(f"INSERT INTO src_{r} SELECT id, body FROM corpus WHERE id > %s AND id <= %s ORDER BY id",
                      (r * size, (r + 1) * size))
            # Two workers whatever the table's size (the planner gives small tables fewer).
            c.execute(f"ALTER TABLE src_{r} SET (parallel_workers = 2)")
            c.execute(f"VACUUM ANALYZE src_{r}")
        c.execute("""CREATE FUNCTION trg_embed() RETURNS trigger LANGUAGE plpgsql AS $$
                     BEGIN NEW.embedding := embed_doc(NEW.body); RETURN NEW; END $$""")
        versions = dict(c.execute("SELECT extname, extversion FROM pg_extension").fetchall())
        versions["postgresql"] = c.execute("SHOW server_version").fetchone()[0]
    return versions


def fresh_table(conn, name):
    conn.execute(f"DROP TABLE IF EXISTS {name}")
    conn.execute(f"CREATE TABLE {name} (id int, body text, embedding vector(384))")


# ---------------------------------------------------------------- measurements


class Measure:
    """Wall time, machine busy cores and load around one measurement."""

    def __enter__(self):
        self.load0 = loadavg()[0]
        self.busy0 = busy_ticks()
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.t0
        b1 = busy_ticks()
        busy, total = b1[0] - self.busy0[0], b1[1] - self.busy0[1]
        self.busy_cores = (os.cpu_count() or 1) * busy / total if total else None
        self.load1 = loadavg()[0]
        return False

    def result(self, texts, cpu_s=None, own_cpu_s=None, **extra):
        """`cpu_s`: CPU of the process(es) doing the embedding; `own_cpu_s`: all CPU this
        measurement caused, when more than that (the client's), for `other_work_cores`."""
        own = own_cpu_s if own_cpu_s is not None else cpu_s
        out = {
            "texts": texts,
            "seconds": round(self.seconds, 3),
            "texts_per_s": round(texts / self.seconds, 2),
            "cpu_s": None if cpu_s is None else round(cpu_s, 2),
            "machine_busy_cores": None if self.busy_cores is None else round(self.busy_cores, 2),
            # Cores busy with anything but this measurement, on average while it ran.
            "other_work_cores": None if own is None or self.busy_cores is None
            else round(max(0.0, self.busy_cores - own / self.seconds), 2),
            "load1_start": self.load0,
            "load1_end": self.load1,
        }
        out.update(extra)
        return out


class Bench:
    def __init__(self, args, corpus_path):
        self.args = args
        self.corpus_path = corpus_path
        self.size = args.size
        self.conns = {}
        self.worker_memory = []
        self.plans = {}

    def conn(self, key):
        if key not in self.conns:
            precision = "int8" if key.endswith("int8") else "fp32"
            self.conns[key] = session(precision, parallel=(key == "parallel"))
        return self.conns[key]

    def engine(self, r, batch, precision):
        cmd = [self.args.engine, self.corpus_path, "--offset", str(r * self.size), "--count", str(self.size),
               "--batch", str(batch), "--precision", precision]
        with Measure() as m:
            out = subprocess.run(cmd, check=True, capture_output=True, text=True)
        d = json.loads(out.stdout.strip().splitlines()[-1])
        # Time the example measured itself (model load and tokenizer-alone pass excluded).
        m.seconds = d["seconds"]
        return m.result(d["texts"], d["cpu_s"], load_s=round(d["load_s"], 3), tokenize_s=round(d["tokenize_s"], 3))

    def insert_select(self, r, precision):
        c = self.conn("serial-" + precision)
        table = f"ins_{precision}_{r}"
        fresh_table(c, table)
        pid = backend_pid(c)
        cpu0 = proc_cpu(pid)
        with Measure() as m:
            n = c.execute(f"INSERT INTO {table} (id, body, embedding) SELECT id, body, embed_doc(body) FROM src_{r}").rowcount
        return m.result(n, proc_cpu(pid) - cpu0)

    def ctas_parallel(self, r):
        c = self.conn("parallel")
        table = f"par_fp32_{r}"
        c.execute(f"DROP TABLE IF EXISTS {table}")
        query = f"CREATE TABLE {table} AS SELECT id, body, embed_doc(body)::vector(384) AS embedding FROM src_{r}"
        plan = "\n".join(row[0] for row in c.execute("EXPLAIN (COSTS OFF) " + query).fetchall())
        self.plans["ctas-parallel"] = plan
        if "Workers Planned: 2" not in plan:
            raise SystemExit(f"no parallel plan with 2 workers:\n{plan}")
        pid = backend_pid(c)
        sampler = WorkerSampler(pid)
        cpu0 = proc_cpu(pid)
        sampler.start()
        # EXPLAIN ANALYZE runs the statement and says how many workers ran and which rows each
        # embedded; with TIMING OFF it adds nothing measurable to 10+ ms per row.
        with Measure() as m:
            doc = c.execute("EXPLAIN (ANALYZE, VERBOSE, TIMING OFF, COSTS OFF, FORMAT JSON) " + query).fetchone()[0]
        sampler.stop.set()
        sampler.join()
        leader_cpu = proc_cpu(pid) - cpu0
        gather = doc[0]["Plan"]
        n = gather["Actual Rows"]
        scan = gather["Plans"][0]
        per_worker = [w["Actual Rows"] for w in scan.get("Workers", [])]
        workers = sorted(sampler.workers.values(), key=lambda w: -w.get("VmHWM", 0))
        self.worker_memory.append({"round": r, "leader": sampler.leader_peak, "workers": workers})
        cpu = leader_cpu + sum(w.get("cpu_s", 0) for w in workers)
        return m.result(n, cpu, workers_launched=gather.get("Workers Launched"), rows_by_worker=per_worker,
                        rows_by_leader=n - sum(per_worker), leader_cpu_s=round(leader_cpu, 2),
                        worker_cpu_s=[round(w.get("cpu_s", 0), 2) for w in workers])

    def batch_fn(self, r):
        c = self.conn("serial-fp32")
        table = f"bat_fp32_{r}"
        fresh_table(c, table)
        pid = backend_pid(c)
        stmt = sql.SQL(
            "INSERT INTO {t} (id, body, embedding) "
            "SELECT a.ids[b.ord], a.bodies[b.ord], b.embedding "
            "FROM (SELECT array_agg(id ORDER BY id) AS ids, array_agg(body ORDER BY id) AS bodies "
            "      FROM {src} WHERE id > %s AND id <= %s) a "
            "CROSS JOIN LATERAL embed_doc_batch(a.bodies) b").format(t=sql.Identifier(table), src=sql.Identifier(f"src_{r}"))
        lo = r * self.size
        n = 0
        cpu0 = proc_cpu(pid)
        with Measure() as m:
            for start in range(lo, lo + self.size, BATCH_CHUNK):
                n += c.execute(stmt, (start, min(start + BATCH_CHUNK, lo + self.size))).rowcount
        return m.result(n, proc_cpu(pid) - cpu0, chunk=BATCH_CHUNK)

    def backfill(self, r):
        c = self.conn("serial-fp32")
        table = f"bf_fp32_{r}"
        c.execute(f"DROP TABLE IF EXISTS {table}")
        c.execute(f"CREATE TABLE {table} AS SELECT id, body, NULL::vector(384) AS embedding FROM src_{r}")
        pid = backend_pid(c)
        cpu0 = proc_cpu(pid)
        with Measure() as m:
            c.execute(f"CALL pg_embed_backfill('{table}', 'body', 'embedding')")
        n = c.execute(f"SELECT count(*) FROM {table} WHERE embedding IS NOT NULL").fetchone()[0]
        return m.result(n, proc_cpu(pid) - cpu0)

    def trigger(self, r):
        c = self.conn("serial-fp32")
        table = f"trg_fp32_{r}"
        fresh_table(c, table)
        c.execute(f"CREATE TRIGGER embed BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION trg_embed()")
        rows = c.execute(f"SELECT id, body FROM src_{r} ORDER BY id").fetchall()
        stmt = f"INSERT INTO {table} (id, body) VALUES (%s, %s)"
        pid = backend_pid(c)
        cpu0, client0 = proc_cpu(pid), time.process_time()
        with Measure() as m:
            for row in rows:
                c.execute(stmt, row)
        backend, client = proc_cpu(pid) - cpu0, time.process_time() - client0
        return m.result(len(rows), backend, own_cpu_s=backend + client, client_cpu_s=round(client, 2))

    def app(self, r, precision):
        cmd = [sys.executable, os.path.join(HERE, "app_pipeline.py"), "--dsn", f"{DSN} dbname={DB}",
               "--src", f"src_{r}", "--dst", f"app_{precision}_{r}", "--precision", precision]
        t0 = time.perf_counter()
        with Measure() as m:
            out = subprocess.run(cmd, check=True, capture_output=True, text=True)
        d = json.loads(out.stdout.strip().splitlines()[-1])
        process_s = time.perf_counter() - t0
        m.seconds = d["seconds"]  # first read to commit, as the script timed it
        return m.result(d["texts"], d["cpu_s"], load_s=round(d["load_s"], 3), process_s=round(process_s, 3),
                        **{k: round(d[k], 3) for k in ("read_s", "tokenize_s", "model_s", "write_s")})

    def run_path(self, name, r):
        if name == "engine-b8":
            return self.engine(r, 8, "fp32")
        if name == "engine-b1":
            return self.engine(r, 1, "fp32")
        if name == "engine-int8":
            return self.engine(r, 8, "int8")
        if name == "insert-select":
            return self.insert_select(r, "fp32")
        if name == "insert-select-int8":
            return self.insert_select(r, "int8")
        if name == "ctas-parallel":
            return self.ctas_parallel(r)
        if name == "batch-fn":
            return self.batch_fn(r)
        if name == "backfill":
            return self.backfill(r)
        if name == "trigger":
            return self.trigger(r)
        if name == "app":
            return self.app(r, "fp32")
        if name == "app-int8":
            return self.app(r, "int8")
        raise ValueError(name)

    def close(self):
        for c in self.conns.values():
            c.close()
        self.conns = {}


# ---------------------------------------------------------------- checks and extras


def agreement(rounds, paths):
    """Smallest cosine between each path's vectors and INSERT ... SELECT's, per round."""
    out = {}
    pairs = {
        "ctas-parallel": ("par_fp32", "ins_fp32"),
        "batch-fn": ("bat_fp32", "ins_fp32"),
        "backfill": ("bf_fp32", "ins_fp32"),
        "trigger": ("trg_fp32", "ins_fp32"),
        "app": ("app_fp32", "ins_fp32"),
        "app-int8": ("app_int8", "ins_int8"),
        "insert-select-int8": ("ins_int8", "ins_fp32"),
    }
    with connect() as c:
        for name, (a, b) in pairs.items():
            if name not in paths:
                continue
            worst, rows = 1.0, 0
            for r in range(rounds):
                q = (f"SELECT min(1 - (x.embedding <=> y.embedding)), count(*), "
                     f"count(*) FILTER (WHERE x.embedding IS NULL OR y.embedding IS NULL) "
                     f"FROM {a}_{r} x JOIN {b}_{r} y USING (id)")
                lo, n, nulls = c.execute(q).fetchone()
                if nulls:
                    raise SystemExit(f"{name}: {nulls} NULL vectors in round {r}")
                worst, rows = min(worst, lo), rows + n
            out[name] = {"against": b.replace("_", "-"), "rows": rows, "min_cosine": round(worst, 7)}
    return out


def pct(values, q):
    s = sorted(values)
    k = (len(s) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def latency(precision, corpus, first, n_cold=10, n_short=100, n_texts=200):
    """First call in new backends, and warm single-text calls, timed from the client."""
    out = {"precision": precision}
    cold, rss_before, rss_after = [], [], []
    for _ in range(n_cold):
        c = connect()
        c.execute(sql.SQL("SET pg_embed.precision = {}").format(sql.Literal(precision)))
        c.execute("SELECT 1")
        pid = backend_pid(c)
        rss_before.append(proc_mem(pid)["VmRSS"])
        t = time.perf_counter()
        c.execute("SELECT embed_doc('hello world') IS NOT NULL").fetchone()
        cold.append((time.perf_counter() - t) * 1000)
        rss_after.append(proc_mem(pid)["VmRSS"])
        c.close()
    c = connect()
    c.execute(sql.SQL("SET pg_embed.precision = {}").format(sql.Literal(precision)))
    c.execute("SET client_min_messages = warning")
    c.execute("SELECT embed_doc('warm up')")
    def timed(q, params=None):
        t = time.perf_counter()
        c.execute(q, params).fetchone()
        return (time.perf_counter() - t) * 1000
    trip = [timed("SELECT 1") for _ in range(50)]
    short = [timed("SELECT embed_doc('hello world') IS NOT NULL") for _ in range(n_short)]
    texts = corpus[first:first + n_texts]
    mixed = [timed("SELECT embed_doc(%s) IS NOT NULL", (it["text"],)) for it in texts]
    c.close()
    summary = lambda v: {"n": len(v), "min": round(min(v), 2), "median": round(statistics.median(v), 2),
                         "p90": round(pct(v, 0.9), 2), "max": round(max(v), 2)}
    out["cold_ms"] = summary(cold)
    out["warm_short_ms"] = summary(short)
    out["warm_corpus_ms"] = summary(mixed)
    out["warm_corpus_median_tokens"] = statistics.median(it["tokens"] for it in texts)
    out["round_trip_ms"] = summary(trip)
    out["backend_rss_mib_before_first_call"] = round(statistics.median(rss_before), 1)
    out["backend_rss_mib_after_first_call"] = round(statistics.median(rss_after), 1)
    return out


def statement_overhead(n=300):
    """Single-row autocommit INSERTs of a ready vector, no trigger: what each statement costs
    besides embedding, with the commit flushed to disk (the default) and without."""
    out = {"statements": n}
    vec = "[" + ",".join(["0.05"] * 384) + "]"
    with connect() as c:
        for setting in ("on", "off"):
            c.execute(f"SET synchronous_commit = {setting}")
            fresh_table(c, "overhead")
            t = time.perf_counter()
            for i in range(n):
                c.execute("INSERT INTO overhead (id, body, embedding) VALUES (%s, %s, %s::vector)", (i, "x", vec))
            out[f"ms_synchronous_commit_{setting}"] = round((time.perf_counter() - t) * 1000 / n, 3)
        c.execute("DROP TABLE overhead")
    return out


def profile(size):
    """perf profile of one backend running INSERT ... SELECT over `size` texts, by shared object."""
    if subprocess.run(["sh", "-c", "command -v perf"], capture_output=True).returncode != 0:
        return {"skipped": "perf is not installed (Debian package linux-perf)"}
    c = session("fp32")
    fresh_table(c, "prof")
    pid = backend_pid(c)
    data = "/tmp/pg_embed_bulk_perf.data"
    rec = subprocess.Popen(["perf", "record", "-F", "499", "-g", "-p", str(pid), "-o", data],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(1.0)
    t = time.perf_counter()
    c.execute(f"INSERT INTO prof SELECT id, body, embed_doc(body) FROM corpus WHERE id > %s ORDER BY id LIMIT {size}",
              (0,))
    seconds = time.perf_counter() - t
    rec.send_signal(2)
    rec.wait(timeout=60)
    c.execute("DROP TABLE prof")
    c.close()
    def report(*sort):
        r = subprocess.run(["perf", "report", "-i", data, "--no-children", "--stdio", "--percent-limit", "0.5",
                            "-g", "none", "--sort", ",".join(sort)], capture_output=True, text=True)
        rows = []
        for line in r.stdout.splitlines():
            line = line.strip()
            if not line or line.startswith("#") or "%" not in line.split()[0]:
                continue
            parts = line.split(None, 1)
            rows.append({"percent": float(parts[0].rstrip("%")), "what": parts[1].strip()})
        return rows
    out = {"texts": size, "seconds": round(seconds, 2), "by_object": report("dso")[:12]}
    os.unlink(data)
    return out


# ---------------------------------------------------------------- summary


def stats(values):
    return {"min": round(min(values), 2), "median": round(statistics.median(values), 2), "max": round(max(values), 2)}


def ratio(results, a, b, target, label):
    """a's texts/s over b's: of the medians, and the range over rounds (paired: same texts,
    run minutes apart). by_cpu is the same ratio for texts per CPU-second, which other work on
    the machine disturbs less."""
    if not a or a not in results or b not in results or not results[a] or not results[b]:
        return None
    ra = {m["round"]: m["texts_per_s"] for m in results[a]}
    rb = {m["round"]: m["texts_per_s"] for m in results[b]}
    paired = [ra[r] / rb[r] for r in sorted(ra) if r in rb]
    med = statistics.median(ra.values()) / statistics.median(rb.values())
    out = {"label": label, "numerator": a, "denominator": b, "of_medians": round(med, 3),
           "paired_min": round(min(paired), 3), "paired_max": round(max(paired), 3), "target": target,
           "met": None if target is None else med >= target, "by_cpu": None}
    ca = [m["texts"] / m["cpu_s"] for m in results[a] if m.get("cpu_s")]
    cb = [m["texts"] / m["cpu_s"] for m in results[b] if m.get("cpu_s")]
    if ca and cb:
        out["by_cpu"] = round(statistics.median(ca) / statistics.median(cb), 3)
    return out


def summarize(results, paths):
    table = {}
    for name in paths:
        runs = results.get(name, [])
        if not runs:
            continue
        row = {"label": PATHS[name][0], "precision": PATHS[name][1], "runs": len(runs), "size": runs[0]["texts"],
               "texts_per_s": stats([m["texts_per_s"] for m in runs])}
        cpu = [m["cpu_s"] / m["texts"] * 1000 for m in runs if m.get("cpu_s")]
        if cpu:
            row["cpu_ms_per_text"] = stats(cpu)
        other = [m["other_work_cores"] for m in runs if m.get("other_work_cores") is not None]
        if other:
            row["other_work_cores"] = stats(other)
        table[name] = row
    in_db = [p for p in ("insert-select", "ctas-parallel", "batch-fn", "backfill", "trigger") if p in table]
    best = max(in_db, key=lambda p: table[p]["texts_per_s"]["median"]) if in_db else None
    single = [p for p in in_db if p != "ctas-parallel"]
    best_single = max(single, key=lambda p: table[p]["texts_per_s"]["median"]) if single else None
    ratios = {
        "insert_select_vs_engine_b8": ratio(results, "insert-select", "engine-b8", 0.85,
                                            "INSERT ... SELECT (one backend) / raw engine, batches of 8"),
        "insert_select_vs_engine_b1": ratio(results, "insert-select", "engine-b1", None,
                                            "INSERT ... SELECT (one backend) / raw engine, one text per call"),
        "best_in_database_vs_app": ratio(results, best, "app", 1.5,
                                         f"best in-database path ({best}) / application pipeline"),
        "best_single_backend_vs_app": ratio(results, best_single, "app", None,
                                            f"best one-backend path ({best_single}) / application pipeline"),
        "parallel_2_workers_vs_one_backend": ratio(results, "ctas-parallel", "insert-select", 1.6,
                                                   "2 parallel workers / one backend"),
        "trigger_vs_insert_select": ratio(results, "trigger", "insert-select", 0.70,
                                          "per-row trigger / INSERT ... SELECT"),
        "batch_fn_vs_insert_select": ratio(results, "batch-fn", "insert-select", None,
                                           "embed_doc_batch / INSERT ... SELECT"),
        "backfill_vs_insert_select": ratio(results, "backfill", "insert-select", None,
                                           "pg_embed_backfill / INSERT ... SELECT"),
        "int8_insert_select_vs_fp32": ratio(results, "insert-select-int8", "insert-select", None,
                                            "INSERT ... SELECT int8 / fp32"),
        "int8_insert_select_vs_engine_int8": ratio(results, "insert-select-int8", "engine-int8", None,
                                                   "INSERT ... SELECT int8 / raw engine int8"),
        "int8_insert_select_vs_app_int8": ratio(results, "insert-select-int8", "app-int8", None,
                                                "INSERT ... SELECT int8 / application pipeline int8"),
    }
    return table, {k: v for k, v in ratios.items() if v}


def worker_memory_summary(samples, cold):
    """Peak memory of the parallel workers that embedded (a worker that got no rows never
    loads the model), against a backend that has not loaded one."""
    base = cold.get("backend_rss_mib_before_first_call") if cold else None
    loaded = [w for s in samples for w in s["workers"] if base is None or w.get("VmHWM", 0) > base + 50]
    if not loaded:
        return None
    hwm = [w["VmHWM"] for w in loaded]
    out = {
        "workers_seen": sum(len(s["workers"]) for s in samples),
        "workers_that_loaded_the_model": len(loaded),
        "worker_peak_rss_mib": stats(hwm),
        "worker_peak_anon_mib": stats([w.get("RssAnon", 0) for w in loaded]),
        "leader_peak_rss_mib": stats([s["leader"].get("VmHWM", 0) for s in samples]),
        "backend_rss_mib_without_model": base,
    }
    if base:
        out["extra_per_worker_mib"] = round(statistics.median(hwm) - base, 1)
    return out


# ---------------------------------------------------------------- output


def fmt(x, digits=1):
    return "–" if x is None else f"{x:,.{digits}f}"


def write_markdown(path, res):
    L = []
    c = res["corpus"]
    t = c["tokens"]
    L.append(f"# Bulk embedding results ({res['date']})\n")
    L.append(f"Machine: {res['machine']['cpus']} cores ({res['machine']['cpu']}), {res['machine']['os']}; "
             f"PostgreSQL {res['versions'].get('postgresql')}, pgvector {res['versions'].get('vector')}, "
             f"pg_embed {res['versions'].get('pg_embed')}. Whole run: {res['wall_minutes']:.1f} min; "
             f"load average (1 min) during the run: min {res['load']['min']:.2f}, median {res['load']['median']:.2f}, "
             f"max {res['load']['max']:.2f}.\n")
    L.append(f"Corpus: {c['texts']:,} texts ({c['bytes'] / 1e6:.1f} MB); tokens as the model sees them "
             f"(cut at 256): mean {t['mean']}, median {t['median']:.0f}, p10 {t['p10']:.0f}, p90 {t['p90']:.0f}; "
             f"{c['cut_at_256']} texts ({100 * c['cut_at_256'] / c['texts']:.1f}%) are cut at 256. "
             f"Each run embeds {res['size']:,} texts; round r of every path uses the same texts.\n")
    L.append("| tokens | " + " | ".join(t["histogram"]) + " |")
    L.append("|---|" + "---|" * len(t["histogram"]))
    L.append("| texts | " + " | ".join(f"{v:,}" for v in t["histogram"].values()) + " |\n")
    L.append("| path | precision | runs × texts | texts/s min | median | max | CPU ms/text (median) | other work, cores (median) |")
    L.append("|---|---|---|---|---|---|---|---|")
    for name, row in res["table"].items():
        tp = row["texts_per_s"]
        L.append(f"| {row['label']} | {row['precision']} | {row['runs']} × {row['size']:,} | {fmt(tp['min'])} | "
                 f"**{fmt(tp['median'])}** | {fmt(tp['max'])} | {fmt(row.get('cpu_ms_per_text', {}).get('median'))} | "
                 f"{fmt(row.get('other_work_cores', {}).get('median'), 2)} |")
    L.append("")
    L.append("| ratio (texts/s) | target | median / median | range over rounds | met | same ratio of texts per CPU-second |")
    L.append("|---|---|---|---|---|---|")
    for key, v in res["ratios"].items():
        met = "" if v["target"] is None else ("yes" if v["met"] else
                                              f"no ({100 * (1 - v['of_medians'] / v['target']):.0f}% short)")
        target = "–" if v["target"] is None else f"≥ {v['target']}"
        L.append(f"| {v['label']} | {target} | {v['of_medians']:.2f} | "
                 f"{v['paired_min']:.2f}–{v['paired_max']:.2f} | {met} | {fmt(v['by_cpu'], 2)} |")
    L.append("")
    wm = res.get("parallel_memory")
    par = res["runs"].get("ctas-parallel", [])
    if wm and par:
        split = "; ".join(f"round {m['round']}: leader {m['rows_by_leader']}, workers "
                          + " and ".join(str(x) for x in m["rows_by_worker"]) for m in par)
        L.append(f"Parallel workers launched per query: {sorted({m['workers_launched'] for m in par})}; rows embedded "
                 f"by each process ({split}). Peak RSS of a worker that embedded "
                 f"({wm['workers_that_loaded_the_model']} of {wm['workers_seen']} workers) "
                 f"{wm['worker_peak_rss_mib']['min']:.0f}–{wm['worker_peak_rss_mib']['max']:.0f} MiB "
                 f"(anonymous memory {wm['worker_peak_anon_mib']['median']:.0f} MiB), against "
                 f"{fmt(wm['backend_rss_mib_without_model'])} MiB for a backend that has not loaded a model: each "
                 f"worker costs about {fmt(wm.get('extra_per_worker_mib'), 0)} MiB while it runs; the leader peaks at "
                 f"{wm['leader_peak_rss_mib']['median']:.0f} MiB.\n")
    if res.get("plans"):
        for k, plan in res["plans"].items():
            L.append(f"Plan of `{k}`:\n\n```\n{plan}\n```\n")
    L.append("| latency (ms) | n | min | median | p90 | max |")
    L.append("|---|---|---|---|---|---|")
    for lat in res.get("latency", []):
        for key, label in (("cold_ms", "first call, new backend"), ("warm_short_ms", "warm, 'hello world'"),
                           ("warm_corpus_ms", f"warm, corpus texts (median {lat['warm_corpus_median_tokens']:.0f} tokens)"),
                           ("round_trip_ms", "round trip of SELECT 1")):
            s = lat[key]
            L.append(f"| {lat['precision']}, {label} | {s['n']} | {s['min']} | {s['median']} | {s['p90']} | {s['max']} |")
    L.append("")
    if res.get("agreement"):
        L.append("| vectors of | compared with | rows | smallest cosine |")
        L.append("|---|---|---|---|")
        for k, v in res["agreement"].items():
            L.append(f"| {k} | {v['against']} | {v['rows']:,} | {v['min_cosine']:.6f} |")
        L.append("")
    if res.get("statement_overhead"):
        so = res["statement_overhead"]
        L.append(f"Single-row autocommit INSERT of a ready vector (no trigger, no embedding), from the same "
                 f"client: {so['ms_synchronous_commit_on']} ms per statement with synchronous_commit = on, "
                 f"{so['ms_synchronous_commit_off']} ms with off.\n")
    prof = res.get("profile")
    if prof and "by_object" in prof:
        L.append(f"perf profile of one backend, INSERT ... SELECT of {prof['texts']} texts ({prof['seconds']} s):\n")
        L.append("| share | shared object |")
        L.append("|---|---|")
        for row in prof["by_object"]:
            L.append(f"| {row['percent']:.1f}% | {row['what']} |")
        L.append("")
    if res.get("warnings"):
        L.append("Warnings: " + "; ".join(res["warnings"]) + "\n")
    open(path, "w").write("\n".join(L))


def write_chart(path, res, corpus):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.patches import Patch
    except ImportError:
        log("matplotlib missing: no chart")
        return
    rows = list(res["table"].items())
    fig, (ax, cx, hx) = plt.subplots(1, 3, figsize=(15, 5.4), gridspec_kw={"width_ratios": [2.2, 1.3, 1.2]})
    names = [n for n, _ in rows]
    med = [r["texts_per_s"]["median"] for _, r in rows]
    lo = [r["texts_per_s"]["median"] - r["texts_per_s"]["min"] for _, r in rows]
    hi = [r["texts_per_s"]["max"] - r["texts_per_s"]["median"] for _, r in rows]
    palette = {"engine": "#7f7f7f", "db": "#1f77b4", "app": "#d62728", "int8": "#9467bd"}
    def kind(n, r):
        if r["precision"] == "int8":
            return "int8"
        return "engine" if n.startswith("engine") else "app" if n == "app" else "db"
    colors = [palette[kind(n, r)] for n, r in rows]
    y = list(range(len(rows)))
    ax.barh(y, med, xerr=[lo, hi], color=colors, capsize=3, error_kw={"elinewidth": 1, "ecolor": "#333333"})
    ax.set_yticks(y, names)
    ax.invert_yaxis()
    top = max(m + h for m, h in zip(med, hi))
    for i, (m, h) in enumerate(zip(med, hi)):
        ax.text(m + h + top * 0.01, i, f"{m:.0f}", va="center", ha="left", fontsize=8)
    ax.set_xlim(0, top * 1.12)
    ax.set_xlabel(f"texts/s: median, min–max of {rows[0][1]['runs']} runs × {res['size']:,} texts")
    load = res.get("load", {}).get("median")
    ax.set_title("throughput" + (f" (load average, median: {load:.1f})" if load is not None else ""))
    cpu = [r.get("cpu_ms_per_text", {}).get("median", 0) for _, r in rows]
    cx.barh(y, cpu, color=colors)
    cx.set_yticks(y, [])
    cx.invert_yaxis()
    for i, v in enumerate(cpu):
        if v:
            cx.text(v, i, f" {v:.1f}", va="center", ha="left", fontsize=8)
    cx.set_xlim(0, max(cpu) * 1.25)
    cx.set_xlabel("CPU ms per text (median), processes that embed")
    cx.set_title("CPU time per text")
    fig.legend(handles=[Patch(color=palette["engine"], label="engine, no PostgreSQL"),
                        Patch(color=palette["db"], label="in PostgreSQL, fp32"),
                        Patch(color=palette["app"], label="application pipeline, fp32"),
                        Patch(color=palette["int8"], label="int8")],
               loc="lower center", ncol=4, fontsize=9, frameon=False)
    toks = [it["tokens"] for it in corpus]
    hx.hist(toks, bins=range(0, 264, 8), color="#2ca02c")
    hx.set_xlabel("tokens per text (cut at 256)")
    hx.set_ylabel("texts")
    hx.set_title(f"corpus: {len(toks):,} texts, median {statistics.median(toks):.0f} tokens")
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    fig.savefig(path, dpi=110)


# ---------------------------------------------------------------- main


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engine", required=True, help="the built throughput example")
    ap.add_argument("--corpus", default=os.path.join(HERE, "corpus.jsonl"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--size", type=int, default=1500, help="texts per run")
    ap.add_argument("--no-int8", action="store_true")
    ap.add_argument("--no-profile", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the database pg_embed_bulk afterwards")
    ap.add_argument("--out", default=HERE)
    ap.add_argument("--redraw", action="store_true", help="only rewrite results.md and chart.png from results.json")
    args = ap.parse_args()

    if args.redraw:
        res = json.load(open(os.path.join(args.out, "results.json")))
        corpus = [json.loads(l) for l in open(args.corpus, encoding="utf-8")]
        write_markdown(os.path.join(args.out, "results.md"), res)
        write_chart(os.path.join(args.out, "chart.png"), res, corpus)
        return

    started = time.time()
    corpus = [json.loads(l) for l in open(args.corpus, encoding="utf-8")]
    summary = json.load(open(args.corpus + ".summary.json"))
    need = args.rounds * args.size + 200
    if len(corpus) < need:
        raise SystemExit(f"corpus has {len(corpus)} texts, {need} needed")
    paths = [p for p in PATHS if not (args.no_int8 and PATHS[p][1] == "int8")]
    so_before = sha256(PG_LIB)
    sampler = LoadSampler()
    sampler.start()
    log(f"load average {loadavg()}; {args.rounds} rounds × {args.size} texts; paths: {', '.join(paths)}")
    versions = prepare_database(corpus, args.rounds, args.size)
    bench = Bench(args, args.corpus)
    results = {p: [] for p in paths}
    for r in range(args.rounds):
        order = paths[3 * r % len(paths):] + paths[:3 * r % len(paths)]
        for name in order:
            m = bench.run_path(name, r)
            m["round"] = r
            results[name].append(m)
            log(f"round {r} {name:20s} {m['texts_per_s']:8.1f} texts/s  {m['seconds']:7.1f} s  "
                f"cpu {m['cpu_s']} s  other work {m['other_work_cores']} cores  load {m['load1_end']}")
    bench.close()
    log("checking that every path wrote the same vectors")
    agree = agreement(args.rounds, paths)
    for k, v in agree.items():
        log(f"  {k}: min cosine {v['min_cosine']} over {v['rows']} rows vs {v['against']}")
    first_free = args.rounds * args.size
    log("latency")
    lat = [latency("fp32", corpus, first_free)]
    if not args.no_int8:
        lat.append(latency("int8", corpus, first_free))
    overhead = statement_overhead()
    prof = None if args.no_profile else profile(400)
    sampler.stop.set()
    so_after = sha256(PG_LIB)

    table, ratios = summarize(results, paths)
    loads = [s[1] for s in sampler.samples]
    res = {
        "date": datetime.date.today().isoformat(),
        "wall_minutes": round((time.time() - started) / 60, 2),
        "machine": {"cpus": os.cpu_count(), "cpu": platform.processor() or next(
            (l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?"),
                    "os": " ".join(platform.freedesktop_os_release().get(k, "") for k in ("NAME", "VERSION_ID"))},
        "versions": versions,
        "files": {"pg_embed.so": so_before, "model.onnx": sha256(f"{MODEL_DIR}/model.onnx"),
                  "model_int8.onnx": sha256(f"{MODEL_DIR}/model_int8.onnx")},
        "size": args.size,
        "rounds": args.rounds,
        "corpus": summary,
        "load": {"min": min(loads), "median": statistics.median(loads), "max": max(loads), "samples": sampler.samples},
        "table": table,
        "ratios": ratios,
        "parallel_memory": worker_memory_summary(bench.worker_memory, lat[0]),
        "parallel_memory_samples": bench.worker_memory,
        "plans": bench.plans,
        "agreement": agree,
        "latency": lat,
        "statement_overhead": overhead,
        "profile": prof,
        "runs": results,
        "warnings": [],
    }
    if so_before != so_after:
        when = datetime.datetime.fromtimestamp(os.stat(PG_LIB).st_mtime).strftime("%H:%M:%S")
        res["warnings"].append(f"pg_embed.so changed during the run (the new file is from {when}; the run started "
                               f"{datetime.datetime.fromtimestamp(started).strftime('%H:%M:%S')}): measurements "
                               f"logged after that time may mix two builds")
    for k, v in agree.items():
        if v["min_cosine"] < 0.999 and not k.endswith("int8"):
            res["warnings"].append(f"{k}: smallest cosine {v['min_cosine']} < 0.999")
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(res, f, indent=1)
    write_markdown(os.path.join(args.out, "results.md"), res)
    write_chart(os.path.join(args.out, "chart.png"), res, corpus)
    if not args.keep:
        with connect("postgres") as c:
            c.execute(f"DROP DATABASE IF EXISTS {DB}")
    log(f"done in {res['wall_minutes']:.1f} min: {os.path.join(args.out, 'results.md')}")
    for w in res["warnings"]:
        log("WARNING: " + w)


if __name__ == "__main__":
    main()
