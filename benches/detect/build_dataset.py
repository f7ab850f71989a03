#!/usr/bin/env python3
"""Build the labelled code-vs-prose data set for `pg_embed_engine::detect`.

Run from the repository root:

    python3 benches/detect/build_dataset.py [--out benches/detect/dataset.jsonl]

Everything comes from material installed on a Debian 12 development machine: no download,
no generated text. The output has one JSON object per line:

    {"text": ..., "label": "code" | "doc" | "config", "source": ..., "language": ...,
     "split": "dev" | "holdout"}

`source` names the kind of material (for example `rust-crates` or `man-pages`), never a path.
`language` is the programming language for code and null otherwise. `split` puts every
fifth file (by a hash of its path) in `holdout`: the detector was tuned by looking at errors
on `dev` only, so `holdout` shows whether the tuning generalises.

Sources
-------
code:   CPython's standard library (/usr/lib/python3.11), C headers (/usr/include, without
        the C++, LLVM and Clang trees; a header with classes, templates or namespaces is
        labelled cpp), C sources vendored in Rust crates and shipped as examples under
        /usr/share/doc,
        C++ headers (/usr/include/c++), Rust crates (~/.cargo/registry/src, newest version of
        each crate only), Perl modules (/usr/share/perl*), shell scripts (files whose first
        line runs sh or bash, in /usr/bin, /usr/sbin, /etc/init.d and /usr/share),
        PostgreSQL's SQL scripts (/usr/share/postgresql), JavaScript (npm's own modules under
        /usr/lib/node_modules, minified files left out).
doc:    Python's documentation sources (reStructuredText, /usr/share/doc/python3.11/html/
        _sources), Markdown files in Rust crates (READMEs, change logs, guides), README files
        of npm modules, long descriptions of installed Python packages (METADATA files),
        Perl's POD documentation (perl-doc), manual pages rendered to text by `man`, Debian
        change log entries (commit-message-like text), plain-text READMEs under /usr/share/doc.
config: configuration files under /etc and PostgreSQL's sample configuration.

Labelling decisions
-------------------
* SQL is code.
* Configuration files are labelled `config` and are NOT part of the code-vs-prose score. A
  commented `key = value` file is neither a program nor prose: half of it is English comments
  and half assignments, and either label would be arguable. The evaluation reports what the
  detector says about them separately, for information.
* Documentation that contains code examples (Markdown fences, reStructuredText literal
  blocks, POD verbatim paragraphs, `>>>` sessions) is doc, provided at least half of the
  snippet's non-blank lines are prose. A snippet cut from the middle of a long fenced block
  is code in a document, not documentation, and is dropped rather than mislabelled.
* Likewise a snippet cut from a source file must have at least half of its non-blank lines
  outside comments, docstrings and POD: a licence header or a long docstring is prose that
  happens to live in a source file, and is dropped rather than mislabelled.
* Manual pages of sections 2 and 3 lose their SYNOPSIS and EXAMPLES sections, which are C
  declarations and C programs.
* Snippets that name the host of a package registry are dropped (the files in this
  repository never name one).

Reproducing
-----------
The output depends on what is installed: the Debian packages python3.11-doc, perl-doc,
manpages, manpages-dev and man-db, PostgreSQL 15 with its contrib modules, npm, and the crates
in the cargo registry. On the same machine the script gives the same file byte for byte (fixed
seed, sorted file lists); on another machine it gives a set of the same shape, not the same
snippets.

Cutting
-------
Files are listed in sorted order and shuffled with a fixed seed. Each snippet starts on a
random non-blank line and takes whole lines until it reaches a target length drawn
log-uniformly between 100 and 2000 characters (never more than 2000). At most
PER_FILE snippets come from one file, PER_GROUP from one crate, npm module, family of manual
pages (`gcloud-*` has thousands) or include directory, and the source's cap from one source,
so no single file, project or source dominates. Snippets with control characters or very long lines
(minified or generated text) are dropped.
"""

