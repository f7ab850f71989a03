#!/usr/bin/env python3
"""Turn the model files that registry packages ship into the ONNX variants pg_embed loads.

For a BERT, RoBERTa or MPNet encoder shipped as safetensors (all-MiniLM-L6-v2, all-mpnet-base-v2), this
script writes the exact fp32 graph itself from the weights with numpy and onnx (no torch
needed), then a per-channel dynamic int8 copy of it. Per-tensor int8 is not offered: it loses
too much (cosine to fp32 drops to about 0.89 for MiniLM).

The int8 copy follows the model's entry in int8_recipes.json (next to this script): the
MatMuls listed there stay fp32 (chosen by int8_sensitivity.py). The recipe used is written
beside the file (model_int8.recipe.json), so a changed recipe is applied by the next set-up.

For a model shipped as an ONNX graph whose token states are an inner output (the packaged
paraphrase-MiniLM-L3-v2 returns them as "onnx::Shape_422", next to an in-graph pooled vector),
it writes a copy whose only output is that tensor, named last_hidden_state, so every model is
pooled the same way by pg_embed.

A hub folder of a BERT, RoBERTa (CodeBERT, UniXcoder, CodeBERTa), DistilBERT or MPNet checkpoint, with
model.safetensors or pytorch_model.bin (read without torch) and a tokenizer.json or the slow
tokenizer's files (scripts/make_tokenizer.py builds tokenizer.json from them), becomes a model
folder the same way ("hub").

"fetch" does the whole way for a catalog model published as a checkpoint: it downloads the
files the catalog entry lists at its revision (from HF_ENDPOINT, default the Hugging Face hub),
checks the weights against the entry's SHA-256 (other files, which no public listing pins, only
against corruption), converts them, builds tokenizer.json with the entry's
input_template, runs the model once, and only then renames the folder into MODEL_DIR/NAME. On any
error it removes what it fetched and installs nothing; the message carries the SQLSTATE that
pg_embed_download() gives for the same failure. PG_EMBED_CATALOG names another catalog file.

Usage: prepare_models.py safetensors SAFETENSORS_DIR OUT_DIR NAME
       prepare_models.py hub HUB_FOLDER OUT_DIR NAME
       prepare_models.py fetch NAME MODEL_DIR
       prepare_models.py onnx ONNX_FILE TOKEN_STATES_OUTPUT TOKENIZER_DIR OUT_DIR NAME
       prepare_models.py int8 MODEL_FOLDER NAME
The first two write OUT_DIR/model.onnx (fp32), OUT_DIR/model_int8.onnx, and copy the tokenizer
files; int8 rewrites MODEL_FOLDER/model_int8.onnx from its model.onnx unless it already
follows NAME's current recipe.
"""
import json
import math
import os
import shutil
import struct
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64}


def read_safetensors(path):
    """Reads every tensor of a .safetensors file into numpy arrays (the format is a JSON header
    followed by raw little-endian data)."""
    with open(path, "rb") as f:
        (header_len,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(header_len))
        data = f.read()
    tensors = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        start, end = meta["data_offsets"]
        arr = np.frombuffer(data[start:end], dtype=DTYPES[meta["dtype"]]).reshape(meta["shape"])
        tensors[name] = arr.astype(np.float32) if arr.dtype == np.float16 else arr
    return tensors


STORAGES = {"FloatStorage": np.float32, "HalfStorage": np.float16, "BFloat16Storage": "bfloat16",
            "DoubleStorage": np.float64, "LongStorage": np.int64, "IntStorage": np.int32,
            "ShortStorage": np.int16, "ByteStorage": np.uint8, "CharStorage": np.int8, "BoolStorage": np.bool_}


def read_torch_checkpoint(path):
    """Reads the tensors of a pytorch_model.bin (torch.save's format: a zip holding a pickle
    and one file per storage) into numpy arrays, without torch. The pickle may name only the
    few functions and classes a checkpoint of tensors needs (anything else is refused, so a
    hostile file cannot run code while it is read)."""
    import collections
    import pickle
    import zipfile

    archive = zipfile.ZipFile(path)
    pickles = [n for n in archive.namelist() if n.endswith("/data.pkl") or n == "data.pkl"]
    if len(pickles) != 1:
        sys.exit(f"{path} is not a PyTorch checkpoint (zip with one data.pkl)")
    root = pickles[0][: -len("data.pkl")]

    def storage_array(dtype, key):
        raw = archive.read(f"{root}data/{key}")
        if dtype == "bfloat16":
            return (np.frombuffer(raw, np.uint16).astype(np.uint32) << 16).view(np.float32)
        return np.frombuffer(raw, dtype)

    def rebuild_tensor(storage, offset, size, stride, *_):
        item = storage.itemsize
        view = np.lib.stride_tricks.as_strided(storage[offset:], shape=tuple(size), strides=[st * item for st in stride])
        return np.array(view)

    class StorageType:
        def __init__(self, name):
            self.dtype = STORAGES[name]

    class Checkpoint(pickle.Unpickler):
        def find_class(self, module, name):
            if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
                return rebuild_tensor
            if (module, name) == ("torch._utils", "_rebuild_parameter"):
                return lambda data, *_: data
            if module == "torch" and name in STORAGES:
                return StorageType(name)
            if (module, name) == ("collections", "OrderedDict"):
                return collections.OrderedDict
            raise pickle.UnpicklingError(f"{path}: {module}.{name} is not allowed in a checkpoint of tensors")

        def persistent_load(self, pid):
            kind, storage_type, key = pid[0], pid[1], pid[2]
            if kind != "storage" or not isinstance(storage_type, StorageType):
                raise pickle.UnpicklingError(f"{path}: unexpected persistent id {pid!r}")
            return storage_array(storage_type.dtype, key)

    with archive.open(pickles[0]) as f:
        state = Checkpoint(f).load()
    return {k: (v.astype(np.float32) if v.dtype in (np.float16, np.float64) else v) for k, v in state.items()}


