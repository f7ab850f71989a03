#!/usr/bin/env python3
"""Tokenizer parity: the tokenizer.json that scripts/make_tokenizer.py writes from a slow
tokenizer's files gives the same ids as transformers' slow tokenizer on the same files, special
tokens included, on every text of the accuracy benchmark's data sets (code, docstrings and FAQ
prose: about 4,900 texts) plus texts with the special tokens written out.

- byte-level BPE: a vocabulary of 8,000 tokens trained here on the code corpus with `tokenizers`
  (vocab.json + merges.txt, as UniXcoder, CodeBERT and CodeT5+ ship), against RobertaTokenizer,
  with UniXcoder's mode tokens (<encoder-only> ...) as additional special tokens;
- WordPiece: the real 30,522-token vocabulary of all-MiniLM-L6-v2 (written out as vocab.txt from
  its tokenizer.json, as BERT and DistilBERT ship it), against BertTokenizer, and against the
  tokenizer.json the model ships.

Runs in a virtualenv with transformers (tests/tokenizers/run.sh makes one); torch is not needed.
Prints one line per comparison and exits 1 on any difference.
"""
import json
import os
import sys
import tempfile

from tokenizers import Tokenizer
from tokenizers.implementations import ByteLevelBPETokenizer
from transformers import BertTokenizer, RobertaTokenizer

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import make_tokenizer  # noqa: E402

MODE_TOKENS = ["<encoder-only>", "<decoder-only>", "<encoder-decoder>"]


def texts():
    out = []
    for name in ("code", "faq"):
        for part in ("corpus.jsonl", "queries.jsonl"):
            with open(os.path.join(ROOT, "benches", "accuracy", "data", name, part), encoding="utf-8") as f:
                out.extend(json.loads(line)["text"] for line in f)
    out += [
        "<encoder-only> def f(x): return x <mask> done",
        "fill <mask>here and <mask> there</s><s>",
        "[CLS] a [MASK] b [SEP] c [UNK] d [PAD]",
        "  leading and trailing spaces  ",
        "tabs\tand\nnewlines\r\nand\u00a0no-break spaces",
        "naïve café 数据库 索引 emoji 🎉 x\u0301",
        "",
    ]
    return out


def compare(label, texts, reference, ours):
    differ = []
    for t in texts:
        a, b = reference(t), ours(t)
        if a != b:
            differ.append((t, a, b))
    same = len(texts) - len(differ)
    print(f"{'ok' if not differ else 'FAIL'}: {label}: {same} of {len(texts)} texts give identical ids")
    for t, a, b in differ[:3]:
        print(f"  differs: {t[:60]!r}\n    reference {a[:20]}\n    ours      {b[:20]}")
    return not differ


def main():
    corpus = texts()
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        # Byte-level BPE trained on the code corpus.
        bpe_dir = os.path.join(tmp, "bpe")
        os.makedirs(bpe_dir)
        trainer = ByteLevelBPETokenizer()
        code = [t for t in corpus[:2000]]
        trainer.train_from_iterator(code, vocab_size=8000, min_frequency=2,
                                    special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"] + MODE_TOKENS)
        trainer.save_model(bpe_dir)
        with open(os.path.join(bpe_dir, "tokenizer_config.json"), "w") as f:
            json.dump({"additional_special_tokens": MODE_TOKENS}, f)
        ours = make_tokenizer.build(bpe_dir)
        slow = RobertaTokenizer(os.path.join(bpe_dir, "vocab.json"), os.path.join(bpe_dir, "merges.txt"),
                                additional_special_tokens=MODE_TOKENS)
        ok &= compare("byte-level BPE (trained, 8,000 tokens) vs RobertaTokenizer", corpus,
                      lambda t: slow(t)["input_ids"], lambda t: ours.encode(t).ids)

        # WordPiece: the real vocabulary of all-MiniLM-L6-v2.
        model_dir = os.environ.get("PG_EMBED_MODEL_DIR", "/var/lib/pg_embed-dev/models")
        shipped = Tokenizer.from_file(os.path.join(model_dir, "all-MiniLM-L6-v2", "tokenizer.json"))
        shipped.no_truncation()
        shipped.no_padding()
        wp_dir = os.path.join(tmp, "wordpiece")
        os.makedirs(wp_dir)
        vocab = shipped.get_vocab(with_added_tokens=False)
        with open(os.path.join(wp_dir, "vocab.txt"), "w", encoding="utf-8") as f:
            for token, _ in sorted(vocab.items(), key=lambda kv: kv[1]):
                f.write(token + "\n")
        with open(os.path.join(wp_dir, "tokenizer_config.json"), "w") as f:
            json.dump({"do_lower_case": True}, f)
        ours = make_tokenizer.build(wp_dir)
        slow = BertTokenizer(os.path.join(wp_dir, "vocab.txt"), do_lower_case=True)
        ok &= compare(f"WordPiece (all-MiniLM-L6-v2's {len(vocab):,} tokens) vs BertTokenizer", corpus,
                      lambda t: slow(t)["input_ids"], lambda t: ours.encode(t).ids)
        ok &= compare("WordPiece vs the tokenizer.json all-MiniLM-L6-v2 ships", corpus,
                      lambda t: shipped.encode(t).ids, lambda t: ours.encode(t).ids)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