import argparse
import glob
import gzip
import hashlib
import json
import math
import os
import random
import re
import subprocess
import sys

SEED = 20261125
MIN_CHARS = 100
MAX_CHARS = 2000
PER_FILE = 2
PER_GROUP = 8
MAX_LINE = 300

# Package registries: the first label of their host names and the top-level domains, joined
# into a pattern here so that no host name is written in this file. Also drops any mention of
# the Python registry by name.
REGISTRY_NAMES = ["crates", "pypi", "npmjs", "metacpan", "cpan", "rubygems", "pythonhosted", "yarnpkg",
                  "packagist", "nuget", "golang", "debian", "anaconda", "maven", "ctan", "hackage"]
REGISTRY_TLDS = ["io", "org", "com", "net", "dev"]
REGISTRY_RE = re.compile(
    r"\b(?:" + "|".join(REGISTRY_NAMES) + r")(?:\.python)?\.(?:" + "|".join(REGISTRY_TLDS) + ")"
    + r"|\b" + r"\.".join(["pkg", "go", "dev"]) + r"\b|\bpypi\b",
    re.IGNORECASE,
)
CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def sha_split(path):
    h = int(hashlib.sha1(path.encode()).hexdigest(), 16)
    return "holdout" if h % 5 == 0 else "dev"


def read_text(path):
    try:
        if path.endswith(".gz"):
            with gzip.open(path, "rb") as f:
                raw = f.read(2_000_000)
        else:
            with open(path, "rb") as f:
                raw = f.read(2_000_000)
    except OSError:
        return None
    if b"\x00" in raw[:4096]:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def walk(roots, pred):
    out = []
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for name in sorted(filenames):
                p = os.path.join(dirpath, name)
                if os.path.isfile(p) and not os.path.islink(p) and pred(p):
                    out.append(p)
    return sorted(set(out))


# --------------------------------------------------------------------------------------
# Line masks: True marks a line of the labelled kind (code for code, prose for doc).
# --------------------------------------------------------------------------------------


def mask_c_like(lines):
    """Code lines of C, C++, Rust, JavaScript: not inside /* */ and not // comments."""
    out = []
    in_block = False
    for line in lines:
        s = line.strip()
        if in_block:
            out.append(False)
            if "*/" in s:
                in_block = False
            continue
        if s.startswith("/*"):
            out.append(False)
            if "*/" not in s[2:]:
                in_block = True
            continue
        out.append(not s.startswith("//"))
    return out


def mask_python(lines):
    out = []
    quote = None
    for line in lines:
        s = line.strip()
        if quote:
            out.append(False)
            if quote in s:
                quote = None
            continue
        for q in ('"""', "'''"):
            body = s.lstrip("rbuRBU")
            if body.startswith(q):
                if body.count(q) == 1:
                    quote = q
                out.append(False)
                break
        else:
            out.append(not s.startswith("#"))
    return out


def mask_hash(lines):
    """Shell: lines that are not # comments."""
    return [not l.strip().startswith("#") for l in lines]


def mask_perl(lines):
    out = []
    in_pod = False
    for line in lines:
        if re.match(r"^=[a-zA-Z]", line):
            in_pod = not line.startswith("=cut")
            out.append(False)
            continue
        if in_pod:
            out.append(False)
            continue
        if line.startswith("__END__") or line.startswith("__DATA__"):
            in_pod = True  # whatever follows is data or documentation
            out.append(False)
            continue
        out.append(not line.strip().startswith("#"))
    return out


def mask_sql(lines):
    out = []
    in_block = False
    for line in lines:
        s = line.strip()
        if in_block:
            out.append(False)
            if "*/" in s:
                in_block = False
            continue
        if s.startswith("/*"):
            out.append(False)
            in_block = "*/" not in s
            continue
        out.append(not s.startswith("--") and not s.startswith("\\echo"))
    return out