def read_weights(folder):
    """A hub folder's weights: model.safetensors, else pytorch_model.bin; names without the
    prefix a task model puts before the encoder's (roberta., bert., model.)."""
    st, pt = os.path.join(folder, "model.safetensors"), os.path.join(folder, "pytorch_model.bin")
    if os.path.exists(st):
        t = read_safetensors(st)
    elif os.path.exists(pt):
        t = read_torch_checkpoint(pt)
    else:
        sys.exit(f"{folder} has neither model.safetensors nor pytorch_model.bin")
    if "embeddings.word_embeddings.weight" not in t and not any(k.startswith("encoder.block.") for k in t):
        for prefix in ("roberta.", "bert.", "distilbert.", "model.", "mpnet."):
            if prefix + "embeddings.word_embeddings.weight" in t:
                return {k[len(prefix):]: v for k, v in t.items() if k.startswith(prefix)}
    return t


class Graph:
    """A small builder over onnx.helper that names nodes and initializers uniquely."""

    def __init__(self):
        self.nodes, self.inits, self.n = [], [], 0

    def const(self, name, arr):
        self.inits.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    def op(self, op_type, inputs, **attrs):
        self.n += 1
        out = f"{op_type.lower()}_{self.n}"
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=f"n{self.n}", **attrs))
        return out

    def linear(self, x, w, b, prefix):
        # PyTorch stores Linear weights as [out, in]; MatMul wants [in, out].
        wt = self.const(prefix + ".weight_t", np.ascontiguousarray(w.T))
        return self.op("Add", [self.op("MatMul", [x, wt]), self.const(prefix + ".bias", b)])

    def layer_norm(self, x, w, b, prefix, eps):
        return self.op("LayerNormalization", [x, self.const(prefix + ".weight", w),
                                              self.const(prefix + ".bias", b)], axis=-1, epsilon=eps)


# Where each architecture keeps a layer's weights (prefix "encoder.layer.N."), under the short
# names the graph gives them (the int8 recipes refer to those names, e.g. encoder.layer.0.inter).
LAYER_WEIGHTS = {
    "bert": {"query": "attention.self.query", "key": "attention.self.key", "value": "attention.self.value",
             "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
             "inter": "intermediate.dense", "out": "output.dense", "oln": "output.LayerNorm"},
    "roberta": {"query": "attention.self.query", "key": "attention.self.key", "value": "attention.self.value",
                "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
                "inter": "intermediate.dense", "out": "output.dense", "oln": "output.LayerNorm"},
    "distilbert": {"query": "attention.q_lin", "key": "attention.k_lin", "value": "attention.v_lin",
                   "ao": "attention.out_lin", "aln": "sa_layer_norm",
                   "inter": "ffn.lin1", "out": "ffn.lin2", "oln": "output_layer_norm"},
    "mpnet": {"query": "attention.attn.q", "key": "attention.attn.k", "value": "attention.attn.v",
              "ao": "attention.attn.o", "aln": "attention.LayerNorm",
              "inter": "intermediate.dense", "out": "output.dense", "oln": "output.LayerNorm"},
}


# Where each architecture keeps its layers.
LAYER_PREFIX = {"distilbert": "transformer.layer.{}."}


def normalized(cfg):
    """The configuration under BERT's key names (DistilBERT says dim, n_heads, n_layers and
    fixes LayerNorm's epsilon at 1e-12)."""
    if cfg.get("model_type") != "distilbert":
        return cfg
    if cfg.get("sinusoidal_pos_embds"):
        sys.exit("prepare_models.py: DistilBERT with sinusoidal position embeddings is not supported")
    return {**cfg, "hidden_size": cfg["dim"], "num_attention_heads": cfg["n_heads"],
            "num_hidden_layers": cfg["n_layers"], "layer_norm_eps": 1e-12}


def words_and_positions(g, t):
    """Word embeddings and position embeddings of positions 0, 1, ... (BERT, DistilBERT)."""
    words = g.op("Gather", [g.const("word_embeddings", t["embeddings.word_embeddings.weight"]), "input_ids"])
    seq_len = g.op("Gather", [g.op("Shape", ["input_ids"]), g.const("one_i", np.array(1, np.int64))])
    positions = g.op("Range", [g.const("zero_i", np.array(0, np.int64)), seq_len,
                               g.const("step_i", np.array(1, np.int64))])
    pos = g.op("Gather", [g.const("position_embeddings", t["embeddings.position_embeddings.weight"]), positions])
    return words, pos


def distilbert_embeddings(g, t, eps):
    """DistilBertModel's embeddings: word + position, then LayerNorm (no token types)."""
    return g.layer_norm(g.op("Add", list(words_and_positions(g, t))), t["embeddings.LayerNorm.weight"],
                        t["embeddings.LayerNorm.bias"], "embeddings.LayerNorm", eps)


def bert_embeddings(g, t, eps):
    """BertModel's embeddings: word + position + token type, then LayerNorm."""
    words, pos = words_and_positions(g, t)
    typ = g.op("Gather", [g.const("token_type_embeddings", t["embeddings.token_type_embeddings.weight"]),
                          "token_type_ids"])
    x = g.op("Add", [g.op("Add", [words, pos]), typ])
    return g.layer_norm(x, t["embeddings.LayerNorm.weight"], t["embeddings.LayerNorm.bias"], "embeddings.LayerNorm", eps)


