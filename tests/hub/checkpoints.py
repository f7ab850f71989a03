#!/usr/bin/env python3
"""Writes small hub checkpoints of the catalog's code models, in their repositories' real file
layout (the catalog entry's checkpoint file list), for the end-to-end test of
`prepare_models.py fetch` against the loopback hub (tests/hub/convert.sh).

Each has its model's real configuration (hidden size, heads, feed-forward, positions, token
types, padding id, relative-position buckets, projection) with one layer and a byte-level BPE
vocabulary trained here on the repository's own texts, random seeded weights, and the weights
written as `pytorch_model.bin` (torch.save's zip of a pickle and raw storages, written here
without torch) or `model.safetensors`, as the real repository has them. Only numpy and the
`tokenizers` package are needed. Also writes CATALOG: the built-in catalog with these files'
checksums (where the real entry pins a file) and configuration values and the loopback
server's revision, so the download checks run against them, plus an entry whose checkpoint is
of an architecture the converter does not support and one whose served config.json differs
from the catalog's values.

Usage: checkpoints.py ROOT CATALOG_OUT REVISION
"""
import glob
import hashlib
import io
import json
import os
import pickle
import struct
import sys
import types
import zipfile

import numpy as np
from tokenizers import ByteLevelBPETokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.join(HERE, "..", "..")
CATALOG = os.path.join(REPO, "crates", "engine", "models.json")

ROBERTA = {"architectures": ["RobertaModel"], "model_type": "roberta", "hidden_size": 768, "num_hidden_layers": 1,
           "num_attention_heads": 12, "intermediate_size": 3072, "hidden_act": "gelu", "layer_norm_eps": 1e-05,
           "pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 2}
# What each repository's config.json says (layers reduced to one), its special tokens in id order,
# and where the weights' names start.
MODELS = {
    "unixcoder-base": dict(config={**ROBERTA, "max_position_embeddings": 1026, "type_vocab_size": 10},
                           specials=["<s>", "<pad>", "</s>", "<unk>", "<mask>", "<encoder-only>", "<decoder-only>",
                                     "<encoder-decoder>"], prefix=""),
    "codeberta-small-v1": dict(config={**ROBERTA, "architectures": ["RobertaForMaskedLM"], "max_position_embeddings": 514,
                                       "type_vocab_size": 1},
                               specials=["<s>", "<pad>", "</s>", "<unk>", "<mask>"], prefix="roberta."),
    "codet5p-110m-embedding": dict(config={"architectures": ["CodeT5p_Embedding"], "model_type": "codet5p_embedding",
                                           "d_model": 768, "embed_dim": 256, "d_kv": 64, "d_ff": 3072, "num_layers": 1,
                                           "num_heads": 12, "relative_attention_num_buckets": 32,
                                           "relative_attention_max_distance": 128, "feed_forward_proj": "relu",
                                           "layer_norm_epsilon": 1e-06, "n_positions": 512, "pad_token_id": 0,
                                           "bos_token_id": 1, "eos_token_id": 2},
                                   specials=["<pad>", "<s>", "</s>", "<unk>", "<mask>"], prefix=""),
}


def texts():
    """Code and prose of this repository, to train the vocabulary on."""
    for pattern in ("crates/engine/src/*.rs", "scripts/*.py", "README.md"):
        for path in sorted(glob.glob(os.path.join(REPO, pattern))):
            with open(path, encoding="utf-8") as f:
                yield f.read()


def vocabulary(folder, specials):
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(list(texts()), vocab_size=3000, min_frequency=2, special_tokens=specials, show_progress=False)
    bpe.save_model(folder)
    with open(os.path.join(folder, "vocab.json"), encoding="utf-8") as f:
        return len(json.load(f))


def roberta_weights(cfg, rng):
    h, i = cfg["hidden_size"], cfg["intermediate_size"]
    w = lambda *shape: (rng.standard_normal(shape) * 0.05).astype(np.float32)
    t = {"embeddings.word_embeddings.weight": w(cfg["vocab_size"], h),
         "embeddings.position_embeddings.weight": w(cfg["max_position_embeddings"], h),
         "embeddings.token_type_embeddings.weight": w(cfg["type_vocab_size"], h),
         "embeddings.LayerNorm.weight": 1 + w(h), "embeddings.LayerNorm.bias": w(h)}
    for n in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{n}."
        for name in ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"):
            t[p + name + ".weight"], t[p + name + ".bias"] = w(h, h), w(h)
        t[p + "intermediate.dense.weight"], t[p + "intermediate.dense.bias"] = w(i, h), w(i)
        t[p + "output.dense.weight"], t[p + "output.dense.bias"] = w(h, i), w(h)
        for ln in ("attention.output.LayerNorm", "output.LayerNorm"):
            t[p + ln + ".weight"], t[p + ln + ".bias"] = 1 + w(h), w(h)
    return t


def t5_weights(cfg, rng):
    d, ff, inner = cfg["d_model"], cfg["d_ff"], cfg["num_heads"] * cfg["d_kv"]
    w = lambda *shape: (rng.standard_normal(shape) * 0.05).astype(np.float32)
    t = {"shared.weight": w(cfg["vocab_size"], d), "encoder.final_layer_norm.weight": 1 + w(d),
         "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight": w(cfg["relative_attention_num_buckets"], cfg["num_heads"]),
         "proj.weight": w(cfg["embed_dim"], d), "proj.bias": w(cfg["embed_dim"])}
    t["encoder.embed_tokens.weight"] = t["shared.weight"]
    for n in range(cfg["num_layers"]):
        p = f"encoder.block.{n}.layer."
        for name in ("q", "k", "v"):
            t[p + f"0.SelfAttention.{name}.weight"] = w(inner, d)
        t[p + "0.SelfAttention.o.weight"] = w(d, inner)
        t[p + "0.layer_norm.weight"], t[p + "1.layer_norm.weight"] = 1 + w(d), 1 + w(d)
        t[p + "1.DenseReluDense.wi.weight"], t[p + "1.DenseReluDense.wo.weight"] = w(ff, d), w(d, ff)
    return t


def write_safetensors(path, tensors):
    header, offset, blobs = {}, 0, []
    for name, arr in tensors.items():
        raw = np.ascontiguousarray(arr, np.float32).tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        blobs.append(raw)
    head = json.dumps(header).encode()
    head += b" " * (-len(head) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)) + head)
        for raw in blobs:
            f.write(raw)


