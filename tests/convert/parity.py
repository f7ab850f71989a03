#!/usr/bin/env python3
"""Architecture parity of hub checkpoints converted by scripts/prepare_models.py ("hub"):
RoBERTa, the architecture of CodeBERT, UniXcoder and CodeBERTa.

The hub is not reachable here, so each checkpoint is made with transformers: the shape of the
real models (hidden size 768, 12 heads, intermediate 3,072, padding id 1 with positions from 2,
one token type, layer norm epsilon 1e-5; 514 positions as RoBERTa-base and CodeBERT, or 1,026
for 1,024-token inputs), 2 layers instead of 12 to keep it small, random weights from a fixed
seed (LayerNorm weights and biases randomised too), a byte-level BPE vocabulary trained on the
accuracy benchmark's code (the real vocabularies are not available), saved in the hub's layout
both as model.safetensors and as pytorch_model.bin, with vocab.json + merges.txt and no
tokenizer.json, as those repositories ship.

Each is converted from both files (the two graphs must be identical: the checkpoint reader
needs no torch), then texts are embedded by the reference, RobertaTokenizer (slow) +
RobertaModel + mean pooling over the attention mask + L2 normalisation, and by the converted
folder, tokenizer.json + ONNX Runtime + the same pooling: one text per run and as one padded
batch. With --dsn, also through SQL: the folder registered as a user model, embed(text, name).
Passes when every cosine is at least 0.99999.

Needs torch and transformers (tests/convert/run.sh makes a virtualenv); not part of make test.
Usage: parity.py [--dsn DSN] [--keep DIR]
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnxruntime as ort
import torch
from tokenizers import Tokenizer
from tokenizers.implementations import ByteLevelBPETokenizer
from transformers import RobertaConfig, RobertaModel, RobertaTokenizer

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
PREPARE = os.path.join(ROOT, "scripts", "prepare_models.py")
MIN_COSINE = 0.99999

CASES = [
    ("roberta-514", {"max_position_embeddings": 514}, 512),
    ("roberta-1026", {"max_position_embeddings": 1026}, 1024),
]


def corpus():
    with open(os.path.join(ROOT, "benches", "accuracy", "data", "code", "corpus.jsonl"), encoding="utf-8") as f:
        return [json.loads(line)["text"] for line in f]


def long_texts():
    return [
        " ".join(f"word{i}" for i in range(700)),
        "def f(x):\n" + "\n".join(f"    y{i} = x * {i} + y{i - 1}" for i in range(1, 200)) + "\n    return y199\n",
    ]


def make_checkpoint(folder, vocab_dir, overrides, seed):
    """A RobertaModel with the real models' shape, random weights, saved in both formats."""
    vocab = json.load(open(os.path.join(vocab_dir, "vocab.json"), encoding="utf-8"))
    cfg = RobertaConfig(vocab_size=len(vocab), hidden_size=768, num_attention_heads=12, num_hidden_layers=2,
                        intermediate_size=3072, pad_token_id=1, bos_token_id=0, eos_token_id=2,
                        type_vocab_size=1, layer_norm_eps=1e-5, **overrides)
    torch.manual_seed(seed)
    model = RobertaModel(cfg, add_pooling_layer=False).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm" in name:
                p.normal_(1.0 if name.endswith("weight") else 0.0, 0.2)
    for fmt, safe in (("safetensors", True), ("bin", False)):
        out = os.path.join(folder, fmt)
        model.save_pretrained(out, safe_serialization=safe)
        for f in ("vocab.json", "merges.txt"):
            shutil.copy(os.path.join(vocab_dir, f), out)
    return model