def positions_from_mask(g, pad):
    """Positions as RoBERTa and MPNet number them: pad + 1, pad + 2, ... over the attended
    tokens (the models derive them from the input ids; taken from the attention mask here, so
    the value a batch pads with does not matter)."""
    mask = "attention_mask"
    return g.op("Add", [g.op("Mul", [g.op("CumSum", [mask, g.const("one_i", np.array(1, np.int64))]), mask]),
                        g.const("pad_i", np.array(pad, np.int64))])


def roberta_embeddings(g, t, cfg, eps):
    """RobertaModel's embeddings: word + position (from padding_idx + 1) + the token type 0
    row (a RoBERTa model is run with token type 0 everywhere), then LayerNorm."""
    words = g.op("Gather", [g.const("word_embeddings", t["embeddings.word_embeddings.weight"]), "input_ids"])
    pos = g.op("Gather", [g.const("position_embeddings", t["embeddings.position_embeddings.weight"]),
                          positions_from_mask(g, cfg["pad_token_id"])])
    typ = g.const("token_type_0", t["embeddings.token_type_embeddings.weight"][0])
    x = g.op("Add", [g.op("Add", [words, pos]), typ])
    return g.layer_norm(x, t["embeddings.LayerNorm.weight"], t["embeddings.LayerNorm.bias"], "embeddings.LayerNorm", eps)


def relative_bucket(rel, num_buckets, max_distance):
    """MPNet's (T5's bidirectional) bucket of each relative position key - query, computed in
    float32 as the reference implementation does."""
    n = -rel
    half = num_buckets // 2
    ret = (n < 0).astype(np.int64) * half
    n = np.abs(n)
    exact = half // 2
    ratio = np.log(np.maximum(n, 1).astype(np.float32) / np.float32(exact)) / np.float32(math.log(max_distance / exact))
    large = exact + (ratio * np.float32(half - exact)).astype(np.int64)
    return ret + np.where(n < exact, n, np.minimum(large, half - 1))


def mpnet_embeddings(g, t, cfg, eps):
    """MPNetModel's embeddings and its relative-position attention bias. Positions count the
    attended tokens from padding_idx + 1 (as MPNet derives them from the input ids; taken from
    the attention mask here, so the value a batch pads with does not matter). Returns the
    embeddings and the bias [1, H, L, L] every layer adds to its attention scores."""
    positions = positions_from_mask(g, cfg["pad_token_id"])
    words = g.op("Gather", [g.const("word_embeddings", t["embeddings.word_embeddings.weight"]), "input_ids"])
    pos = g.op("Gather", [g.const("position_embeddings", t["embeddings.position_embeddings.weight"]), positions])
    x = g.layer_norm(g.op("Add", [words, pos]), t["embeddings.LayerNorm.weight"], t["embeddings.LayerNorm.bias"],
                     "embeddings.LayerNorm", eps)
    # The bias depends only on key - query, so it is a lookup in a table over every relative
    # position a sequence of max_position_embeddings can have.
    span = cfg["max_position_embeddings"] - 1
    rel = np.arange(-span, span + 1)
    table = t["encoder.relative_attention_bias.weight"][relative_bucket(rel, cfg["relative_attention_num_buckets"], 128)]
    seq_len = g.op("Gather", [g.op("Shape", ["input_ids"]), "one_i"])
    r = g.op("Range", [g.const("zero_i", np.array(0, np.int64)), seq_len, "one_i"])
    key_minus_query = g.op("Sub", [g.op("Unsqueeze", [r, g.const("axes_0", np.array([0], np.int64))]),
                                   g.op("Unsqueeze", [r, g.const("axes_1", np.array([1], np.int64))])])
    index = g.op("Add", [key_minus_query, g.const("span_i", np.array(span, np.int64))])
    bias = g.op("Gather", [g.const("relative_attention_bias", table), index])      # [L, L, H]
    bias = g.op("Unsqueeze", [g.op("Transpose", [bias], perm=[2, 0, 1]), "axes_0"])  # [1, H, L, L]
    return x, bias


