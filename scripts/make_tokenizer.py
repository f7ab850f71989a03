#!/usr/bin/env python3
"""Writes the tokenizer.json pg_embed loads for a model folder that has only a slow
tokenizer's files, as many hub repositories do (UniXcoder, CodeBERT and CodeT5+ ship
vocab.json + merges.txt; BERT and DistilBERT ship vocab.txt).

- vocab.json + merges.txt: byte-level BPE as RoBERTa's tokenizer runs it: bytes mapped to
  printable characters, GPT-2's split pattern, no prefix space unless the configuration asks,
  <s> text </s> around a text, <mask> swallowing the spaces before it.
- vocab.txt: WordPiece as BERT's tokenizer runs it: control characters dropped, CJK ideographs
  split, lower-cased and accents stripped when do_lower_case is set (the default), words of more
  than 100 characters as [UNK], [CLS] text [SEP] around a text.

Special tokens come from tokenizer_config.json, special_tokens_map.json and added_tokens.json
when the folder has them (additional_special_tokens such as UniXcoder's <encoder-only>
included), with the ids the vocabulary gives them; a token missing from the vocabulary must
have its id in added_tokens.json. Only the `tokenizers` package is needed.

A model whose authors wrap a text in other special tokens than its tokenizer's own gets them
with --template, as its catalog entry's input_template gives it: UniXcoder embeds in its
encoder-only mode, "<s> <encoder-only> </s> $A </s>" (the mode token is in its vocabulary).

Usage: make_tokenizer.py FOLDER [OUT] [--template "TOKENS $A TOKENS"]
       (OUT defaults to FOLDER/tokenizer.json)
"""
import json
import os
import sys

from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors


def read_json(folder, name):
    path = os.path.join(folder, name)
    if not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def token_text(value):
    """A special token as the configuration files write it: a string or {"content": ...}."""
    if isinstance(value, dict):
        return value.get("content")
    return value


def settings(folder):
    """tokenizer_config.json with special_tokens_map.json over it."""
    cfg = dict(read_json(folder, "tokenizer_config.json"))
    for key, value in read_json(folder, "special_tokens_map.json").items():
        cfg[key] = value
    return cfg


def special_tokens(cfg, defaults):
    """(role, text) of every special token, the roles' defaults filled in, then the additional
    ones, in order, without repeats."""
    out, seen = [], set()
    for role, default in defaults.items():
        text = token_text(cfg.get(role, default))
        if text and text not in seen:
            out.append((role, text))
            seen.add(text)
    for extra in cfg.get("additional_special_tokens") or []:
        text = token_text(extra)
        if text and text not in seen:
            out.append(("additional", text))
            seen.add(text)
    return out


def ids_of(tokens, vocab, added):
    """The id of each special token: the vocabulary's, else added_tokens.json's."""
    ids = {}
    for _, text in tokens:
        if text in vocab:
            ids[text] = vocab[text]
        elif text in added:
            ids[text] = added[text]
        else:
            raise SystemExit(f"special token {text!r} is in neither the vocabulary nor added_tokens.json")
    return ids


def add_specials(tok, tokens, ids, lstrip=()):
    """Registers the special tokens and checks that each got the id the files give it."""
    # Tokens beyond the vocabulary are appended in id order, so that each gets its own id.
    for _, text in sorted(tokens, key=lambda t: ids[t[1]]):
        tok.add_special_tokens([AddedToken(text, special=True, normalized=False, lstrip=text in lstrip)])
    for _, text in tokens:
        if tok.token_to_id(text) != ids[text]:
            raise SystemExit(f"special token {text!r} would get id {tok.token_to_id(text)}, the files say {ids[text]}")


