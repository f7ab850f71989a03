#!/usr/bin/env python3
"""Builds the retrieval benchmark's data sets, BEIR layout, from files Debian installs.

    python3 benches/accuracy/build_data.py [--out benches/accuracy/data] [--max-pairs 2000]

Standard library only; the same input files give byte-identical output (files and functions
are visited in sorted order, the cap is a hash order, JSON keys are written in a fixed order).
Each set goes to ``<out>/<set>/``: ``corpus.jsonl`` ({"_id", "title", "text"}), ``queries.jsonl``
({"_id", "text"}) and ``qrels.tsv`` (``query-id<TAB>corpus-id<TAB>score`` after a header line).
``<out>/manifest.json`` records the inputs (Python version, package versions) and the counts.
Titles are empty in every set: the text to embed is the document alone.

Sets
----
code
    CodeSearchNet-style (query = docstring summary, document = code) pairs from the CPython
    standard library in /usr/lib/python3.11 (Debian ``libpython3.11-stdlib``), read with ``ast``.
    One query per function, one relevant document (its own code). Filters, applied in order:

    1. Files: every ``*.py`` under the library, except ``site-packages``/``dist-packages``,
       ``__pycache__``, ``config-3.11-*``, test code (directories ``test``, ``tests``,
       ``idle_test``, files ``test_*.py`` and ``*_test.py``) and files ``ast`` cannot parse.
    2. Functions: every ``def``/``async def`` at any depth (methods, nested functions) that has
       a docstring. Dunder methods (``__init__``, ``__repr__`` ...) are skipped, as
       CodeSearchNet skipped constructors and standard extension methods; so are names that
       contain ``test``.
    3. Query: the docstring's first paragraph (a leading call-signature paragraph such as
       ``foo(a, b) -> int`` is skipped), whitespace collapsed, cut after its first sentence
       (at ``.``, ``!`` or ``?`` followed by a space and an upper-case letter, a digit or a
       quote). Kept if it has at least 3 words, at most 60 words, and is ASCII.
    4. Document: the function's source lines (``def`` to its last line; decorators excluded),
       with the docstring's lines removed and the common indentation stripped. Kept if it has
       at least 3 non-blank lines.
    5. Query words (lower-case ``[a-z0-9]+``, ignoring a, an, the, of, to, for, and, or, is,
       this) all being sub-tokens of the function's name (snake_case and camelCase split):
       dropped, as the query would only restate the name (``get_name``: "Get name.").
    6. Duplicates, in file/line order: a document whose code equals an earlier one's, or a
       query equal (case-insensitively) to an earlier one, drops the later pair entirely.
    7. Cap: if more than ``--max-pairs`` pairs remain, the pairs with the smallest SHA-1 of
       their id (``path:line:qualified name``) are kept.

code-masked
    The same pairs, with identifiers replaced as CodeXGLUE's AdvTest does: the function's name
    becomes ``func``, its parameters ``arg_0``, ``arg_1`` ... (signature order) and every other
    name bound inside it (assignments, loop/with/except targets, comprehension variables,
    imports, nested defs and classes, walrus) ``var_0``, ``var_1`` ... (order of first
    binding). Names declared ``global``/``nonlocal`` and attributes (``self.x``) keep their
    names. The code is regenerated with ``ast.unparse``, so it has no comments either (AdvTest's
    token sequences had none). Same queries, same ids.

faq
    Real question/answer pairs from two FAQs. Query = the question, document = the answer only.

    * Python FAQ (Debian ``python3.11-doc``, reST sources): the entries that
      ``scripts/faq_corpus.py`` emits (this script runs it and reads its CSV), ids ``py-<n>``.
    * Perl FAQ (Debian ``perl-doc``, ``perlfaq1.pod`` .. ``perlfaq9.pod``): every ``=head2``
      whose text contains ``?``; the answer is the POD up to the next ``=head1``/``=head2``,
      turned into plain text (formatting codes resolved, ``X<>`` index entries dropped, code
      blocks kept). Kept if the answer has at least 40 characters, as for the Python FAQ.
      Ids ``pl<file>-<n>``.

    Questions that appear twice (after collapsing whitespace, case-insensitively) become one
    query with every matching answer relevant.
"""
import argparse
import ast
import copy
import csv
import hashlib
import html.entities
import io
import json
import os
import platform
import re
import subprocess
import sys
import textwrap

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
STDLIB = "/usr/lib/python3.11"
PY_FAQ = "/usr/share/doc/python3.11/html/_sources/faq"
PERL_POD_DIRS = ["/usr/share/perl/5.36/pod", "/usr/share/perl/5.36.0/pod"]
SKIP_DIRS = {"site-packages", "dist-packages", "__pycache__", "test", "tests", "idle_test"}
STOP = {"a", "an", "the", "of", "to", "for", "and", "or", "is", "this"}