def encoder_graph(t, cfg):
    """Builds BertModel's, RobertaModel's, DistilBertModel's or MPNetModel's forward pass (inference: no dropout) returning
    last_hidden_state."""
    g = Graph()
    cfg = normalized(cfg)
    kind = cfg["model_type"]
    act = cfg.get("hidden_act", cfg.get("activation", "gelu"))
    if act != "gelu":
        sys.exit(f"prepare_models.py: activation {act!r} is not supported (exact GELU only)")
    names = LAYER_WEIGHTS[kind]
    hidden, heads = cfg["hidden_size"], cfg["num_attention_heads"]
    head_dim, eps = hidden // heads, cfg["layer_norm_eps"]
    if kind == "bert":
        x, position_bias = bert_embeddings(g, t, eps), None
    elif kind == "roberta":
        x, position_bias = roberta_embeddings(g, t, cfg, eps), None
    elif kind == "distilbert":
        x, position_bias = distilbert_embeddings(g, t, eps), None
    else:
        x, position_bias = mpnet_embeddings(g, t, cfg, eps)

    # Additive attention mask [B, 1, 1, L]: 0 where attended, a large negative where padded.
    m = g.op("Cast", [g.op("Unsqueeze", ["attention_mask", g.const("axes_12", np.array([1, 2], np.int64))])],
             to=TensorProto.FLOAT)
    bias = g.op("Mul", [g.op("Sub", [g.const("one_f", np.array(1.0, np.float32)), m]),
                        g.const("neg_f", np.array(np.finfo(np.float32).min, np.float32))])
    if position_bias is not None:
        bias = g.op("Add", [position_bias, bias])
    split = g.const("shape_split", np.array([0, 0, heads, head_dim], np.int64))
    merge = g.const("shape_merge", np.array([0, 0, hidden], np.int64))
    scale = g.const("scale", np.array(1.0 / math.sqrt(head_dim), np.float32))
    sqrt2 = g.const("sqrt2", np.array(math.sqrt(2.0), np.float32))
    half = g.const("half", np.array(0.5, np.float32))
    one = "one_f"

    for i in range(cfg["num_hidden_layers"]):
        p = LAYER_PREFIX.get(kind, "encoder.layer.{}.").format(i)
        def w(name, part):
            return t[p + names[name] + "." + part]
        def heads_of(name, perm):
            y = g.linear(x, w(name, "weight"), w(name, "bias"), p + name)
            return g.op("Transpose", [g.op("Reshape", [y, split])], perm=perm)
        q = heads_of("query", [0, 2, 1, 3])           # [B, H, L, D]
        k = heads_of("key", [0, 2, 3, 1])             # [B, H, D, L]
        v = heads_of("value", [0, 2, 1, 3])
        scores = g.op("Add", [g.op("Mul", [g.op("MatMul", [q, k]), scale]), bias])
        ctx = g.op("MatMul", [g.op("Softmax", [scores], axis=-1), v])
        ctx = g.op("Reshape", [g.op("Transpose", [ctx], perm=[0, 2, 1, 3]), merge])
        attn = g.linear(ctx, w("ao", "weight"), w("ao", "bias"), p + "ao")
        x = g.layer_norm(g.op("Add", [attn, x]), w("aln", "weight"), w("aln", "bias"), p + "aln", eps)
        h = g.linear(x, w("inter", "weight"), w("inter", "bias"), p + "inter")
        # Exact GELU: 0.5 * h * (1 + erf(h / sqrt(2))).
        h = g.op("Mul", [g.op("Mul", [h, half]), g.op("Add", [g.op("Erf", [g.op("Div", [h, sqrt2])]), one])])
        out = g.linear(h, w("out", "weight"), w("out", "bias"), p + "out")
        x = g.layer_norm(g.op("Add", [out, x]), w("oln", "weight"), w("oln", "bias"), p + "oln", eps)

    g.nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"], name="output"))
    dyn = ["batch", "sequence"]
    input_names = ["input_ids", "attention_mask"] + (["token_type_ids"] if kind == "bert" else [])
    inputs = [helper.make_tensor_value_info(n, TensorProto.INT64, dyn) for n in input_names]
    output = helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, dyn + [hidden])
    graph = helper.make_graph(g.nodes, kind, inputs, [output], g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="pg_embed")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


T5_TYPES = ("t5", "codet5p_embedding")