def pooled(hidden, mask):
    s = (hidden * mask[..., None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
    return s / np.linalg.norm(s, axis=1, keepdims=True)


def sql_vectors(dsn, folder, name, max_tokens, texts):
    """embed(text, name) through SQL, the folder registered as a user model (superuser)."""
    parent = os.path.dirname(os.path.abspath(folder))
    setup = (f"SET pg_embed.model_dir = '{parent}'; SET pg_embed.precision = 'fp32'; "
             f"SELECT pg_embed_register_model('{name}', 768, pooling => 'mean', max_tokens => {max_tokens}, role => 'code');")
    out = []
    for t in texts:
        literal = t.replace("'", "''")
        run = subprocess.run(["psql", "-X", "-At", "-q", "-v", "ON_ERROR_STOP=1", dsn, "-c",
                              setup + f" SELECT embed('{literal}', '{name}')::text"], capture_output=True, text=True)
        if run.returncode != 0:
            sys.exit(f"through SQL: {run.stderr.strip()}")
        out.append(json.loads(run.stdout.strip().splitlines()[-1]))
    return np.array(out)


def check_case(tmp, vocab_dir, label, overrides, max_tokens, texts, dsn, seed):
    folder = os.path.join(tmp, label)
    model = make_checkpoint(folder, vocab_dir, overrides, seed)
    outs = {}
    for fmt in ("safetensors", "bin"):
        outs[fmt] = os.path.join(tmp, "models", f"{label}-{fmt}")
        subprocess.run([sys.executable, PREPARE, "hub", os.path.join(folder, fmt), outs[fmt], label], check=True,
                       stdout=subprocess.DEVNULL)
    same_graph = open(os.path.join(outs["safetensors"], "model.onnx"), "rb").read() == \
        open(os.path.join(outs["bin"], "model.onnx"), "rb").read()
    print(f"{label}: the graphs converted from model.safetensors and from pytorch_model.bin are "
          f"{'identical' if same_graph else 'DIFFERENT'}")
    out = outs["safetensors"]
    tok = Tokenizer.from_file(os.path.join(out, "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(max_length=max_tokens)
    slow = RobertaTokenizer(os.path.join(folder, "bin", "vocab.json"), os.path.join(folder, "bin", "merges.txt"))
    encs = [tok.encode(t) for t in texts]
    ref_ids = [slow(t, truncation=True, max_length=max_tokens)["input_ids"] for t in texts]
    same_ids = sum(e.ids == r for e, r in zip(encs, ref_ids))
    session = ort.InferenceSession(os.path.join(out, "model.onnx"), providers=["CPUExecutionProvider"])

    def reference(ids, mask):
        with torch.no_grad():
            h = model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)).last_hidden_state
        return pooled(h.numpy(), mask)

    def ours(ids, mask):
        return pooled(session.run(None, {"input_ids": ids, "attention_mask": mask})[0], mask)

    single, refs = [], []
    for e, r in zip(encs, ref_ids):
        ref = reference(np.array([r], np.int64), np.ones((1, len(r)), np.int64))[0]
        refs.append(ref)
        single.append(float((ours(np.array([e.ids], np.int64), np.ones((1, len(e.ids)), np.int64))[0] * ref).sum()))
    # One padded batch: pg_embed pads with 0, the reference with the model's pad id (1).
    longest = max(len(e.ids) for e in encs)
    mask = np.array([[1] * len(e.ids) + [0] * (longest - len(e.ids)) for e in encs], np.int64)
    ids0 = np.array([e.ids + [0] * (longest - len(e.ids)) for e in encs], np.int64)
    ids1 = np.array([e.ids + [1] * (longest - len(e.ids)) for e in encs], np.int64)
    batch = [float(c) for c in (ours(ids0, mask) * reference(ids1, mask)).sum(axis=1)]
    lengths = sorted(len(e.ids) for e in encs)
    print(f"{label}: {same_ids} of {len(texts)} texts tokenized to the same ids as RobertaTokenizer "
          f"({lengths[0]}-{lengths[-1]} tokens)")
    print(f"{label}: cosine to RobertaModel + mean pooling, one text per run: min {min(single):.7f}; "
          f"as one batch of {len(texts)}: min {min(batch):.7f}")
    cosines = single + batch
    if dsn:
        name = os.path.basename(out)
        sql = (sql_vectors(dsn, out, name, max_tokens, texts) * np.array(refs)).sum(axis=1)
        print(f"{label}: through SQL, embed(text, '{name}'), one text per call: min {sql.min():.7f}")
        cosines += [float(c) for c in sql]
    return same_graph and same_ids == len(texts) and min(cosines) >= MIN_COSINE


def main():
    args = sys.argv[1:]
    dsn = args[args.index("--dsn") + 1] if "--dsn" in args else None
    keep = args[args.index("--keep") + 1] if "--keep" in args else None
    texts_all = corpus()
    texts = texts_all[:60] + long_texts() + ["", "x", "<mask> fills a </s> gap"]
    tmp = keep or tempfile.mkdtemp(prefix="pg_embed-parity-")
    os.makedirs(tmp, exist_ok=True)
    vocab_dir = os.path.join(tmp, "vocab")
    os.makedirs(vocab_dir, exist_ok=True)
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(texts_all, vocab_size=8000, min_frequency=2,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    bpe.save_model(vocab_dir)
    ok = True
    for seed, (label, overrides, max_tokens) in enumerate(CASES):
        ok &= check_case(tmp, vocab_dir, label, overrides, max_tokens, texts, dsn, seed)
    if not keep:
        shutil.rmtree(tmp, ignore_errors=True)
    print("parity: " + ("ok" if ok else "FAILED"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
