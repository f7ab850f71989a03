#!/usr/bin/env python3
"""Hybrid search against vector-only and text-only retrieval, through SQL, on the sets that
build_data.py makes (code, code-masked, faq).

    /var/lib/pg_embed-dev/venv/bin/python benches/accuracy/hybrid.py [--sets ...] [--limit N] [--dsn DSN]

pg_embed must be installed from this checkout (scripts/install.sh): the script creates the
database `hybrid_bench` (dropped first if it exists) and `CREATE EXTENSION pg_embed` in it.

Per set, in one connection (fp32): the corpus goes into a table with a generated
`to_tsvector('english', body)` column, a GIN index on it and an HNSW index (vector_cosine_ops,
pgvector defaults m = 16, ef_construction = 64) on `embed_doc(body)`; the queries are embedded
once with embed_doc into a table. Systems, each ranking the top 10 for every query in one SQL
statement:

  vector exact   ORDER BY embedding <=> q, id LIMIT 10, no index (as evaluate.py)
  vector HNSW    the same through the HNSW index (hnsw.ef_search = 100)
  text norm=n    pg_embed_hybrid_search(..., vector_weight => 0): tsvector @@ (any query word),
                 ranked by ts_rank_cd with normalization n, through the GIN index
  hybrid k/w/c/n pg_embed_hybrid_search with k, text_weight w (vector_weight 1), c candidates
                 from each side and normalization n, query_embedding => the stored query vector

BM25 (evaluate.py's, in Python) is listed for reference. Metrics: evaluate.py's score_run.
The hybrid settings are chosen on the `code` set only (best MRR@10 there) and then reported
unchanged on the other sets. Results: hybrid_results.json and hybrid_results.md.
"""
import argparse
import os
import sys
import time
from collections import defaultdict

import psycopg

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from evaluate import SETS, bm25_rank, environment, file_sha256, library_path, load_set, score_run, write_results  # noqa: E402

DB = "hybrid_bench"
# (k, text_weight, candidates, ts_rank_cd normalization); vector_weight is 1 throughout.
GRID = [(k, w, 40, n) for n in (0, 1) for k in (60, 10) for w in (1.0, 0.5, 0.25)] + [(60, 0.5, 100, 1)]
TEXT_NORMS = (0, 1, 2, 4)
TUNE_SET = "code"


def label(setting):
    k, w, c, n = setting
    return f"hybrid k={k} w_text={w:g} cand={c} norm={n}"


def rankings(cur, sql, params=None):
    out = defaultdict(list)
    for qid, did in cur.execute(sql, params).fetchall():
        out[qid].append(did)
    return out


def run_set(conn, corpus, queries, qrels):
    cur = conn.cursor()
    cur.execute("DROP TABLE IF EXISTS docs, qs")
    cur.execute("""CREATE TABLE docs (id bigint PRIMARY KEY, ext text NOT NULL, body text NOT NULL,
                   tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', body)) STORED,
                   embedding vector(384))""")
    cur.execute("CREATE TABLE qs (qid text PRIMARY KEY, body text NOT NULL, emb vector(384))")
    with cur.copy("COPY docs (id, ext, body) FROM STDIN") as cp:
        for i, (ext, text) in enumerate(corpus, 1):
            cp.write_row((i, ext, text))
    with cur.copy("COPY qs (qid, body) FROM STDIN") as cp:
        for row in queries:
            cp.write_row(row)
    t0 = time.perf_counter()
    cur.execute("UPDATE docs SET embedding = embed_doc(body)")
    cur.execute("UPDATE qs SET emb = embed_doc(body)")
    embed_s = time.perf_counter() - t0
    cur.execute("CREATE INDEX ON docs USING gin (tsv)")
    cur.execute("CREATE INDEX ON docs USING hnsw (embedding vector_cosine_ops)")
    cur.execute("ANALYZE docs")
    cur.execute("ANALYZE qs")
    ext = {i + 1: e for i, (e, _) in enumerate(corpus)}
    systems = {}

    def record(name, sql, params=None):
        t = time.perf_counter()
        got = rankings(cur, sql, params)
        seconds = time.perf_counter() - t
        ranking = {q: [ext[d] for d in ds] for q, ds in got.items()}
        metrics, ranks = score_run(ranking, qrels)
        systems[name] = {"metrics": metrics, "ranks": ranks, "seconds": seconds}
        print(f"  {name:34s} MRR@10 {metrics['mrr@10']:.3f}  R@10 {metrics['recall@10']:.3f}  "
              f"P@1 {metrics['p@1']:.3f}  nDCG@10 {metrics['ndcg@10']:.3f}  ({seconds:.1f} s)", flush=True)

    cur.execute("SET enable_indexscan = off")
    record("vector exact", """SELECT q.qid, d.id FROM qs q CROSS JOIN LATERAL (
        SELECT id, embedding <=> q.emb AS dist FROM docs ORDER BY embedding <=> q.emb, id LIMIT 10) d
        ORDER BY q.qid, d.dist, d.id""")
    cur.execute("RESET enable_indexscan")
    cur.execute("SET hnsw.ef_search = 100")
    record("vector HNSW", """SELECT q.qid, d.id FROM qs q CROSS JOIN LATERAL (
        SELECT id, embedding <=> q.emb AS dist FROM docs ORDER BY embedding <=> q.emb LIMIT 10) d
        ORDER BY q.qid, d.dist, d.id""")
    hybrid = """SELECT q.qid, h.id FROM qs q CROSS JOIN LATERAL pg_embed_hybrid_search(
        'docs', q.body, k => %s, text_weight => %s, vector_weight => %s, candidates => %s,
        rank_normalization => %s, query_embedding => q.emb) h ORDER BY q.qid, h.score DESC, h.id"""
    for n in TEXT_NORMS:
        record(f"text (ts_rank_cd, norm={n})", hybrid, (60, 1.0, 0.0, 40, n))
    for s in GRID:
        k, w, c, n = s
        record(label(s), hybrid, (k, w, 1.0, c, n))
    return systems, embed_s


