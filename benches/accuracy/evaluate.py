#!/usr/bin/env python3
"""Retrieval quality of pg_embed's models through SQL, against a BM25 baseline, on the sets
that build_data.py makes (BEIR layout under benches/accuracy/data/).

    /var/lib/pg_embed-dev/venv/bin/python benches/accuracy/evaluate.py \\
        [--models all-MiniLM-L6-v2,...] [--precision fp32,int8] [--sets code,code-masked,faq]
        [--limit N] [--dsn DSN] [--model-dir DIR]

Every built-in model whose files are present (pg_embed_models.files_present) is evaluated at
every precision it has files for, unless --models / --precision narrow the choice. For each
model, precision and set, a new connection (one backend, `pg_embed.precision` set for the
session) loads the corpus and the queries into temporary tables with COPY, embeds them with
`INSERT ... SELECT id, embed(text, model)` (timed: texts/s and the backend's CPU time), and
ranks the whole corpus for every query by exact cosine distance (`ORDER BY emb <=> q.emb, id LIMIT 10` in a LATERAL join, no
index: a sequential scan, so no approximation). The backend's memory is read from
/proc/<pg_backend_pid()>/status (VmRSS, VmHWM), so the script must run on the database host.
Each run records the SHA-256 of the pg_embed.so and model file it used and the smallest cosine
between all-MiniLM-L6-v2 and tests/fixtures/reference.json; a run during which pg_embed.so was
replaced, or whose backend died, is discarded and repeated (the dev cluster is shared).

BM25 (Okapi, k1 = 1.2, b = 0.75, idf = ln(1 + (N - df + 0.5) / (df + 0.5)), each distinct query
term counted once) runs in this process on the same texts. Tokens: maximal runs of ASCII
letters and digits, split again at camelCase boundaries (snake_case is split by the first step,
as `_` is not a letter), lower-cased; no stemming, no stop words.

Metrics (own code, relevance from qrels.tsv, ties broken by document id): MRR@10, P@1,
Recall@10 and nDCG@10 (linear gain, log2 discount), averaged over queries.

--limit N keeps the N queries with the smallest SHA-1 of their id and only the documents
relevant to them: a quick check, not comparable with full runs.

Results are merged into results.json (one entry per set and system); results.md and chart.png
are rewritten from it after every run.
"""
import argparse
import datetime
import hashlib
import json
import math
import os
import platform
import re
import subprocess
import sys
import time
from collections import Counter, defaultdict

import psycopg

HERE = os.path.dirname(os.path.abspath(__file__))
SETS = ["code", "code-masked", "faq"]
MAX_TOKENS = 256  # all-MiniLM-L6-v2's max_tokens, for the token statistics of the data sets
RANKING_DEPTH = 100  # documents kept per query and run (metrics use the top 10; fusion.py more)
BASE_MODEL = "all-MiniLM-L6-v2"  # the model of the chart's speed panel and the token statistics


def systems(results):
    """[(run key, title)]: BM25, then every model's runs in results, fp32 before int8."""
    keys = {k for s in results["sets"].values() for k in s["runs"] if k != "bm25"}
    order = lambda k: (k.split(" ")[0] != BASE_MODEL, k.split(" ")[0], k.split(" ")[1] != "fp32")
    return [("bm25", "BM25")] + [(k, k) for k in sorted(keys, key=order)]


# ---------------------------------------------------------------- data

