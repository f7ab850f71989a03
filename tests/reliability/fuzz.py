#!/usr/bin/env python3
"""Random and adversarial inputs through SQL: pg_embed must never crash a backend.

Sends --statements statements (default 10,000) to embed_doc, embed, embed_doc_batch and
embed_batch on a throwaway cluster, under random settings (long_text, precision,
max_text_size, memory_limit, batch sizes, threads, fallback model, set with valid and invalid
values): texts from every Unicode plane, control characters, very long tokens, huge
repetition, empty and whitespace-only texts, binary-ish strings, invalid model names (path
traversal, very long, Unicode, misregistered user models), arrays with NULLs, empty and mixed
arrays, plus statement timeouts and cancel requests that land at random moments, transactions
rolled back to savepoints, parallel workers and new backends.

Every statement must either succeed or fail with a SQLSTATE. Checked:
  - no connection is lost (a crashed backend closes it) and no internal error (XX000);
  - the server log has no crash line (terminated by signal, exit code, PANIC, TRAP, ...);
  - every vector returned has 384 dimensions and unit length; batch rows match their array
    (one row per element, ord 1..n in order, NULL exactly for NULL elements); embed_doc,
    embed(text, 'all-MiniLM-L6-v2') and embed_doc_batch agree;
  - at the end, the server embeds a known text exactly as at the start;
  - reference: for adversarial texts, embed_doc (fp32) agrees (cosine >= 0.999) with an
    independent Python pipeline on the same model files (tokenizers + onnxruntime, the way
    sentence-transformers truncates at 256 tokens), and long_text = 'window' agrees with the
    token-weighted mean of every 256-token window.

Usage: fuzz.py [--seed N] [--statements N] [--keep-log PATH] [--trace FILE] [--no-reference]
Last line: `N passed, M failed`; exit status 1 on any failure.
"""
import argparse
import collections
import json
import os
import random
import re
import sys
import threading
import time

import psycopg
from psycopg import sql

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Checks, Cluster  # noqa: E402
from inputs import Inputs  # noqa: E402

MODEL_DIR = os.environ.get("MODEL_DIR", "/var/lib/pg_embed-dev/models")
DOC_MODEL = "all-MiniLM-L6-v2"
GOOD_MODELS = {"all-MiniLM-L6-v2", "paraphrase-MiniLM-L3-v2", "user-cls"}
STATEMENT_TIMEOUT = "15s"
# SQLSTATEs that mean the connection or the server went away.
LOST_STATES = {"57P01", "57P02", "57P03", "08006", "08003", "08000", "08001"}

# User models registered in the throwaway cluster: one that works (CLS pooling), and
# misregistered ones that must fail cleanly. Files are symlinks to the installed model.
USER_MODELS = {
    "user-cls": ("SELECT pg_embed_register_model('user-cls', 384, pooling => 'cls', int8_file => 'model_int8.onnx')", True),
    "user-wrongdims": ("SELECT pg_embed_register_model('user-wrongdims', 768)", True),
    "user-tok-as-int8": ("SELECT pg_embed_register_model('user-tok-as-int8', 384, int8_file => 'tokenizer.json', "
                         "fp32_file => 'tokenizer.json')", True),
    "user-pooled": ("SELECT pg_embed_register_model('user-pooled', 384, pooling => 'pooled', pooled_output => 'nope')", True),
    "user-missing": ("SELECT pg_embed_register_model('user-missing', 384)", False),
}


def prepare_models(cluster_dir):
    """A model folder of the cluster's own: the installed models plus the user-model folders."""
    md = os.path.join(cluster_dir, "models")
    os.mkdir(md)
    for name in ("all-MiniLM-L6-v2", "paraphrase-MiniLM-L3-v2"):
        os.symlink(os.path.join(MODEL_DIR, name), os.path.join(md, name))
    for name, (_, has_folder) in USER_MODELS.items():
        if has_folder:
            os.mkdir(os.path.join(md, name))
            for f in ("model.onnx", "model_int8.onnx", "tokenizer.json"):
                os.symlink(os.path.join(MODEL_DIR, DOC_MODEL, f), os.path.join(md, name, f))
    os.system(f"chown -R postgres: '{md}'")


