#!/usr/bin/env python3
"""Does embed_ensemble beat its best member? Retrieval quality, time and memory through SQL on
the sets of build_data.py (code, code-masked, faq), with the projection learned on other texts.

    /var/lib/pg_embed-dev/venv/bin/python benches/accuracy/ensemble.py \\
        [--sets code,code-masked,faq] [--methods procrustes,least_squares] [--sample 4500] \\
        [--limit N] [--dsn DSN]

Members: all-MiniLM-L6-v2 (the reference: the ensemble lives in its space) and
paraphrase-MiniLM-L3-v2, both fp32 (`pg_embed.precision = fp32` in every session).

The projection sample shares no text with the benchmark. It is three equal parts, drawn in a
fixed order: function sources from the third-party packages of the Python environment that runs
this script (numpy, matplotlib, onnx, ...; the benchmark's code is CPython's standard library),
the first sentences of those functions' docstrings, and PostgreSQL's catalog comments
(pg_description). It is loaded into a table and the projection is learned through SQL with
pg_embed_learn_projection(), once per method.

Systems, each in a new session (one backend) that embeds the corpus and the queries with
`INSERT ... SELECT` (timed) and ranks the whole corpus for every query by exact cosine distance
(no index), as evaluate.py does:
  - each member alone, `embed(body, model)`;
  - `embed_ensemble(body, ARRAY[L6, L3])`, equal weights, for each projection method.
Two more rankings are computed in SQL from the members' stored vectors, with no new embedding:
  - sum without projection: l2_normalize(v_L6 + v_L3), to show what the projection is for;
  - score fusion: the mean of the two members' cosines (what concatenating the two normalised
    vectors gives), which needs no projection but doubles the stored dimensions.
Metrics and the paired bootstrap come from evaluate.py. Results go to ensemble_results.json and
ensemble_results.md next to this script.
"""
import argparse
import ast
import datetime
import hashlib
import os
import sys
import sysconfig
import time
from collections import defaultdict

import psycopg

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import evaluate  # noqa: E402  (metrics, data loading, memory and library checks)

L6, L3 = "all-MiniLM-L6-v2", "paraphrase-MiniLM-L3-v2"
DB = "ensemble_bench"


# ---------------------------------------------------------------- projection sample

