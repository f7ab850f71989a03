#!/usr/bin/env python3
"""BM25 inside PostgreSQL, measured through SQL in one run.

    /var/lib/pg_embed-dev/venv/bin/python benches/bm25/run.py [--parts parity hybrid scale] [--models M ...] [--docs 100000]

Starts a throwaway cluster (tests/reliability/cluster.py) and:

1. Parity and quality. Loads each retrieval set (benches/accuracy/data: code, code-masked, faq)
   into a table with a generated terms column (pg_embed_bm25_terms), a GIN index and
   pg_embed_bm25_register, then asks pg_embed_bm25_search for every query's top 100. Each score
   is compared with the reference BM25 in Python (evaluate.py's tokens; k1 1.2, b 0.75,
   idf = ln(1 + (N - df + 0.5) / (df + 0.5))) computed here for the same documents, and the
   ranking is scored with evaluate.py's metrics (MRR@10).
2. Hybrid. For each model, embeds the sets through SQL (embed(body, model)), takes the vector
   side's top 40 and top 100 (ORDER BY <=>) and BM25's from SQL, chooses the fusion's k, text
   weight and candidates on `code` (grid below, the fusion pg_embed_hybrid_search computes), then
   runs pg_embed_hybrid_search with that setting on every set, and with its defaults (with a
   95% paired-bootstrap interval of each against the vector side, evaluate.py's).
3. Scale. A table of --docs documents, each the first half of one benchmark document and the
   second half of another (seeded), its vector the normalised sum of theirs (all-MiniLM-L6-v2);
   GIN and HNSW indexes. Latency p50 / p99 (client wall time) of pg_embed_bm25_search and
   pg_embed_hybrid_search (the query embedded each time) over 200 queries; the sizes of the
   terms column and its GIN index; the cost of a single-row INSERT and of INSERT ... SELECT with
   no terms column, with the terms column and its index, and registered (statistics kept),
   alternating in rounds; and, as the alternative, pgvector's sparsevec carrying BM25 weights
   under an HNSW index: its recall@10 against the exact ranking and its latency.

Writes benches/bm25/results.json and prints a summary.
"""
import argparse
import json
import math
import os
import platform
import random
import statistics
import sys
import time
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(ROOT, "tests", "reliability"))
sys.path.insert(0, os.path.join(ROOT, "benches", "accuracy"))
from cluster import Cluster  # noqa: E402
from evaluate import SETS, bm25_tokens, load_set, retention_interval, score_run  # noqa: E402

K1, B = 1.2, 0.75
DEPTH = 100
KS = [1, 5, 10, 30, 60]
WEIGHTS = [0.1, 0.25, 0.5, 0.75, 1.0, 1.5]
CANDIDATES = [40, 100]  # from each side
TUNE_SET = "code"
DIMS = {"all-MiniLM-L6-v2": 384, "all-mpnet-base-v2": 768}


def cpu():
    flags, name = set(), platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                elif line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    break
    except OSError:
        pass
    return {"model": name, "cores": os.cpu_count(),
            "avx2": "avx2" in flags, "avx512f": "avx512f" in flags, "avx512_vnni": "avx512_vnni" in flags}


class Reference:
    """The benchmark's BM25 (evaluate.py's tokens and formula), with scores."""

    def __init__(self, corpus):
        self.ids = [d for d, _ in corpus]
        self.tf = [Counter(bm25_tokens(t)) for _, t in corpus]
        self.len = [sum(c.values()) for c in self.tf]
        self.df = Counter(t for c in self.tf for t in c)
        self.n = len(corpus)
        self.avgdl = sum(self.len) / self.n

    def scores(self, query):
        out = {}
        terms = set(bm25_tokens(query))
        for i, tf in enumerate(self.tf):
            s = 0.0
            for t in terms:
                if t in tf:
                    idf = math.log(1 + (self.n - self.df[t] + 0.5) / (self.df[t] + 0.5))
                    norm = K1 * (1 - B + B * self.len[i] / self.avgdl)
                    s += idf * tf[t] * (K1 + 1) / (tf[t] + norm)
            if s > 0:
                out[self.ids[i]] = s
        return out


