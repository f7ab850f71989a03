#!/usr/bin/env python3
"""Architecture parity of hub checkpoints converted by scripts/prepare_models.py ("hub"):
RoBERTa, the architecture of CodeBERT, UniXcoder and CodeBERTa, and DistilBERT; UniXcoder also in
its encoder-only mode, against its authors' input layout and forward pass.

The hub is not reachable here, so each checkpoint is made with transformers: the shape of the
real models (hidden size 768, 12 heads, intermediate 3,072, padding id 1 with positions from 2,
one token type, layer norm epsilon 1e-5; 514 positions as RoBERTa-base and CodeBERT, or 1,026
for 1,024-token inputs), 2 layers instead of 12 to keep it small, random weights from a fixed
seed (LayerNorm weights and biases randomised too), a byte-level BPE vocabulary trained on the
accuracy benchmark's code (the real vocabularies are not available), saved in the hub's layout
both as model.safetensors and as pytorch_model.bin, with vocab.json + merges.txt and no
tokenizer.json, as those repositories ship. DistilBERT likewise (dim 768, 12 heads, hidden 3,072,
512 positions, 2 layers instead of 6) with the real bert-base-uncased WordPiece vocabulary as
vocab.txt (all-MiniLM-L6-v2's, which distilbert-base-uncased shares), against DistilBertModel and
BertTokenizer.

Each is converted from both files (the two graphs must be identical: the checkpoint reader
needs no torch), then texts are embedded by the reference, RobertaTokenizer (slow) +
RobertaModel + mean pooling over the attention mask + L2 normalisation, and by the converted
folder, tokenizer.json + ONNX Runtime + the same pooling: one text per run and as one padded
batch. With --dsn, also through SQL: the folder registered as a user model, embed(text, name).
Passes when every cosine is at least 0.99999.

Needs torch and transformers (tests/convert/run.sh makes a virtualenv); not part of make test.
Usage: parity.py [--dsn DSN] [--keep DIR] [--only LABEL,...]
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
from transformers import (BertTokenizer, DistilBertConfig, DistilBertModel, RobertaConfig, RobertaModel,
                          RobertaTokenizer, T5Config, T5EncoderModel)

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
PREPARE = os.path.join(ROOT, "scripts", "prepare_models.py")
MIN_COSINE = 0.99999

def mean_pooled(model):
    """The reference sentence vector of a transformers encoder: mean over the attention mask."""
    def run(ids, mask):
        with torch.no_grad():
            h = model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)).last_hidden_state
        return pooled(h.numpy(), mask)
    return run


def hub_saver(model):
    def save(out, safe):
        model.save_pretrained(out, safe_serialization=safe)
    return save


def roberta(positions, type_vocab_size=1):
    def make(vocab_size):
        model = RobertaModel(RobertaConfig(vocab_size=vocab_size, hidden_size=768, num_attention_heads=12,
                                           num_hidden_layers=2, intermediate_size=3072, pad_token_id=1, bos_token_id=0,
                                           eos_token_id=2, type_vocab_size=type_vocab_size, layer_norm_eps=1e-5,
                                           max_position_embeddings=positions), add_pooling_layer=False)
        return model, mean_pooled(model), hub_saver(model)
    return make


def unixcoder(vocab_size):
    """UniXcoder-base's shape (1,026 positions, 10 token types) and its authors' forward pass
    (UniXcoder/unixcoder.py in microsoft/CodeBERT): the attention mask of every token pair whose
    ids are both not padding, then the mean of the token states over the non-padding tokens."""
    model, _, save = roberta(1026, type_vocab_size=10)(vocab_size)

    def run(ids, _mask):
        with torch.no_grad():
            source = torch.from_numpy(ids)
            mask = source.ne(1)
            h = model(source, attention_mask=mask.unsqueeze(1) * mask.unsqueeze(2))[0]
            v = (h * mask.unsqueeze(-1)).sum(1) / mask.sum(-1).unsqueeze(-1)
        v = v.numpy()
        return v / np.linalg.norm(v, axis=1, keepdims=True)
    return model, run, save


def unixcoder_ids(slow, text, max_length):
    """UniXcoder's encoder-only input, as its authors' tokenize() builds it."""
    tokens = slow.tokenize(text)[:max_length - 4]
    tokens = [slow.cls_token, "<encoder-only>", slow.sep_token] + tokens + [slow.sep_token]
    return slow.convert_tokens_to_ids(tokens)


def distilbert(vocab_size):
    model = DistilBertModel(DistilBertConfig(vocab_size=vocab_size, dim=768, n_heads=12, n_layers=2, hidden_dim=3072,
                                             max_position_embeddings=512, pad_token_id=0))
    return model, mean_pooled(model), hub_saver(model)


def codet5p(feed_forward):
    """A T5 encoder with a projection of its first token's state to 256 dimensions, as
    codet5p-110m-embedding is (d_model 768, 12 heads of 64, d_ff 3,072, 32 relative position
    buckets up to distance 128), saved as that repository lays it out: the encoder's weights,
    proj.weight and proj.bias, and a config with embed_dim."""
    def make(vocab_size):
        cfg = T5Config(vocab_size=vocab_size, d_model=768, d_kv=64, num_heads=12, num_layers=2, d_ff=3072,
                       feed_forward_proj=feed_forward, relative_attention_num_buckets=32,
                       relative_attention_max_distance=128, layer_norm_epsilon=1e-6, pad_token_id=1)
        encoder = T5EncoderModel(cfg)
        proj = torch.nn.Linear(768, 256)

        def run(ids, mask):
            with torch.no_grad():
                h = encoder(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)).last_hidden_state
                v = proj(h[:, 0, :]).numpy()
            return v / np.linalg.norm(v, axis=1, keepdims=True)

        def save(out, safe):
            os.makedirs(out, exist_ok=True)
            state = {k: v.detach().clone().contiguous() for k, v in encoder.state_dict().items()}
            state["proj.weight"], state["proj.bias"] = proj.weight.detach().clone(), proj.bias.detach().clone()
            if safe:
                from safetensors.torch import save_file
                save_file(state, os.path.join(out, "model.safetensors"))
            else:
                torch.save(state, os.path.join(out, "pytorch_model.bin"))
            config = {**cfg.to_dict(), "model_type": "codet5p_embedding", "embed_dim": 256,
                      "architectures": ["CodeT5pEmbeddingModel"]}
            with open(os.path.join(out, "config.json"), "w") as f:
                json.dump(config, f, indent=1)

        with torch.no_grad():
            for name, p in encoder.named_parameters():
                if "relative_attention_bias" in name:
                    p.normal_(0.0, 1.0)
        return torch.nn.ModuleList([encoder, proj]), run, save
    return make


# label, model maker, vocabulary ("bpe": trained here; "wordpiece": all-MiniLM-L6-v2's, the
# bert-base-uncased vocabulary distilbert-base-uncased uses too), pad id, max tokens, pooling
# as registered for the SQL check (mean, or the model's own output)
CASES = [
    ("roberta-514", roberta(514), "bpe", 1, 512, "mean"),
    ("roberta-1026", roberta(1026), "bpe", 1, 1024, "mean"),
    ("distilbert-512", distilbert, "wordpiece", 0, 512, "mean"),
    ("codet5p-relu", codet5p("relu"), "bpe", 1, 512, "pooled"),
    ("t5-gated-gelu", codet5p("gated-gelu"), "bpe", 1, 512, "pooled"),
    ("unixcoder", unixcoder, "bpe-unixcoder", 1, 512, "mean"),
]


def corpus():
    with open(os.path.join(ROOT, "benches", "accuracy", "data", "code", "corpus.jsonl"), encoding="utf-8") as f:
        return [json.loads(line)["text"] for line in f]


def long_texts():
    return [
        " ".join(f"word{i}" for i in range(700)),
        "def f(x):\n" + "\n".join(f"    y{i} = x * {i} + y{i - 1}" for i in range(1, 200)) + "\n    return y199\n",
    ]


def vocab_files(vocab_dir):
    return [f for f in ("vocab.json", "merges.txt", "vocab.txt") if os.path.exists(os.path.join(vocab_dir, f))]


def make_checkpoint(folder, vocab_dir, make, seed):
    """A model with the real models' shape and random weights, saved in both formats; returns
    the reference function (ids, mask) -> unit vectors."""
    if os.path.exists(os.path.join(vocab_dir, "vocab.json")):
        size = len(json.load(open(os.path.join(vocab_dir, "vocab.json"), encoding="utf-8")))
    else:
        size = sum(1 for _ in open(os.path.join(vocab_dir, "vocab.txt"), encoding="utf-8"))
    torch.manual_seed(seed)
    model, reference, save = make(size)
    model.eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm" in name or "layer_norm" in name:
                p.normal_(1.0 if name.endswith("weight") else 0.0, 0.2)
    for fmt, safe in (("safetensors", True), ("bin", False)):
        out = os.path.join(folder, fmt)
        save(out, safe)
        for f in vocab_files(vocab_dir):
            shutil.copy(os.path.join(vocab_dir, f), out)
    return reference


def pooled(hidden, mask):
    s = (hidden * mask[..., None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
    return s / np.linalg.norm(s, axis=1, keepdims=True)


# The catalog model whose shape each case has: its converted folder, put under that name, is
# loaded by the catalog's entry (dims, pooling, output, token limit) through SQL.
CATALOG = {"roberta-514": "codebert-base", "distilbert-512": "distilbert-base-uncased",
           "codet5p-relu": "codet5p-110m-embedding", "unixcoder": "unixcoder-base"}


def sql_vectors(dsn, folder, name, max_tokens, pooling, dims, texts, register=True):
    """embed(text, name) through SQL, the folder registered as a user model (superuser), or
    with register=False, a catalog model of that name read from the folder."""
    parent = os.path.dirname(os.path.abspath(folder))
    output = "embedding" if pooling == "pooled" else "last_hidden_state"
    setup = f"SET pg_embed.model_dir = '{parent}'; SET pg_embed.precision = 'fp32'; "
    if register:
        setup += (f"SELECT pg_embed_register_model('{name}', {dims}, pooling => '{pooling}', max_tokens => {max_tokens}, "
                  f"role => 'code', pooled_output => '{output}');")
    out = []
    for t in texts:
        literal = t.replace("'", "''")
        run = subprocess.run(["psql", "-X", "-At", "-q", "-v", "ON_ERROR_STOP=1", dsn, "-c",
                              setup + f" SELECT embed('{literal}', '{name}')::text"], capture_output=True, text=True)
        if run.returncode != 0:
            sys.exit(f"through SQL: {run.stderr.strip()}")
        out.append(json.loads(run.stdout.strip().splitlines()[-1]))
    return np.array(out)


def check_case(tmp, vocab_dir, label, make, pad, max_tokens, pooling, texts, dsn, seed):
    folder = os.path.join(tmp, label)
    reference = make_checkpoint(folder, vocab_dir, make, seed)
    outs = {}
    for fmt in ("safetensors", "bin"):
        outs[fmt] = os.path.join(tmp, "models", f"{label}-{fmt}")
        # Converted under its catalog name, so the entry's input_template (UniXcoder's) applies.
        subprocess.run([sys.executable, PREPARE, "hub", os.path.join(folder, fmt), outs[fmt], CATALOG.get(label, label)],
                       check=True, stdout=subprocess.DEVNULL)
    same_graph = open(os.path.join(outs["safetensors"], "model.onnx"), "rb").read() == \
        open(os.path.join(outs["bin"], "model.onnx"), "rb").read()
    print(f"{label}: the graphs converted from model.safetensors and from pytorch_model.bin are "
          f"{'identical' if same_graph else 'DIFFERENT'}")
    out = outs["safetensors"]
    tok = Tokenizer.from_file(os.path.join(out, "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(max_length=max_tokens)
    if os.path.exists(os.path.join(vocab_dir, "vocab.json")):
        slow = RobertaTokenizer(os.path.join(vocab_dir, "vocab.json"), os.path.join(vocab_dir, "merges.txt"))
    else:
        slow = BertTokenizer(os.path.join(vocab_dir, "vocab.txt"), do_lower_case=True)
    encs = [tok.encode(t) for t in texts]
    if label == "unixcoder":
        ref_ids = [unixcoder_ids(slow, t, max_tokens) for t in texts]
    else:
        ref_ids = [slow(t, truncation=True, max_length=max_tokens)["input_ids"] for t in texts]
    same_ids = sum(e.ids == r for e, r in zip(encs, ref_ids))
    session = ort.InferenceSession(os.path.join(out, "model.onnx"), providers=["CPUExecutionProvider"])

    def ours(ids, mask):
        y = session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
        if pooling == "pooled":
            return y / np.linalg.norm(y, axis=1, keepdims=True)
        return pooled(y, mask)

    single, refs = [], []
    for e, r in zip(encs, ref_ids):
        ref = reference(np.array([r], np.int64), np.ones((1, len(r)), np.int64))[0]
        refs.append(ref)
        single.append(float((ours(np.array([e.ids], np.int64), np.ones((1, len(e.ids)), np.int64))[0] * ref).sum()))
    # One padded batch: pg_embed pads with 0, the reference with the model's pad id.
    longest = max(len(e.ids) for e in encs)
    mask = np.array([[1] * len(e.ids) + [0] * (longest - len(e.ids)) for e in encs], np.int64)
    ids0 = np.array([e.ids + [0] * (longest - len(e.ids)) for e in encs], np.int64)
    ids1 = np.array([e.ids + [pad] * (longest - len(e.ids)) for e in encs], np.int64)
    batch = [float(c) for c in (ours(ids0, mask) * reference(ids1, mask)).sum(axis=1)]
    lengths = sorted(len(e.ids) for e in encs)
    print(f"{label}: {same_ids} of {len(texts)} texts tokenized to the same ids as {type(slow).__name__} "
          f"({lengths[0]}-{lengths[-1]} tokens)")
    print(f"{label}: cosine to the reference ({'its projection' if pooling == 'pooled' else 'mean pooling'}), one text per run: min {min(single):.7f}; "
          f"as one batch of {len(texts)}: min {min(batch):.7f}")
    cosines = single + batch
    if dsn:
        name = os.path.basename(out)
        sql = (sql_vectors(dsn, out, name, max_tokens, pooling, len(refs[0]), texts) * np.array(refs)).sum(axis=1)
        print(f"{label}: through SQL, embed(text, '{name}'), one text per call: min {sql.min():.7f}")
        cosines += [float(c) for c in sql]
        if label in CATALOG:
            folder_as = os.path.join(tmp, "catalog", CATALOG[label])
            shutil.rmtree(folder_as, ignore_errors=True)
            shutil.copytree(out, folder_as)
            short = texts[:8]
            cat = (sql_vectors(dsn, folder_as, CATALOG[label], max_tokens, pooling, len(refs[0]), short, register=False)
                   * np.array(refs[:8])).sum(axis=1)
            print(f"{label}: as catalog model {CATALOG[label]}, embed(text, '{CATALOG[label]}'): min {cat.min():.7f}")
            cosines += [float(c) for c in cat]
    return same_graph and same_ids == len(texts) and min(cosines) >= MIN_COSINE


def main():
    args = sys.argv[1:]
    dsn = args[args.index("--dsn") + 1] if "--dsn" in args else None
    keep = args[args.index("--keep") + 1] if "--keep" in args else None
    texts_all = corpus()
    texts = texts_all[:60] + long_texts() + ["", "x", "<mask> fills a </s> gap"]
    tmp = keep or tempfile.mkdtemp(prefix="pg_embed-parity-")
    os.makedirs(tmp, exist_ok=True)
    vocabs = {"bpe": os.path.join(tmp, "vocab-bpe"), "wordpiece": os.path.join(tmp, "vocab-wordpiece"),
              "bpe-unixcoder": os.path.join(tmp, "vocab-bpe-unixcoder")}
    for d in vocabs.values():
        os.makedirs(d, exist_ok=True)
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(texts_all, vocab_size=8000, min_frequency=2,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    bpe.save_model(vocabs["bpe"])
    # UniXcoder's vocabulary holds its mode tokens.
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(texts_all, vocab_size=8000, min_frequency=2,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>", "<encoder-only>", "<decoder-only>",
                                            "<encoder-decoder>"])
    bpe.save_model(vocabs["bpe-unixcoder"])
    model_dir = os.environ.get("PG_EMBED_MODEL_DIR", "/var/lib/pg_embed-dev/models")
    wordpiece = Tokenizer.from_file(os.path.join(model_dir, "all-MiniLM-L6-v2", "tokenizer.json")).get_vocab(False)
    with open(os.path.join(vocabs["wordpiece"], "vocab.txt"), "w", encoding="utf-8") as f:
        f.writelines(token + "\n" for token, _ in sorted(wordpiece.items(), key=lambda kv: kv[1]))
    ok = True
    only = args[args.index("--only") + 1].split(",") if "--only" in args else None
    for seed, (label, make, vocab, pad, max_tokens, pooling) in enumerate(CASES):
        if only is None or label in only:
            ok &= check_case(tmp, vocabs[vocab], label, make, pad, max_tokens, pooling, texts, dsn, seed)
    if not keep:
        shutil.rmtree(tmp, ignore_errors=True)
    print("parity: " + ("ok" if ok else "FAILED"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
