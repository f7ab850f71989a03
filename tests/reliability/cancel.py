#!/usr/bin/env python3
"""Cancellation latency: a running embedding statement must stop within 1 s of a cancel.

On a throwaway cluster, with pg_embed's default settings (precision auto, batch_size,
max_tokens_per_run), one session runs a statement that would embed for well over 20 s:

  row by row  INSERT INTO t SELECT id, embed_doc(body) FROM big
  batch       INSERT INTO t SELECT ord, embedding FROM embed_doc_batch((SELECT array_agg(body ...) FROM big))

and it is stopped either by pg_cancel_backend(pid) from a second session a few seconds in, or
by SET statement_timeout = '3s'. Each case runs --repeat times (default 3). Checked each time:

  - the statement fails with SQLSTATE 57014 within 1.0 s of the cancel request (wall time
    from just before pg_cancel_backend is sent, or from the moment the timeout expires).
    A cancel is taken between model runs, so the latency is at most one run (at most
    pg_embed.max_tokens_per_run padded tokens) plus the error's way back. The run is timed on
    this machine first; when other work slows the machine so much that one such run and half
    another take more than 1.0 s, that is the bound asserted instead, and the output says so;
  - t has no rows (nothing partial is left);
  - the same session then embeds a known text exactly as before the cancel (cosine >= 0.9999).

Texts in `big` stay under the model's 256-token limit; a third statement embeds one 32 MB text
whole (long_text = window), where tokenizing alone used to take over 20 s without a check. Two more checks cover a cancel that is
pending when pg_embed emits a NOTICE (a truncated text, an evicted model): the session must
still embed afterwards.

Usage: cancel.py [--repeat N] [--seed N] [--keep-log PATH]
Last line: `N passed, M failed`; exit status 1 on any failure.
"""
import argparse
import os
import random
import sys
import threading
import time

import psycopg

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Checks, Cluster  # noqa: E402
from inputs import Inputs  # noqa: E402

KNOWN = "Cancelling a statement must leave the session able to embed this sentence."
LIMIT_S = 1.0
MIN_RUN_S = 20.0


def cosine_to(conn, text, vec_text):
    return conn.execute("SELECT 1 - (embed_doc(%s) <=> %s::vector)", (text, vec_text)).fetchone()[0]


