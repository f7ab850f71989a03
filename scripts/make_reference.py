#!/usr/bin/env python3
"""Writes tests/fixtures/reference.json: reference embeddings made independently of pg_embed,
with Python onnxruntime + tokenizers on the same model files, the way sentence-transformers
runs all-MiniLM-L6-v2 (truncate at 256 tokens, mean pooling over the attention mask, L2).

Usage: make_reference.py MODEL_FOLDER OUT_JSON
"""
import json
import sys

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

LONG = " ".join(f"sentence number {i} talks about databases, indexes and vectors." for i in range(120))
TEXTS = [
    "",
    "hello world",
    "How do I read a file line by line in Python?",
    "PostgreSQL is a powerful, open source object-relational database system.",
    "The quick brown fox jumps over the lazy dog.",
    "def add(a, b):\n    return a + b\n",
    "fn main() {\n    println!(\"Hello, world!\");\n}",
    "SELECT id, body FROM docs WHERE body ILIKE '%vector%' ORDER BY id LIMIT 10;",
    "#include <stdio.h>\nint main(void) { printf(\"hi\\n\"); return 0; }",
    "function debounce(fn, ms) { let t; return (...a) => { clearTimeout(t); t = setTimeout(() => fn(...a), ms); }; }",
    "public static void main(String[] args) { System.out.println(args.length); }",
    "for f in *.log; do gzip \"$f\"; done",
    "Le chat est assis sur le tapis.",
    "Der schnelle braune Fuchs springt über den faulen Hund.",
    "東京は日本の首都です。",
    "데이터베이스 인덱스는 검색을 빠르게 합니다.",
    "مرحبا بالعالم",
    "שלום עולם",
    "Ünïcödé çömbíníng: e\u0301 a\u0300 o\u0308",
    "I love pizza 🍕🍕 and tacos 🌮!",
    "🚀🔥💯",
    "   leading and trailing spaces   ",
    "tabs\tand\nnewlines\r\nmixed",
    "UPPER CASE TEXT SHOULD BE LOWERCASED BY THE TOKENIZER",
    "a",
    "1234567890 3.14159 2.71828",
    "email me at someone@example.org or visit the docs page",
    "Vectors from different models cannot be compared with each other.",
    "The HNSW index makes approximate nearest neighbour search fast.",
    LONG,
]


def embed(session, tokenizer, text):
    enc = tokenizer.encode(text)
    ids = np.array([enc.ids], dtype=np.int64)
    mask = np.array([enc.attention_mask], dtype=np.int64)
    feed = {"input_ids": ids, "attention_mask": mask}
    if any(i.name == "token_type_ids" for i in session.get_inputs()):
        feed["token_type_ids"] = np.zeros_like(ids)
    hidden = session.run(None, feed)[0]
    pooled = (hidden * mask[..., None]).sum(axis=1) / mask.sum()
    vec = pooled[0] / np.linalg.norm(pooled[0])
    return vec, len(enc.ids)


def main():
    folder, out = sys.argv[1], sys.argv[2]
    tokenizer = Tokenizer.from_file(f"{folder}/tokenizer.json")
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=256)
    session = ort.InferenceSession(f"{folder}/model.onnx", providers=["CPUExecutionProvider"])
    items = []
    for text in TEXTS:
        vec, n = embed(session, tokenizer, text)
        items.append({"text": text, "tokens": n, "embedding": [round(float(x), 7) for x in vec]})
    with open(out, "w", encoding="utf-8") as f:
        json.dump({"model": "all-MiniLM-L6-v2", "precision": "fp32", "max_tokens": 256,
                   "made_with": f"onnxruntime {ort.__version__}", "items": items}, f, ensure_ascii=False, indent=0)
        f.write("\n")


if __name__ == "__main__":
    main()