def fuse(vector, text, k, w, depth=10):
    """pg_embed_hybrid_search's fusion: 1 / (k + vector rank) + w / (k + text rank), ties by id."""
    fused = {}
    for qid in vector:
        score = {}
        for r, d in enumerate(vector[qid], 1):
            score[d] = score.get(d, 0.0) + 1.0 / (k + r)
        for r, d in enumerate(text.get(qid, []), 1):
            score[d] = score.get(d, 0.0) + w / (k + r)
        fused[qid] = sorted(score, key=lambda d: (-score[d], d))[:depth]
    return fused


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def timed(conn, sql, params=None):
    t0 = time.perf_counter()
    rows = conn.execute(sql, params).fetchall()
    return time.perf_counter() - t0, rows


def load_sets(conn, data):
    """Tables bm25_<set> with bigint ids in the order of the documents' ids (so ties break as in
    the reference) and the maps between the two."""
    sets = {}
    for name in SETS:
        corpus, queries, qrels = load_set(data, name, 0)
        order = sorted(d for d, _ in corpus)
        num = {d: i for i, d in enumerate(order, 1)}
        table = "bm25_" + name.replace("-", "_")
        conn.execute(f"CREATE TABLE {table} (id bigint PRIMARY KEY, body text, "
                     "terms text[] GENERATED ALWAYS AS (pg_embed_bm25_terms(body)) STORED)")
        with conn.cursor() as cur:
            cur.executemany(f"INSERT INTO {table} (id, body) VALUES (%s, %s)", [(num[d], t) for d, t in corpus])
        conn.execute(f"CREATE INDEX ON {table} USING gin (terms)")
        conn.execute(f"SELECT pg_embed_bm25_register('{table}')")
        conn.execute(f"ANALYZE {table}")
        sets[name] = {"table": table, "corpus": corpus, "queries": queries, "qrels": qrels,
                      "name_of": {i: d for d, i in num.items()}}
    return sets


def parity(conn, sets):
    out = {}
    for name, s in sets.items():
        ref = Reference(s["corpus"])
        ranking, worst, mismatched, times = {}, 0.0, 0, []
        for qid, text in s["queries"]:
            dt, rows = timed(conn, "SELECT id, score FROM pg_embed_bm25_search(%s, %s, max_results => %s)",
                             (s["table"], text, DEPTH))
            times.append(dt)
            got = [(s["name_of"][i], sc) for i, sc in rows]
            want = ref.scores(text)
            for d, sc in got:
                worst = max(worst, abs(sc - want.get(d, 0.0)))
            # Every document the reference puts above the SQL top 100's last score is in it.
            floor = got[-1][1] if len(got) == DEPTH else 0.0
            expected = {d for d, sc in want.items() if sc > floor + 1e-9}
            if not expected <= {d for d, _ in got}:
                mismatched += 1
            ranking[qid] = [d for d, _ in got]
        metrics, _ = score_run(ranking, s["qrels"])
        out[name] = {"mrr@10": metrics["mrr@10"], "max_abs_score_difference": worst,
                     "queries_whose_top_100_missed_a_document": mismatched, "queries": len(s["queries"]),
                     "search_ms_p50": 1000 * pct(times, 50), "search_ms_p99": 1000 * pct(times, 99)}
        s["bm25"] = ranking
        print(f"parity {name}: MRR@10 {metrics['mrr@10']:.4f}, max |score - reference| {worst:.2e}, "
              f"top-100 misses {mismatched}, p50 {out[name]['search_ms_p50']:.2f} ms", flush=True)
    return out


