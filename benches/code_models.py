#!/usr/bin/env python3
"""Memory held and CPU per text of the catalog's code models, through SQL, where their real
weights are not reachable: each model is built at full size from its real configuration
(layers, hidden size, heads, feed-forward, vocabulary size, positions) with random weights,
which cost the same memory and arithmetic as the real ones, converted by
scripts/prepare_models.py, and run side by side with the set-up's all-MiniLM-L6-v2 (real
weights) in one run.

Texts: the first N functions of the code retrieval corpus (benches/accuracy/data/code), one per
call, cut at each model's token limit. The code models' tokenizer is a byte-level BPE of 32,000
tokens trained here on that corpus (their real vocabularies are not reachable either), so their
token counts per text are close to, not equal to, the real ones; the table gives them.

CPU per text: the backend's user + system CPU time (/proc/<pid>/stat) over the N texts, after
one warm-up call that loads the model, divided by N. Held: bytes_held of pg_embed_models (the
backend's resident memory growth while loading and running the model). One ONNX Runtime thread.

With --also FOLDER, a model folder with real weights (all-mpnet-base-v2's, made by
make model-mpnet) is measured in the same run.

Usage: code_models.py WORK_DIR [--dsn DSN] [--texts N] [--also FOLDER]...
       (WORK_DIR needs about 6 GB; the database server must run on this machine and read it)
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np
import psycopg
from tokenizers import ByteLevelBPETokenizer, Tokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "hub"))
sys.path.insert(0, os.path.join(ROOT, "benches"))
import checkpoints  # noqa: E402  (the test checkpoints' weight writers)
from machine import cpu_model  # noqa: E402

FULL = {
    "unixcoder-base": {**checkpoints.ROBERTA, "num_hidden_layers": 12, "max_position_embeddings": 1026,
                       "type_vocab_size": 10, "vocab_size": 51416},
    "codet5p-110m-embedding": {**checkpoints.MODELS["codet5p-110m-embedding"]["config"], "num_layers": 12, "vocab_size": 32103},
    "codeberta-small-v1": {**checkpoints.ROBERTA, "num_hidden_layers": 6, "max_position_embeddings": 514,
                           "type_vocab_size": 1, "vocab_size": 52000},
}


def corpus():
    with open(os.path.join(ROOT, "benches", "accuracy", "data", "code", "corpus.jsonl"), encoding="utf-8") as f:
        return [json.loads(line)["text"] for line in f]


def build(work, texts_all):
    """WORK/models/<name>: a full-size random-weight conversion of each code model."""
    vocab = os.path.join(work, "vocab")
    if not os.path.exists(os.path.join(vocab, "vocab.json")):
        os.makedirs(vocab, exist_ok=True)
        bpe = ByteLevelBPETokenizer()
        bpe.train_from_iterator(texts_all, vocab_size=32000, min_frequency=2, show_progress=False,
                                special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>", "<encoder-only>"])
        bpe.save_model(vocab)
    prepare = os.path.join(ROOT, "scripts", "prepare_models.py")
    for seed, (name, cfg) in enumerate(FULL.items()):
        out = os.path.join(work, "models", name)
        if os.path.exists(os.path.join(out, "model_int8.onnx")):
            continue
        src = os.path.join(work, "hub", name)
        os.makedirs(src, exist_ok=True)
        for f in ("vocab.json", "merges.txt"):
            with open(os.path.join(vocab, f), "rb") as a, open(os.path.join(src, f), "wb") as b:
                b.write(a.read())
        with open(os.path.join(src, "config.json"), "w") as f:
            json.dump(cfg, f)
        rng = np.random.default_rng(seed + 1)
        t5 = cfg["model_type"] == "codet5p_embedding"
        checkpoints.write_safetensors(os.path.join(src, "model.safetensors"),
                                      checkpoints.t5_weights(cfg, rng) if t5 else checkpoints.roberta_weights(cfg, rng))
        subprocess.run([sys.executable, prepare, "hub", src, out, name], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        os.remove(os.path.join(src, "model.safetensors"))
    for d in [work, os.path.join(work, "models"), *[os.path.join(work, "models", m) for m in os.listdir(os.path.join(work, "models"))]]:
        os.chmod(d, 0o755)


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(dsn, model_dir, model, precision, texts):
    opts = f"-c pg_embed.precision={precision} -c pg_embed.memory_limit=4GB -c pg_embed.cache_size=0"
    with psycopg.connect(dsn, options=opts, autocommit=True) as conn:
        conn.execute(f"SET pg_embed.model_dir = '{model_dir}'")
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        conn.execute("SELECT embed('warm up', %s) IS NOT NULL", (model,))
        start = cpu_seconds(pid)
        for t in texts:
            conn.execute("SELECT embed(%s, %s) IS NOT NULL", (t, model)).fetchone()
        cpu = (cpu_seconds(pid) - start) / len(texts) * 1000
        held = conn.execute("SELECT bytes_held FROM pg_embed_models WHERE name = %s", (model,)).fetchone()[0] / 2**20
    return cpu, held


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("work")
    ap.add_argument("--dsn", default="host=127.0.0.1 port=25432 user=postgres dbname=postgres")
    ap.add_argument("--texts", type=int, default=200)
    ap.add_argument("--also", action="append", default=[],
                    help="a model folder with real weights to measure too, e.g. all-mpnet-base-v2's")
    a = ap.parse_args()
    texts_all = corpus()
    build(a.work, texts_all)
    texts = texts_all[:a.texts]
    model_dir = os.path.join(a.work, "models")
    l6 = os.path.join(model_dir, "all-MiniLM-L6-v2")
    if not os.path.exists(l6):
        with psycopg.connect(a.dsn) as conn:
            conn.execute("LOAD 'pg_embed'")
            os.symlink(os.path.join(conn.execute("SHOW pg_embed.model_dir").fetchone()[0], "all-MiniLM-L6-v2"), l6)
    also = []
    for folder in a.also:
        link = os.path.join(model_dir, os.path.basename(folder.rstrip("/")))
        if not os.path.exists(link):
            os.symlink(os.path.abspath(folder), link)
        also.append(os.path.basename(link))
    print(f"CPU: {cpu_model(cores=True)}; {len(texts)} code texts, one per call, one thread")
    print("| model | weights | tokens per text | fp32 CPU ms/text | × L6 | fp32 held MB | int8 CPU ms/text | × L6 | int8 held MB |")
    print("|---|---|---|---|---|---|---|---|---|")
    with open(os.path.join(ROOT, "crates", "engine", "models.json"), encoding="utf-8") as f:
        limits = {m["name"]: m["max_tokens"] for m in json.load(f)["models"]}
    base = {}
    for model in ["all-MiniLM-L6-v2", *FULL, *also]:
        tok = Tokenizer.from_file(os.path.join(model_dir, model, "tokenizer.json"))
        tok.enable_truncation(limits[model])
        tokens = np.mean([len(tok.encode(t).ids) for t in texts])
        row = []
        for precision in ("fp32", "int8"):
            cpu, held = measure(a.dsn, model_dir, model, precision, texts)
            base.setdefault(precision, cpu)
            row += [f"{cpu:.1f}", f"{cpu / base[precision]:.1f}", f"{held:.0f}"]
        kind = "random, full size" if model in FULL else "real"
        print(f"| {model} | {kind} | {tokens:.0f} | " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main()
