#!/usr/bin/env python3
"""Retrieval on a mixed corpus (code and prose in one table): routing with embed_auto against
one model used for everything, through SQL.

    /var/lib/pg_embed-dev/venv/bin/python benches/accuracy/mixed.py \\
        [--code-pairs 600] [--admin-dsn DSN] [--database mixed_bench] [--keep]
        # quick check (not comparable with full runs): --code-pairs 30 --faq-queries 30

Corpus: the union of two sets that build_data.py makes (benches/accuracy/data/): the
--code-pairs pairs of `code` with the smallest SHA-1 of their query id (evaluate.py's --limit
rule, so each kept query brings exactly its own function), and all of `faq`. Ids are prefixed
`code:` and `faq:` so they stay distinct. Every query is ranked against the whole mixed corpus.

The script creates its own database (--database, which must not exist), creates the `vector`
and `pg_embed` extensions in it, and drops it at the end (unless --keep). A fresh database
matters: routing pins its first choice per role per database (table pg_embed_selection), so
configuration (a), which runs first, sees and pins the default choice.

Configurations, each in a new connection (one backend, default settings otherwise):

  (a) embed_auto for documents and queries, default preferences;
  (b) embed_doc (all-MiniLM-L6-v2) for everything;
  (c) embed(text, 'paraphrase-MiniLM-L3-v2') for everything;
  (d) embed_auto with `SET pg_embed.code_models = 'paraphrase-MiniLM-L3-v2'` in the session, so
      texts detected as code are embedded with L3 and prose with L6.

Each document and query is stored with the model that embedded it (`embed_auto_model` in the
same statement as `embed_auto`; a constant for (b) and (c)), in one `vector` column, as the
README's "model column" layout does. Vectors of different models are not comparable, so the
ranking for (a) and (d) is computed in two model-aware ways:

  role   the query is embedded by embed_auto and compared only with documents whose model is the
         query's (`WHERE d.model = q.model`): the search the query's role would use;
  merge  the query is embedded again with every model present among the documents
         (`embed(q, model)`), each model's documents are searched with the query of that model
         (top 10 each), and the lists are merged by rank: rank 1 of every list, then rank 2 ...,
         the query's own model first at equal rank;

and, only to show what mixing does, a third way that is wrong on purpose:

  naive  every document is compared with the query vector whatever model made it.

For (d) one more row shows what a caller that knows the kind of text sought (separate code and
FAQ search boxes) would get: `sought` uses only merge's list for the model that embedded most
documents of the query's kind (code: L3, faq: L6). It uses the query's label, which embed_auto
cannot know.

With one model in the column all four are the same search; the script checks that they give
the same ranking and reports one row. Search is exact (`ORDER BY emb <=> q.emb, id LIMIT 10` in
a LATERAL join, no index). Metrics are evaluate.py's score_run (MRR@10, P@1, Recall@10,
nDCG@10, ties broken by document id), over all queries and per query type. The MRR@10 of each
row relative to (b) comes with evaluate.py's 95% paired-bootstrap interval.

If pg_embed.so is replaced while a configuration runs, or its backend is lost, that
configuration is discarded and repeated (the dev cluster is shared). Prints a Markdown report;
writes no files.
"""
import argparse
import os
import sys
import time
from collections import Counter, defaultdict

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from evaluate import Retry, file_sha256, library_path, load_set, retention_interval, score_run  # noqa: E402

L6 = "all-MiniLM-L6-v2"
L3 = "paraphrase-MiniLM-L3-v2"
K = 10

CONFIGS = [
    # key, title, session settings, model expression, embedding expression
    ("a", "(a) embed_auto, default preferences", [],
     "embed_auto_model(body)", "embed_auto(body)"),
    ("b", f"(b) {L6} for everything (embed_doc)", [],
     f"'{L6}'", "embed_doc(body)"),
    ("c", f"(c) {L3} for everything", [],
     f"'{L3}'", f"embed(body, '{L3}')"),
    ("d", f"(d) embed_auto, code_models = {L3}", [f"SET pg_embed.code_models = '{L3}'"],
     "embed_auto_model(body)", "embed_auto(body)"),
]


def load_mixed(data_dir, code_pairs, faq_queries=0):
    corpus, queries, qrels = [], [], {}
    for name, limit in (("code", code_pairs), ("faq", faq_queries)):
        c, q, r = load_set(data_dir, name, limit)
        corpus += [(f"{name}:{i}", t) for i, t in c]
        queries += [(f"{name}:{i}", t) for i, t in q]
        qrels.update({f"{name}:{qid}": {f"{name}:{cid}": s for cid, s in rel.items()}
                      for qid, rel in r.items()})
    return corpus, queries, qrels