def t5_encoder_graph(t, cfg):
    """T5EncoderModel's forward pass (inference): token embeddings, then per block RMS norm,
    self-attention without score scaling plus the relative position bias of the first block
    (bidirectional buckets, shared by every block), RMS norm, feed-forward (ReLU, or GELU-gated
    with GELU's tanh form), residuals, and a final RMS norm. With a projection (`proj.weight`, as
    codet5p-110m-embedding has: the first token's state through a linear layer to embed_dim), the
    output is that projected vector, "embedding" [batch, embed_dim]; otherwise last_hidden_state.
    Relative positions are tabled up to n_positions (512 by default) tokens."""
    g = Graph()
    d, heads, dkv = cfg["d_model"], cfg["num_heads"], cfg["d_kv"]
    inner, eps = heads * dkv, cfg.get("layer_norm_epsilon", 1e-6)
    ffn = cfg.get("feed_forward_proj", "relu")
    if ffn not in ("relu", "gated-gelu"):
        sys.exit(f"prepare_models.py: feed_forward_proj {ffn!r} is not supported (relu, gated-gelu)")
    emb = t.get("encoder.embed_tokens.weight", t.get("shared.weight"))
    x = g.op("Gather", [g.const("embed_tokens", emb), "input_ids"])
    # The position bias [1, H, L, L], looked up by key - query in a table over every relative
    # position a sequence of n_positions tokens can have.
    span = cfg.get("n_positions", 512) - 1
    rel = np.arange(-span, span + 1)
    buckets = relative_bucket(rel, cfg["relative_attention_num_buckets"], cfg.get("relative_attention_max_distance", 128))
    table = t["encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"][buckets]
    one = g.const("one_i", np.array(1, np.int64))
    seq_len = g.op("Gather", [g.op("Shape", ["input_ids"]), one])
    r = g.op("Range", [g.const("zero_i", np.array(0, np.int64)), seq_len, one])
    key_minus_query = g.op("Sub", [g.op("Unsqueeze", [r, g.const("axes_0", np.array([0], np.int64))]),
                                   g.op("Unsqueeze", [r, g.const("axes_1", np.array([1], np.int64))])])
    index = g.op("Add", [key_minus_query, g.const("span_i", np.array(span, np.int64))])
    position_bias = g.op("Unsqueeze", [g.op("Transpose", [g.op("Gather", [g.const("relative_attention_bias", table), index])],
                                            perm=[2, 0, 1]), "axes_0"])
    m = g.op("Cast", [g.op("Unsqueeze", ["attention_mask", g.const("axes_12", np.array([1, 2], np.int64))])],
             to=TensorProto.FLOAT)
    bias = g.op("Add", [position_bias, g.op("Mul", [g.op("Sub", [g.const("one_f", np.array(1.0, np.float32)), m]),
                                                   g.const("neg_f", np.array(np.finfo(np.float32).min, np.float32))])])
    split = g.const("shape_split", np.array([0, 0, heads, dkv], np.int64))
    merge = g.const("shape_merge", np.array([0, 0, inner], np.int64))
    eps_c = g.const("eps", np.array(eps, np.float32))

    def rms(y, w, name):
        mean_sq = g.op("ReduceMean", [g.op("Mul", [y, y])], axes=[-1], keepdims=1)
        scaled = g.op("Div", [y, g.op("Sqrt", [g.op("Add", [mean_sq, eps_c])])])
        return g.op("Mul", [scaled, g.const(name, w)])

    def matmul(y, w, name):
        return g.op("MatMul", [y, g.const(name + ".weight_t", np.ascontiguousarray(w.T))])

    if ffn == "gated-gelu":
        gelu_c = g.const("gelu_c", np.array(0.044715, np.float32))
        gelu_k = g.const("gelu_k", np.array(math.sqrt(2.0 / math.pi), np.float32))
        half = g.const("half", np.array(0.5, np.float32))

    def gelu_tanh(y):
        # 0.5 * y * (1 + tanh(sqrt(2 / pi) * (y + 0.044715 * y^3)))
        cube = g.op("Mul", [g.op("Mul", [y, y]), y])
        th = g.op("Tanh", [g.op("Mul", [g.op("Add", [y, g.op("Mul", [cube, gelu_c])]), gelu_k])])
        return g.op("Mul", [g.op("Mul", [y, half]), g.op("Add", [th, "one_f"])])

    for i in range(cfg["num_layers"]):
        p = f"encoder.block.{i}.layer."
        h = rms(x, t[p + "0.layer_norm.weight"], p + "0.layer_norm")
        def heads_of(name, perm):
            y = matmul(h, t[p + f"0.SelfAttention.{name}.weight"], p + f"0.SelfAttention.{name}")
            return g.op("Transpose", [g.op("Reshape", [y, split])], perm=perm)
        q, k, v = heads_of("q", [0, 2, 1, 3]), heads_of("k", [0, 2, 3, 1]), heads_of("v", [0, 2, 1, 3])
        scores = g.op("Add", [g.op("MatMul", [q, k]), bias])
        ctx = g.op("MatMul", [g.op("Softmax", [scores], axis=-1), v])
        ctx = g.op("Reshape", [g.op("Transpose", [ctx], perm=[0, 2, 1, 3]), merge])
        x = g.op("Add", [x, matmul(ctx, t[p + "0.SelfAttention.o.weight"], p + "0.SelfAttention.o")])
        h = rms(x, t[p + "1.layer_norm.weight"], p + "1.layer_norm")
        f = p + "1.DenseReluDense."
        if ffn == "relu":
            h = g.op("Relu", [matmul(h, t[f + "wi.weight"], f + "wi")])
        else:
            h = g.op("Mul", [gelu_tanh(matmul(h, t[f + "wi_0.weight"], f + "wi_0")), matmul(h, t[f + "wi_1.weight"], f + "wi_1")])
        x = g.op("Add", [x, matmul(h, t[f + "wo.weight"], f + "wo")])
    x = rms(x, t["encoder.final_layer_norm.weight"], "encoder.final_layer_norm")

    dyn = ["batch", "sequence"]
    if "proj.weight" in t:
        first = g.op("Gather", [x, g.const("zero_s", np.array(0, np.int64))], axis=1)     # [B, d]
        out = g.linear(first, t["proj.weight"], t["proj.bias"], "proj")
        g.nodes.append(helper.make_node("Identity", [out], ["embedding"], name="output"))
        output = helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", t["proj.weight"].shape[0]])
    else:
        g.nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"], name="output"))
        output = helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, dyn + [d])
    inputs = [helper.make_tensor_value_info(n, TensorProto.INT64, dyn) for n in ("input_ids", "attention_mask")]
    graph = helper.make_graph(g.nodes, "t5_encoder", inputs, [output], g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="pg_embed")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model



def weight_matmuls(model):
    """Labels of the MatMuls that multiply by a weight (the ones int8 quantizes), in graph
    order: the weight's name where it is readable, otherwise the node's name."""
    inits = {i.name for i in model.graph.initializer}
    return [n.input[1] if "::" not in n.input[1] else n.name
            for n in model.graph.node if n.op_type == "MatMul" and n.input[1] in inits]


def split_outlier_channels(model, outliers):
    """For each weight MatMul labelled in `outliers` ({label: [input channel, ...]}), computes
    the listed input channels apart, in fp32: y = (x * mask) @ W + x[..., channels] @ W[channels].
    The masked input has zeros in those channels, so the run-time range of the int8 activation
    (one scale per tensor) is no longer set by a few channels far larger than the rest.
    Returns the names of the small fp32 MatMuls added (to be left unquantized)."""
    inits = {i.name: i for i in model.graph.initializer}
    added, nodes, shared = [], [], {}
    for n in model.graph.node:
        label = n.op_type == "MatMul" and n.input[1] in inits and (n.input[1] if "::" not in n.input[1] else n.name)
        if label not in outliers:
            nodes.append(n)
            continue
        w = numpy_helper.to_array(inits[n.input[1]])
        chans = np.array(sorted(outliers[label]), dtype=np.int64)
        mask = np.ones(w.shape[0], dtype=np.float32)
        mask[chans] = 0
        p = f"{n.name}/outliers"
        x, y = n.input[0], n.output[0]
        key = (x, tuple(chans))
        if key not in shared:
            # MatMuls of one input with the same channels (query, key, value) share the masked
            # input, so the quantizer still quantizes it once for all of them.
            shared[key] = p
            model.graph.initializer.extend([numpy_helper.from_array(mask, p + "/mask"),
                                            numpy_helper.from_array(chans, p + "/channels")])
            nodes.append(helper.make_node("Mul", [x, p + "/mask"], [p + "/masked"], name=p + "/mask_mul"))
            nodes.append(helper.make_node("Gather", [x, p + "/channels"], [p + "/x"], name=p + "/gather", axis=-1))
        first = shared[key]
        model.graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(w[chans]), p + "/weight"))
        n.input[0], n.output[0] = first + "/masked", p + "/main"
        nodes.append(n)
        nodes.append(helper.make_node("MatMul", [first + "/x", p + "/weight"], [p + "/y"], name=p + "/matmul"))
        nodes.append(helper.make_node("Add", [p + "/main", p + "/y"], [y], name=p + "/add"))
        added.append(p + "/matmul")
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    return added