# ---------------------------------------------------------------- writing

def write_set(out, name, corpus, queries, qrels):
    """corpus: [(id, text)], queries: [(id, text)], qrels: [(query id, corpus id)]."""
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "corpus.jsonl"), "w", encoding="utf-8", newline="\n") as f:
        for cid, text in corpus:
            f.write(json.dumps({"_id": cid, "title": "", "text": text}, ensure_ascii=False) + "\n")
    with open(os.path.join(d, "queries.jsonl"), "w", encoding="utf-8", newline="\n") as f:
        for qid, text in queries:
            f.write(json.dumps({"_id": qid, "text": text}, ensure_ascii=False) + "\n")
    with open(os.path.join(d, "qrels.tsv"), "w", encoding="utf-8", newline="\n") as f:
        f.write("query-id\tcorpus-id\tscore\n")
        for qid, cid in qrels:
            f.write(f"{qid}\t{cid}\t1\n")
    return {"corpus": len(corpus), "queries": len(queries), "qrels": len(qrels)}


# ---------------------------------------------------------------- code

def name_subtokens(name):
    """get_HTTPResponse2 -> {get, http, response, 2}."""
    out = set()
    for part in re.split(r"[_\W]+", name):
        out.update(t.lower() for t in re.findall(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+", part))
    return out


SIGNATURE = re.compile(r"^[\w.]+\(.*\)(\s*->.*)?$")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'`])")


def summary(docstring):
    """First sentence of the first prose paragraph, whitespace collapsed; None if none."""
    paras = [p for p in re.split(r"\n\s*\n", docstring.strip()) if p.strip()]
    if paras and SIGNATURE.match(" ".join(paras[0].split())):
        paras = paras[1:]
    if not paras:
        return None
    text = " ".join(paras[0].split())
    return SENTENCE_END.split(text, maxsplit=1)[0].strip()


def stdlib_files():
    for dirpath, dirnames, filenames in os.walk(STDLIB):
        dirnames[:] = sorted(d for d in dirnames
                             if d not in SKIP_DIRS and not d.startswith("config-3"))
        for fn in sorted(filenames):
            if fn.endswith(".py") and not fn.startswith("test_") and not fn.endswith("_test.py"):
                yield os.path.join(dirpath, fn)


def functions(tree):
    """Yields (qualified name, FunctionDef) for every def at any depth, in source order."""
    def walk(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                q = prefix + child.name
                yield q, child
                yield from walk(child, q + ".")
            elif isinstance(child, ast.ClassDef):
                yield from walk(child, prefix + child.name + ".")
            else:
                yield from walk(child, prefix)
    yield from walk(tree, "")


def strip_docstring(lines, fn):
    """Source of fn without decorators and without its docstring's lines, dedented."""
    doc = fn.body[0]
    keep = [lines[i] for i in range(fn.lineno - 1, fn.end_lineno)
            if not (doc.lineno - 1 <= i <= doc.end_lineno - 1)]
    return textwrap.dedent("\n".join(l.rstrip() for l in keep)).strip("\n")


class Masker(ast.NodeTransformer):
    """Renames a function's own name, parameters and local names (see the module docstring)."""

    def __init__(self, fn):
        self.map = {fn.name: "func"}
        a = fn.args
        params = a.posonlyargs + a.args + ([a.vararg] if a.vararg else []) + a.kwonlyargs \
            + ([a.kwarg] if a.kwarg else [])
        for i, p in enumerate(params):
            self.map[p.arg] = f"arg_{i}"
        declared = set()
        bound = []  # (line, col, name)
        for node in ast.walk(fn):
            if isinstance(node, (ast.Global, ast.Nonlocal)):
                declared.update(node.names)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
                bound.append((node.lineno, node.col_offset, node.id))
            elif node is not fn and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                bound.append((node.lineno, node.col_offset, node.name))
            elif isinstance(node, ast.arg) and node not in params:
                bound.append((node.lineno, node.col_offset, node.arg))  # nested def/lambda
            elif isinstance(node, ast.ExceptHandler) and node.name:
                bound.append((node.lineno, node.col_offset, node.name))
            elif isinstance(node, ast.alias):
                local = node.asname or node.name   # "import a.b" binds a: left as is
                if local != "*" and "." not in local:
                    bound.append((node.lineno, node.col_offset, local))
            elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
                bound.append((node.lineno, node.col_offset, node.name))
        n = 0
        for _, _, name in sorted(bound):
            if name not in self.map and name not in declared:
                self.map[name] = f"var_{n}"
                n += 1
        self.declared = declared

    def rename(self, name):
        return name if name in self.declared else self.map.get(name, name)

    def visit_Name(self, node):
        node.id = self.rename(node.id)
        return node

    def visit_arg(self, node):
        node.arg = self.rename(node.arg)
        self.generic_visit(node)
        return node

    def visit_FunctionDef(self, node):
        node.name = self.rename(node.name)
        self.generic_visit(node)
        return node

    visit_AsyncFunctionDef = visit_ClassDef = visit_FunctionDef

    def visit_ExceptHandler(self, node):
        if node.name:
            node.name = self.rename(node.name)
        self.generic_visit(node)
        return node

    def visit_alias(self, node):
        if node.asname:
            node.asname = self.rename(node.asname)
        elif "." not in node.name and node.name != "*" and node.name in self.map:
            node.asname = self.rename(node.name)   # import x  ->  import x as var_0
        return node

    def visit_MatchAs(self, node):
        if node.name:
            node.name = self.rename(node.name)
        self.generic_visit(node)
        return node

    visit_MatchStar = visit_MatchAs


def masked(fn):
    """The function regenerated by ast.unparse with its names masked and no docstring."""
    fn = copy.deepcopy(fn)
    fn.decorator_list = []
    fn.body = fn.body[1:]
    Masker(fn).visit(fn)
    return ast.unparse(fn)


def build_code(max_pairs):
    pairs, seen_code, seen_query = [], set(), set()
    counts = {"functions with a docstring": 0}
    def drop(reason):
        counts[reason] = counts.get(reason, 0) + 1
    for path in stdlib_files():
        rel = os.path.relpath(path, STDLIB)
        try:
            with open(path, encoding="utf-8") as f:
                src = f.read()
            tree = ast.parse(src, filename=path)
        except (SyntaxError, UnicodeDecodeError, ValueError):
            drop("file not parsed")
            continue
        lines = src.splitlines()
        for qual, fn in functions(tree):
            doc = ast.get_docstring(fn, clean=True)
            if not doc:
                continue
            counts["functions with a docstring"] += 1
            if fn.name.startswith("__") and fn.name.endswith("__"):
                drop("dunder method"); continue
            if "test" in fn.name.lower():
                drop("name contains test"); continue
            q = summary(doc)
            if q is None or not q.isascii():
                drop("no ASCII summary"); continue
            nwords = len(q.split())
            if nwords < 3:
                drop("query under 3 words"); continue
            if nwords > 60:
                drop("query over 60 words"); continue
            code = strip_docstring(lines, fn)
            if sum(1 for l in code.splitlines() if l.strip()) < 3:
                drop("code under 3 lines"); continue
            words = set(re.findall(r"[a-z0-9]+", q.lower())) - STOP
            if words <= name_subtokens(fn.name):
                drop("query restates the name"); continue
            if code in seen_code:
                drop("duplicate code"); continue
            qkey = " ".join(q.lower().split())
            if qkey in seen_query:
                drop("duplicate query"); continue
            seen_code.add(code)
            seen_query.add(qkey)
            pid = f"{rel}:{fn.lineno}:{qual}"
            pairs.append((pid, q, code, masked(fn)))
    counts["pairs after filters"] = len(pairs)
    if len(pairs) > max_pairs:
        keep = set(sorted(range(len(pairs)),
                          key=lambda i: hashlib.sha1(pairs[i][0].encode()).hexdigest())[:max_pairs])
        pairs = [p for i, p in enumerate(pairs) if i in keep]
    counts["pairs kept (cap)"] = len(pairs)
    return pairs, counts


# ---------------------------------------------------------------- faq

def python_faq():
    """[(id, question, answer)] from scripts/faq_corpus.py's CSV."""
    out = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "faq_corpus.py"), PY_FAQ],
                         check=True, capture_output=True, text=True).stdout
    return [(f"py-{n}", q.replace("``", ""), a) for n, _section, q, a in csv.reader(io.StringIO(out))]


