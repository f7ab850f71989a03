#!/usr/bin/env python3
"""Checks a graph written by prepare_models.py against the reference implementation of its
architecture: Hugging Face transformers' BertModel / MPNetModel in PyTorch, loaded from the same
safetensors weights. Both sides embed the texts of make_reference.py plus texts long enough to
reach every relative-position bucket, one at a time and as one padded batch, and are compared
as sentence vectors (mean pooling over the attention mask, L2-normalised).

With --dsn, the same texts are also embedded through SQL, embed(text, NAME) with
pg_embed.model_dir set to MODEL_FOLDER's parent and precision fp32 (NAME: MODEL_FOLDER's name;
superuser), and compared one at a time with the reference: what users get, tokenizer included.

Not part of the set-up: it needs torch and transformers, which pg_embed does not (run it in a
separate venv: pip install torch transformers onnxruntime tokenizers, and psycopg for --dsn).

Usage: check_export.py SAFETENSORS_DIR MODEL_FOLDER MAX_TOKENS [--dsn DSN]
Prints the smallest and mean cosine and exits 1 if the smallest is under 0.9999.
"""
import json
import os
import sys

import numpy as np
import onnxruntime as ort
import torch
from tokenizers import Tokenizer
from transformers import AutoModel

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_reference import TEXTS  # noqa: E402

LONG_TEXTS = [
    " ".join(f"word{i}" for i in range(300)),
    "def f(x):\n" + "\n".join(f"    y{i} = x * {i} + y{i - 1}" for i in range(1, 120)) + "\n    return y119\n",
]


def pooled(hidden, mask):
    s = (hidden * mask[..., None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
    return s / np.linalg.norm(s, axis=1, keepdims=True)


def sql_vectors(dsn, folder, texts):
    """embed(text, <folder's name>) through SQL for every text, fp32, from folder's parent."""
    import psycopg
    folder = os.path.abspath(folder)
    opts = f"-c pg_embed.model_dir={os.path.dirname(folder)} -c pg_embed.precision=fp32"
    with psycopg.connect(dsn, options=opts, autocommit=True) as conn:
        rows = [conn.execute("SELECT embed(%s, %s)::text", (t, os.path.basename(folder))).fetchone()[0]
                for t in texts]
    return np.array([json.loads(r) for r in rows])


def main():
    if len(sys.argv) not in (4, 6) or (len(sys.argv) == 6 and sys.argv[4] != "--dsn"):
        sys.exit(__doc__)
    src, folder, max_tokens = sys.argv[1], sys.argv[2], int(sys.argv[3])
    dsn = sys.argv[5] if len(sys.argv) == 6 else None
    tok = Tokenizer.from_file(os.path.join(folder, "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(max_length=max_tokens)
    texts = TEXTS + LONG_TEXTS
    encs = [tok.encode(t) for t in texts]
    session = ort.InferenceSession(os.path.join(folder, "model.onnx"), providers=["CPUExecutionProvider"])
    takes_types = any(i.name == "token_type_ids" for i in session.get_inputs())
    model = AutoModel.from_pretrained(src, add_pooling_layer=False).eval()

    def run_onnx(ids, mask):
        feed = {"input_ids": ids, "attention_mask": mask}
        if takes_types:
            feed["token_type_ids"] = np.zeros_like(ids)
        return pooled(session.run(None, feed)[0], mask)

    def run_torch(ids, mask):
        with torch.no_grad():
            out = model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask))
        return pooled(out.last_hidden_state.numpy(), mask)

    cosines, reference = [], []
    for e in encs:  # one text per run
        ids, mask = np.array([e.ids], np.int64), np.array([e.attention_mask], np.int64)
        reference.append(run_torch(ids, mask)[0])
        cosines.append(float((run_onnx(ids, mask)[0] * reference[-1]).sum()))
    # One padded batch; the ONNX side pads with 0 as pg_embed does, the reference with the
    # model's own pad id.
    longest = max(len(e.ids) for e in encs)
    mask = np.array([[1] * len(e.ids) + [0] * (longest - len(e.ids)) for e in encs], np.int64)
    ids0 = np.array([e.ids + [0] * (longest - len(e.ids)) for e in encs], np.int64)
    pad = model.config.pad_token_id or 0
    idsp = np.array([e.ids + [pad] * (longest - len(e.ids)) for e in encs], np.int64)
    batch = (run_onnx(ids0, mask) * run_torch(idsp, mask)).sum(axis=1)
    cosines += [float(c) for c in batch]
    lengths = sorted(len(e.ids) for e in encs)
    name = type(model).__name__
    print(f"{len(texts)} texts ({lengths[0]}-{lengths[-1]} tokens), singly and as one batch: "
          f"cosine to {name} min {min(cosines):.7f}, mean {np.mean(cosines):.7f}")
    if dsn:
        sql = (sql_vectors(dsn, folder, texts) * np.array(reference)).sum(axis=1)
        print(f"through SQL, one text per call: cosine to {name} min {sql.min():.7f}, mean {sql.mean():.7f}")
        cosines += [float(c) for c in sql]
    sys.exit(0 if min(cosines) >= 0.9999 else 1)


if __name__ == "__main__":
    main()