def write_torch_checkpoint(path, tensors):
    """torch.save's format: archive/data.pkl (an OrderedDict of tensors rebuilt by
    torch._utils._rebuild_tensor_v2 from persistent storages) and archive/data/<key>."""
    import collections
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args):
        raise RuntimeError("written only")

    class FloatStorage:
        pass

    _rebuild_tensor_v2.__module__, FloatStorage.__module__ = "torch._utils", "torch"
    _rebuild_tensor_v2.__qualname__, FloatStorage.__qualname__ = "_rebuild_tensor_v2", "FloatStorage"
    utils._rebuild_tensor_v2, torch.FloatStorage, torch._utils = _rebuild_tensor_v2, FloatStorage, utils
    saved = {k: sys.modules.get(k) for k in ("torch", "torch._utils")}
    sys.modules.update({"torch": torch, "torch._utils": utils})

    class Storage:
        def __init__(self, key, arr):
            self.key, self.arr = key, arr

    class Tensor:
        def __init__(self, storage, shape):
            self.storage, self.shape = storage, shape

        def __reduce__(self):
            stride, acc = [], 1
            for n in reversed(self.shape):
                stride.insert(0, acc)
                acc *= n
            return (_rebuild_tensor_v2, (self.storage, 0, tuple(self.shape), tuple(stride), False, collections.OrderedDict()))

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, Storage):
                return ("storage", FloatStorage, obj.key, "cpu", obj.arr.size)
            return None

    storages, state = {}, collections.OrderedDict()
    for name, arr in tensors.items():
        key = str(len(storages))
        storages[key] = np.ascontiguousarray(arr, np.float32)
        state[name] = Tensor(Storage(key, storages[key]), arr.shape)
    buf = io.BytesIO()
    try:
        Pickler(buf, protocol=2).dump(state)
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", buf.getvalue())
        z.writestr("archive/byteorder", "little")
        for key, arr in storages.items():
            z.writestr(f"archive/data/{key}", arr.tobytes())
        z.writestr("archive/version", "3\n")


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    root, catalog_out, revision = sys.argv[1:4]
    sys.path.insert(0, os.path.join(REPO, "scripts"))
    import make_tokenizer
    with open(CATALOG, encoding="utf-8") as f:
        catalog = json.load(f)
    entries = {m["name"]: m for m in catalog["models"]}
    for seed, (name, model) in enumerate(MODELS.items()):
        spec = entries[name]
        folder = os.path.join(root, spec["repo"])
        os.makedirs(folder, exist_ok=True)
        cfg = dict(model["config"], vocab_size=vocabulary(folder, model["specials"]))
        with open(os.path.join(folder, "config.json"), "w") as f:
            json.dump(cfg, f, indent=2)
        specials = dict(zip(["cls_token", "pad_token", "sep_token", "unk_token", "mask_token"], model["specials"]))
        if name == "codet5p-110m-embedding":
            specials = {"pad_token": "<pad>", "bos_token": "<s>", "cls_token": "<s>", "eos_token": "</s>",
                        "sep_token": "</s>", "unk_token": "<unk>", "mask_token": "<mask>"}
        files = spec["checkpoint"]["files"]
        if "special_tokens_map.json" in files:
            with open(os.path.join(folder, "special_tokens_map.json"), "w") as f:
                json.dump(specials, f)
        if "tokenizer_config.json" in files:
            with open(os.path.join(folder, "tokenizer_config.json"), "w") as f:
                json.dump({"tokenizer_class": "RobertaTokenizer", "model_max_length": 512}, f)
        if "added_tokens.json" in files:
            with open(os.path.join(folder, "added_tokens.json"), "w") as f:
                json.dump({}, f)
        if "tokenizer.json" in files:
            make_tokenizer.build(folder).save(os.path.join(folder, "tokenizer.json"))
        rng = np.random.default_rng(seed + 1)
        weights = t5_weights(cfg, rng) if cfg["model_type"] == "codet5p_embedding" else roberta_weights(cfg, rng)
        weights = {model["prefix"] + k: v for k, v in weights.items()}
        if "pytorch_model.bin" in files:
            write_torch_checkpoint(os.path.join(folder, "pytorch_model.bin"), weights)
        else:
            write_safetensors(os.path.join(folder, "model.safetensors"), weights)
        missing = [p for p in files if not os.path.exists(os.path.join(folder, p))]
        if missing:
            sys.exit(f"checkpoints.py: {name}: no test file for {missing}")
        spec["revision"] = revision
        # Pinned where the real entry pins (the weights), and the configuration values it checks.
        spec["checkpoint"]["files"] = {p: sha256(os.path.join(folder, p)) if files[p] else "" for p in files}
        spec["checkpoint"]["config"] = {k: cfg.get(k) for k in spec["checkpoint"].get("config", {})}
    # CodeBERTa's files under two more entries: a checkpoint of an architecture the converter
    # does not know (GPT-2's), and a served config.json that differs from the catalog's values.
    for name, change, expect in (("unsupported-architecture", {"architectures": ["GPT2Model"], "model_type": "gpt2"}, True),
                                 ("tampered-config", {"layer_norm_eps": 10.0}, False)):
        other = json.loads(json.dumps(entries["codeberta-small-v1"]))
        other.update(name=name, repo=f"example/{name}")
        src, dst = os.path.join(root, entries["codeberta-small-v1"]["repo"]), os.path.join(root, other["repo"])
        os.makedirs(dst, exist_ok=True)
        for p in other["checkpoint"]["files"]:
            with open(os.path.join(src, p), "rb") as f:
                data = f.read()
            if p == "config.json":
                data = json.dumps({**json.loads(data), **change}).encode()
            with open(os.path.join(dst, p), "wb") as f:
                f.write(data)
        if expect:
            other["checkpoint"]["config"].update({k: v for k, v in change.items() if k in other["checkpoint"]["config"]})
        catalog["models"].append(other)
    with open(catalog_out, "w", encoding="utf-8") as f:
        json.dump(catalog, f, indent=2)


if __name__ == "__main__":
    main()