def hybrid(conn, sets, model):
    dims = DIMS[model]
    rankings = {}
    for name, s in sets.items():
        t = s["table"]
        conn.execute(f"ALTER TABLE {t} DROP COLUMN IF EXISTS embedding")
        conn.execute(f"ALTER TABLE {t} ADD COLUMN embedding vector({dims})")
        t0 = time.perf_counter()
        conn.execute(f"UPDATE {t} SET embedding = embed(body, %s)", (model,))
        conn.execute(f"CREATE INDEX ON {t} USING hnsw (embedding vector_cosine_ops)")
        conn.execute(f"ANALYZE {t}")
        qv = {}
        for qid, text in s["queries"]:
            qv[qid] = conn.execute("SELECT embed(%s, %s)::text", (text, model)).fetchone()[0]
        print(f"hybrid {model} {name}: embedded in {time.perf_counter() - t0:.0f} s", flush=True)
        vec, text_side = {}, {}
        conn.execute(f"SET hnsw.ef_search = {max(CANDIDATES)}")
        for qid, text in s["queries"]:
            rows = conn.execute(f"SELECT id FROM {t} ORDER BY embedding <=> %s::vector LIMIT {max(CANDIDATES)}",
                                (qv[qid],)).fetchall()
            vec[qid] = [s["name_of"][i] for i, in rows]
            text_side[qid] = s["bm25"][qid][:max(CANDIDATES)]
        conn.execute("RESET hnsw.ef_search")
        s["qv"] = qv
        rankings[name] = (vec, text_side)
    grid = []
    vec, text_side = rankings[TUNE_SET]
    cut = lambda lists, c: {q: d[:c] for q, d in lists.items()}  # noqa: E731
    for c in CANDIDATES:
        for k in KS:
            for w in WEIGHTS:
                m = score_run(fuse(cut(vec, c), cut(text_side, c), k, w), sets[TUNE_SET]["qrels"])[0]["mrr@10"]
                grid.append((m, -c, -k, w))  # ties: fewer candidates, smaller k, smaller weight
    best, c, k, w = max(grid)
    c, k = -c, -k
    out = {"chosen_on_code": {"k": k, "text_weight": w, "candidates": c, "code mrr@10 (fused lists)": best},
           "grid": [{"mrr@10": m, "candidates": -cc, "k": -kk, "text_weight": ww} for m, cc, kk, ww in sorted(grid, reverse=True)],
           "sets": {}}
    for name, s in sets.items():
        vec, _ = rankings[name]
        (vector_metrics, vector_ranks) = score_run(vec, s["qrels"])
        entry = {"bm25": score_run(s["bm25"], s["qrels"])[0]["mrr@10"], "vector": vector_metrics["mrr@10"]}
        chosen = "k => %s, text_weight => %s, candidates => %s, " % (k, w, c)
        for label, settings in (("hybrid (chosen)", chosen), ("hybrid (defaults)", "")):
            ranking, times = {}, []
            for qid, text in s["queries"]:
                dt, rows = timed(conn, "SELECT id FROM pg_embed_hybrid_search(%s, %s, " + settings +
                                 "query_embedding => %s::vector, tsvector_column => NULL)",
                                 (s["table"], text, s["qv"][qid]))
                times.append(dt)
                ranking[qid] = [s["name_of"][i] for i, in rows]
            metrics, ranks = score_run(ranking, s["qrels"])
            entry[label] = metrics["mrr@10"]
            entry[label + " ms p50"] = 1000 * pct(times, 50)
            # 95% paired bootstrap of the ratio to the vector side (2,000 resamples of the queries)
            entry[label + " / vector, 95% interval"] = retention_interval(vector_ranks, ranks)
        if name == TUNE_SET:
            entry["python fusion of the SQL lists (check)"] = score_run(
                fuse(cut(vec, c), cut(rankings[name][1], c), k, w), s["qrels"])[0]["mrr@10"]
        entry["hybrid / max(bm25, vector)"] = entry["hybrid (chosen)"] / max(entry["bm25"], entry["vector"])
        out["sets"][name] = entry
        print(f"hybrid {model} {name}: BM25 {entry['bm25']:.3f}, vector {entry['vector']:.3f}, "
              f"hybrid (k {k}, w {w}, c {c}) {entry['hybrid (chosen)']:.3f}, defaults {entry['hybrid (defaults)']:.3f}, "
              f"ratio {entry['hybrid / max(bm25, vector)']:.3f}, / vector 95% "
              f"{entry['hybrid (chosen) / vector, 95% interval'][0]:.3f}-{entry['hybrid (chosen) / vector, 95% interval'][1]:.3f} "
              f"(defaults {entry['hybrid (defaults) / vector, 95% interval'][0]:.3f}-"
              f"{entry['hybrid (defaults) / vector, 95% interval'][1]:.3f})", flush=True)
    return out


