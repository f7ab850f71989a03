#!/usr/bin/env python3
"""Writes the seed test's table: the real CPython functions of the code benchmark set whose
name mentions sorting, plus the first 300 others by id, as TSV (id, code) for COPY.

Usage: make_seed_data.py CORPUS_JSONL OUT_TSV
"""
import json
import sys


def main():
    docs = [json.loads(line) for line in open(sys.argv[1], encoding="utf-8")]
    docs.sort(key=lambda d: d["_id"])
    sorting = [d for d in docs if "sort" in d["_id"].split(":")[-1].lower()]
    others = [d for d in docs if d not in sorting][:300]
    with open(sys.argv[2], "w", encoding="utf-8") as f:
        for d in sorting + others:
            text = d["text"].replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
            f.write(f"{d['_id']}\t{text}\n")


if __name__ == "__main__":
    main()