class Runner:
    def __init__(self, cluster, checks, repeat, rnd):
        self.c = cluster
        self.checks = checks
        self.repeat = repeat
        self.rnd = rnd
        self.latencies = {}

    def setup(self):
        gen = Inputs(self.rnd)
        with self.c.connect() as conn:
            notices = []
            conn.add_notice_handler(lambda d: notices.append(d.message_primary))
            conn.execute("CREATE TABLE big (id int PRIMARY KEY, body text NOT NULL)")
            conn.execute("CREATE TABLE t (id int, embedding vector(384))")
            conn.execute("CREATE TABLE huge AS SELECT repeat('The planner estimates row counts from statistics. ', 640000) AS body")
            # Time embed_doc on a sample to size `big` for well over MIN_RUN_S of work.
            sample = [gen.prose(self.rnd.randint(120, 170)) for _ in range(30)]
            conn.execute("SELECT embed_doc('warm up')")
            t0 = time.perf_counter()
            conn.execute("SELECT count(embed_doc(b)) FROM unnest(%s::text[]) b", (sample,))
            per_text = (time.perf_counter() - t0) / len(sample)
            rows = max(1000, int(3 * MIN_RUN_S / per_text))
            bodies = sample + [gen.prose(self.rnd.randint(120, 170)) for _ in range(rows - len(sample))]
            with conn.cursor().copy("COPY big (id, body) FROM STDIN") as cp:
                for i, b in enumerate(bodies, 1):
                    cp.write_row((i, b))
            self.expected_s = per_text * rows
            truncated = [n for n in notices if "truncated" in n]
            print(f"big: {rows} texts of 120-170 words, embed_doc {per_text * 1000:.0f} ms per text here, "
                  f"so about {self.expected_s:.0f} s to embed them all", flush=True)
            self.checks.check(f"the statements would run for at least {MIN_RUN_S:.0f} s "
                              f"(about {self.expected_s:.0f} s) and no text of big is truncated",
                              self.expected_s >= MIN_RUN_S and not truncated, "; ".join(truncated[:1]))
            # One maximal model run: 8 texts cut at 256 tokens = 2,048 padded tokens.
            long8 = [gen.prose(400) for _ in range(8)]
            conn.execute("SELECT count(*) FROM embed_doc_batch(%s::text[])", (long8,))
            runs = []
            for _ in range(3):
                t0 = time.perf_counter()
                conn.execute("SELECT count(*) FROM embed_doc_batch(%s::text[])", (long8,))
                runs.append(time.perf_counter() - t0)
            self.run_s = sorted(runs)[1]
            self.limit_s = max(LIMIT_S, 1.5 * self.run_s)
            print(f"one run of 2,048 padded tokens takes {self.run_s * 1000:.0f} ms here (median of 3): "
                  f"cancellation must take at most {self.limit_s:.2f} s"
                  + ("" if self.limit_s == LIMIT_S else " (1.5 runs: the machine is too busy for 1.0 s)"), flush=True)

    STATEMENTS = {
        "row by row": "INSERT INTO t SELECT id, embed_doc(body) FROM big ORDER BY id",
        "batch": "INSERT INTO t SELECT ord, embedding FROM embed_doc_batch((SELECT array_agg(body ORDER BY id) FROM big))",
        # One 32 MB text embedded whole (long_text = window): tokenizing it is cut into pieces
        # with a cancel check after each, and its windows are embedded a few at a time.
        "32 MB text, window": "INSERT INTO t SELECT 1, embed_doc(body) FROM huge",
    }
    SESSION = {
        "32 MB text, window": ["SET pg_embed.long_text = 'window'", "SET pg_embed.max_text_size = '64MB'"],
    }

    def one(self, kind, how, rep):
        """Runs one long statement and stops it; returns the latency in seconds (or None)."""
        stmt = self.STATEMENTS[kind]
        label = f"{kind}, {how}, run {rep + 1}"
        with self.c.connect() as a, self.c.connect() as b:
            a.add_notice_handler(lambda d: None)
            pid = a.info.backend_pid
            before = a.execute("SELECT embed_doc(%s)::text", (KNOWN,)).fetchone()[0]
            a.execute("TRUNCATE t")
            for setting in self.SESSION.get(kind, []):
                a.execute(setting)
            if how == "statement_timeout":
                a.execute("SET statement_timeout = '3s'")
            result = {}

            def work():
                result["start"] = time.perf_counter()
                try:
                    a.execute(stmt)
                    result["state"] = "completed"
                except psycopg.Error as e:
                    result["state"] = e.sqlstate or f"connection: {e}"
                    result["message"] = str(e).splitlines()[0] if str(e) else ""
                result["end"] = time.perf_counter()

            th = threading.Thread(target=work)
            th.start()
            if how == "pg_cancel_backend":
                time.sleep(self.rnd.uniform(3.0, 5.0))
                active = b.execute("SELECT state = 'active' AND query LIKE 'INSERT INTO t%%' FROM pg_stat_activity "
                                   "WHERE pid = %s", (pid,)).fetchone()[0]
                t_cancel = time.perf_counter()
                sent = b.execute("SELECT pg_cancel_backend(%s)", (pid,)).fetchone()[0]
                th.join(60)
                ok_sent = active and sent and "end" in result
            else:
                th.join(60)
                t_cancel = result["start"] + 3.0
                ok_sent = "end" in result
            if th.is_alive():
                self.checks.check(f"{label}: the statement ends", False, "still running 60 s after the cancel")
                b.execute("SELECT pg_terminate_backend(%s)", (pid,))
                th.join()
                return None
            latency = result["end"] - t_cancel
            self.checks.check(
                f"{label}: SQLSTATE 57014 within {self.limit_s:.2f} s of the cancel",
                ok_sent and result.get("state") == "57014" and latency <= self.limit_s,
                f"{result.get('state')} after {latency * 1000:.0f} ms"
                + ("" if ok_sent else " (the statement was not running when cancelled)"))
            rows = b.execute("SELECT count(*) FROM t").fetchone()[0]
            self.checks.check(f"{label}: t has no rows afterwards", rows == 0, f"{rows} rows")
            try:
                a.execute("RESET statement_timeout")
                cos = cosine_to(a, KNOWN, before)
                detail = f"cosine {cos:.6f}"
            except psycopg.Error as e:
                cos, detail = None, f"{e.sqlstate}: {str(e).splitlines()[0]}"
            self.checks.check(f"{label}: the session then embeds as before", cos is not None and cos >= 0.9999, detail)
            print(f"  {label}: {latency * 1000:.0f} ms", flush=True)
            return latency

    def latency_cases(self):
        for how in ("pg_cancel_backend", "statement_timeout"):
            for kind in ("row by row", "batch", "32 MB text, window"):
                got = [self.one(kind, how, r) for r in range(self.repeat)]
                self.latencies[(kind, how)] = [x for x in got if x is not None]

    def load_case(self):
        """Measured, not asserted: a cancel while a new backend loads the model. The load is one
        call into ONNX Runtime that cannot be interrupted, so the cancel waits for it."""
        xs = []
        for _ in range(self.repeat):
            with self.c.connect() as a, self.c.connect() as b:
                pid = a.info.backend_pid
                result = {}

                def work():
                    try:
                        a.execute("SELECT embed_doc(%s) IS NOT NULL", (KNOWN,))
                        result["state"] = "completed"
                    except psycopg.Error as e:
                        result["state"] = e.sqlstate
                    result["end"] = time.perf_counter()

                th = threading.Thread(target=work)
                th.start()
                time.sleep(0.05)
                t_cancel = time.perf_counter()
                b.execute("SELECT pg_cancel_backend(%s)", (pid,))
                th.join()
                if result["state"] == "57014":
                    xs.append(result["end"] - t_cancel)
        self.latencies[("first call, model loading (not asserted)", "pg_cancel_backend")] = xs

    def notice_cases(self, long_text):
        """A cancel arriving around a NOTICE pg_embed emits (truncation, eviction).

        The truncation NOTICE comes after the text is embedded, so a timeout can expire just
        before it is sent. The eviction NOTICE is deferred until the statement's model run ends,
        and a cancel is taken at the checks between runs, so a timeout that expires while the
        new model loads ends the statement first: then the NOTICE must still reach the client,
        at the latest with the session's next statement, and nothing may be left broken.
        """
        cases = [
            ("truncation NOTICE", [], "SELECT embed_doc(%s) IS NOT NULL", (long_text,), "truncated"),
            # Both settings before the first load: a model loaded while it is the fallback stays
            # pinned in that backend.
            ("eviction NOTICE", ["SET pg_embed.fallback_model = ''", "SET pg_embed.memory_limit = '200MB'"],
             "SELECT embed('x', 'paraphrase-MiniLM-L3-v2') IS NOT NULL", (), 'unloaded model "all-MiniLM-L6-v2"'),
        ]
        for name, prep, stmt, params, word in cases:
            # Try growing timeouts until one expires after the event that queues the NOTICE.
            outcome = None
            for ms in (1, 2, 5, 10, 20, 40, 80, 160, 320):
                with self.c.connect() as a:
                    notices = []
                    a.add_notice_handler(lambda d: notices.append(d.message_primary))
                    for p in prep:
                        a.execute(p)
                    before = a.execute("SELECT embed_doc(%s)::text", (KNOWN,)).fetchone()[0]
                    a.execute(f"SET statement_timeout = '{ms}ms'")
                    try:
                        a.execute(stmt, params)
                        state = "completed"
                    except psycopg.Error as e:
                        state = e.sqlstate
                    a.execute("RESET statement_timeout")
                    during = any(word in n for n in notices)
                    if state != "57014":
                        continue
                    try:
                        cos = cosine_to(a, KNOWN, before)
                    except psycopg.Error as e:
                        outcome = (False, f"timeout {ms} ms: 57014; then every call in the "
                                          f"session fails: {e.sqlstate}: {str(e).splitlines()[0]}")
                        break
                    if not any(word in n for n in notices):
                        continue  # the timeout expired before the event: try a longer one
                    when = "in the cancelled statement" if during else "with the next statement"
                    outcome = (cos >= 0.9999, f"timeout {ms} ms: 57014, NOTICE delivered {when}; then cosine {cos:.6f}")
                    break
            if outcome is None:
                outcome = (False, "no timeout expired after the NOTICE was queued; case not exercised")
            self.checks.check(f"a cancel pending at a {name}: the session then embeds as before", *outcome)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep-log", help="copy the server log here before the cluster is removed")
    a = ap.parse_args()
    checks = Checks()
    t0 = time.time()
    with Cluster("cancel", keep_log=a.keep_log) as c:
        r = Runner(c, checks, a.repeat, random.Random(a.seed))
        r.setup()
        r.latency_cases()
        r.load_case()
        r.notice_cases(Inputs(random.Random(a.seed)).prose(600))
        crashes = c.crash_lines()
        checks.check("server log has no crash", not crashes, "\n" + c.log_context(crashes[0]) if crashes else "")
    print("\ncancellation latency (ms), from the cancel request to the error at the client:")
    print("| statement | stopped by | runs | min | max |")
    print("|---|---|---|---|---|")
    for (kind, how), xs in r.latencies.items():
        if xs:
            print(f"| {kind} | {how} | {len(xs)} | {min(xs) * 1000:.0f} | {max(xs) * 1000:.0f} |")
    print(f"cancel: {time.time() - t0:.0f} s in all")
    sys.exit(checks.summary())


if __name__ == "__main__":
    main()