def load_set(data_dir, name, limit):
    d = os.path.join(data_dir, name)
    with open(os.path.join(d, "corpus.jsonl"), encoding="utf-8") as f:
        corpus = [json.loads(l) for l in f]
    with open(os.path.join(d, "queries.jsonl"), encoding="utf-8") as f:
        queries = [json.loads(l) for l in f]
    qrels = defaultdict(dict)
    with open(os.path.join(d, "qrels.tsv"), encoding="utf-8") as f:
        next(f)
        for line in f:
            qid, cid, score = line.rstrip("\n").split("\t")
            qrels[qid][cid] = int(score)
    corpus = [(c["_id"], (c["title"] + "\n" + c["text"]).strip()) for c in corpus]
    queries = [(q["_id"], q["text"]) for q in queries if q["_id"] in qrels]
    if limit:
        queries = sorted(queries, key=lambda q: hashlib.sha1(q[0].encode()).hexdigest())[:limit]
        wanted = {cid for qid, _ in queries for cid in qrels[qid]}
        corpus = [c for c in corpus if c[0] in wanted]
    return corpus, queries, {qid: qrels[qid] for qid, _ in queries}


# ---------------------------------------------------------------- metrics

def score_run(ranking, qrels, k=10):
    """ranking: {query id: [doc id, ...] best first}. Returns mean metrics over qrels' queries
    and, per query in sorted id order, the rank of the first relevant hit (0: none in the top k),
    for the paired bootstrap."""
    sums, ranks = Counter(), []
    for qid, rel in sorted(qrels.items()):
        top = ranking.get(qid, [])[:k]
        hits = [i for i, d in enumerate(top) if d in rel]
        ranks.append(hits[0] + 1 if hits else 0)
        sums["mrr@10"] += 1 / (hits[0] + 1) if hits else 0
        sums["p@1"] += 1 if top and top[0] in rel else 0
        sums["recall@10"] += len(hits) / len(rel)
        dcg = sum(rel[top[i]] / math.log2(i + 2) for i in hits)
        ideal = sum(g / math.log2(i + 2) for i, g in enumerate(sorted(rel.values(), reverse=True)[:k]))
        sums["ndcg@10"] += dcg / ideal
    return {m: sums[m] / len(qrels) for m in ("mrr@10", "p@1", "recall@10", "ndcg@10")}, " ".join(map(str, ranks))


def retention_interval(base, other, n=2000, seed=0):
    """95% paired-bootstrap interval of MRR(other) / MRR(base) over resampled queries;
    base and other are score_run's rank strings."""
    import numpy as np
    def rr(ranks):
        r = np.array([int(x) for x in ranks.split()], dtype=float)
        return np.divide(1.0, r, out=np.zeros_like(r), where=r > 0)
    base, other = rr(base), rr(other)
    idx = np.random.default_rng(seed).integers(0, len(base), size=(n, len(base)))
    ratios = other[idx].mean(axis=1) / base[idx].mean(axis=1)
    return float(np.percentile(ratios, 2.5)), float(np.percentile(ratios, 97.5))


# ---------------------------------------------------------------- BM25