def quantize_int8(src, dst, keep_fp32=(), outliers=None):
    """Per-channel dynamic int8 of every MatMul weight (activations quantized at run time),
    except the MatMuls labelled in keep_fp32 (see weight_matmuls), which stay fp32, and with
    the input channels in `outliers` computed apart in fp32 (see split_outlier_channels)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    model = onnx.load(src)
    inits = {i.name for i in model.graph.initializer}
    nodes = [n.name for n in model.graph.node if n.op_type == "MatMul" and n.input[1] in inits]
    labels = dict(zip(weight_matmuls(model), nodes))
    unknown = [k for k in [*keep_fp32, *(outliers or {})] if k not in labels]
    if unknown:
        sys.exit(f"prepare_models.py: {src} has no weight MatMul {unknown}")
    exclude = [labels[k] for k in keep_fp32] + split_outlier_channels(model, outliers or {})
    onnx.checker.check_model(model)
    tmp = dst + ".split.onnx"
    onnx.save(model, tmp)
    try:
        quantize_dynamic(tmp, dst, weight_type=QuantType.QInt8, per_channel=True,
                         op_types_to_quantize=["MatMul"], nodes_to_exclude=exclude)
    finally:
        os.remove(tmp)


def token_states_graph(path, output):
    """The graph at `path` with `output` as its only output, renamed last_hidden_state."""
    model = onnx.load(path)
    if output not in {o.name for o in model.graph.output}:
        sys.exit(f"prepare_models.py: {path} has no output {output!r}")
    kept = [o for o in model.graph.output if o.name == output]
    del model.graph.output[:]
    model.graph.node.append(helper.make_node("Identity", [output], ["last_hidden_state"], name="token_states"))
    kept[0].name = "last_hidden_state"
    model.graph.output.extend(kept)
    onnx.checker.check_model(model)
    return model


RECIPES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "int8_recipes.json")


def write_int8(folder, name):
    """folder/model_int8.onnx from folder/model.onnx with NAME's recipe; skipped when the file
    already follows it. Returns True if it wrote the file."""
    with open(RECIPES, encoding="utf-8") as f:
        entry = json.load(f)["models"].get(name, {})
    recipe = {"keep_fp32": entry.get("keep_fp32", []), "outlier_channels": entry.get("outlier_channels", {})}
    stamp = os.path.join(folder, "model_int8.recipe.json")
    try:
        with open(stamp, encoding="utf-8") as f:
            if json.load(f) == recipe and os.path.exists(os.path.join(folder, "model_int8.onnx")):
                return False
    except (OSError, ValueError):
        pass
    tmp = os.path.join(folder, "model_int8.onnx.tmp")
    quantize_int8(os.path.join(folder, "model.onnx"), tmp, recipe["keep_fp32"], recipe["outlier_channels"])
    os.replace(tmp, os.path.join(folder, "model_int8.onnx"))
    with open(stamp + ".tmp", "w", encoding="utf-8") as f:
        json.dump(recipe, f, indent=1)
    os.replace(stamp + ".tmp", stamp)
    return True


def write_variants(model, tokenizer_dir, out, name, extra=()):
    os.makedirs(out, exist_ok=True)
    tmp = os.path.join(out, "model.onnx.tmp")
    onnx.save(model, tmp)
    os.replace(tmp, os.path.join(out, "model.onnx"))
    write_int8(out, name)
    for name in ("tokenizer.json", "special_tokens_map.json", "tokenizer_config.json", *extra):
        if os.path.exists(os.path.join(tokenizer_dir, name)):
            shutil.copy(os.path.join(tokenizer_dir, name), os.path.join(out, name))


def convert_hub(src, out, name, template=""):
    """A hub folder (config.json, weights, tokenizer files) to a model folder at `out`."""
    cfg = json.load(open(os.path.join(src, "config.json")))
    if cfg.get("model_type") in T5_TYPES:
        graph = t5_encoder_graph(read_weights(src), cfg)
    elif cfg.get("model_type") in LAYER_WEIGHTS:
        graph = encoder_graph(read_weights(src), cfg)
    else:
        raise Unsupported(cfg.get("model_type"))
    write_variants(graph, src, out, name, ["config.json"])
    if template or not os.path.exists(os.path.join(out, "tokenizer.json")):
        import make_tokenizer
        make_tokenizer.build(src, template).save(os.path.join(out, "tokenizer.json"))


class Unsupported(Exception):
    """A checkpoint of an architecture this script cannot write as a graph."""

    def __init__(self, model_type):
        super().__init__(f"model_type {model_type!r} is not supported "
                         f"(supported: {', '.join(sorted([*LAYER_WEIGHTS, *T5_TYPES]))})")


CATALOG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "crates", "engine", "models.json")


def catalog_entry(name, catalog=CATALOG):
    with open(catalog, encoding="utf-8") as f:
        return next((m for m in json.load(f)["models"] if m["name"] == name), None)


class Stopped(Exception):
    """SIGTERM arrived during `fetch`."""


def stop_on_sigterm(*_):
    raise Stopped()


class FetchError(Exception):
    """An error of `fetch`, with the SQLSTATE pg_embed_download() gives for the same failure."""

    def __init__(self, sqlstate, message, hint):
        super().__init__(message)
        self.sqlstate, self.hint = sqlstate, hint


def download(url, dst, expected_sha256, deadline, max_bytes):
    """Streams `url` to `dst`; checks the SHA-256 the catalog gives, or else the checksum the
    server gives as the ETag: a large file's SHA-256, or a small file's git blob SHA-1 (which
    guards against corruption, not against the server). Refuses a file over `max_bytes` and a
    transfer past `deadline` (time.monotonic()), however slowly the server sends.
    Returns the file's SHA-256."""
    import hashlib
    import time
    import urllib.error
    import urllib.request
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    h, blob, size = hashlib.sha256(), hashlib.sha1(), 0
    try:
        # Each wait on the socket is short, so the deadline is seen even when bytes trickle.
        with urllib.request.urlopen(url, timeout=max(1.0, min(30.0, deadline - time.monotonic()))) as r, \
                open(dst, "xb") as f:
            etag = (r.headers.get("X-Linked-Etag") or r.headers.get("ETag") or "").strip('W/"').lower()
            length = r.headers.get("Content-Length")
            if length is not None and length.isdigit():
                blob.update(b"blob %d\0" % int(length))
            while True:
                if time.monotonic() > deadline:
                    raise FetchError("57014", f"{url}: the download took longer than its time limit",
                                     "Retry on a faster link, or raise PG_EMBED_FETCH_TIMEOUT (seconds).")
                block = r.read1(1 << 16)
                if not block:
                    break
                size += len(block)
                if size > max_bytes:
                    raise FetchError("54000", f"{url}: larger than {max_bytes >> 20} MB, more than the catalog entry allows",
                                     "The server gives another file than the catalog names.")
                h.update(block)
                blob.update(block)
                f.write(block)
    except urllib.error.HTTPError as e:
        raise FetchError("58000", f"{url}: HTTP {e.code}" + (" (no such file at this revision)" if e.code == 404 else ""),
                         "Check the revision and the file list of the catalog entry, and HF_ENDPOINT if a mirror is used.") from None
    except TimeoutError:
        raise FetchError("57014", f"{url}: the server stopped sending", "Retry, or check HF_ENDPOINT.") from None
    except (urllib.error.URLError, OSError) as e:
        raise FetchError("58000", f"{url}: {e}", "Check the network, the endpoint and the free space of MODEL_DIR.") from None
    actual = h.hexdigest()
    hexdigits = all(c in "0123456789abcdef" for c in etag)
    if expected_sha256:
        expected, got, kind = expected_sha256.lower(), actual, "sha256 (catalog)"
    elif hexdigits and len(etag) == 64:
        expected, got, kind = etag, actual, "sha256 (server)"
    elif hexdigits and len(etag) == 40 and length is not None:
        expected, got, kind = etag, blob.hexdigest(), "git blob sha1 (server)"
    else:
        expected = ""
    if expected and expected != got:
        raise FetchError("XX001", f"checksum mismatch for {os.path.basename(dst)}: expected {kind} {expected}, got {got}",
                         "Retry; if it persists, the server gives another file than the catalog names.")
    return actual


