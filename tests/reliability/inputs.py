"""Random and adversarial inputs for pg_embed's SQL functions, from a seeded generator.

Everything here is deterministic for a given `random.Random`. Texts never contain NUL
(PostgreSQL text cannot) or surrogates (not encodable in UTF-8): every other code point of
every plane can appear.
"""
import random

WORDS = (
    "the of and to in is that for it as was with be by on not he this are or his from at which "
    "but have an they you were her she there been one all we their has would when if so no will "
    "database index vector query table row column embedding search model token text function "
    "postgres extension backend server client cancel timeout memory thread batch window truncate "
    "cat dog house tree river mountain bread coffee music piano rain summer winter city road "
    "Python Rust SQL JSON HTTP CPU GPU ONNX BERT HNSW"
).split()

# Code point ranges, each a block whose characters stress one part of the tokenizer.
BLOCKS = {
    "latin": [(0x20, 0x7E), (0xA0, 0x24F)],
    "combining": [(0x300, 0x36F), (0x1AB0, 0x1AFF), (0x20D0, 0x20FF)],
    "cjk": [(0x4E00, 0x9FFF), (0x3040, 0x30FF), (0xAC00, 0xD7A3), (0x20000, 0x2A6DF)],
    "rtl": [(0x590, 0x5FF), (0x600, 0x6FF), (0x700, 0x74F)],
    "indic": [(0x900, 0x97F), (0xB80, 0xBFF), (0xE00, 0xE7F)],
    "emoji": [(0x1F300, 0x1F5FF), (0x1F600, 0x1F64F), (0x1F680, 0x1F6FF), (0x1F900, 0x1F9FF), (0x1F1E6, 0x1F1FF)],
    "format": [(0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x2064), (0x2066, 0x2069), (0xFEFF, 0xFEFF),
               (0xE0001, 0xE0001), (0xE0020, 0xE007F), (0xFE00, 0xFE0F), (0xE0100, 0xE01EF)],
    "noncharacter": [(0xFDD0, 0xFDEF), (0xFFFE, 0xFFFF), (0x1FFFE, 0x1FFFF), (0x10FFFE, 0x10FFFF)],
    "private": [(0xE000, 0xF8FF), (0xF0000, 0xFFFFD), (0x100000, 0x10FFFD)],
    "control": [(0x01, 0x1F), (0x7F, 0x9F)],
    "space": [(0x09, 0x0D), (0x20, 0x20), (0x85, 0x85), (0xA0, 0xA0), (0x1680, 0x1680), (0x2000, 0x200A),
              (0x2028, 0x2029), (0x202F, 0x202F), (0x205F, 0x205F), (0x3000, 0x3000)],
    "expanding": [(0xFDFA, 0xFDFB), (0x2474, 0x24B5), (0xFB00, 0xFB06), (0x1F100, 0x1F10A), (0x0130, 0x0130),
                  (0x0390, 0x0390), (0x1E9E, 0x1E9E), (0x3300, 0x33FF)],
    "math": [(0x1D400, 0x1D7FF), (0x2200, 0x22FF)],
}

SPECIAL = [
    "[CLS]", "[SEP]", "[PAD]", "[MASK]", "[UNK]", "<s>", "</s>", "<|endoftext|>", "##", "##ing",
    "'; DROP TABLE t; --", "%s%s%s%n", "{0}{1}", "\\x00", "\\", "$$", "$1", "E'\\n'", "NULL", "\\N",
    "<script>alert(1)</script>", "../../../../etc/passwd", "\u202eevil\u202c", "a\u0308\u0308\u0308",
    "\U0001F468\u200D\U0001F469\u200D\U0001F467\u200D\U0001F466", "\U0001F44D\U0001F3FD", "\U0001F1FA\U0001F1F8",
]


def _valid(cp):
    return cp != 0 and not 0xD800 <= cp <= 0xDFFF


def any_char(rnd):
    """A code point from any plane (no NUL, no surrogate), biased to assigned planes."""
    while True:
        plane = rnd.choice([0, 0, 0, 1, 1, 2, 3, 14, 15, 16])
        cp = plane * 0x10000 + rnd.randrange(0x10000)
        if _valid(cp):
            return chr(cp)