def scale(conn, sets, n_docs, rounds):
    rnd = random.Random(7)
    for t in ("bm25_code", "bm25_faq"):  # the vectors the documents are mixed from
        if not conn.execute("SELECT 1 FROM pg_attribute WHERE attrelid = %s::regclass AND attname = 'embedding'",
                            (t,)).fetchone():
            conn.execute(f"ALTER TABLE {t} ADD COLUMN embedding vector(384)")
            conn.execute(f"UPDATE {t} SET embedding = embed(body, 'all-MiniLM-L6-v2')")
    base = conn.execute("SELECT id, body, embedding::text FROM bm25_code UNION ALL "
                        "SELECT id + 1000000, body, embedding::text FROM bm25_faq").fetchall()
    conn.execute("CREATE TABLE big (id bigint PRIMARY KEY, body text, "
                 "terms text[] GENERATED ALWAYS AS (pg_embed_bm25_terms(body)) STORED, embedding vector(384))")
    rows = []
    for j in range(1, n_docs + 1):
        a, b = rnd.choice(base), rnd.choice(base)
        rows.append((j, a[1][:len(a[1]) // 2] + "\n" + b[1][len(b[1]) // 2:], a[0], b[0]))
    conn.execute("CREATE TEMP TABLE mix (id bigint, body text, a bigint, b bigint)")
    with conn.cursor() as cur:
        with cur.copy("COPY mix FROM STDIN") as cp:
            for r in rows:
                cp.write_row(r)
    conn.execute("CREATE TEMP TABLE basev AS SELECT id, embedding FROM bm25_code UNION ALL "
                 "SELECT id + 1000000, embedding FROM bm25_faq")
    t0 = time.perf_counter()
    conn.execute("INSERT INTO big (id, body, embedding) SELECT m.id, m.body, l2_normalize(x.embedding + y.embedding) "
                 "FROM mix m JOIN basev x ON x.id = m.a JOIN basev y ON y.id = m.b")
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    conn.execute("CREATE INDEX big_terms ON big USING gin (terms)")
    gin_s = time.perf_counter() - t0
    conn.execute("CREATE INDEX big_hnsw ON big USING hnsw (embedding vector_cosine_ops)")
    t0 = time.perf_counter()
    conn.execute("SELECT pg_embed_bm25_register('big')")
    register_s = time.perf_counter() - t0
    conn.execute("VACUUM ANALYZE big")
    queries = [q for s in ("code", "faq") for _, q in sets[s]["queries"]]
    queries = rnd.sample(queries, 200)
    out = {"documents": n_docs, "load_s": load_s, "gin_build_s": gin_s, "register_s": register_s}
    out["terms_column_mb"] = conn.execute("SELECT sum(pg_column_size(terms)) / 1048576.0 FROM big").fetchone()[0]
    out["body_column_mb"] = conn.execute("SELECT sum(pg_column_size(body)) / 1048576.0 FROM big").fetchone()[0]
    out["gin_index_mb"] = conn.execute("SELECT pg_relation_size('big_terms') / 1048576.0").fetchone()[0]
    out["table_mb"] = conn.execute("SELECT pg_total_relation_size('big') / 1048576.0").fetchone()[0]
    # Latency, after one warm-up pass.
    lat = {"bm25": [], "hybrid": [], "vector": [], "candidates": []}
    for q in queries:
        conn.execute("SELECT * FROM pg_embed_bm25_search('big', %s)", (q,)).fetchall()
    for q in queries:
        lat["bm25"].append(timed(conn, "SELECT * FROM pg_embed_bm25_search('big', %s)", (q,))[0])
        lat["hybrid"].append(timed(conn, "SELECT * FROM pg_embed_hybrid_search('big', %s, tsvector_column => NULL)", (q,))[0])
        lat["vector"].append(timed(conn, "SELECT id FROM big ORDER BY embedding <=> embed_doc(%s) LIMIT 10", (q,))[0])
        lat["candidates"].append(conn.execute(
            "SELECT count(*) FROM big WHERE terms && pg_embed_bm25_query_terms(%s)", (q,)).fetchone()[0])
    for key in ("bm25", "hybrid", "vector"):
        out[f"{key}_ms_p50"] = 1000 * pct(lat[key], 50)
        out[f"{key}_ms_p99"] = 1000 * pct(lat[key], 99)
    out["candidates_p50"] = pct(lat["candidates"], 50)
    out["candidates_p99"] = pct(lat["candidates"], 99)
    print(f"scale: {n_docs} documents; BM25 p50 {out['bm25_ms_p50']:.1f} ms p99 {out['bm25_ms_p99']:.1f} ms; "
          f"hybrid p50 {out['hybrid_ms_p50']:.1f} ms p99 {out['hybrid_ms_p99']:.1f} ms; "
          f"GIN {out['gin_index_mb']:.1f} MB, terms {out['terms_column_mb']:.1f} MB", flush=True)
    out["writes"] = writes(conn, rounds)
    out["sparsevec"] = sparsevec(conn, queries)
    return out


def writes(conn, rounds, per_round=500):
    """Single-row INSERTs and one INSERT ... SELECT per configuration, alternating in rounds."""
    configs = {
        "plain": "CREATE TABLE w_plain (id bigint PRIMARY KEY, body text)",
        "terms + GIN": "CREATE TABLE w_terms (id bigint PRIMARY KEY, body text, "
                       "terms text[] GENERATED ALWAYS AS (pg_embed_bm25_terms(body)) STORED); "
                       "CREATE INDEX ON w_terms USING gin (terms)",
        "registered": "CREATE TABLE w_reg (id bigint PRIMARY KEY, body text, "
                      "terms text[] GENERATED ALWAYS AS (pg_embed_bm25_terms(body)) STORED); "
                      "CREATE INDEX ON w_reg USING gin (terms); SELECT pg_embed_bm25_register('w_reg')",
    }
    tables = {"plain": "w_plain", "terms + GIN": "w_terms", "registered": "w_reg"}
    bodies = [b for b, in conn.execute("SELECT body FROM big ORDER BY id LIMIT %s", (per_round * rounds,))]
    for sql in configs.values():
        for stmt in sql.split("; "):
            conn.execute(stmt)
    single = {c: [] for c in configs}
    bulk = {c: [] for c in configs}
    next_id = {c: 1 for c in configs}
    for r in range(rounds):
        chunk = bodies[r * per_round:(r + 1) * per_round]
        for c in (list(configs) if r % 2 == 0 else list(reversed(configs))):
            t = tables[c]
            for body in chunk:
                dt, _ = timed_exec(conn, f"INSERT INTO {t} (id, body) VALUES (%s, %s)", (next_id[c], body))
                next_id[c] += 1
                single[c].append(dt)
            t0 = time.perf_counter()
            conn.execute(f"INSERT INTO {t} (id, body) SELECT id + 10000000 * %s, body FROM big WHERE id <= 2000",
                         (r + 1,))
            bulk[c].append((time.perf_counter() - t0) / 2000)
    out = {c: {"single_row_insert_us_p50": 1e6 * pct(single[c], 50),
               "single_row_insert_us_p99": 1e6 * pct(single[c], 99),
               "insert_select_us_per_row": 1e6 * statistics.median(bulk[c])} for c in configs}
    out["registered change_rows after"] = conn.execute(
        "SELECT change_rows FROM pg_embed_bm25_indexes WHERE relation = 'w_reg'::regclass").fetchone()[0]
    out["registered consistent"] = conn.execute("SELECT consistent FROM pg_embed_bm25_check('w_reg')").fetchone()[0]
    for c, v in out.items():
        print(f"writes {c}: {v}", flush=True)
    return out


def timed_exec(conn, sql, params):
    t0 = time.perf_counter()
    conn.execute(sql, params)
    return time.perf_counter() - t0, None


def sparsevec(conn, queries, dim=1_000_000):
    """BM25 carried by pgvector's sparsevec: document weights tf (k1 + 1) / (tf + norm) frozen at
    load time, query weights idf; inner product = BM25. HNSW indexes at most 1,000 non-zero
    elements: longer documents keep their 1,000 heaviest terms."""
    docs = conn.execute("SELECT id, terms FROM big").fetchall()
    vocab, tfs = {}, []
    lengths = []
    for i, terms in docs:
        c = Counter(terms)
        tfs.append((i, c))
        lengths.append(len(terms))
        for t in c:
            vocab.setdefault(t, len(vocab) + 1)
    n, avgdl = len(docs), sum(lengths) / len(docs)
    df = Counter(t for _, c in tfs for t in c)
    conn.execute("CREATE TABLE big_sv (id bigint PRIMARY KEY, sv sparsevec(%s))" % dim)
    truncated = 0
    with conn.cursor() as cur:
        with cur.copy("COPY big_sv FROM STDIN") as cp:
            for (i, c), ln in zip(tfs, lengths):
                norm = K1 * (1 - B + B * ln / avgdl)
                w = sorted(((vocab[t], f * (K1 + 1) / (f + norm)) for t, f in c.items()), key=lambda x: -x[1])
                if len(w) > 1000:
                    truncated += 1
                    w = w[:1000]
                w.sort()
                cp.write_row((i, "{" + ",".join(f"{k}:{v:.7g}" for k, v in w) + "}/%d" % dim))
    t0 = time.perf_counter()
    conn.execute("CREATE INDEX big_sv_hnsw ON big_sv USING hnsw (sv sparsevec_ip_ops)")
    build_s = time.perf_counter() - t0
    size_mb = conn.execute("SELECT pg_relation_size('big_sv_hnsw') / 1048576.0").fetchone()[0]
    recall, times = [], []
    conn.execute("SET hnsw.ef_search = 100")
    for q in queries:
        terms = [t for t in set(bm25_tokens(q)) if t in vocab]
        if not terms:
            continue
        qv = "{" + ",".join(f"{vocab[t]}:{math.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5)):.7g}"
                            for t in sorted(terms, key=lambda t: vocab[t])) + "}/%d" % dim
        exact = [i for i, _ in conn.execute("SELECT * FROM pg_embed_bm25_search('big', %s)", (q,))]
        dt, rows = timed(conn, "SELECT id FROM big_sv ORDER BY sv <#> %s::sparsevec LIMIT 10", (qv,))
        times.append(dt)
        recall.append(len(set(exact) & {i for i, in rows}) / max(1, len(exact)))
    out = {"documents_over_1000_terms (truncated)": truncated, "hnsw_build_s": build_s, "hnsw_mb": size_mb,
           "ef_search": 100, "recall@10_vs_exact": statistics.mean(recall),
           "ms_p50": 1000 * pct(times, 50), "ms_p99": 1000 * pct(times, 99)}
    print(f"sparsevec: recall@10 {out['recall@10_vs_exact']:.3f}, p50 {out['ms_p50']:.1f} ms, "
          f"HNSW {size_mb:.1f} MB built in {build_s:.0f} s", flush=True)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="*", default=None,
                    help="models for the hybrid part (default: all-MiniLM-L6-v2, and all-mpnet-base-v2 if present)")
    ap.add_argument("--model-dir", default=None)
    ap.add_argument("--docs", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--parts", nargs="*", default=["parity", "hybrid", "scale"], choices=["parity", "hybrid", "scale"],
                    help="what to run (parity always runs: the others use its rankings); results of parts not run are kept")
    ap.add_argument("--out", default=os.path.join(HERE, "results.json"))
    a = ap.parse_args()
    home = os.environ.get("PGE_HOME", "/var/lib/pg_embed-dev")
    model_dir = a.model_dir or next((d for d in (os.path.join(home, "models-extra"), os.path.join(home, "models"))
                                     if os.path.isdir(os.path.join(d, "all-MiniLM-L6-v2"))), None)
    models = a.models
    if models is None:
        models = ["all-MiniLM-L6-v2"] + (["all-mpnet-base-v2"] if model_dir and os.path.isdir(
            os.path.join(model_dir, "all-mpnet-base-v2")) else [])
    settings = {"pg_embed.model_dir": f"'{model_dir}'"} if model_dir else {}
    settings.update({"maintenance_work_mem": "'512MB'", "work_mem": "'64MB'", "shared_buffers": "'1GB'"})
    results = {}
    if os.path.exists(a.out):
        with open(a.out) as f:
            results = json.load(f)
    results.update({"method": __doc__.split("\n\n", 2)[2].strip(), "cpu": cpu(), "k1": K1, "b": B})
    with Cluster("bm25-bench", settings=settings) as c:
        conn = c.connect()
        conn.execute("SET client_min_messages = warning")
        results["postgres"] = conn.execute("SELECT version()").fetchone()[0]
        sets = load_sets(conn, os.path.join(ROOT, "benches", "accuracy", "data"))
        results["parity"] = parity(conn, sets)
        if "hybrid" in a.parts:
            results["hybrid"] = {}
            # The scale part mixes all-MiniLM-L6-v2 vectors: embed with it last.
            for m in sorted(models, key=lambda m: m == "all-MiniLM-L6-v2"):
                results["hybrid"][m] = hybrid(conn, sets, m)
        if "scale" in a.parts:
            results["scale"] = scale(conn, sets, a.docs, a.rounds)
    with open(a.out + ".tmp", "w") as f:  # a failed dump leaves the old results whole
        json.dump(results, f, indent=1, default=float)
        f.write("\n")
    os.replace(a.out + ".tmp", a.out)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
