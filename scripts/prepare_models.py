#!/usr/bin/env python3
"""Turn the model files that registry packages ship into the ONNX variants pg_embed loads.

For a BERT-family encoder shipped as safetensors (all-MiniLM-L6-v2), this script writes the
exact fp32 graph itself from the weights with numpy and onnx (no torch needed), then a
per-channel dynamic int8 copy of it. Per-tensor int8 is not offered: it loses too much
(cosine to fp32 drops to about 0.89 for MiniLM).

For a model shipped as an ONNX graph whose token states are an inner output (the packaged
paraphrase-MiniLM-L3-v2 returns them as "onnx::Shape_422", next to an in-graph pooled vector),
it writes a copy whose only output is that tensor, named last_hidden_state, so every model is
pooled the same way by pg_embed.

Usage: prepare_models.py bert SAFETENSORS_DIR OUT_DIR
       prepare_models.py onnx ONNX_FILE TOKEN_STATES_OUTPUT TOKENIZER_DIR OUT_DIR
Writes OUT_DIR/model.onnx (fp32), OUT_DIR/model_int8.onnx, and copies the tokenizer files.
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


def bert_graph(t, cfg):
    """Builds BertModel's forward pass (inference: no dropout) returning last_hidden_state."""
    g = Graph()
    hidden, heads = cfg["hidden_size"], cfg["num_attention_heads"]
    head_dim, eps = hidden // heads, cfg["layer_norm_eps"]
    ids, mask, types = "input_ids", "attention_mask", "token_type_ids"

    # Embeddings: word + position + token type, then LayerNorm.
    words = g.op("Gather", [g.const("word_embeddings", t["embeddings.word_embeddings.weight"]), ids])
    seq_len = g.op("Gather", [g.op("Shape", [ids]), g.const("one_i", np.array(1, np.int64))])
    positions = g.op("Range", [g.const("zero_i", np.array(0, np.int64)), seq_len,
                               g.const("step_i", np.array(1, np.int64))])
    pos = g.op("Gather", [g.const("position_embeddings", t["embeddings.position_embeddings.weight"]), positions])
    typ = g.op("Gather", [g.const("token_type_embeddings", t["embeddings.token_type_embeddings.weight"]), types])
    x = g.op("Add", [g.op("Add", [words, pos]), typ])
    x = g.layer_norm(x, t["embeddings.LayerNorm.weight"], t["embeddings.LayerNorm.bias"], "embeddings.LayerNorm", eps)

    # Additive attention mask [B, 1, 1, L]: 0 where attended, a large negative where padded.
    m = g.op("Cast", [g.op("Unsqueeze", [mask, g.const("axes_12", np.array([1, 2], np.int64))])], to=TensorProto.FLOAT)
    bias = g.op("Mul", [g.op("Sub", [g.const("one_f", np.array(1.0, np.float32)), m]),
                        g.const("neg_f", np.array(np.finfo(np.float32).min, np.float32))])
    split = g.const("shape_split", np.array([0, 0, heads, head_dim], np.int64))
    merge = g.const("shape_merge", np.array([0, 0, hidden], np.int64))
    scale = g.const("scale", np.array(1.0 / math.sqrt(head_dim), np.float32))
    sqrt2 = g.const("sqrt2", np.array(math.sqrt(2.0), np.float32))
    half = g.const("half", np.array(0.5, np.float32))
    one = "one_f"

    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        def heads_of(name, perm):
            y = g.linear(x, t[p + f"attention.self.{name}.weight"], t[p + f"attention.self.{name}.bias"], p + name)
            return g.op("Transpose", [g.op("Reshape", [y, split])], perm=perm)
        q = heads_of("query", [0, 2, 1, 3])           # [B, H, L, D]
        k = heads_of("key", [0, 2, 3, 1])             # [B, H, D, L]
        v = heads_of("value", [0, 2, 1, 3])
        scores = g.op("Add", [g.op("Mul", [g.op("MatMul", [q, k]), scale]), bias])
        ctx = g.op("MatMul", [g.op("Softmax", [scores], axis=-1), v])
        ctx = g.op("Reshape", [g.op("Transpose", [ctx], perm=[0, 2, 1, 3]), merge])
        attn = g.linear(ctx, t[p + "attention.output.dense.weight"], t[p + "attention.output.dense.bias"], p + "ao")
        x = g.layer_norm(g.op("Add", [attn, x]), t[p + "attention.output.LayerNorm.weight"],
                         t[p + "attention.output.LayerNorm.bias"], p + "aln", eps)
        h = g.linear(x, t[p + "intermediate.dense.weight"], t[p + "intermediate.dense.bias"], p + "inter")
        # Exact GELU: 0.5 * h * (1 + erf(h / sqrt(2))).
        h = g.op("Mul", [g.op("Mul", [h, half]), g.op("Add", [g.op("Erf", [g.op("Div", [h, sqrt2])]), one])])
        out = g.linear(h, t[p + "output.dense.weight"], t[p + "output.dense.bias"], p + "out")
        x = g.layer_norm(g.op("Add", [out, x]), t[p + "output.LayerNorm.weight"],
                         t[p + "output.LayerNorm.bias"], p + "oln", eps)

    g.nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"], name="output"))
    dyn = ["batch", "sequence"]
    inputs = [helper.make_tensor_value_info(n, TensorProto.INT64, dyn) for n in (ids, mask, types)]
    output = helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, dyn + [hidden])
    graph = helper.make_graph(g.nodes, "bert", inputs, [output], g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="pg_embed")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def quantize_int8(src, dst):
    """Per-channel dynamic int8 of every MatMul weight (activations quantized at run time)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    quantize_dynamic(src, dst, weight_type=QuantType.QInt8, per_channel=True, op_types_to_quantize=["MatMul"])


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


def write_variants(model, tokenizer_dir, out, extra=()):
    os.makedirs(out, exist_ok=True)
    tmp = os.path.join(out, "model.onnx.tmp")
    onnx.save(model, tmp)
    os.replace(tmp, os.path.join(out, "model.onnx"))
    quantize_int8(os.path.join(out, "model.onnx"), tmp)
    os.replace(tmp, os.path.join(out, "model_int8.onnx"))
    for name in ("tokenizer.json", "special_tokens_map.json", "tokenizer_config.json", *extra):
        if os.path.exists(os.path.join(tokenizer_dir, name)):
            shutil.copy(os.path.join(tokenizer_dir, name), os.path.join(out, name))


def main():
    kind = sys.argv[1]
    if kind == "bert":
        src, out = sys.argv[2], sys.argv[3]
        cfg = json.load(open(os.path.join(src, "config.json")))
        if cfg.get("model_type") != "bert":
            sys.exit(f"prepare_models.py: model_type {cfg.get('model_type')!r} is not supported")
        write_variants(bert_graph(read_safetensors(os.path.join(src, "model.safetensors")), cfg), src, out, ["config.json"])
    elif kind == "onnx":
        path, output, tokenizer_dir, out = sys.argv[2:6]
        write_variants(token_states_graph(path, output), tokenizer_dir, out)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