def pod_entity(name):
    if name.lower().startswith("0x"):
        return chr(int(name, 16))
    if name.isdigit():
        return chr(int(name))
    return {"verbar": "|", "sol": "/", "lchevron": "«", "rchevron": "»"}.get(
        name, html.entities.html5.get(name + ";", name))


POD_CODE = re.compile(r"([A-Z])(<+)")


def pod_inline(s):
    """Resolves POD formatting codes (B<> C<> I<> F<> S<> L<> E<> X<> Z<>, also C<< >>)."""
    out, i = [], 0
    while i < len(s):
        m = POD_CODE.match(s, i)
        if not m:
            out.append(s[i]); i += 1; continue
        code, n = m.group(1), len(m.group(2))
        j = m.end()
        if n == 1:
            depth, k = 0, j
            while k < len(s):   # nested codes open with X< and close with >
                if POD_CODE.match(s, k):
                    depth += 1; k += 2; continue
                if s[k] == ">":
                    if depth == 0:
                        break
                    depth -= 1
                k += 1
            inner, end = s[j:k], k + 1
        else:
            close = re.compile(r"\s" + ">" * n).search(s, j)
            k = close.start() if close else len(s)
            inner, end = s[j:k].strip(), (close.end() if close else len(s))
        inner = pod_inline(inner)
        if code in "XZ":
            pass
        elif code == "E":
            out.append(pod_entity(inner))
        elif code == "L":
            if "|" in inner:
                out.append(inner.split("|", 1)[0])
            else:
                page, _, sec = inner.partition("/")
                out.append(f"{sec} in {page}" if sec and page else (sec or page))
        else:
            out.append(inner)
        i = end
    return "".join(out)