def markdown(results):
    chosen = results.get("chosen")
    lines = ["| set | system | MRR@10 | P@1 | Recall@10 | nDCG@10 |", "|---|---|---|---|---|---|"]
    for name in SETS:
        s = results["sets"].get(name)
        if not s:
            continue
        first = f"{name} ({s['corpus']} docs, {s['queries']} queries)"
        order = ["bm25 (Python, reference)", "vector exact", "vector HNSW"] + \
                [f"text (ts_rank_cd, norm={n})" for n in TEXT_NORMS] + \
                [label(g) for g in GRID]
        for sysname in order:
            r = s["systems"].get(sysname)
            if not r:
                continue
            m = r["metrics"]
            mark = " **(chosen on code)**" if sysname == chosen else ""
            lines.append(f"| {first} | {sysname}{mark} | {m['mrr@10']:.3f} | {m['p@1']:.3f} | "
                         f"{m['recall@10']:.3f} | {m['ndcg@10']:.3f} |")
            first = ""
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dsn", default="host=127.0.0.1 port=25432 user=postgres dbname=postgres")
    ap.add_argument("--sets", default=",".join(SETS), help="comma-separated, of " + ",".join(SETS))
    ap.add_argument("--limit", type=int, default=0, help="quick run on N queries (evaluate.py's choice)")
    ap.add_argument("--results", default=os.path.join(HERE, "hybrid_results.json"))
    a = ap.parse_args()
    a.data = os.path.join(HERE, "data")
    sets = [s for s in a.sets.split(",") if s]
    with psycopg.connect(a.dsn, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {DB}")
        admin.execute(f"CREATE DATABASE {DB}")
    dsn = a.dsn.replace("dbname=postgres", f"dbname={DB}")
    results = {"environment": environment(a.dsn), "sets": {}, "grid": [label(g) for g in GRID]}
    with psycopg.connect(dsn, options="-c pg_embed.precision=fp32", autocommit=True) as conn:
        conn.execute("CREATE EXTENSION pg_embed CASCADE")
        if not conn.execute("SELECT to_regproc('pg_embed_hybrid_search') IS NOT NULL").fetchone()[0]:
            sys.exit("the installed pg_embed has no pg_embed_hybrid_search: run scripts/install.sh from this checkout")
        lib = library_path(conn.cursor())
        results["pg_embed.so sha256"] = file_sha256(lib)
        for name in sets:
            corpus, queries, qrels = load_set(a.data, name, a.limit)
            print(f"{name}: {len(corpus)} documents, {len(queries)} queries", flush=True)
            bm25, _ = bm25_rank(corpus, queries)
            m, ranks = score_run(bm25, qrels)
            print(f"  {'bm25 (Python, reference)':34s} MRR@10 {m['mrr@10']:.3f}", flush=True)
            systems, embed_s = run_set(conn, corpus, queries, qrels)
            systems = {"bm25 (Python, reference)": {"metrics": m, "ranks": ranks}, **systems}
            results["sets"][name] = {"corpus": len(corpus), "queries": len(queries), "limit": a.limit,
                                     "embed_s": embed_s, "systems": systems}
        if file_sha256(lib) != results["pg_embed.so sha256"]:
            print("note: pg_embed.so was replaced during the run; this connection kept the one it loaded",
                  file=sys.stderr)
        conn.execute("DROP TABLE IF EXISTS docs, qs")
    if TUNE_SET in results["sets"]:
        tune = results["sets"][TUNE_SET]["systems"]
        results["chosen"] = max((label(g) for g in GRID), key=lambda s: tune[s]["metrics"]["mrr@10"])
    table = markdown(results)
    write_results(results, a.results, table)
    print()
    print(f"chosen on {TUNE_SET}: {results.get('chosen')}")
    print(table)


if __name__ == "__main__":
    main()