def block_char(rnd, name):
    lo, hi = rnd.choice(BLOCKS[name])
    return chr(rnd.randint(lo, hi))


class Inputs:
    """Texts, arrays, model names and settings values."""

    def __init__(self, rnd: random.Random):
        self.r = rnd

    # -- texts ----------------------------------------------------------------------------
    def size(self, big=3000):
        """A length, mostly short (most adversarial characters are one token each)."""
        r = self.r
        x = r.random()
        if x < 0.7:
            return r.randint(1, min(40, big))
        if x < 0.93:
            return r.randint(1, min(250, big))
        return r.randint(1, big)

    def words(self, n):
        return " ".join(self.r.choice(WORDS) for _ in range(n))

    def prose(self, tokens):
        """Sentences of about `tokens` tokens."""
        out, count = [], 0
        while count < tokens:
            n = self.r.randint(4, 18)
            out.append(self.words(n).capitalize() + self.r.choice([".", ".", "?", "!", ";", ","]))
            count += n + 1
        return " ".join(out)

    def text(self, long_ok=True, max_len=None):
        """One text; `long_ok` allows texts over the token limit (up to a few hundred kB)."""
        r = self.r
        kinds = [
            ("short", 26), ("unicode", 12), ("blocks", 12), ("control", 5), ("empty", 6), ("binary", 6),
            ("special", 5), ("mixed", 8), ("long_token", 1.5 if long_ok else 0), ("repetition", 1.5 if long_ok else 0),
            ("prose_long", 2 if long_ok else 0), ("prose_short", 9),
        ]
        kind = r.choices([k for k, _ in kinds], [w for _, w in kinds])[0]
        t = getattr(self, "_" + kind)()
        if max_len is not None and len(t) > max_len:
            t = t[:max_len]
        return t

    def _short(self):
        return self.words(self.r.randint(1, 20))

    def _prose_short(self):
        return self.prose(self.size(120))

    def _prose_long(self):
        return self.prose(self.r.choice([250, 300, 600, 1200]))

    def _unicode(self):
        return "".join(any_char(self.r) for _ in range(self.size()))

    def _blocks(self):
        r = self.r
        name = r.choice(list(BLOCKS))
        s = "".join(block_char(r, name) for _ in range(self.size()))
        if r.random() < 0.5:  # with words around, so the odd characters sit inside real text
            s = self.words(r.randint(1, 10)) + " " + s + " " + self.words(r.randint(0, 10))
        return s

    def _control(self):
        r = self.r
        return "".join(block_char(r, "control") if r.random() < 0.6 else r.choice(WORDS) + " "
                       for _ in range(self.size(400)))

    def _empty(self):
        r = self.r
        return "".join(block_char(r, "space") for _ in range(r.choice([0, 0, 1, 3, 50, 1000, 20000])))

    def _binary(self):
        r = self.r
        raw = bytes(r.randrange(1, 256) for _ in range(self.size()))
        how = r.choice(["latin-1", "utf-8-replace", "utf-8-ignore"])
        if how == "latin-1":
            return raw.decode("latin-1")
        return raw.decode("utf-8", "replace" if how.endswith("replace") else "ignore").replace("\x00", "")

    def _special(self):
        r = self.r
        return " ".join(r.choice(SPECIAL) for _ in range(self.size(60)))

    def _long_token(self):
        r = self.r
        n = r.choice([101, 1000, 20000, 100000, 250000])
        unit = r.choice(["a", "Z", "7", "\u00e9", "\u4e00", "\U0001F600", "e\u0301", "ab", "-"])
        word = unit * (n // len(unit))
        return r.choice(["", self.words(3) + " "]) + word + r.choice(["", " " + self.words(3)])

    def _repetition(self):
        r = self.r
        unit = r.choice(["ab ", "the ", ". ", "\n", "hello world ", "\U0001F600 ", "x", "[SEP] ", "\u200b"])
        return unit * r.choice([1000, 10000, 50000, 150000])

    def _mixed(self):
        return " ".join(self.text(long_ok=False) for _ in range(self.r.randint(2, 4)))

    def array(self, long_ok=True, max_len=None):
        """A text[] value: empty, NULL elements, mixed sizes."""
        r = self.r
        n = r.choices([0, 1, 2, 3, 5, 8, 9, 16, 17, 33, 64, 65], [2, 4, 4, 3, 3, 3, 2, 1, 1, 0.5, 0.2, 0.2])[0]
        out = []
        for _ in range(n):
            if r.random() < 0.1:
                out.append(None)
            else:
                out.append(self.text(long_ok=long_ok and r.random() < 0.05, max_len=max_len))
        return out

    # -- model names ----------------------------------------------------------------------
    def model(self):
        r = self.r
        if r.random() < 0.8:
            return r.choice(["all-MiniLM-L6-v2", "all-MiniLM-L6-v2", "paraphrase-MiniLM-L3-v2"])
        return self.bad_model()

    def bad_model(self):
        r = self.r
        return r.choice([
            lambda: r.choice(["../all-MiniLM-L6-v2", "../../../../etc/passwd", "/etc/passwd", "all-MiniLM-L6-v2/../x",
                              "./all-MiniLM-L6-v2", ".", "..", "...", "", " ", ".hidden", "a/b", "a\\b", "~root",
                              "all-MiniLM-L6-v2\n", "all-MiniLM-L6-v2 ", " all-MiniLM-L6-v2", "ALL-MINILM-L6-V2",
                              "all-minilm-l6-v2", "all-MiniLM-L6-v2\u200b", "model.onnx", "tokenizer.json",
                              "%s", "'; SELECT 1; --", "${HOME}", "$(id)", "*", "?", "con", "nul", "-", "_",
                              "all-mpnet-base-v2", "all-MiniLM-L12-v2", "CodeBERT-base", "UniXcoder-base",
                              "DistilBERT-base-uncased", "codet5p-110m-embedding", "minilm-l6-w8",
                              "user-cls", "user-wrongdims", "user-tok-as-int8", "user-pooled", "user-missing"]),
            lambda: "a" * r.choice([99, 100, 101, 255, 256, 1000, 100000]),
            lambda: "".join(any_char(r) for _ in range(r.randint(1, 40))),
            lambda: "\u30e2\u30c7\u30eb",
            lambda: "all-MiniLM-L6-v2" + "/" * r.randint(1, 3),
            lambda: "/".join([".."] * r.randint(1, 20)),
        ])()

    # -- settings ---------------------------------------------------------------------------
    SETTINGS = {
        "pg_embed.long_text": (["truncate", "error", "window", "TRUNCATE", "Window"],
                               ["windows", "", "none", "truncate;", "1", "\u00e9rror", "truncate error"]),
        "pg_embed.precision": (["int8"] * 6 + ["INT8", "fp32", "auto"], ["fp16", "bf16", "", "int4", "8"]),
        "pg_embed.max_text_size": (["1kB", "4kB", "64kB", "1MB", "8MB", "64MB", "16", "1.5MB"],
                                   ["0", "-1", "65MB", "1GB", "2GB", "1TB", "abc", "1 parsec", "99999999999"]),
        "pg_embed.memory_limit": (["16MB", "64MB", "100MB", "150MB", "512MB", "1GB", "4GB"],
                                  ["15MB", "0", "-5MB", "lots", "1e99", "5GB", "2TB"]),
        "pg_embed.batch_size": (["1", "2", "8", "63", "256"], ["0", "257", "1024", "-1", "x", "1.5e3"]),
        "pg_embed.max_tokens_per_run": (["64", "256", "2048", "16384"], ["63", "0", "16385", "1048576", "-64"]),
        "pg_embed.threads": (["1", "1", "2"], ["0", "9", "65", "-1", "two"]),
        "pg_embed.fallback_model": (["", "all-MiniLM-L6-v2", "paraphrase-MiniLM-L3-v2", "no-such-model", "../x"], []),
        "pg_embed.no_such_setting": ([], ["1", "x"]),
    }

    def setting(self):
        """(name, value, expected_valid)"""
        r = self.r
        name = r.choice(list(self.SETTINGS))
        valid, invalid = self.SETTINGS[name]
        if valid and (not invalid or r.random() < 0.65):
            return name, r.choice(valid), True
        return name, r.choice(invalid), False