def smoke_test(folder, spec):
    """Runs the new model once and checks its vector length against the catalog entry."""
    import onnxruntime as ort
    from tokenizers import Tokenizer
    enc = Tokenizer.from_file(os.path.join(folder, "tokenizer.json")).encode("def parse(path): return json.load(open(path))")
    session = ort.InferenceSession(os.path.join(folder, "model.onnx"), providers=["CPUExecutionProvider"])
    feed = {"input_ids": np.array([enc.ids], np.int64), "attention_mask": np.ones((1, len(enc.ids)), np.int64),
            "token_type_ids": np.zeros((1, len(enc.ids)), np.int64)}
    inputs = {i.name for i in session.get_inputs()}
    names = [o.name for o in session.get_outputs()]
    wanted = spec["pooling"]["output"] if spec["pooling"]["output"] in names else names[0]
    out = session.run([wanted], {k: v for k, v in feed.items() if k in inputs})[0]
    if out.shape[-1] != spec["dims"] or not np.isfinite(out).all():
        raise FetchError("XX001", f"the converted model gives vectors of {out.shape[-1]} numbers, the catalog says {spec['dims']}",
                         "The checkpoint is not the model the catalog entry describes.")


def fetch(name, model_dir, endpoint, catalog=CATALOG, timeout=3600):
    """Downloads catalog model NAME's hub checkpoint (the weights checked against the catalog's
    SHA-256), converts it and installs it as MODEL_DIR/NAME, renamed into place only when
    complete and run once: on any error (or SIGTERM) nothing is installed."""
    import signal
    import tempfile
    import time
    spec = catalog_entry(name, catalog)
    if spec is None:
        raise FetchError("42704", f"model \"{name}\" is not in the catalog", "SELECT name FROM pg_embed_models(); lists it.")
    checkpoint = spec.get("checkpoint")
    if not checkpoint:
        raise FetchError("0A000", f"model \"{name}\" is published as ONNX files, not as a checkpoint to convert",
                         f"SELECT * FROM pg_embed_download('{name}'); installs it.")
    import re
    if not re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}", name) or not re.fullmatch(r"[0-9a-f]{40}", spec.get("revision", "")):
        raise FetchError("XX001", f"the catalog entry of \"{name}\" needs a plain name and a commit as its revision",
                         "Fix the catalog entry.")
    weights = [p for p in checkpoint["files"] if p.endswith((".bin", ".safetensors"))]
    if not weights or not all(len(checkpoint["files"][p]) == 64 for p in weights):
        raise FetchError("XX001", f"the catalog entry of \"{name}\" does not pin its weights by SHA-256", "Fix the catalog entry.")
    if not checkpoint.get("config", {}).get("model_type"):
        raise FetchError("XX001", f"the catalog entry of \"{name}\" gives no configuration values to check", "Fix the catalog entry.")
    deadline = time.monotonic() + timeout
    previous = signal.signal(signal.SIGTERM, stop_on_sigterm)
    staging = None
    try:
        # A fresh private folder (never a name someone could have prepared), removed on any exit.
        staging = tempfile.mkdtemp(prefix=f".fetch-{name}-", dir=model_dir)
        hub, out = os.path.join(staging, "hub"), os.path.join(staging, "model")
        base = f"{endpoint.rstrip('/')}/{spec['repo']}/resolve/{spec['revision']}"
        for path, sha in checkpoint["files"].items():
            if os.path.isabs(path) or ".." in path.split("/"):
                raise FetchError("XX001", f"catalog file {path!r} is not a path inside the repository", "Fix the catalog entry.")
            cap = (2 * spec["approx_mb"] << 20) if path in weights else 64 << 20
            download(f"{base}/{path}", os.path.join(hub, path), sha, deadline, cap)
        try:
            with open(os.path.join(hub, "config.json"), encoding="utf-8") as f:
                config = json.load(f)
        except ValueError as e:
            raise FetchError("XX001", f"config.json of \"{name}\" is not JSON: {e}", "The server gives another file.") from None
        for key, want in checkpoint.get("config", {}).items():
            if config.get(key) != want:
                raise FetchError("XX001", f"config.json of \"{name}\" says {key} = {config.get(key)!r}, the catalog {want!r}",
                                 "The server gives another configuration than the model's; use a mirror you trust.")
        try:
            convert_hub(hub, out, name, spec.get("input_template", ""))
        except Unsupported as e:
            raise FetchError("0A000", f"cannot convert model \"{name}\": {e}",
                             "Use a model of a supported architecture, or convert it to ONNX yourself and register it.") from None
        except SystemExit as e:  # the converter's own message; other errors are main()'s to report
            raise FetchError("XX001", f"cannot convert model \"{name}\": {e}", "The checkpoint's files do not fit together.") from None
        smoke_test(out, spec)
        for root, dirs, files in os.walk(out):
            for entry in dirs + files:
                path = os.path.join(root, entry)
                if os.path.islink(path):
                    raise FetchError("XX001", f"{path} is a symbolic link", "Nothing but the converted files may be installed.")
                os.chmod(path, 0o755 if entry in dirs else 0o644)
        os.chmod(out, 0o755)
        dst, old = os.path.join(model_dir, name), os.path.join(staging, "replaced")
        # No SIGTERM between the two renames: the installed model is never lost half-way.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        try:
            if os.path.exists(dst):
                os.rename(dst, old)
            try:
                os.rename(out, dst)
            except OSError:
                if os.path.exists(old):
                    os.rename(old, dst)
                raise
        finally:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    finally:
        signal.signal(signal.SIGTERM, previous)
        if staging:
            shutil.rmtree(staging, ignore_errors=True)
    return dst