def kind_of(text_id):
    return text_id.split(":", 1)[0]


def interleave(lists, k=K):
    """Merge ranked lists by rank: every list's first, then every list's second ..."""
    out, seen = [], set()
    for rank in range(max((len(l) for l in lists), default=0)):
        for l in lists:
            if rank < len(l) and l[rank] not in seen:
                seen.add(l[rank])
                out.append(l[rank])
    return out[:k]


def run_config(dsn, config, corpus, queries):
    key, title, settings, model_expr, emb_expr = config
    notices = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.add_notice_handler(lambda d: notices.append(d.message_primary))
        cur = conn.cursor()
        lib = library_path(cur)
        lib_before = file_sha256(lib)
        for s in settings:
            cur.execute(s)
        for t in ("docs", "qs"):
            cur.execute(f"CREATE TEMP TABLE raw_{t} (id text PRIMARY KEY, body text NOT NULL)")
            cur.execute(f"CREATE TEMP TABLE emb_{t} (id text PRIMARY KEY, model text NOT NULL, "
                        f"emb vector NOT NULL)")
            with cur.copy(f"COPY raw_{t} (id, body) FROM STDIN") as cp:
                for row in (corpus if t == "docs" else queries):
                    cp.write_row(row)
        cur.execute("ANALYZE raw_docs; ANALYZE raw_qs")
        timing = {}
        for t, n in (("docs", len(corpus)), ("qs", len(queries))):
            t0 = time.perf_counter()
            cur.execute(f"INSERT INTO emb_{t} (id, model, emb) "
                        f"SELECT id, {model_expr}, {emb_expr} FROM raw_{t}")
            timing[t] = time.perf_counter() - t0
            timing[t + "_per_s"] = n / timing[t]
        cur.execute("ANALYZE emb_docs; ANALYZE emb_qs")
        models_used = Counter()
        for t in ("docs", "qs"):
            for tid, model in cur.execute(f"SELECT id, model FROM emb_{t}"):
                models_used[(t, kind_of(tid), model)] += 1
        loaded = dict(cur.execute("SELECT name, loaded_precision FROM pg_embed_models "
                                  "WHERE loaded").fetchall())
        doc_models = sorted(m for (m,) in cur.execute("SELECT DISTINCT model FROM emb_docs"))

        def fetch_ranking(query):
            ranking = defaultdict(list)
            for qid, did in cur.execute(query):
                ranking[qid].append(did)
            return dict(ranking)

        t0 = time.perf_counter()
        rankings = {
            "role": fetch_ranking(f"""
                SELECT q.id, d.id FROM emb_qs q CROSS JOIN LATERAL (
                    SELECT id, emb <=> q.emb AS dist FROM emb_docs
                    WHERE model = q.model ORDER BY emb <=> q.emb, id LIMIT {K}) d
                ORDER BY q.id, d.dist, d.id"""),
            "naive": fetch_ranking(f"""
                SELECT q.id, d.id FROM emb_qs q CROSS JOIN LATERAL (
                    SELECT id, emb <=> q.emb AS dist FROM emb_docs
                    ORDER BY emb <=> q.emb, id LIMIT {K}) d
                ORDER BY q.id, d.dist, d.id"""),
        }
        # merge: the query embedded by each model present among the documents
        cur.execute("CREATE TEMP TABLE emb_qm AS SELECT id, model, emb FROM emb_qs")
        t1 = time.perf_counter()
        cur.execute("""
            INSERT INTO emb_qm (id, model, emb)
            SELECT r.id, m.model, embed(r.body, m.model)
            FROM raw_qs r JOIN emb_qs q USING (id)
            CROSS JOIN (SELECT DISTINCT model FROM emb_docs) m
            WHERE m.model <> q.model""")
        timing["merge_extra_query_embeddings"] = cur.rowcount
        timing["merge_extra_s"] = time.perf_counter() - t1
        per_model = defaultdict(dict)
        for qid, model, did in cur.execute(f"""
                SELECT q.id, q.model, d.id FROM emb_qm q CROSS JOIN LATERAL (
                    SELECT id, emb <=> q.emb AS dist FROM emb_docs
                    WHERE model = q.model ORDER BY emb <=> q.emb, id LIMIT {K}) d
                ORDER BY q.id, q.model, d.dist, d.id"""):
            per_model[qid].setdefault(model, []).append(did)
        own = dict(cur.execute("SELECT id, model FROM emb_qs").fetchall())
        rankings["merge"] = {
            qid: interleave([lists[m] for m in sorted(lists, key=lambda m: (m != own[qid], m))])
            for qid, lists in per_model.items()}
        # sought: the caller knows what kind of text it searches for (a code search box, an FAQ
        # search box) and uses only the list of the model that embedded most documents of that kind
        by_kind = defaultdict(Counter)
        for did, model in cur.execute("SELECT id, model FROM emb_docs"):
            by_kind[kind_of(did)][model] += 1
        sought = {k: c.most_common(1)[0][0] for k, c in by_kind.items()}
        rankings["sought"] = {qid: lists.get(sought[kind_of(qid)], [])
                              for qid, lists in per_model.items()}
        timing["search_s"] = time.perf_counter() - t0
        if file_sha256(lib) != lib_before:
            raise Retry(f"{lib} was replaced during the run")
    return {"key": key, "title": title, "rankings": rankings, "timing": timing,
            "models_used": models_used, "doc_models": doc_models, "loaded": loaded,
            "notices": sorted(set(notices))}