def mask_markdown(lines):
    out = []
    fence = None
    prev_blank = True
    in_indented = False
    for line in lines:
        s = line.strip()
        if fence:
            out.append(False)
            if s.startswith(fence):
                fence = None
            prev_blank = False
            continue
        if s.startswith("```") or s.startswith("~~~"):
            fence = s[:3]
            out.append(False)
            continue
        if not s:
            out.append(True)
            prev_blank = True
            continue
        if line.startswith("    ") and (prev_blank or in_indented) and not s[:2] in ("- ", "* "):
            in_indented = True
            out.append(False)
        else:
            in_indented = False
            out.append(True)
        prev_blank = False
    return out


def mask_rst(lines):
    out = []
    literal_indent = None  # indentation of the paragraph that opened a literal block
    pending = False
    for line in lines:
        s = line.strip()
        indent = len(line) - len(line.lstrip())
        if literal_indent is not None:
            if not s:
                out.append(True)
                continue
            if indent > literal_indent:
                out.append(False)
                continue
            literal_indent = None
        if pending and s:
            pending = False
            if indent > pending_indent:
                literal_indent = pending_indent
                out.append(False)
                continue
        if s.startswith(">>>") or s.startswith("... "):
            out.append(False)
            continue
        if s.endswith("::"):
            pending = True
            pending_indent = indent
            out.append(not s.startswith(".. "))
            continue
        out.append(True)
    return out


def mask_pod(lines):
    # Verbatim paragraphs (indented) are code examples.
    return [not (l[:1] in (" ", "\t") and l.strip()) for l in lines]


def mask_all(lines):
    return [True] * len(lines)


# --------------------------------------------------------------------------------------
# Snippets
# --------------------------------------------------------------------------------------


def cut(rng, text, mask, n):
    """Up to n non-overlapping snippets of text; each has >= half labelled-kind lines."""
    lines = text.replace("\r\n", "\n").replace("\t", "    ").split("\n")
    if len(lines) > 1 and mask is not mask_all:
        m = mask(lines)
    else:
        m = [True] * len(lines)
    starts = [i for i, l in enumerate(lines) if l.strip()]
    rng.shuffle(starts)
    used = set()
    out = []
    for start in starts[: 6 * n]:
        if len(out) >= n:
            break
        if start in used:
            continue
        target = math.exp(rng.uniform(math.log(MIN_CHARS), math.log(MAX_CHARS)))
        size = 0
        end = start
        while end < len(lines) and end not in used:
            add = len(lines[end]) + 1
            if size + add > MAX_CHARS:
                break
            size += add
            end += 1
            if size >= target:
                break
        # Drop trailing blank lines.
        while end > start and not lines[end - 1].strip():
            end -= 1
        chunk = lines[start:end]
        text_out = "\n".join(chunk)
        if len(text_out) < MIN_CHARS:
            continue
        if any(len(l) > MAX_LINE for l in chunk):
            continue
        if CONTROL_RE.search(text_out) or REGISTRY_RE.search(text_out):
            continue
        nonblank = [m[i] for i in range(start, end) if lines[i].strip()]
        if not nonblank or sum(nonblank) * 2 < len(nonblank):
            continue
        used.update(range(start, end))
        out.append(text_out)
    return out


# --------------------------------------------------------------------------------------
# Source-specific readers
# --------------------------------------------------------------------------------------

SH_SHEBANG = re.compile(rb"^#! ?(/usr)?/bin/(env +)?(ba|da)?sh\b")


def is_shell(p):
    if p.endswith(".sh"):
        return True
    try:
        with open(p, "rb") as f:
            return bool(SH_SHEBANG.match(f.read(64)))
    except OSError:
        return False


def newest_crates():
    """Newest version directory of each crate in the cargo registry."""
    best = {}
    for reg in sorted(glob.glob("/root/.cargo/registry/src/*/")):
        for d in sorted(os.listdir(reg)):
            m = re.match(r"^(.*)-(\d+)\.(\d+)\.(\d+)(.*)$", d)
            if not m:
                continue
            key = m.group(1)
            ver = (int(m.group(2)), int(m.group(3)), int(m.group(4)), m.group(5))
            if key not in best or ver > best[key][0]:
                best[key] = (ver, os.path.join(reg, d))
    return [best[k][1] for k in sorted(best)]