def bm25_tokens(text):
    out = []
    for word in re.findall(r"[A-Za-z0-9]+", text):
        out.extend(t.lower() for t in re.findall(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+", word))
    return out


def bm25_rank(corpus, queries, k1=1.2, b=0.75, k=10):
    t0 = time.perf_counter()
    postings = defaultdict(list)  # term -> [(doc index, tf)]
    lengths = []
    for i, (_, text) in enumerate(corpus):
        toks = bm25_tokens(text)
        lengths.append(len(toks))
        for term, tf in Counter(toks).items():
            postings[term].append((i, tf))
    n, avgdl = len(corpus), sum(lengths) / len(corpus)
    norm = [k1 * (1 - b + b * l / avgdl) for l in lengths]
    index_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    ranking = {}
    for qid, text in queries:
        scores = defaultdict(float)
        for term in set(bm25_tokens(text)):
            docs = postings.get(term, ())
            idf = math.log(1 + (n - len(docs) + 0.5) / (len(docs) + 0.5))
            for i, tf in docs:
                scores[i] += idf * tf * (k1 + 1) / (tf + norm[i])
        best = sorted(scores.items(), key=lambda s: (-s[1], corpus[s[0]][0]))[:k]
        ranking[qid] = [corpus[i][0] for i, _ in best]
    return ranking, {"index_s": index_s, "docs_per_s": n / index_s,
                     "search_s": time.perf_counter() - t0}


# ---------------------------------------------------------------- SQL

def backend_memory(pid):
    """VmRSS and VmHWM of a backend in MiB, or None when /proc has no such process."""
    try:
        with open(f"/proc/{pid}/status") as f:
            kv = dict(l.split(":", 1) for l in f if ":" in l)
        return {k: int(kv[k].split()[0]) / 1024 for k in ("VmRSS", "VmHWM")}
    except (OSError, KeyError, ValueError):
        return None


def backend_cpu(pid):
    """User + system CPU seconds the backend has used so far, or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def cpu_between(before, after):
    return None if before is None or after is None else after - before


def timed(cur, sql, params=None):
    t = time.perf_counter()
    cur.execute(sql, params)
    return time.perf_counter() - t


def file_sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def library_path(cur):
    libdir = cur.execute("SELECT setting FROM pg_config WHERE name = 'PKGLIBDIR'").fetchone()[0]
    return os.path.join(libdir, "pg_embed.so")


def reference_check(cur):
    """Smallest cosine between pg_embed's all-MiniLM-L6-v2 and tests/fixtures/reference.json
    (fp32 embeddings made with Python onnxruntime on the same model files): shows that the
    installed build embeds like the reference, whoever built it. The model is named rather
    than left to embed_doc's routing, which may pick another model where more are installed."""
    path = os.path.join(os.path.dirname(os.path.dirname(HERE)), "tests", "fixtures", "reference.json")
    try:
        with open(path, encoding="utf-8") as f:
            items = json.load(f)["items"]
    except (OSError, KeyError, ValueError):
        return None
    import numpy as np
    worst = 1.0
    for it in items:
        got = np.array(json.loads(cur.execute("SELECT embed(%s, %s)::text", (it["text"], BASE_MODEL)).fetchone()[0]))
        ref = np.array(it["embedding"])
        worst = min(worst, float(got @ ref / (np.linalg.norm(got) * np.linalg.norm(ref))))
    return worst


def sql_run(dsn, model, precision, corpus, queries, model_dir=None, k=RANKING_DEPTH):
    """One attempt; raises Retry if pg_embed.so was replaced or the backend died meanwhile.
    Returns the top k documents of every query, best first."""
    opts = f"-c pg_embed.precision={precision}"
    if model_dir:
        opts += f" -c pg_embed.model_dir={model_dir}"
    with psycopg.connect(dsn, options=opts, autocommit=True) as conn:
        cur = conn.cursor()
        pid = cur.execute("SELECT pg_backend_pid()").fetchone()[0]
        lib = library_path(cur)
        lib_before = file_sha256(lib)
        mem_start = backend_memory(pid)
        load_s = timed(cur, "SELECT embed('warm up', %s) IS NOT NULL", (model,))
        mem_loaded = backend_memory(pid)
        got = cur.execute("SELECT current_setting('pg_embed.precision'), "
                          "current_setting('pg_embed.threads')").fetchone()
        assert got[0] == precision, got
        loaded = cur.execute("SELECT loaded_precision, dims FROM pg_embed_models WHERE name = %s",
                             (model,)).fetchone()
        assert loaded[0] == precision, loaded
        model_dir = cur.execute("SELECT current_setting('pg_embed.model_dir')").fetchone()[0]
        model_file = os.path.join(model_dir, model,
                                  "model.onnx" if precision == "fp32" else "model_int8.onnx")
        for t in ("docs", "qs"):
            cur.execute(f"CREATE TEMP TABLE raw_{t} (id text PRIMARY KEY, body text NOT NULL)")
            cur.execute(f"CREATE TEMP TABLE emb_{t} (id text PRIMARY KEY, emb vector({loaded[1]}) NOT NULL)")
            with cur.copy(f"COPY raw_{t} (id, body) FROM STDIN") as cp:
                for row in (corpus if t == "docs" else queries):
                    cp.write_row(row)
        cur.execute("ANALYZE raw_docs; ANALYZE raw_qs")
        cpu0 = backend_cpu(pid)
        doc_s = timed(cur, "INSERT INTO emb_docs (id, emb) SELECT id, embed(body, %s) FROM raw_docs", (model,))
        cpu1 = backend_cpu(pid)
        q_s = timed(cur, "INSERT INTO emb_qs (id, emb) SELECT id, embed(body, %s) FROM raw_qs", (model,))
        cpu2 = backend_cpu(pid)
        mem_embedded = backend_memory(pid)
        cur.execute("ANALYZE emb_docs; ANALYZE emb_qs")
        search_s = timed(cur, f"""
            SELECT q.id, d.id FROM emb_qs q CROSS JOIN LATERAL (
                SELECT id, emb <=> q.emb AS dist FROM emb_docs
                ORDER BY emb <=> q.emb, id LIMIT {k}) d
            ORDER BY q.id, d.dist, d.id""")
        ranking = defaultdict(list)
        for qid, cid in cur.fetchall():
            ranking[qid].append(cid)
        cur.execute("SET pg_embed.precision = 'fp32'")
        ref_cos = reference_check(cur)
        if file_sha256(lib) != lib_before:
            raise Retry(f"{lib} was replaced during the run")
    return ranking, {
        "pg_embed.so sha256": lib_before,
        "model file": os.path.basename(model_file), "model sha256": file_sha256(model_file),
        "min cosine to reference (fp32)": ref_cos,
        "threads": int(got[1]),
        "first_call_s": load_s,
        "docs_s": doc_s, "docs_per_s": len(corpus) / doc_s,
        "docs_cpu_s": cpu_between(cpu0, cpu1),
        "queries_s": q_s, "queries_per_s": len(queries) / q_s,
        "queries_cpu_s": cpu_between(cpu1, cpu2),
        "search_s": search_s,
        "rss_mib": {"start": mem_start, "model loaded": mem_loaded, "after embedding": mem_embedded},
    }


class Retry(Exception):
    pass


def sql_run_retrying(dsn, model, precision, corpus, queries, model_dir, attempts=3):
    """If pg_embed is reinstalled while a run is under way (the library file changes, or the
    backend is lost), the run is thrown away and repeated."""
    for n in range(1, attempts + 1):
        try:
            return sql_run(dsn, model, precision, corpus, queries, model_dir)
        except (Retry, psycopg.OperationalError) as e:
            if n == attempts:
                raise
            print(f"  {model} {precision}: attempt {n} discarded ({str(e).strip()}); retrying in 30 s",
                  file=sys.stderr, flush=True)
            time.sleep(30)


def token_lengths(dsn, texts):
    """Token counts (with [CLS]/[SEP]) by the model's own tokenizer.json, untruncated."""
    try:
        from tokenizers import Tokenizer
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("SELECT embed_doc('x') IS NOT NULL")  # loads pg_embed's settings
            model_dir = conn.execute("SELECT current_setting('pg_embed.model_dir')").fetchone()[0]
        tok = Tokenizer.from_file(os.path.join(model_dir, "all-MiniLM-L6-v2", "tokenizer.json"))
        tok.no_truncation()
        tok.no_padding()
        return [len(e.ids) for e in tok.encode_batch(texts)]
    except Exception as e:  # informative only: the benchmark does not depend on it
        print(f"note: token counts skipped ({e})", file=sys.stderr)
        return None


def environment(dsn):
    with psycopg.connect(dsn, autocommit=True) as conn:
        pg = conn.execute("SHOW server_version").fetchone()[0]
        ext = dict(conn.execute("SELECT extname, extversion FROM pg_extension").fetchall())
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    try:
        root = os.path.dirname(os.path.dirname(HERE))
        head = subprocess.run(["git", "-C", root, "rev-parse", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = bool(subprocess.run(["git", "-C", root, "status", "--porcelain", "--", "src", "crates"],
                                    capture_output=True, text=True, check=True).stdout.strip())
    except (OSError, subprocess.CalledProcessError):
        head, dirty = None, None
    return {"postgresql": pg, "vector": ext.get("vector"), "pg_embed": ext.get("pg_embed"),
            "checkout": head, "src or crates modified in the checkout": dirty,
            "cpu": cpu, "cores": os.cpu_count(), "client python": platform.python_version()}


# ---------------------------------------------------------------- report

def ranking_path(folder, set_name, system):
    """Where one run's ranking is kept: folder/set/system.json (spaces in system as _)."""
    return os.path.join(folder, set_name, system.replace(" ", "_") + ".json")


def save_ranking(folder, set_name, system, ranking):
    """Writes one run's ranking ({query id: [doc id, ...]}) to ranking_path()."""
    os.makedirs(os.path.join(folder, set_name), exist_ok=True)
    with open(ranking_path(folder, set_name, system), "w", encoding="utf-8") as f:
        json.dump(ranking, f)


def write_results(results, path, table):
    """Writes `results` to the JSON file `path` and `table` (markdown) next to it as .md."""
    with open(path, "w", encoding="utf-8") as f:
        json.dump(results, f, indent=1)
        f.write("\n")
    with open(os.path.splitext(path)[0] + ".md", "w", encoding="utf-8") as f:
        f.write(table)


def fmt(x, d=3):
    return "–" if x is None else f"{x:.{d}f}"


def cpu_per_text(r):
    """Backend CPU seconds per embedded text (documents and queries), or None."""
    if r.get("docs_cpu_s") is None or r.get("queries_cpu_s") is None:
        return None
    return (r["docs_cpu_s"] + r["queries_cpu_s"]) / (r["docs_s"] * r["docs_per_s"] + r["queries_s"] * r["queries_per_s"])


def markdown(results):
    lines = ["| set | system | MRR@10 | P@1 | Recall@10 | nDCG@10 | docs/s | queries/s | CPU ms/text | backend RSS (MiB) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    retention = []
    for name in SETS:
        s = results["sets"].get(name)
        if not s:
            continue
        label = f"{name} ({s['corpus']} docs, {s['queries']} queries{', limit ' + str(s['limit']) if s['limit'] else ''})"
        for key, title in systems(results):
            r = s["runs"].get(key)
            if not r:
                continue
            m = r["metrics"]
            if key == "bm25":
                speed, qspeed, cpu, rss = f"{r['docs_per_s']:.0f} †", "–", None, None
            else:
                speed, qspeed = f"{r['docs_per_s']:.1f}", f"{r['queries_per_s']:.1f}"
                cpu = cpu_per_text(r)
                cpu = None if cpu is None else 1000 * cpu
                rss = (r["rss_mib"].get("after embedding") or {}).get("VmHWM")
            lines.append(f"| {label} | {title} | {fmt(m['mrr@10'])} | {fmt(m['p@1'])} | "
                         f"{fmt(m['recall@10'])} | {fmt(m['ndcg@10'])} | {speed} | {qspeed} | "
                         f"{fmt(cpu, 1)} | {fmt(rss, 0)} |")
            label = ""
        for key, _ in systems(results):
            if not key.endswith(" int8") or key[:-5] + " fp32" not in s["runs"] or key not in s["runs"]:
                continue
            f32, i8 = s["runs"][key[:-5] + " fp32"], s["runs"][key]
            a, b = f32["metrics"]["mrr@10"], i8["metrics"]["mrr@10"]
            lo, hi = retention_interval(f32["ranks"], i8["ranks"])
            c32, c8 = cpu_per_text(f32), cpu_per_text(i8)
            cpu = "–" if not c32 or not c8 else f"{c32 / c8:.2f}×"
            retention.append(f"| {name} | {key[:-5]} | {a:.3f} | {b:.3f} | {100 * b / a:.1f}% | "
                             f"{100 * lo:.1f}–{100 * hi:.1f}% | {i8['docs_per_s'] / f32['docs_per_s']:.2f}× | {cpu} |")
    out = "\n".join(lines) + ("\n\n† BM25: tokenising and indexing in the Python client, in "
                              "memory; not comparable with embedding through SQL.")
    if retention:
        out += ("\n\nint8 against fp32 of the same model: retention of MRR@10 (interval: 95% paired "
                "bootstrap over queries, 2000 resamples), documents/s ratio, and CPU per text ratio "
                "(fp32 CPU / int8 CPU, documents and queries):\n\n"
                "| set | model | fp32 | int8 | int8 / fp32 | interval | docs/s int8 / fp32 | CPU fp32 / int8 |\n"
                "|---|---|---|---|---|---|---|---|\n" + "\n".join(retention))
    return out + "\n"


def chart(results, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("note: matplotlib is not installed, chart.png not written", file=sys.stderr)
        return
    names = [n for n in SETS if n in results["sets"]]
    ticks = [f"{n}\n{results['sets'][n]['corpus']} docs, {results['sets'][n]['queries']} queries"
             for n in names]
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.2), gridspec_kw={"width_ratios": [3, 2]})
    keys = systems(results)
    width = 0.8 / len(keys)
    palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]
    colors = {k: ("#9e9e9e" if k == "bm25" else palette[(i - 1) % len(palette)]) for i, (k, _) in enumerate(keys)}
    for j, (key, title) in enumerate(keys):
        xs, ys = [], []
        for i, n in enumerate(names):
            r = results["sets"][n]["runs"].get(key)
            if r:
                xs.append(i + (j - (len(keys) - 1) / 2) * width)
                ys.append(r["metrics"]["mrr@10"])
        bars = axes[0].bar(xs, ys, width, label=title, color=colors[key])
        axes[0].bar_label(bars, fmt="%.2f", fontsize=7)
    axes[0].set_xticks(range(len(names)), ticks, fontsize=8)
    axes[0].set_ylabel("MRR@10")
    axes[0].set_ylim(0, 1.05)
    axes[0].set_title("Retrieval quality, exact cosine search in SQL")
    axes[0].legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3, fontsize=8, frameon=False)
    models = [k for k, _ in keys if k != "bm25"]
    width = 0.8 / max(1, len(models))
    for j, key in enumerate(models):
        xs, ys = [], []
        for i, n in enumerate(names):
            r = results["sets"][n]["runs"].get(key)
            if r:
                xs.append(i + (j - (len(models) - 1) / 2) * width)
                ys.append(r["docs_per_s"])
        bars = axes[1].bar(xs, ys, width, label=key, color=colors[key])
        axes[1].bar_label(bars, fmt="%.0f", fontsize=7)
    axes[1].set_xticks(range(len(names)), names, fontsize=8)
    axes[1].set_ylabel("documents embedded per second")
    axes[1].margins(y=0.15)
    axes[1].set_title("INSERT ... SELECT embed(), one backend")
    axes[1].legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, fontsize=8, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def available(dsn, model_dir):
    """[(model, [precisions])] of the built-in models whose files are present."""
    opts = f"-c pg_embed.model_dir={model_dir}" if model_dir else ""
    with psycopg.connect(dsn, options=opts, autocommit=True) as conn:
        rows = conn.execute("SELECT name, precisions FROM pg_embed_models "
                            "WHERE source = 'builtin' AND files_present ORDER BY name").fetchall()
    return [(n, list(p)) for n, p in rows]


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dsn", default="host=127.0.0.1 port=25432 user=postgres dbname=postgres")
    ap.add_argument("--models", default="", help="comma-separated; default: every built-in model with files")
    ap.add_argument("--precision", default="fp32,int8", help="fp32, int8 or both, comma-separated")
    ap.add_argument("--model-dir", default="", help="pg_embed.model_dir for the runs (superuser)")
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--limit", type=int, default=0, help="quick run on N queries (hash order)")
    ap.add_argument("--data", default=os.path.join(HERE, "data"))
    ap.add_argument("--results", default=os.path.join(HERE, "results.json"))
    ap.add_argument("--rankings", default=os.path.join(HERE, "rankings"),
                    help="folder for every run's top 100 per query (fusion.py reads them; not committed)")
    a = ap.parse_args()
    precisions = [p for p in a.precision.split(",") if p]
    sets = [s for s in a.sets.split(",") if s]
    for p in precisions:
        if p not in ("fp32", "int8"):
            ap.error(f"unknown precision {p!r}")
    for s in sets:
        if s not in SETS:
            ap.error(f"unknown set {s!r}")
    if not all(os.path.exists(os.path.join(a.data, s, "qrels.tsv")) for s in sets):
        subprocess.run([sys.executable, os.path.join(HERE, "build_data.py"), "--out", a.data], check=True)

    os.makedirs(os.path.dirname(os.path.abspath(a.results)), exist_ok=True)
    results = {"sets": {}}
    if os.path.exists(a.results):
        with open(a.results, encoding="utf-8") as f:
            results = json.load(f)
    runs = [(m, p) for m, have in available(a.dsn, a.model_dir) for p in precisions if p in have
            and (not a.models or m in a.models.split(","))]
    if not runs:
        ap.error("no model with files for the precisions asked for")
    results["environment"] = environment(a.dsn)
    results["environment"]["model_dir"] = a.model_dir or None
    results["method"] = ("embed(text, model) through SQL (INSERT ... SELECT), exact cosine search "
                         "with <=> (no index), texts truncated at each model's max_tokens; BM25 in Python")
    for name in sets:
        corpus, queries, qrels = load_set(a.data, name, a.limit)
        entry = results["sets"].get(name)
        if not entry or entry.get("limit") != a.limit or entry.get("corpus") != len(corpus):
            entry = {"corpus": len(corpus), "queries": len(queries), "limit": a.limit, "runs": {}}
        # runs of an earlier layout (keyed by precision alone) are not comparable: dropped
        entry["runs"] = {k: v for k, v in entry["runs"].items() if k == "bm25" or " " in k}
        lengths = token_lengths(a.dsn, [t for _, t in corpus])
        if lengths:
            s = sorted(lengths)
            entry["doc_tokens"] = {"median": s[len(s) // 2], "max": s[-1],
                                   "share_over_256": sum(l > MAX_TOKENS for l in s) / len(s)}
        ranking, timing = bm25_rank(corpus, queries, k=RANKING_DEPTH)
        save_ranking(a.rankings, name, "bm25", ranking)
        metrics, ranks = score_run(ranking, qrels)
        entry["runs"]["bm25"] = {"metrics": metrics, **timing, "ranks": ranks}
        print(f"{name}: {len(corpus)} documents, {len(queries)} queries; BM25 "
              f"MRR@10 {entry['runs']['bm25']['metrics']['mrr@10']:.3f}", flush=True)
        for model, p in runs:
            t0 = time.perf_counter()
            ranking, info = sql_run_retrying(a.dsn, model, p, corpus, queries, a.model_dir)
            save_ranking(a.rankings, name, f"{model} {p}", ranking)
            info["metrics"], info["ranks"] = score_run(ranking, qrels)
            info["wall_s"] = time.perf_counter() - t0
            info["date"] = datetime.date.today().isoformat()
            entry["runs"][f"{model} {p}"] = info
            print(f"  {model} {p}: MRR@10 {info['metrics']['mrr@10']:.3f}, {info['docs_per_s']:.1f} docs/s, "
                  f"{info['queries_per_s']:.1f} queries/s, {info['wall_s']:.0f} s", flush=True)
        results["sets"][name] = entry
        write_results(results, a.results, markdown(results))
    table = markdown(results)
    chart(results, os.path.join(os.path.dirname(a.results), "chart.png"))
    print()
    print(table)


if __name__ == "__main__":
    main()
