"""The application-side embedding pipeline, the baseline for pg_embed's bulk paths.

    /var/lib/pg_embed-dev/venv/bin/python benches/bulk/app_pipeline.py \
        --dsn 'host=127.0.0.1 port=25432 user=postgres dbname=pg_embed_bulk' \
        --src src_0 --dst app_0 [--precision fp32|int8] [--batch 8] [--chunk 1000]

What an application does without pg_embed, with the same model files pg_embed uses:

1. read `id, body` from the source table through a server-side cursor, `--chunk` rows at a
   time (psycopg 3);
2. tokenize each chunk with the model's tokenizer.json (`tokenizers`, truncation at 256
   tokens, [CLS]/[SEP] added), sort the chunk by token count and cut it into batches of
   `--batch` texts, each padded to its own longest text;
3. run all-MiniLM-L6-v2 (model.onnx, or model_int8.onnx with --precision int8) with ONNX
   Runtime on the CPU, one intra-op and one inter-op thread, all graph optimisations;
4. mean-pool `last_hidden_state` over the attention mask and L2-normalise (numpy);
5. write `id, body, embedding` into the vector(384) column of `--dst` with COPY (text
   format) on a second connection, committed once at the end.

The destination table is created (dropped first if it exists). Printed on stdout, one JSON
object: texts, seconds (steps 1-5, from the first read to the commit), texts_per_s, load_s
(creating the ONNX Runtime session and tokenizer, before the timer), cpu_s (this process),
and the time spent in each step.
"""

import argparse
import json
import resource
import time

import numpy as np
import onnxruntime as ort
import psycopg
from psycopg import sql
from tokenizers import Tokenizer

MODEL_DIR = "/var/lib/pg_embed-dev/models/all-MiniLM-L6-v2"
MAX_TOKENS = 256


def cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def load(precision):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    name = "model.onnx" if precision == "fp32" else "model_int8.onnx"
    session = ort.InferenceSession(f"{MODEL_DIR}/{name}", sess_options=opts, providers=["CPUExecutionProvider"])
    tokenizer = Tokenizer.from_file(f"{MODEL_DIR}/tokenizer.json")
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=MAX_TOKENS)
    inputs = {i.name for i in session.get_inputs()}
    return session, tokenizer, inputs


def embed(session, inputs, encodings):
    """Vectors for encodings of similar length: one model run, padded to the longest."""
    n, width = len(encodings), max(len(e.ids) for e in encodings)
    ids = np.zeros((n, width), dtype=np.int64)
    mask = np.zeros((n, width), dtype=np.int64)
    types = np.zeros((n, width), dtype=np.int64)
    for row, e in enumerate(encodings):
        k = len(e.ids)
        ids[row, :k] = e.ids
        mask[row, :k] = e.attention_mask
        types[row, :k] = e.type_ids
    feed = {"input_ids": ids, "attention_mask": mask}
    if "token_type_ids" in inputs:
        feed["token_type_ids"] = types
    (hidden,) = session.run(["last_hidden_state"], feed)
    m = mask[:, :, None].astype(np.float32)
    pooled = (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
    return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)


def vector_text(v):
    return "[" + ",".join(map(repr, v.tolist())) + "]"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dsn", required=True)
    ap.add_argument("--src", required=True)
    ap.add_argument("--dst", required=True)
    ap.add_argument("--precision", choices=["fp32", "int8"], default="fp32")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--chunk", type=int, default=1000)
    args = ap.parse_args()

    t0 = time.perf_counter()
    session, tokenizer, inputs = load(args.precision)
    embed(session, inputs, tokenizer.encode_batch(["warm up"]))
    load_s = time.perf_counter() - t0

    reader = psycopg.connect(args.dsn)
    writer = psycopg.connect(args.dsn)
    dst = sql.Identifier(args.dst)
    with writer.cursor() as cur:
        cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(dst))
        cur.execute(sql.SQL("CREATE TABLE {} (id int, body text, embedding vector(384))").format(dst))
    writer.commit()

    steps = {"read_s": 0.0, "tokenize_s": 0.0, "model_s": 0.0, "write_s": 0.0}
    texts = 0
    cpu0 = cpu_seconds()
    started = time.perf_counter()
    with reader.cursor(name="app_pipeline_read") as rc, writer.cursor() as wc:
        rc.itersize = args.chunk
        rc.execute(sql.SQL("SELECT id, body FROM {} ORDER BY id").format(sql.Identifier(args.src)))
        with wc.copy(sql.SQL("COPY {} (id, body, embedding) FROM STDIN").format(dst)) as copy:
            while True:
                t = time.perf_counter()
                rows = rc.fetchmany(args.chunk)
                steps["read_s"] += time.perf_counter() - t
                if not rows:
                    break
                t = time.perf_counter()
                encodings = tokenizer.encode_batch([body for _, body in rows])
                order = sorted(range(len(rows)), key=lambda i: len(encodings[i].ids))
                steps["tokenize_s"] += time.perf_counter() - t
                for start in range(0, len(order), args.batch):
                    part = order[start : start + args.batch]
                    t = time.perf_counter()
                    vectors = embed(session, inputs, [encodings[i] for i in part])
                    steps["model_s"] += time.perf_counter() - t
                    t = time.perf_counter()
                    for i, v in zip(part, vectors):
                        copy.write_row((rows[i][0], rows[i][1], vector_text(v)))
                    steps["write_s"] += time.perf_counter() - t
                texts += len(rows)
        t = time.perf_counter()
        writer.commit()
        steps["write_s"] += time.perf_counter() - t
    reader.commit()
    seconds = time.perf_counter() - started
    out = {
        "precision": args.precision,
        "batch": args.batch,
        "texts": texts,
        "seconds": seconds,
        "texts_per_s": texts / seconds,
        "load_s": load_s,
        "cpu_s": cpu_seconds() - cpu0,
        "reader_pid": reader.info.backend_pid,
        "writer_pid": writer.info.backend_pid,
    }
    out.update(steps)
    print(json.dumps(out))
    reader.close()
    writer.close()


if __name__ == "__main__":
    main()