def byte_level_bpe(folder, cfg):
    with open(os.path.join(folder, "vocab.json"), encoding="utf-8") as f:
        vocab = json.load(f)
    merges = []
    with open(os.path.join(folder, "merges.txt"), encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#version"):
                continue
            a, b = line.split(" ")
            merges.append((a, b))
    prefix_space = bool(cfg.get("add_prefix_space", False))
    tok = Tokenizer(models.BPE(vocab, merges, fuse_unk=False))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=prefix_space, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tokens = special_tokens(cfg, {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>",
                                  "pad_token": "<pad>", "cls_token": "<s>", "mask_token": "<mask>"})
    ids = ids_of(tokens, vocab, read_json(folder, "added_tokens.json"))
    cls, sep = token_text(cfg.get("cls_token", "<s>")), token_text(cfg.get("sep_token", "</s>"))
    tok.post_processor = processors.RobertaProcessing((sep, ids[sep]), (cls, ids[cls]),
                                                      trim_offsets=True, add_prefix_space=prefix_space)
    add_specials(tok, tokens, ids, lstrip={token_text(cfg.get("mask_token", "<mask>"))})
    return tok


def wordpiece(folder, cfg):
    vocab = {}
    with open(os.path.join(folder, "vocab.txt"), encoding="utf-8") as f:
        for i, line in enumerate(f):
            vocab.setdefault(line.rstrip("\n"), i)
    tokens = special_tokens(cfg, {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]",
                                  "cls_token": "[CLS]", "mask_token": "[MASK]"})
    ids = ids_of(tokens, vocab, read_json(folder, "added_tokens.json"))
    unk = token_text(cfg.get("unk_token", "[UNK]"))
    tok = Tokenizer(models.WordPiece(vocab, unk_token=unk, max_input_chars_per_word=100))
    lower = bool(cfg.get("do_lower_case", True))
    tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=bool(cfg.get("tokenize_chinese_chars", True)),
                                                strip_accents=cfg.get("strip_accents"), lowercase=lower)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece(prefix="##")
    cls, sep = token_text(cfg.get("cls_token", "[CLS]")), token_text(cfg.get("sep_token", "[SEP]"))
    tok.post_processor = processors.TemplateProcessing(
        single=f"{cls}:0 $A:0 {sep}:0", pair=f"{cls}:0 $A:0 {sep}:0 $B:1 {sep}:1",
        special_tokens=[(cls, ids[cls]), (sep, ids[sep])])
    add_specials(tok, tokens, ids)
    return tok


def build(folder, template=""):
    """The tokenizer for FOLDER's slow-tokenizer files; `template` (e.g. "<s> <encoder-only>
    </s> $A </s>") replaces the special tokens put around a text."""
    cfg = settings(folder)
    if os.path.exists(os.path.join(folder, "vocab.json")) and os.path.exists(os.path.join(folder, "merges.txt")):
        tok = byte_level_bpe(folder, cfg)
    elif os.path.exists(os.path.join(folder, "vocab.txt")):
        tok = wordpiece(folder, cfg)
    else:
        raise SystemExit(f"{folder} has neither vocab.json + merges.txt (byte-level BPE) nor vocab.txt (WordPiece)")
    if template:
        apply_template(tok, template)
    return tok


def apply_template(tok, template):
    """Puts `template`'s special tokens around each text; every token of it but $A must be one
    token of the vocabulary, and is made special (never split, never produced from text)."""
    words = template.split()
    if words.count("$A") != 1:
        raise SystemExit(f"template {template!r} must hold $A exactly once")
    ids = {}
    for word in words:
        if word == "$A":
            continue
        ids[word] = tok.token_to_id(word)
        if ids[word] is None:
            raise SystemExit(f"template token {word!r} is not in the vocabulary")
        tok.add_special_tokens([AddedToken(word, special=True, normalized=False)])
        if tok.token_to_id(word) != ids[word]:
            raise SystemExit(f"template token {word!r} changed id")
    single = " ".join(w if w == "$A" else f"{w}:0" for w in words)
    tok.post_processor = processors.TemplateProcessing(single=single, pair=f"{single} $B:1",
                                                       special_tokens=sorted(ids.items(), key=lambda kv: kv[1]))


def main():
    args, template = sys.argv[1:], ""
    if "--template" in args:
        i = args.index("--template")
        if i + 1 >= len(args):
            raise SystemExit(__doc__)
        template = args[i + 1]
        del args[i:i + 2]
    if len(args) not in (1, 2):
        raise SystemExit(__doc__)
    folder = args[0]
    out = args[1] if len(args) == 2 else os.path.join(folder, "tokenizer.json")
    build(folder, template).save(out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