def python_functions(root, limit):
    """(source, first docstring sentence) of functions with docstrings under root: files in
    sorted order until 10 × limit functions are found, then the first `limit` of those in hash
    order (so the pick spreads over the packages read)."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in ("test", "tests", "testing"))
        for name in sorted(filenames):
            if not name.endswith(".py") or name.startswith("test"):
                continue
            path = os.path.join(dirpath, name)
            try:
                with open(path, encoding="utf-8") as f:
                    src = f.read()
                tree = ast.parse(src)
            except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
                continue
            lines = src.splitlines()
            for node in ast.walk(tree):
                if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    continue
                doc = ast.get_docstring(node)
                body = "\n".join(lines[node.lineno - 1:node.end_lineno])
                if not doc or not body or len(body) < 80:
                    continue
                first = doc.strip().split("\n\n")[0].replace("\n", " ").split(". ")[0].strip()
                if len(first.split()) < 3:
                    continue
                found.append((body[:4000], first))
        if len(found) >= 10 * limit:
            break
    found.sort(key=lambda f: hashlib.sha1(f[0].encode()).hexdigest())
    return found[:limit]


def projection_sample(dsn, n):
    """n texts: a third code, a third docstring sentences, a third catalog comments."""
    third = n // 3
    site = sysconfig.get_paths()["purelib"]
    funcs = python_functions(site, third)
    with psycopg.connect(dsn, autocommit=True) as conn:
        comments = [r[0] for r in conn.execute(
            "SELECT DISTINCT description FROM pg_description ORDER BY 1").fetchall()]
    comments.sort(key=lambda t: hashlib.sha1(t.encode()).hexdigest())
    texts = [c for c, _ in funcs] + [d for _, d in funcs] + comments[:n - 2 * len(funcs)]
    return texts, {"code": len(funcs), "docstring sentences": len(funcs),
                   "catalog comments": min(len(comments), n - 2 * len(funcs)),
                   "python packages from": site}


# ---------------------------------------------------------------- SQL

def bench_dsn(dsn):
    return psycopg.conninfo.make_conninfo(dsn, dbname=DB)


def prepare_database(dsn, sample):
    with psycopg.connect(dsn, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB,)).fetchone():
            conn.execute(f"CREATE DATABASE {DB}")
    with psycopg.connect(bench_dsn(dsn), autocommit=True) as conn:
        conn.execute("DROP EXTENSION IF EXISTS pg_embed CASCADE")
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        conn.execute("CREATE EXTENSION pg_embed")
        conn.execute("DROP TABLE IF EXISTS projection_sample")
        conn.execute("CREATE TABLE projection_sample (id int PRIMARY KEY, body text NOT NULL)")
        with conn.cursor().copy("COPY projection_sample (id, body) FROM STDIN") as cp:
            for i, t in enumerate(sample):
                cp.write_row((i, t))


def learn(dsn, method, n):
    with psycopg.connect(bench_dsn(dsn), autocommit=True, options="-c pg_embed.precision=fp32") as conn:
        t = time.perf_counter()
        row = conn.execute(
            "SELECT sample_rows, mean_cosine_before, mean_cosine_after, mean_cosine_held_out "
            "FROM pg_embed_learn_projection(%s, %s, 'SELECT body FROM projection_sample ORDER BY id', %s::int, %s)",
            (L3, L6, n, method)).fetchone()
        secs = time.perf_counter() - t
    return {"sample_rows": row[0], "mean_cosine_before": row[1], "mean_cosine_after": row[2],
            "mean_cosine_held_out": row[3], "learn_s": secs}


def embed_run(dsn, key, expr, corpus, queries, k=10):
    """Embeds corpus and queries with `expr` (SQL over column body) into tables emb_docs_<key>
    and emb_qs_<key>, and ranks; raises evaluate.Retry if pg_embed.so changed meanwhile."""
    with psycopg.connect(bench_dsn(dsn), autocommit=True, options="-c pg_embed.precision=fp32") as conn:
        cur = conn.cursor()
        pid = cur.execute("SELECT pg_backend_pid()").fetchone()[0]
        lib = evaluate.library_path(cur)
        lib_before = evaluate.file_sha256(lib)
        mem_start = evaluate.backend_memory(pid)
        cpu_start = cpu_seconds(pid)
        first_s = evaluate.timed(cur, f"SELECT ({expr}) IS NOT NULL FROM (SELECT 'warm up' AS body) s")
        mem_loaded = evaluate.backend_memory(pid)
        for t, rows in (("docs", corpus), ("qs", queries)):
            cur.execute(f"DROP TABLE IF EXISTS raw_{t}, emb_{t}_{key}")
            cur.execute(f"CREATE TEMP TABLE raw_{t} (id text PRIMARY KEY, body text NOT NULL)")
            cur.execute(f"CREATE TABLE emb_{t}_{key} (id text PRIMARY KEY, emb vector(384) NOT NULL)")
            with cur.copy(f"COPY raw_{t} (id, body) FROM STDIN") as cp:
                for row in rows:
                    cp.write_row(row)
        cpu_loaded = cpu_seconds(pid)
        doc_s = evaluate.timed(cur, f"INSERT INTO emb_docs_{key} (id, emb) SELECT id, {expr} FROM raw_docs")
        q_s = evaluate.timed(cur, f"INSERT INTO emb_qs_{key} (id, emb) SELECT id, {expr} FROM raw_qs")
        cpu_done = cpu_seconds(pid)
        mem_embedded = evaluate.backend_memory(pid)
        if evaluate.file_sha256(lib) != lib_before:
            raise evaluate.Retry(f"{lib} was replaced during the run")
    ranking = rank(dsn, f"emb_docs_{key}", f"emb_qs_{key}", "d.emb <=> q.emb", k)
    return ranking, {
        "pg_embed.so sha256": lib_before, "first_call_s": first_s,
        "docs_s": doc_s, "docs_per_s": len(corpus) / doc_s,
        "queries_s": q_s, "queries_per_s": len(queries) / q_s,
        "backend_cpu_s": None if cpu_done is None else cpu_done - cpu_loaded,
        "first_call_cpu_s": None if cpu_loaded is None else cpu_loaded - cpu_start,
        "rss_mib": {"start": mem_start, "models loaded": mem_loaded, "after embedding": mem_embedded},
    }


def cpu_seconds(pid):
    """User + system CPU time of a backend, from /proc (the script runs on the database host)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def rank(dsn, docs, qs, distance, k=10, extra_docs="", extra_qs=""):
    """Top k documents per query by `distance` (SQL over aliases d and q), ties by id."""
    with psycopg.connect(bench_dsn(dsn), autocommit=True) as conn:
        rows = conn.execute(f"""
            SELECT q.id, r.id FROM {qs} q {extra_qs} CROSS JOIN LATERAL (
                SELECT d.id, {distance} AS dist FROM {docs} d {extra_docs}
                ORDER BY {distance}, d.id LIMIT {k}) r
            ORDER BY q.id, r.dist, r.id""").fetchall()
    ranking = defaultdict(list)
    for qid, cid in rows:
        ranking[qid].append(cid)
    return ranking