def short(value, n=70):
    """A printable summary of an input."""
    if value is None:
        return "NULL"
    if isinstance(value, list):
        return f"array[{len(value)}] " + short(next((v for v in value if v), ""), n // 2)
    s = repr(value)
    return f"{s[:n]}{'...' if len(s) > n else ''} ({len(value)} chars)"


def reference_terms(text, tokenizer):
    """The benchmark's BM25 tokens ('code'), or lower-cased words with underscores ('words')."""
    if tokenizer == "words":
        return [w.lower() for w in re.findall(r"[A-Za-z0-9_]+", text)]
    return [t.lower() for w in re.findall(r"[A-Za-z0-9]+", text)
            for t in re.findall(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+", w)]


class Fuzzer:
    def __init__(self, cluster, seed, statements, trace=None):
        self.c = cluster
        self.rnd = random.Random(seed)
        self.gen = Inputs(self.rnd)
        self.statements = statements
        self.sent = 0            # statements
        self.texts = 0           # text values sent (array elements count one each)
        self.ok = 0
        self.errors = collections.Counter()
        self.examples = {}       # sqlstate -> (statement, input, message)
        self.lost = []           # (statement, input, error)
        self.internal = []       # (statement, input, message)
        self.bad_vectors = []
        self.bad_batches = []
        self.disagree = []
        self.bad_terms = []      # (text, tokenizer, server terms, reference terms)
        self.bm25_ready = False
        self.notices = collections.Counter()
        self.ops = collections.Counter()
        self.op_time = collections.Counter()
        self.slowest = []  # (seconds, statement, input, outcome, long_text policy)
        self.timeouts = []
        self.history = collections.deque(maxlen=16)  # (statement, input, outcome) of the last statements
        self.first_incident = None                     # the history when the first loss/XX000 happened
        self.incident_settings = None
        self.policy = "truncate"  # long_text as last set (only valid values change it)
        self.conn = None
        self.session = 0
        self.trace = open(trace, "w") if trace else None
        self.connect()

    # -- connection ----------------------------------------------------------------------
    def connect(self, options=""):
        if self.conn is not None and not self.conn.closed:
            self.conn.close()
        deadline = time.time() + 90
        while True:
            try:
                self.conn = self.c.connect(
                    options=f"-c statement_timeout={STATEMENT_TIMEOUT} -c pg_embed.precision=int8 {options}")
                break
            except psycopg.OperationalError:
                if time.time() > deadline:
                    raise
                time.sleep(1)
        self.conn.add_notice_handler(lambda d: self.notices.update([d.message_primary.split('"')[0][:60]]))
        self.policy = "truncate"
        self.pid = self.conn.info.backend_pid
        self.session += 1

    # -- one statement -------------------------------------------------------------------
    def run(self, stmt, params=(), what=None, texts=0):
        """Executes one statement; returns rows, or None when it failed with a SQLSTATE."""
        self.sent += 1
        self.texts += texts
        stmt_s = stmt if isinstance(stmt, str) else stmt.as_string(None)
        t0 = time.perf_counter()
        try:
            cur = self.conn.execute(stmt, params)
            rows = cur.fetchall() if cur.description else []
            self.ok += 1
            self.history.append((stmt_s[:100], short(what, 100), "ok"))
            self._timed(t0, stmt_s, what, "ok", params)
            return rows
        except psycopg.Error as e:
            state = e.sqlstate or ("connection" if self.conn.broken or self.conn.closed else type(e).__name__)
            self.errors[state] += 1
            msg = (str(e).splitlines() or [""])[0][:160]
            self._timed(t0, stmt_s, what, state, params)
            self.history.append((stmt_s[:100], short(what, 100), f"{state} {msg[:100]}"))
            if self.first_incident is None and (state == "XX000" or state in LOST_STATES or self.conn.broken):
                self.first_incident = list(self.history)
                if not (self.conn.broken or self.conn.closed):
                    try:
                        self.incident_settings = self.conn.execute(
                            "SELECT string_agg(name || '=' || setting, ' ' ORDER BY name) FROM pg_settings "
                            "WHERE name LIKE 'pg_embed.%' AND name NOT IN ('pg_embed.model_dir', "
                            "'pg_embed.onnxruntime_library')").fetchone()[0]
                    except psycopg.Error:
                        pass
            self.examples.setdefault(state, (stmt_s[:120], short(what), msg))
            if state == "57014":
                self.timeouts.append((stmt_s[:80], short(what)))
            if self.conn.broken or self.conn.closed or state in LOST_STATES:
                self.lost.append((stmt_s[:200], short(what, 200), f"{state}: {msg}"))
                print(f"CONNECTION LOST after {self.sent} statements: {stmt_s[:120]} input={short(what, 200)} "
                      f"error={state}: {msg}", flush=True)
                self.connect()
            elif state == "XX000":
                self.internal.append((stmt_s[:200], short(what, 200), msg))
                # Counted (and failing the run); go on in a new backend so that one broken
                # session does not turn the rest of the run into the same error.
                self.connect()
            return None

    def _timed(self, t0, stmt_s, what, outcome, params=()):
        dt = time.perf_counter() - t0
        if self.trace:
            self.trace.write(json.dumps({"session": self.session, "sql": stmt_s, "params": list(params),
                                         "ms": round(dt * 1000, 1), "outcome": outcome}) + "\n")
        if len(self.slowest) < 8 or dt > self.slowest[-1][0]:
            self.slowest.append((dt, stmt_s[:70], short(what, 50), outcome, self.policy))
            self.slowest.sort(key=lambda x: -x[0])
            del self.slowest[8:]

    # -- checks on results ---------------------------------------------------------------
    def check_vector(self, dims, norm, what):
        if dims != 384 or norm is None or not abs(norm - 1.0) < 1e-3:
            self.bad_vectors.append((short(what), dims, norm))

    def check_batch(self, rows, arr, what):
        ords = [r[0] for r in rows]
        if ords != list(range(1, len(arr) + 1)):
            self.bad_batches.append((short(what), f"ord {ords[:10]}... for {len(arr)} elements"))
            return
        for (o, dims, norm), t in zip(rows, arr):
            if t is None:
                if dims is not None:
                    self.bad_batches.append((short(what), f"element {o} is NULL but has an embedding"))
            elif dims is None:
                self.bad_batches.append((short(what), f"element {o} is not NULL but has no embedding"))
            else:
                self.check_vector(dims, norm, t)

    # -- operations ----------------------------------------------------------------------
    def text(self):
        # Window mode embeds every 256-token window: keep those texts to a few windows.
        return self.gen.text(max_len=4000 if self.policy == "window" else None)

    def array(self):
        return self.gen.array(max_len=2000 if self.policy == "window" else None)

    def op_embed_doc(self):
        t = self.text()
        rows = self.run("SELECT vector_dims(e), vector_norm(e) FROM (SELECT embed_doc(%s) AS e) s", (t,), t, 1)
        if rows:
            self.check_vector(*rows[0], t)
            if self.rnd.random() < 0.03:
                self.op_agree(t)

    def op_embed(self):
        t, m = self.text(), self.gen.model()
        rows = self.run("SELECT vector_dims(e), vector_norm(e) FROM (SELECT embed(%s, %s) AS e) s", (t, m), (t, m), 1)
        if rows:
            if m not in GOOD_MODELS:
                self.bad_vectors.append((short((t, m)), "accepted model name", m))
            self.check_vector(*rows[0], t)

    def op_embed_doc_batch(self):
        arr = self.array()
        rows = self.run("SELECT ord, vector_dims(embedding), vector_norm(embedding) FROM embed_doc_batch(%s::text[])",
                        (arr,), arr, len(arr))
        if rows is not None:
            self.check_batch(rows, arr, arr)

    def op_embed_batch(self):
        arr, m = self.array(), self.gen.model()
        rows = self.run("SELECT ord, vector_dims(embedding), vector_norm(embedding) FROM embed_batch(%s::text[], %s)",
                        (arr, m), arr, len(arr))
        if rows is not None:
            if m not in GOOD_MODELS and arr:
                self.bad_vectors.append((short(arr), "accepted model name", m))
            self.check_batch(rows, arr, arr)

    def op_null(self):
        q = self.rnd.choice([
            "SELECT embed_doc(NULL) IS NULL", "SELECT embed(NULL, 'all-MiniLM-L6-v2') IS NULL",
            "SELECT embed('x', NULL) IS NULL", "SELECT count(*) FROM embed_doc_batch(NULL)",
            "SELECT count(*) FROM embed_batch(ARRAY['x'], NULL)", "SELECT count(*) FROM embed_doc_batch('{}')",
            "SELECT count(*) FROM embed_doc_batch(ARRAY[NULL, NULL]::text[])",
            "SELECT count(*) FROM embed_doc_batch(ARRAY[['a', 'b'], ['c', NULL]])",
            "SELECT count(*) FROM embed_doc_batch('[5:7]={x,NULL,z}'::text[])",
            "SELECT count(*) FROM embed_batch('{}', 'no/such')",
        ])
        self.run(q, (), q)

    def op_set(self):
        name, value, valid = self.gen.setting()
        if self.rnd.random() < 0.7:
            stmt = sql.SQL("SET {} = {}").format(sql.SQL(name), sql.Literal(value))
            rows = self.run(stmt, (), (name, value))
        else:
            rows = self.run("SELECT set_config(%s, %s, false)", (name, value), (name, value))
        if rows is not None and name == "pg_embed.long_text":
            self.policy = value.lower()

    def op_reset(self):
        q = self.rnd.choice(["RESET pg_embed.long_text", "RESET pg_embed.precision", "RESET pg_embed.memory_limit",
                             "RESET pg_embed.max_text_size", "RESET ALL", "SELECT pg_embed_unload()",
                             "SELECT pg_embed_unload('all-MiniLM-L6-v2')", "SELECT pg_embed_unload('../x')",
                             "SELECT name, loaded, loaded_precision, bytes_held, lru_rank FROM pg_embed_models",
                             "DISCARD ALL"])
        rows = self.run(q, (), q)
        if rows is not None and (q.startswith(("RESET ALL", "DISCARD")) or q == "RESET pg_embed.long_text"):
            self.policy = "truncate"

    def op_reconnect(self):
        """A new backend, sometimes with a bad library or model folder before the first load."""
        self.ops["reconnect"] += 1
        self.connect()
        self.run("SET pg_embed.precision = 'int8'")
        if self.rnd.random() < 0.3:
            lib = self.rnd.choice(["/nonexistent/libonnxruntime.so", "/etc", "/dev/null", "/etc/passwd",
                                   "libonnxruntime.so", "", "relative/lib.so", "/lib/x86_64-linux-gnu/libz.so.1"])
            self.run(sql.SQL("SET pg_embed.onnxruntime_library = {}").format(sql.Literal(lib)), (), lib)
            t = self.text()
            self.run("SELECT vector_norm(embed_doc(%s))", (t,), t, 1)
            self.run("RESET pg_embed.onnxruntime_library")
        elif self.rnd.random() < 0.3:
            d = self.rnd.choice(["/nonexistent", "/etc", "", "/", "../..", "/dev/null", "/proc/self"])
            self.run(sql.SQL("SET pg_embed.model_dir = {}").format(sql.Literal(d)), (), d)
            t = self.text()
            self.run("SELECT vector_norm(embed(%s, %s))", (t, self.gen.model()), t, 1)
            self.run("RESET pg_embed.model_dir")

    def op_server_text(self):
        """Texts built in the server: huge repetition and long runs of code points."""
        r = self.rnd
        choice = r.random()
        if choice < 0.5:
            unit = r.choice(["ab ", "x", "\U0001F600", "word ", "\u00e9\u0301", " ", "\u200b", "[UNK] "])
            count = r.choice([10, 1000, 100000, 3000000])
            if self.policy == "window":
                count = min(count, 4000)
            self.run("SELECT vector_dims(e), vector_norm(e) FROM (SELECT embed_doc(repeat(%s, %s)) AS e) s",
                     (unit, count), f"repeat({unit!r}, {count})", 1)
        else:
            start = r.choice([1, 0x80, 0x300, 0x2000, 0x4E00, 0xE000, 0xFFF0, 0x1F000, 0x20000, 0xE0000, 0x10FF00])
            n = r.choice([50, 500, 5000])
            if self.policy == "window":
                n = min(n, 500)
            q = ("SELECT vector_dims(e), vector_norm(e) FROM (SELECT embed_doc(string_agg(chr(c), '')) AS e "
                 "FROM generate_series(%s::int, %s::int) c WHERE c NOT BETWEEN 55296 AND 57343 AND c <= 1114111) s")
            self.run(q, (start, start + n), f"code points {start:#x}..{start + n:#x}", 1)

    def op_cancel_race(self):
        """A statement cancelled (statement_timeout or a cancel request) at a random moment,
        sometimes while the model is still loading in a new backend."""
        r = self.rnd
        if r.random() < 0.3:
            self.connect()
            self.run(sql.SQL("SET pg_embed.precision = {}").format(sql.Literal(r.choice(["int8", "fp32"]))))
        arr = [self.gen.prose(r.choice([20, 100, 300])) for _ in range(r.randint(1, 12))]
        if r.random() < 0.5:
            ms = r.choice([1, 5, 20, 50, 100, 300])
            self.run(f"SET statement_timeout = '{ms}ms'")
            self.run("SELECT count(embedding) FROM embed_doc_batch(%s::text[])", (arr,), arr, len(arr))
            self.run("RESET statement_timeout")
        else:
            delay = r.choice([0.0, 0.005, 0.02, 0.1, 0.3])
            timer = threading.Timer(delay, self.conn.cancel_safe)
            timer.start()
            try:
                self.run("SELECT count(embedding) FROM embed_doc_batch(%s::text[])", (arr,), arr, len(arr))
            finally:
                timer.cancel()
                timer.join()
        # The session must work right after.
        rows = self.run("SELECT vector_dims(e), vector_norm(e) FROM (SELECT embed_doc('after a cancel') AS e) s", (),
                        "after a cancel", 1)
        if rows:
            self.check_vector(*rows[0], "after a cancel")

    def op_transaction(self):
        """Errors inside a transaction, rolled back to a savepoint; then the transaction goes on."""
        r = self.rnd
        t1, t2 = self.text(), self.text()
        bad = self.gen.bad_model()
        self.run("BEGIN")
        self.run("SELECT vector_norm(embed_doc(%s))", (t1,), t1, 1)
        self.run("SAVEPOINT s")
        self.run("SELECT vector_norm(embed(%s, %s))", (t2, bad), (t2, bad), 1)
        self.run("ROLLBACK TO SAVEPOINT s")
        rows = self.run("SELECT vector_dims(e), vector_norm(e) FROM (SELECT embed_doc(%s) AS e) s", (t1,), t1, 1)
        self.run(r.choice(["COMMIT", "ROLLBACK"]))
        if rows:
            self.check_vector(*rows[0], t1)

    def op_parallel(self):
        """embed_doc in parallel workers (each loads the model)."""
        self.ops["parallel"] += 1
        self.run("CREATE TABLE IF NOT EXISTS fuzz_texts (id serial, body text)")
        texts = [self.gen.text(long_ok=False, max_len=2000) for _ in range(40)]
        self.run("INSERT INTO fuzz_texts (body) SELECT unnest(%s::text[])", (texts,), texts, 0)
        for s in ("SET max_parallel_workers_per_gather = 2", "SET parallel_setup_cost = 0",
                  "SET parallel_tuple_cost = 0", "SET min_parallel_table_scan_size = 0"):
            self.run(s)
        self.run("SELECT count(embed_doc(body)) FROM fuzz_texts", (), "fuzz_texts", 40)
        self.run("TRUNCATE fuzz_texts")
        self.run("RESET max_parallel_workers_per_gather")

    def op_agree(self, t):
        """embed_doc, embed(.., 'all-MiniLM-L6-v2') and embed_doc_batch give the same vector."""
        rows = self.run(
            "SELECT 1 - (a <=> b), 1 - (a <=> c) FROM (SELECT embed_doc(%s) a, embed(%s, 'all-MiniLM-L6-v2') b, "
            "(SELECT embedding FROM embed_doc_batch(ARRAY[%s, 'a second text of a few more words than one']) "
            "WHERE ord = 1) c) s", (t, t, t), t, 3)
        if rows:
            ab, ac = rows[0]
            if ab is None or ac is None or ab < 0.9999 or ac < 0.999:
                self.disagree.append((short(t), ab, ac))

    def op_bm25(self):
        """BM25: the tokenizers against the reference on random and adversarial texts; scores
        from odd arrays; writes to and searches of a registered table."""
        r = self.rnd
        t = self.gen.text(long_ok=False, max_len=3000)
        choice = r.random()
        if choice < 0.5:
            tok = r.choice(["code", "words"])
            rows = self.run("SELECT pg_embed_bm25_terms(%s, %s)", (t, tok), (t, tok))
            if rows and t is not None and rows[0][0] is not None and rows[0][0] != reference_terms(t, tok):
                self.bad_terms.append((short(t), tok, rows[0][0][:8], reference_terms(t, tok)[:8]))
        elif choice < 0.7:
            arrays = [None, [], ["a", None, "b"], [["a", "b"], ["c", "d"]], ["a"] * 1000, [t]]
            df = r.choice([None, [], [1], [0, 0], [-5, 2**40], [1] * 3])
            self.run("SELECT pg_embed_bm25_score(%s::text[], %s::text[], %s::bigint[], %s, %s, 1.2, 0.75)",
                     (r.choice(arrays), r.choice(arrays), df, r.choice([0.0, 1.0, 1e9, -1.0, float("nan")]),
                      r.choice([0.0, 0.5, 95.0, float("inf")])), "bm25 score arrays")
        else:
            if not self.bm25_ready:
                self.run("CREATE TABLE IF NOT EXISTS fuzz_bm25 (id bigserial PRIMARY KEY, body text, "
                         "terms text[] GENERATED ALWAYS AS (pg_embed_bm25_terms(body)) STORED)")
                self.run("SELECT pg_embed_bm25_register('fuzz_bm25') WHERE NOT EXISTS "
                         "(SELECT FROM pg_embed_bm25_columns WHERE relation = 'fuzz_bm25'::regclass)")
                self.bm25_ready = True
            q = r.choice(["INSERT INTO fuzz_bm25 (body) VALUES (%s)", "UPDATE fuzz_bm25 SET body = %s WHERE id %% 7 = 1",
                          "SELECT count(*) FROM pg_embed_bm25_search('fuzz_bm25', %s)",
                          "SELECT count(*) FROM pg_embed_bm25_search('fuzz_bm25', %s, max_results => 1000)"])
            self.run(q, (t,), t)

    OPS = [
        ("embed_doc", 30), ("embed", 18), ("embed_doc_batch", 14), ("embed_batch", 9), ("set", 13),
        ("reset", 3), ("null", 2), ("server_text", 3), ("cancel_race", 2.5), ("transaction", 2),
        ("reconnect", 0.4), ("parallel", 0.08), ("bm25", 4),
    ]

    def fuzz(self):
        names = [n for n, _ in self.OPS]
        weights = [w for _, w in self.OPS]
        t0 = time.time()
        next_report = 1000
        while self.sent < self.statements:
            op = self.rnd.choices(names, weights)[0]
            self.ops[op] += 1
            t = time.perf_counter()
            getattr(self, "op_" + op)()
            self.op_time[op] += time.perf_counter() - t
            if self.sent >= next_report:
                print(f"  {self.sent} statements, {time.time() - t0:.0f} s", flush=True)
                next_report += 1000
        self.elapsed = time.time() - t0
        if self.trace:
            self.trace.close()


# -- reference pipeline ------------------------------------------------------------------

class Reference:
    """all-MiniLM-L6-v2 in Python: tokenizers + onnxruntime on the same files, truncation at
    256 tokens and mean pooling as sentence-transformers does; windows for long_text=window."""

    def __init__(self):
        import numpy as np
        import onnxruntime as ort
        from tokenizers import Tokenizer
        self.np = np
        folder = os.path.join(MODEL_DIR, DOC_MODEL)
        self.tok = Tokenizer.from_file(os.path.join(folder, "tokenizer.json"))
        self.tok.no_padding()
        self.tok.enable_truncation(max_length=256)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        self.sess = ort.InferenceSession(os.path.join(folder, "model.onnx"), opts, providers=["CPUExecutionProvider"])

    def _run(self, ids):
        np = self.np
        ids = np.array([ids], dtype=np.int64)
        mask = np.ones_like(ids)
        feed = {"input_ids": ids, "attention_mask": mask}
        if any(i.name == "token_type_ids" for i in self.sess.get_inputs()):
            feed["token_type_ids"] = np.zeros_like(ids)
        v = self.sess.run(None, feed)[0][0].mean(axis=0)
        return v / np.linalg.norm(v)

    def truncate(self, text):
        return self._run(self.tok.encode(text).ids)

    def window(self, text):
        enc = self.tok.encode(text)
        acc = 0
        for w in [enc, *enc.overflowing]:
            acc = acc + self._run(w.ids) * len(w.ids)
        return acc / self.np.linalg.norm(acc), 1 + len(enc.overflowing)


def reference_texts(rnd):
    gen = Inputs(rnd)
    fixed = [
        " " * 20000 + "hello world",
        "\x01" * 20000 + "hello world",
        "\u200b" * 17000 + "the cat sat on the mat",
        " ".join(["x" * 5000] * 10 + ["hello world"] * 300),
        "\U0001F600" * 5000 + " database index",
        gen.prose(300),
        "e\u0301" * 9000,
        "ab " * 20000,
    ]
    random_ = [gen.text(max_len=40000) for _ in range(110)]
    return fixed + random_


def reference_checks(cluster, checks, seed):
    rnd = random.Random(seed + 1)
    ref = Reference()
    np = ref.np

    def vec(s):
        return np.array([float(x) for x in s.strip("[]").split(",")])

    t0 = time.time()
    with cluster.connect() as conn:
        conn.add_notice_handler(lambda d: None)
        conn.execute("SET pg_embed.precision = 'fp32'")
        bad = []
        texts = reference_texts(rnd)
        for t in texts:
            got = vec(conn.execute("SELECT embed_doc(%s)::text", (t,)).fetchone()[0])
            cos = float(got @ ref.truncate(t))
            if not cos >= 0.999:
                bad.append((cos, short(t, 60), len(ref.tok.encode(t).ids)))
        checks.check(f"truncate: embed_doc agrees with the reference pipeline on {len(texts)} adversarial texts "
                     f"(cosine >= 0.999)", not bad,
                     f"{len(bad)} disagree, e.g. " + "; ".join(f"cos {c:.3f} for {s} ({n} tokens)" for c, s, n in bad[:8])
                     if bad else "")
        conn.execute("SET pg_embed.long_text = 'window'")
        gen = Inputs(rnd)
        wtexts = [gen.prose(n) for n in (300, 500, 700, 1100)] + [
            "My cat sleeps on the warm windowsill all afternoon. " * 30
            + "The stock market fell after the central bank raised interest rates. " * 60,
            gen.words(5) + " " + "\u4e00\u4e8c\u4e09" * 200]
        bad = []
        for t in wtexts:
            got = vec(conn.execute("SELECT embed_doc(%s)::text", (t,)).fetchone()[0])
            want, n = ref.window(t)
            cos = float(got @ want)
            first = float(got @ ref.truncate(t))
            if not cos >= 0.999:
                bad.append((cos, first, n, short(t, 50)))
        checks.check(f"window: embed_doc agrees with the token-weighted mean of all 256-token windows on "
                     f"{len(wtexts)} long texts (cosine >= 0.999)", not bad,
                     f"{len(bad)} disagree, e.g. " + "; ".join(
                         f"cos {c:.3f} to the window mean but {f:.4f} to the first window alone ({n} windows, {s})"
                         for c, f, n, s in bad[:3]) if bad else "")
    print(f"reference checks: {time.time() - t0:.0f} s", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--statements", type=int, default=10000)
    ap.add_argument("--keep-log", help="copy the server log here before the cluster is removed")
    ap.add_argument("--trace", help="write every statement and its parameters here (JSON lines)")
    ap.add_argument("--no-reference", action="store_true", help="skip the comparison with the Python pipeline")
    a = ap.parse_args()
    checks = Checks()
    t_start = time.time()
    print(f"fuzz: seed {a.seed}, {a.statements} statements", flush=True)
    settings = lambda d: {"pg_embed.model_dir": f"'{d}/models'"}  # noqa: E731
    with Cluster("fuzz", settings=settings, before_start=prepare_models, keep_log=a.keep_log) as c:
        with c.connect() as conn:
            for q, _ in USER_MODELS.values():
                conn.execute(q)
            conn.execute("SET pg_embed.precision = 'fp32'")
            known = conn.execute("SELECT embed_doc('The HNSW index makes nearest neighbour search fast.')::text").fetchone()[0]
        f = Fuzzer(c, a.seed, a.statements, a.trace)
        f.fuzz()
        f.conn.close()

        print(f"\n{f.sent} statements in {f.elapsed:.0f} s ({f.texts} texts): {f.ok} succeeded, "
              f"{sum(f.errors.values())} failed with an error", flush=True)
        print("operations (count, seconds): " + ", ".join(f"{k} {v} {f.op_time[k]:.0f}s" for k, v in f.ops.most_common()))
        print("errors by SQLSTATE:")
        for state, n in sorted(f.errors.items(), key=lambda kv: -kv[1]):
            try:
                name = psycopg.errors.lookup(state).__name__
            except KeyError:
                name = ""
            s, w, m = f.examples[state]
            print(f"  {state} {name:<28} {n:>6}  e.g. {m[:90]!r}")
        print("slowest statements:")
        for dt, s, w, o, pol in f.slowest:
            print(f"  {dt * 1000:7.0f} ms  {s} | input={w} | {o} | long_text={pol}")
        if f.notices:
            print("notices: " + ", ".join(f"{k.strip()!r} {v}" for k, v in f.notices.most_common(5)))
        if f.timeouts:
            print(f"statements cancelled (57014): {len(f.timeouts)}")

        checks.check(f"at least 10,000 statements sent ({f.sent}, with {f.texts} texts)", f.sent >= 10000)
        checks.check("no connection lost", not f.lost,
                     "; ".join(f"{s} input={w} error={e}" for s, w, e in f.lost[:5]))
        checks.check("no internal error (XX000)", not f.internal,
                     "; ".join(f"{s} input={w}: {m}" for s, w, m in f.internal[:5]))
        if f.first_incident:
            print("statements up to the first lost connection or internal error:")
            for s, w, o in f.first_incident:
                print(f"  {s} | input={w} | {o}")
            if f.incident_settings:
                print(f"  settings then: {f.incident_settings}")
        checks.check("every vector has 384 dimensions and unit length; no invalid model name is accepted",
                     not f.bad_vectors, "; ".join(map(str, f.bad_vectors[:5])))
        checks.check("batch rows match their arrays (count, ord 1..n, NULL for NULL)", not f.bad_batches,
                     "; ".join(map(str, f.bad_batches[:5])))
        checks.check("embed_doc, embed(.., 'all-MiniLM-L6-v2') and embed_doc_batch agree", not f.disagree,
                     "; ".join(map(str, f.disagree[:5])))
        checks.check("pg_embed_bm25_terms equals the reference tokenizer on every text", not f.bad_terms,
                     "; ".join(map(str, f.bad_terms[:5])))
        with c.connect() as conn:
            if conn.execute("SELECT to_regclass('fuzz_bm25') IS NOT NULL").fetchone()[0]:
                consistent = conn.execute("SELECT consistent FROM pg_embed_bm25_check('fuzz_bm25')").fetchone()[0]
                checks.check("the fuzzed BM25 table's statistics agree with its rows", consistent)
        with c.connect() as conn:
            conn.execute("SET pg_embed.precision = 'fp32'")
            cos = conn.execute("SELECT 1 - (embed_doc('The HNSW index makes nearest neighbour search fast.') <=> %s::vector)",
                               (known,)).fetchone()[0]
        checks.check("after the run, a new session embeds a known text as before (cosine >= 0.9999)",
                     cos is not None and cos >= 0.9999, f"cosine {cos}")
        if not a.no_reference:
            reference_checks(c, checks, a.seed)
        crashes = c.crash_lines()
        checks.check("server log has no crash (terminated by signal, exit code, PANIC, TRAP)", not crashes,
                     "\n" + "\n".join(c.log_context(crashes[0]).splitlines()) if crashes else "")
        panics = [l for l in c.log_text().splitlines() if "panicked at" in l]
        if panics:
            print(f"Rust panics in the server log: {len(panics)}, first: {panics[0][:200]}")
    print(f"fuzz: {time.time() - t_start:.0f} s in all")
    sys.exit(checks.summary())


if __name__ == "__main__":
    main()