def main():
    kind = sys.argv[1] if len(sys.argv) > 1 else ""
    if len(sys.argv) != {"safetensors": 5, "hub": 5, "fetch": 4, "onnx": 7, "int8": 4}.get(kind):
        sys.exit(__doc__)
    if kind == "safetensors":
        src, out, name = sys.argv[2:5]
        cfg = json.load(open(os.path.join(src, "config.json")))
        if cfg.get("model_type") not in LAYER_WEIGHTS:
            sys.exit(f"prepare_models.py: model_type {cfg.get('model_type')!r} is not supported")
        write_variants(encoder_graph(read_safetensors(os.path.join(src, "model.safetensors")), cfg), src, out, name,
                       ["config.json"])
    elif kind == "hub":
        src, out, name = sys.argv[2:5]
        spec = catalog_entry(name) or {}
        try:
            convert_hub(src, out, name, spec.get("input_template", ""))
        except Unsupported as e:
            sys.exit(f"prepare_models.py: {e}")
    elif kind == "fetch":
        name, model_dir = sys.argv[2:4]
        endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
        catalog = os.environ.get("PG_EMBED_CATALOG", CATALOG)
        try:
            timeout = float(os.environ.get("PG_EMBED_FETCH_TIMEOUT", "3600"))
        except ValueError:
            sys.exit("prepare_models.py: ERROR (22023): PG_EMBED_FETCH_TIMEOUT is not a number of seconds\n"
                     "HINT: Unset it, or give e.g. 3600.\nNothing was installed.")
        try:
            print(f"installed: {fetch(name, model_dir, endpoint, catalog, timeout)}")
        except Stopped:
            e = FetchError("57014", "stopped by SIGTERM", "Run the command again.")
        except FetchError as err:
            e = err
        except OSError as err:
            e = FetchError("58000", f"{err}", "Check that MODEL_DIR exists, is writable and has free space.")
        except Exception as err:  # noqa: BLE001 (one line with a SQLSTATE, never a traceback)
            e = FetchError("XX001", f"{type(err).__name__}: {err}",
                           "The checkpoint's files or the catalog entry are not usable, or MODEL_DIR ran out of space.")
        else:
            return
        sys.exit(f"prepare_models.py: ERROR ({e.sqlstate}): {e}\nHINT: {e.hint}\nNothing was installed.")
    elif kind == "onnx":
        path, output, tokenizer_dir, out, name = sys.argv[2:7]
        write_variants(token_states_graph(path, output), tokenizer_dir, out, name)
    elif kind == "int8":
        folder, name = sys.argv[2:4]
        print(f"{'wrote' if write_int8(folder, name) else 'ok'}: {folder}/model_int8.onnx")


if __name__ == "__main__":
    main()