def fused_rankings(dsn):
    """Rankings from the members' stored vectors: their sum without projection, and the mean
    of their cosines (score fusion = cosine of the concatenated normalised vectors)."""
    docs = (f"(SELECT a.id, a.emb AS a, b.emb AS b FROM emb_docs_l6 a JOIN emb_docs_l3 b USING (id))")
    qs = (f"(SELECT a.id, a.emb AS a, b.emb AS b FROM emb_qs_l6 a JOIN emb_qs_l3 b USING (id))")
    unprojected = rank(dsn, docs, qs, "l2_normalize(d.a + d.b) <=> l2_normalize(q.a + q.b)")
    fusion = rank(dsn, docs, qs, "(d.a <=> q.a) + (d.b <=> q.b)")
    return unprojected, fusion


def retrying(fn, *args, attempts=3):
    for n in range(1, attempts + 1):
        try:
            return fn(*args)
        except (evaluate.Retry, psycopg.OperationalError) as e:
            if n == attempts:
                raise
            print(f"  attempt {n} discarded ({str(e).strip()}); retrying in 30 s", file=sys.stderr, flush=True)
            time.sleep(30)


# ---------------------------------------------------------------- report

TITLES = {"l6": f"{L6} (reference)", "l3": L3,
          "ens_procrustes": "embed_ensemble, Procrustes", "ens_least_squares": "embed_ensemble, least squares",
          "sum_unprojected": "sum without projection †", "fusion": "score fusion (concatenation) †"}