def run_config_retrying(dsn, config, corpus, queries, attempts=3):
    for n in range(1, attempts + 1):
        try:
            return run_config(dsn, config, corpus, queries)
        except (Retry, psycopg.OperationalError) as e:
            if n == attempts:
                raise
            print(f"  ({config[0]}): attempt {n} discarded ({str(e).strip()}); retrying in 30 s",
                  file=sys.stderr, flush=True)
            time.sleep(30)


def detection(dsn, corpus, queries):
    """What the detector says about each text (embed_explain's content kind)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        cur = conn.cursor()
        cur.execute("CREATE TEMP TABLE raw (t text, id text, body text)")
        with cur.copy("COPY raw (t, id, body) FROM STDIN") as cp:
            for t, rows in (("docs", corpus), ("qs", queries)):
                for row in rows:
                    cp.write_row((t, *row))
        counts = Counter()
        for t, tid, kind in cur.execute(
                "SELECT t, id, embed_explain(body)->'content'->>'kind' FROM raw"):
            counts[(t, kind_of(tid), kind)] += 1
        pins = cur.execute("SELECT role, model, preferences, reason FROM pg_embed_selection "
                           "ORDER BY role").fetchall()
    return counts, pins


def fmt(x):
    return f"{x:.3f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--admin-dsn", default="host=127.0.0.1 port=25432 user=postgres dbname=postgres")
    ap.add_argument("--database", default="mixed_bench")
    ap.add_argument("--keep", action="store_true", help="do not drop the database at the end")
    ap.add_argument("--code-pairs", type=int, default=600)
    ap.add_argument("--faq-queries", type=int, default=0,
                    help="quick check: keep N faq queries and their answers (0: all of faq)")
    ap.add_argument("--data", default=os.path.join(HERE, "data"))
    a = ap.parse_args()
    started = time.perf_counter()

    corpus, queries, qrels = load_mixed(a.data, a.code_pairs, a.faq_queries)
    n_docs = Counter(kind_of(i) for i, _ in corpus)
    n_qs = Counter(kind_of(i) for i, _ in queries)
    print(f"corpus: {len(corpus)} documents ({n_docs['code']} code, {n_docs['faq']} faq), "
          f"{len(queries)} queries ({n_qs['code']} code, {n_qs['faq']} faq)", flush=True)

    with psycopg.connect(a.admin_dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(a.database)))
    dsn = make_conninfo(a.admin_dsn, dbname=a.database)
    results = []
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION vector")
            conn.execute("CREATE EXTENSION pg_embed")
            version = conn.execute("SELECT extversion FROM pg_extension "
                                   "WHERE extname = 'pg_embed'").fetchone()[0]
            prefs = conn.execute("SELECT current_setting('pg_embed.code_models'), "
                                 "current_setting('pg_embed.doc_models'), "
                                 "current_setting('pg_embed.fallback_model')").fetchone()
        for config in CONFIGS:
            t0 = time.perf_counter()
            r = run_config_retrying(dsn, config, corpus, queries)
            r["wall_s"] = time.perf_counter() - t0
            results.append(r)
            print(f"  ({r['key']}) {r['wall_s']:.0f} s: documents {r['timing']['docs_per_s']:.1f}/s, "
                  f"queries {r['timing']['qs_per_s']:.1f}/s, document models {r['doc_models']}",
                  flush=True)
        counts, pins = detection(dsn, corpus, queries)
    finally:
        if not a.keep:
            with psycopg.connect(a.admin_dsn, autocommit=True) as admin:
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(a.database)))

    # ------------------------------------------------------------ report
    subsets = [("all", qrels),
               ("code queries", {q: r for q, r in qrels.items() if kind_of(q) == "code"}),
               ("faq queries", {q: r for q, r in qrels.items() if kind_of(q) == "faq"})]
    base = next(r for r in results if r["key"] == "b")
    base_ranks = score_run(base["rankings"]["role"], qrels)[1]
    out = [f"pg_embed {version}; default preferences: code_models = `{prefs[0]}`, "
           f"doc_models = `{prefs[1]}`, fallback_model = `{prefs[2]}`.", "",
           f"Corpus: {len(corpus)} documents ({n_docs['code']} code, {n_docs['faq']} faq), "
           f"{len(queries)} queries ({n_qs['code']} code, {n_qs['faq']} faq).", "",
           "| system | search | queries | MRR@10 | P@1 | Recall@10 | nDCG@10 | MRR@10 / (b), 95% interval |",
           "|---|---|---|---|---|---|---|---|"]
    same = {}
    for r in results:
        searches = ["role", "merge", "sought", "naive"]
        if len(r["doc_models"]) == 1:
            same[r["key"]] = all(r["rankings"][s] == r["rankings"]["role"]
                                 for s in ("merge", "sought", "naive"))
            searches = ["role"]
        for s in searches:
            label = {"role": "query's model" if len(r["doc_models"]) > 1 else "one model",
                     "merge": "each model, merged by rank",
                     "sought": "model of the kind sought (label known)",
                     "naive": "all vectors (invalid)"}[s]
            for i, (name, rel) in enumerate(subsets):
                m, ranks = score_run(r["rankings"][s], rel)
                ratio = ""
                if name == "all":
                    lo, hi = retention_interval(base_ranks, ranks)
                    bm = score_run(base["rankings"]["role"], qrels)[0]["mrr@10"]
                    ratio = f"{100 * m['mrr@10'] / bm:.1f}% ({100 * lo:.1f}–{100 * hi:.1f}%)"
                out.append(f"| {r['title'] if s == searches[0] and i == 0 else ''} | "
                           f"{label if i == 0 else ''} | {name} | {fmt(m['mrr@10'])} | "
                           f"{fmt(m['p@1'])} | {fmt(m['recall@10'])} | {fmt(m['ndcg@10'])} | {ratio} |")
    a_vs_b = results[0]["rankings"]["role"] == base["rankings"]["role"]
    out += ["", f"(a) and (b) give identical rankings: {a_vs_b}. "
            f"One-model rows, all four searches identical: {same}.", ""]

    out += ["Models that embedded each kind of text:", "",
            "| system | code documents | faq documents | code queries | faq queries |",
            "|---|---|---|---|---|"]
    for r in results:
        cells = []
        for t, kind in (("docs", "code"), ("docs", "faq"), ("qs", "code"), ("qs", "faq")):
            c = {m: n for (tt, k, m), n in r["models_used"].items() if tt == t and k == kind}
            cells.append(", ".join(f"{m} {n}" for m, n in sorted(c.items(), key=lambda x: -x[1])))
        out.append(f"| ({r['key']}) | " + " | ".join(cells) + " |")
    out += ["", "Detected content (embed_explain):", "",
            "| texts | code | doc | unknown |", "|---|---|---|---|"]
    for t, kind in (("docs", "code"), ("docs", "faq"), ("qs", "code"), ("qs", "faq")):
        out.append(f"| {kind} {'documents' if t == 'docs' else 'queries'} | " +
                   " | ".join(str(counts.get((t, kind, k), 0)) for k in ("code", "doc", "unknown")) + " |")
    out += ["", "Pins in pg_embed_selection after the run: " +
            "; ".join(f"{role} → {model} ({reason}; preferences {p})" for role, model, p, reason in pins),
            "", "Speed and notices:", ""]
    for r in results:
        t = r["timing"]
        out.append(f"- ({r['key']}) {r['wall_s']:.0f} s; documents {t['docs_per_s']:.1f}/s, "
                   f"queries {t['qs_per_s']:.1f}/s, extra query embeddings for merge "
                   f"{t['merge_extra_query_embeddings']}; loaded {r['loaded']}; notices: "
                   f"{r['notices'] or 'none'}")
    out += ["", f"Total run time: {time.perf_counter() - started:.0f} s."]
    print()
    print("\n".join(out))


if __name__ == "__main__":
    main()
