"""Builds the bulk-embedding corpus from files on this machine, deterministically.

    /var/lib/pg_embed-dev/venv/bin/python benches/bulk/corpus.py [--out benches/bulk/corpus.jsonl]

Sources (Debian 12 packages; the same files give the same corpus):

- code: Python functions and methods, with their docstrings, as written in the CPython 3.11
  standard library (/usr/lib/python3.11, test suites and site-packages left out), cut out
  with `ast` (`ast.get_source_segment`, decorators included);
- docstrings: module and class docstrings of the same files (prose);
- python-docs: paragraphs of the Python 3.11 documentation sources
  (/usr/share/doc/python3.11/html/_sources/**/*.rst.txt), a heading kept with the paragraph
  that follows it;
- man-pages: paragraphs of section 1, 5 and 8 manual pages rendered by man-db at 80 columns.

From each source a quota of texts is kept: those with the smallest SHA-1 of their id (file and
position), after dropping texts under 30 characters and exact duplicates. The corpus is then
put in the order of SHA-1 of id, so any run of consecutive texts is a sample of the whole mix;
benchmark runs take consecutive slices.

Each line of the output is a JSON object: id, source, text, chars, tokens (token count as
all-MiniLM-L6-v2 sees the text: its tokenizer.json, [CLS] and [SEP] included, cut at 256)
and full_tokens (before the cut). A summary with the token-length distribution goes to
`<out>.summary.json` and stdout.
"""

import argparse
import ast
import glob
import hashlib
import json
import os
import re
import subprocess
import sys
import textwrap

PY_LIB = "/usr/lib/python3.11"
RST_ROOT = "/usr/share/doc/python3.11/html/_sources"
MAN_ROOT = "/usr/share/man"
TOKENIZER = "/var/lib/pg_embed-dev/models/all-MiniLM-L6-v2/tokenizer.json"
MAX_TOKENS = 256

QUOTAS = {"code": 4500, "docstrings": 1000, "python-docs": 3300, "man-pages": 1700}
MAN_PAGES = 400  # manual pages rendered (smallest SHA-1 of their path), paragraphs drawn from them
MIN_CHARS = 30
MAX_CHARS = 20000  # a few generated tables in the standard library are larger; no model sees them whole


def sha1(s):
    return hashlib.sha1(s.encode("utf-8")).hexdigest()


def python_files():
    skip = ("/test/", "/tests/", "/idle_test/", "-packages/", "/lib2to3/tests")
    files = []
    for path in sorted(glob.glob(PY_LIB + "/**/*.py", recursive=True)):
        if not any(s in path for s in skip):
            files.append(path)
    return files


def python_texts():
    code, docs = [], []
    for path in python_files():
        rel = os.path.relpath(path, PY_LIB)
        try:
            with open(path, encoding="utf-8") as f:
                source = f.read()
            tree = ast.parse(source)
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        lines = source.splitlines(keepends=True)
        module_doc = ast.get_docstring(tree, clean=True)
        if module_doc:
            docs.append((f"{rel}:module", module_doc))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                start = min([node.lineno] + [d.lineno for d in node.decorator_list])
                text = "".join(lines[start - 1 : node.end_lineno])
                # Methods keep their indentation in the file; a user's chunker would dedent.
                indent = min((len(l) - len(l.lstrip()) for l in text.splitlines() if l.strip()), default=0)
                text = "".join(l[indent:] if l.strip() else l.lstrip(" \t") for l in text.splitlines(keepends=True))
                code.append((f"{rel}:{node.lineno}:{node.name}", text.rstrip() + "\n"))
            elif isinstance(node, ast.ClassDef):
                doc = ast.get_docstring(node, clean=True)
                if doc:
                    docs.append((f"{rel}:{node.lineno}:{node.name}", doc))
    return code, docs


HEADING_UNDERLINE = re.compile(r"^([=\-~^\"'`#*+])\1{2,}\s*$")


def blocks(text):
    """Blank-line separated blocks, each with trailing spaces removed."""
    out, cur = [], []
    for line in text.splitlines():
        if line.strip():
            cur.append(line.rstrip())
        elif cur:
            out.append(cur)
            cur = []
    if cur:
        out.append(cur)
    return out


def rst_texts():
    items = []
    for path in sorted(glob.glob(RST_ROOT + "/**/*.rst.txt", recursive=True)):
        rel = os.path.relpath(path, RST_ROOT)
        with open(path, encoding="utf-8", errors="replace") as f:
            parts = blocks(f.read())
        pending = None  # a heading waiting for its paragraph
        for n, b in enumerate(parts):
            body = [l for l in b if not HEADING_UNDERLINE.match(l)]
            if not body:
                continue
            is_heading = len(b) >= 2 and HEADING_UNDERLINE.match(b[-1]) and len(body) <= 1
            if is_heading:
                pending = body[0].strip()
                continue
            text = textwrap.dedent("\n".join(body))
            if pending:
                text = pending + "\n\n" + text
                pending = None
            items.append((f"{rel}:{n}", text))
    return items


def man_pages():
    pages = []
    for section in ("man1", "man5", "man8"):
        pages.extend(sorted(glob.glob(f"{MAN_ROOT}/{section}/*.gz")))
    pages.sort(key=lambda p: sha1(os.path.relpath(p, MAN_ROOT)))
    return pages[:MAN_PAGES]