def markdown(res):
    f = evaluate.fmt
    out = ["| set | system | MRR@10 | P@1 | Recall@10 | nDCG@10 | MRR@10 vs best member (95% CI) | docs/s | backend CPU s | backend peak RSS (MiB) |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for name, s in res["sets"].items():
        runs = s["runs"]
        if "l6" not in runs or "l3" not in runs:
            continue
        best = max(("l6", "l3"), key=lambda k: runs[k]["metrics"]["mrr@10"])
        label = f"{name} ({s['corpus']} docs, {s['queries']} queries)"
        for key, title in TITLES.items():
            r = runs.get(key)
            if not r:
                continue
            m = r["metrics"]
            if key == best:
                vs = "best member"
            else:
                lo, hi = evaluate.retention_interval(runs[best]["ranks"], r["ranks"])
                vs = f"{100 * m['mrr@10'] / runs[best]['metrics']['mrr@10']:.1f}% ({100 * lo:.1f}–{100 * hi:.1f}%)"
            speed = f"{r['docs_per_s']:.1f}" if "docs_per_s" in r else "–"
            cpu = f(r.get("backend_cpu_s"), 0)
            rss = ((r.get("rss_mib") or {}).get("after embedding") or {}).get("VmHWM")
            out.append(f"| {label} | {title} | {f(m['mrr@10'])} | {f(m['p@1'])} | {f(m['recall@10'])} | "
                       f"{f(m['ndcg@10'])} | {vs} | {speed} | {cpu} | {f(rss, 0)} |")
            label = ""
    out.append("\n† ranked in SQL from the members' stored vectors (no embedding of its own).")
    fits = ["| method | sample | mean cosine before | after (in-sample) | held-out fifth | learning time (s) |",
            "|---|---|---|---|---|---|"]
    for method, fit in res["projections"].items():
        fits.append(f"| {method} | {fit['sample_rows']} | {f(fit['mean_cosine_before'])} | "
                    f"{f(fit['mean_cosine_after'])} | {f(fit['mean_cosine_held_out'])} | {fit['learn_s']:.0f} |")
    return "\n".join(out) + "\n\nProjection of " + L3 + " onto " + L6 + ":\n\n" + "\n".join(fits) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dsn", default="host=127.0.0.1 port=25432 user=postgres dbname=postgres")
    ap.add_argument("--sets", default=",".join(evaluate.SETS))
    ap.add_argument("--methods", default="procrustes,least_squares")
    ap.add_argument("--sample", type=int, default=4500, help="projection sample size (texts)")
    ap.add_argument("--limit", type=int, default=0, help="quick run on N queries (as evaluate.py)")
    ap.add_argument("--data", default=os.path.join(HERE, "data"))
    ap.add_argument("--results", default=os.path.join(HERE, "ensemble_results.json"))
    a = ap.parse_args()
    sets = [s for s in a.sets.split(",") if s]
    methods = [m for m in a.methods.split(",") if m]

    sample, sample_info = projection_sample(a.dsn, a.sample)
    prepare_database(a.dsn, sample)
    res = {"date": datetime.date.today().isoformat(), "environment": evaluate.environment(a.dsn),
           "sample": sample_info, "projections": {}, "sets": {}, "limit": a.limit}
    print(f"projection sample: {len(sample)} texts {sample_info}", flush=True)
    data = {name: evaluate.load_set(a.data, name, a.limit) for name in sets}
    for name in sets:
        res["sets"][name] = {"corpus": len(data[name][0]), "queries": len(data[name][1]), "runs": {}}

    def record(name, key, ranking, info):
        info["metrics"], info["ranks"] = evaluate.score_run(ranking, data[name][2])
        res["sets"][name]["runs"][key] = info
        extra = f", {info['docs_per_s']:.1f} docs/s" if "docs_per_s" in info else ""
        print(f"  {name} {key}: MRR@10 {info['metrics']['mrr@10']:.3f}{extra}", flush=True)
        save()

    def save():
        """Written after every run, so an interrupted run keeps what it measured."""
        evaluate.write_results(res, a.results, markdown(res))

    for name in sets:
        corpus, queries, _ = data[name]
        for key, model in (("l6", L6), ("l3", L3)):
            ranking, info = retrying(embed_run, a.dsn, key, f"embed(body, '{model}')", corpus, queries)
            record(name, key, ranking, info)
        unprojected, fusion = fused_rankings(a.dsn)
        record(name, "sum_unprojected", unprojected, {})
        record(name, "fusion", fusion, {})
    for method in methods:
        res["projections"][method] = fit = learn(a.dsn, method, len(sample))
        print(f"projection {method}: {fit}", flush=True)
        save()
        for name in sets:
            corpus, queries, _ = data[name]
            expr = f"embed_ensemble(body, ARRAY['{L6}', '{L3}'])"
            ranking, info = retrying(embed_run, a.dsn, "ens", expr, corpus, queries)
            record(name, f"ens_{method}", ranking, info)
    save()
    print()
    print(markdown(res))


if __name__ == "__main__":
    main()