def man_pages():
    out = []
    for sec in ("1", "2", "3", "5", "7", "8"):
        out += sorted(glob.glob(f"/usr/share/man/man{sec}/*.gz"))
    return out


def render_man(path):
    env = dict(os.environ, MANWIDTH="80", LANG="C.UTF-8", LC_ALL="C.UTF-8", MAN_KEEP_FORMATTING="")
    try:
        r = subprocess.run(
            ["man", "-P", "cat", "-l", path], capture_output=True, env=env, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if r.returncode != 0:
        return None
    text = r.stdout.decode("utf-8", "replace")
    text = re.sub(r".\x08", "", text)
    sec = os.path.basename(os.path.dirname(path))[3:]
    lines = text.split("\n")
    if sec in ("2", "3"):
        keep, drop = [], False
        for line in lines:
            if re.match(r"^[A-Z][A-Z ]+$", line):
                drop = line.strip() in ("SYNOPSIS", "EXAMPLES", "EXAMPLE", "PROGRAM SOURCE")
            if not drop:
                keep.append(line)
        lines = keep
    # Drop the header and footer lines ("printf(3)   Library Functions Manual   printf(3)").
    lines = [l for l in lines if not re.match(r"^\S+\(\w+\)\s{3,}.*\s{3,}\S+\(\w+\)$", l)]
    return "\n".join(lines)


def changelog_text(path):
    text = read_text(path)
    if text is None:
        return None
    # Keep the 40 newest entries: old ones are often terse lists of package names.
    entries = re.split(r"\n(?=\S.*; urgency=)", text)
    return "\n".join(entries[:40])


def metadata_description(path):
    text = read_text(path)
    if text is None:
        return None
    head, _, body = text.partition("\n\n")
    return body if len(body) > 200 else None


CPP_RE = re.compile(r"^\s*(namespace\b|template\s*<|class\s+\w+\s*[:{]|#include\s*<[a-z_]+>\s*$)", re.M)


def group_of(name, path):
    """Files of one group share the per-group cap (one crate, one man page family...)."""
    if name == "man-pages":
        return re.split(r"[-_.]", os.path.basename(path))[0]
    if "/registry/src/" in path:
        return path.split("/registry/src/")[1].split("/")[1]
    if "/node_modules/" in path:
        return path.rsplit("/node_modules/", 1)[1].split("/")[0]
    if name == "c-headers":
        return os.path.dirname(path)
    return path


def plain_readme(p):
    base = os.path.basename(p)
    return re.match(r"^README(\.txt|\.gz|\.Debian(\.gz)?)?$", base) is not None


# (name, label, language, cap, file list thunk, reader, mask)
def sources():
    py = "/usr/lib/python3.11"
    crates = newest_crates()
    node = "/usr/lib/node_modules"
    doc = "/usr/share/doc"
    return [
        ("python-stdlib", "code", "python", 180,
         lambda: walk([py], lambda p: p.endswith(".py") and "/site-packages/" not in p
                      and "/dist-packages/" not in p),
         read_text, mask_python),
        ("c-headers", "code", "c", 130,
         lambda: walk(["/usr/include"], lambda p: p.endswith(".h")
                      and not re.match(r"/usr/include/(c\+\+|llvm|clang)", p)),
         read_text, mask_c_like),
        ("c-sources", "code", "c", 100,
         lambda: walk(crates + [doc], lambda p: p.endswith(".c")),
         read_text, mask_c_like),
        ("cpp-headers", "code", "cpp", 150,
         lambda: walk(["/usr/include/c++"], lambda p: "/pb_ds/" not in p
                      and (p.endswith((".h", ".hpp", ".tcc")) or "." not in os.path.basename(p))),
         read_text, mask_c_like),
        ("rust-crates", "code", "rust", 200,
         lambda: walk(crates, lambda p: p.endswith(".rs")),
         read_text, mask_c_like),
        ("perl-modules", "code", "perl", 160,
         lambda: walk(["/usr/share/perl", "/usr/share/perl5"], lambda p: p.endswith(".pm")),
         read_text, mask_perl),
        ("shell-scripts", "code", "shell", 140,
         lambda: walk(["/usr/bin", "/usr/sbin", "/etc/init.d", "/usr/share"], is_shell),
         read_text, mask_hash),
        ("postgresql-sql", "code", "sql", 150,
         lambda: walk(["/usr/share/postgresql"], lambda p: p.endswith(".sql")),
         read_text, mask_sql),
        ("npm-javascript", "code", "javascript", 150,
         lambda: walk([node], lambda p: p.endswith((".js", ".cjs", ".mjs"))
                      and not p.endswith(".min.js")),
         read_text, mask_c_like),
        ("python-docs", "doc", None, 230,
         lambda: walk(["/usr/share/doc/python3.11/html/_sources"], lambda p: p.endswith(".txt")),
         read_text, mask_rst),
        ("crate-markdown", "doc", None, 200,
         lambda: walk(crates, lambda p: p.lower().endswith(".md")),
         read_text, mask_markdown),
        ("npm-readmes", "doc", None, 110,
         lambda: walk([node], lambda p: p.lower().endswith(".md")),
         read_text, mask_markdown),
        ("python-package-descriptions", "doc", None, 110,
         lambda: walk(["/usr/lib/python3/dist-packages",
                       "/var/lib/pg_embed-dev/venv/lib/python3.11/site-packages"],
                      lambda p: p.endswith("/METADATA") or p.endswith("/PKG-INFO")),
         metadata_description, mask_markdown),
        ("perl-pod", "doc", None, 180,
         lambda: walk(["/usr/share/perl"], lambda p: p.endswith(".pod")),
         read_text, mask_pod),
        ("man-pages", "doc", None, 230, man_pages, render_man, mask_all),
        ("debian-changelogs", "doc", None, 150,
         lambda: sorted(glob.glob("/usr/share/doc/*/changelog.Debian.gz")),
         changelog_text, mask_all),
        ("plain-readmes", "doc", None, 90,
         lambda: walk([doc], plain_readme),
         read_text, mask_all),
        ("etc-config", "config", None, 120,
         lambda: walk(["/etc"], lambda p: p.endswith((".conf", ".cfg", ".ini", "_config")))
         + sorted(glob.glob("/usr/share/postgresql/*/*.sample")),
         read_text, mask_all),
    ]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="benches/detect/dataset.jsonl")
    args = ap.parse_args()

    rows = []
    for name, label, language, cap, files, reader, mask in sources():
        rng = random.Random(f"{SEED}:{name}")
        paths = files()
        rng.shuffle(paths)
        got = 0
        seen = set()
        per_group = {}
        for p in paths:
            if got >= cap:
                break
            group = group_of(name, p)
            room = min(PER_FILE, cap - got, PER_GROUP - per_group.get(group, 0))
            if room <= 0:
                continue
            text = reader(p)
            if not text:
                continue
            lang = language
            if lang == "c" and CPP_RE.search(text):
                lang = "cpp"
            for snippet in cut(rng, text, mask, room):
                key = hashlib.sha1(snippet.encode()).digest()
                if key in seen:
                    continue
                seen.add(key)
                rows.append({"text": snippet, "label": label, "source": name,
                             "language": lang, "split": sha_split(p)})
                per_group[group] = per_group.get(group, 0) + 1
                got += 1
        print(f"{name:30} {label:6} {got:4} snippets from {len(paths)} files", file=sys.stderr)

    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    counts = {}
    for row in rows:
        counts[row["label"]] = counts.get(row["label"], 0) + 1
    print(f"wrote {len(rows)} rows to {args.out}: {counts}", file=sys.stderr)


if __name__ == "__main__":
    main()