def render_man(path):
    env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8", MAN_KEEP_FORMATTING="")
    env.pop("MANPAGER", None)
    env.pop("PAGER", None)
    r = subprocess.run(
        ["man", "--no-hyphenation", "--no-justification", "-E", "UTF-8", "-P", "cat", "-l", path],
        capture_output=True, env=env, timeout=60,
    )
    if r.returncode != 0:
        return ""
    return r.stdout.decode("utf-8", errors="replace")


def man_texts():
    items = []
    for path in man_pages():
        rel = os.path.relpath(path, MAN_ROOT)
        rendered = render_man(path)
        lines = rendered.splitlines()
        if len(lines) < 4:
            continue
        # First and last lines are the page header and footer.
        parts = blocks("\n".join(lines[1:-1]))
        pending = None
        for n, b in enumerate(parts):
            if len(b) == 1 and b[0] == b[0].lstrip() and b[0].isupper():
                pending = b[0].strip()  # a section heading (NAME, DESCRIPTION ...)
                continue
            indent = min(len(l) - len(l.lstrip()) for l in b)
            text = "\n".join(l[indent:] for l in b)
            if pending:
                text = pending + "\n" + text
                pending = None
            items.append((f"{rel}:{n}", text))
    return items


def pick(items, quota, source, seen):
    chosen = []
    for ident, text in sorted(items, key=lambda it: sha1(source + ":" + it[0])):
        if len(chosen) == quota:
            break
        text = text.strip("\n")
        if not (MIN_CHARS <= len(text) <= MAX_CHARS):
            continue
        digest = sha1(text)
        if digest in seen:
            continue
        seen.add(digest)
        chosen.append({"id": f"{source}:{ident}", "source": source, "text": text})
    if len(chosen) < quota:
        sys.exit(f"corpus: only {len(chosen)} texts for {source}, quota {quota}")
    return chosen


def percentile(sorted_values, q):
    if not sorted_values:
        return None
    k = (len(sorted_values) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


def distribution(tokens):
    s = sorted(tokens)
    bins = [(1, 16), (17, 32), (33, 64), (65, 128), (129, 255), (256, 256)]
    return {
        "n": len(s),
        "mean": round(sum(s) / len(s), 1),
        "p10": percentile(s, 0.10),
        "p25": percentile(s, 0.25),
        "median": percentile(s, 0.50),
        "p75": percentile(s, 0.75),
        "p90": percentile(s, 0.90),
        "max": s[-1],
        "histogram": {f"{a}-{b}" if a != b else f"{a}": sum(1 for t in s if a <= t <= b) for a, b in bins},
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus.jsonl"))
    args = ap.parse_args()

    from tokenizers import Tokenizer

    code, docs = python_texts()
    seen = set()
    corpus = []
    corpus += pick(code, QUOTAS["code"], "code", seen)
    corpus += pick(docs, QUOTAS["docstrings"], "docstrings", seen)
    corpus += pick(rst_texts(), QUOTAS["python-docs"], "python-docs", seen)
    corpus += pick(man_texts(), QUOTAS["man-pages"], "man-pages", seen)
    corpus.sort(key=lambda it: sha1(it["id"]))

    tok = Tokenizer.from_file(TOKENIZER)
    tok.no_truncation()
    tok.no_padding()
    encodings = tok.encode_batch([it["text"] for it in corpus])
    for it, enc in zip(corpus, encodings):
        it["chars"] = len(it["text"])
        it["full_tokens"] = len(enc.ids)
        it["tokens"] = min(len(enc.ids), MAX_TOKENS)

    tmp = args.out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        for it in corpus:
            f.write(json.dumps({k: it[k] for k in ("id", "source", "chars", "tokens", "full_tokens", "text")}, ensure_ascii=False) + "\n")
    os.replace(tmp, args.out)

    summary = {
        "texts": len(corpus),
        "bytes": sum(len(it["text"].encode("utf-8")) for it in corpus),
        "sha256": hashlib.sha256(open(args.out, "rb").read()).hexdigest(),
        "tokens": distribution([it["tokens"] for it in corpus]),
        "cut_at_256": sum(1 for it in corpus if it["full_tokens"] > MAX_TOKENS),
        "by_source": {},
    }
    for source in QUOTAS:
        part = [it for it in corpus if it["source"] == source]
        summary["by_source"][source] = {
            "texts": len(part),
            "median_chars": percentile(sorted(it["chars"] for it in part), 0.5),
            "tokens": distribution([it["tokens"] for it in part]),
            "cut_at_256": sum(1 for it in part if it["full_tokens"] > MAX_TOKENS),
        }
    with open(args.out + ".summary.json", "w") as f:
        json.dump(summary, f, indent=1)
    t = summary["tokens"]
    print(f"corpus: {summary['texts']} texts, {summary['bytes'] / 1e6:.1f} MB -> {args.out}")
    print(f"tokens: mean {t['mean']}, median {t['median']}, p10 {t['p10']}, p90 {t['p90']}, "
          f"{summary['cut_at_256']} cut at 256; histogram {t['histogram']}")
    for source, s in summary["by_source"].items():
        print(f"  {source}: {s['texts']} texts, median {s['tokens']['median']} tokens, {s['cut_at_256']} cut")


if __name__ == "__main__":
    main()