def pod_to_text(block):
    """Plain text of a run of POD paragraphs: prose joined per paragraph, code kept."""
    paras, skip = [], False
    for para in re.split(r"\n[ \t]*\n", block):
        if not para.strip():
            continue
        if para.startswith("=begin"):
            skip = True; continue
        if para.startswith("=end"):
            skip = False; continue
        if skip or para.startswith(("=for", "=over", "=back", "=cut", "=pod", "=encoding")):
            continue
        if para.startswith("=item"):
            item = pod_inline(para[5:].strip())
            if item and item not in ("*", "o"):
                paras.append(item.rstrip(".") + ":" if not item[0].isdigit() else item + ".")
            continue
        if para[0] in " \t":
            paras.append(textwrap.dedent(para.rstrip()))
        else:
            paras.append(" ".join(pod_inline(para).split()))
    return "\n\n".join(p for p in paras if p.strip())


def perl_faq():
    pod_dir = next(d for d in PERL_POD_DIRS if os.path.isdir(d))
    out = []
    for k in range(1, 10):
        with open(os.path.join(pod_dir, f"perlfaq{k}.pod"), encoding="utf-8") as f:
            text = f.read()
        parts = re.split(r"^(=head[12][ \t]+.*)$", text, flags=re.M)
        n = 0
        for head, body in zip(parts[1::2], parts[2::2]):
            if not head.startswith("=head2"):
                continue
            q = " ".join(pod_inline(head[6:].strip()).split())
            a = pod_to_text(body)
            if "?" in q and len(a) >= 40:
                n += 1
                out.append((f"pl{k}-{n}", q, a))
    return out, pod_dir


def build_faq():
    py = python_faq()
    pl, pod_dir = perl_faq()
    corpus, queries, qrels, qid_of = [], [], [], {}
    for cid, q, a in py + pl:
        corpus.append((cid, a))
        key = " ".join(q.lower().split())
        if key not in qid_of:
            qid_of[key] = f"q-{cid}"
            queries.append((qid_of[key], q))
        qrels.append((qid_of[key], cid))
    return corpus, queries, qrels, {"python faq entries": len(py), "perl faq entries": len(pl),
                                    "perl pod dir": pod_dir}


def package_version(pkg):
    try:
        return subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True,
                              text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(HERE, "data"))
    ap.add_argument("--max-pairs", type=int, default=2000)
    a = ap.parse_args()
    manifest = {"inputs": {
        "python": platform.python_version(),
        "libpython3.11-stdlib": package_version("libpython3.11-stdlib"),
        "python3.11-doc": package_version("python3.11-doc"),
        "perl-doc": package_version("perl-doc"),
    }, "sets": {}}
    pairs, counts = build_code(a.max_pairs)
    qrels = [("q-" + p[0], p[0]) for p in pairs]
    manifest["sets"]["code"] = write_set(a.out, "code", [(p[0], p[2]) for p in pairs],
                                         [("q-" + p[0], p[1]) for p in pairs], qrels)
    manifest["sets"]["code"]["filters"] = counts
    manifest["sets"]["code-masked"] = write_set(a.out, "code-masked", [(p[0], p[3]) for p in pairs],
                                                [("q-" + p[0], p[1]) for p in pairs], qrels)
    corpus, queries, qrels, info = build_faq()
    manifest["sets"]["faq"] = write_set(a.out, "faq", corpus, queries, qrels)
    manifest["sets"]["faq"].update(info)
    with open(os.path.join(a.out, "manifest.json"), "w", encoding="utf-8", newline="\n") as f:
        json.dump(manifest, f, indent=1, ensure_ascii=False)
        f.write("\n")
    for name, m in manifest["sets"].items():
        print(f"{name}: {m['corpus']} documents, {m['queries']} queries, {m['qrels']} qrels")


if __name__ == "__main__":
    main()
