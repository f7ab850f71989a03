#!/usr/bin/env python3
"""Turns the Python FAQ (reStructuredText sources shipped in Debian's python3.11-doc) into a
CSV of (id, section, question, answer): one row per FAQ entry whose title is a question.

Usage: faq_corpus.py FAQ_SOURCE_DIR > faq.csv
"""
import csv
import os
import re
import sys

UNDERLINE = re.compile(r"^([=\-~^\"'`#*+])\1{2,}\s*$")


def entries(text):
    """Yields (title, body) for each section: a title line followed by an underline."""
    lines = text.splitlines()
    heads = [i for i in range(len(lines) - 1)
             if lines[i].strip() and UNDERLINE.match(lines[i + 1])
             and len(lines[i + 1].rstrip()) >= len(lines[i].rstrip())]
    for n, i in enumerate(heads):
        end = heads[n + 1] if n + 1 < len(heads) else len(lines)
        yield lines[i].strip(), "\n".join(lines[i + 2:end])


def clean(body):
    """Keeps prose and code, drops reST directives and collapses blank runs."""
    out = []
    for line in body.splitlines():
        if line.startswith(".. ") or line.strip().startswith(":"):
            continue
        out.append(line.rstrip())
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip()
    text = re.sub(r":(?:func|mod|class|meth|ref|term|data|attr|exc|pep|option|file|envvar|keyword|c:func|c:type):`~?([^`<]*?)(?:\s*<[^>]*>)?`", r"\1", text)
    return text.replace("``", "")


def main():
    src = sys.argv[1]
    w = csv.writer(sys.stdout)
    n = 0
    for name in sorted(os.listdir(src)):
        if not name.endswith(".rst.txt") or name.startswith("index"):
            continue
        with open(os.path.join(src, name), encoding="utf-8") as f:
            for title, body in entries(f.read()):
                answer = clean(body)
                if title.endswith("?") and len(answer) >= 40:
                    n += 1
                    w.writerow([n, name.split(".")[0], title, answer])


if __name__ == "__main__":
    main()
