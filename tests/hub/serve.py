#!/usr/bin/env python3
"""A small HTTP server on loopback with the Hugging Face hub's download layout, for testing
pg_embed_download() where the hub is unreachable.

    GET <endpoint>/<org>/<repo>/resolve/<revision>/<path>

serves ROOT/<org>/<repo>/<path> with the headers hf-hub reads: ETag (the file's SHA-256, as
the hub gives for large files), X-Repo-Commit, and Content-Range for Range requests.
Under the prefix /corrupt the same files are served with one byte changed but the true ETag,
to test checksum verification; under /slow they trickle (64 kB a second), to test cancelling
and timing out a download; under /gitetag small files carry the hub's ETag for files kept in
git (their blob's SHA-1) instead of a SHA-256. The prefixes combine in that order.

Usage: serve.py ROOT PORT_FILE    (listens on 127.0.0.1, a free port written to PORT_FILE)
"""
import hashlib
import http.server
import os
import re
import sys
import time

COMMIT = "0123456789abcdef0123456789abcdef01234567"
ROOT = sys.argv[1]
SHA = {}


def sha256(path):
    if path not in SHA:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        SHA[path] = h.hexdigest()
    return SHA[path]


# Under /gitetag, files under this size get the ETag the hub gives a file kept in git rather
# than in its large-file store: the SHA-1 of the git blob.
SMALL = 10 << 20


def git_blob_sha1(path):
    with open(path, "rb") as f:
        data = f.read()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class Hub(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        path = self.path
        corrupt = path.startswith("/corrupt/")
        if corrupt:
            path = path[len("/corrupt"):]
        slow = path.startswith("/slow/")
        if slow:
            path = path[len("/slow"):]
        gitetag = path.startswith("/gitetag/")
        if gitetag:
            path = path[len("/gitetag"):]
        m = re.fullmatch(r"/([^/]+)/([^/]+)/resolve/([^/]+)/(.+)", path)
        if not m or ".." in m.group(4):
            return self.send_error(404)
        file = os.path.join(ROOT, m.group(1), m.group(2), m.group(4))
        if not os.path.isfile(file):
            self.send_response(404)
            self.send_header("X-Error-Code", "EntryNotFound")
            self.end_headers()
            return
        size = os.path.getsize(file)
        start, end = 0, size - 1
        rng = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        if rng:
            start = int(rng.group(1))
            end = min(int(rng.group(2)) if rng.group(2) else size - 1, size - 1)
        with open(file, "rb") as f:
            f.seek(start)
            body = bytearray(f.read(end - start + 1))
        if corrupt and start <= size // 2 <= end:
            body[size // 2 - start] ^= 0xFF
        self.send_response(206 if rng else 200)
        self.send_header("ETag", '"%s"' % (git_blob_sha1(file) if gitetag and size < SMALL else sha256(file)))
        self.send_header("X-Repo-Commit", COMMIT)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(len(body)))
        if rng:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end, size))
        self.end_headers()
        if not slow:
            self.wfile.write(bytes(body))
            return
        # At most a minute of trickling: the tests stop well before, and the server must not
        # keep a thread busy for the file's whole length.
        deadline = time.monotonic() + 60
        try:
            for i in range(0, len(body), 6554):
                if time.monotonic() > deadline:
                    break
                self.wfile.write(bytes(body[i:i + 6554]))
                self.wfile.flush()
                time.sleep(0.1)
        except (BrokenPipeError, ConnectionResetError):
            pass


def main():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hub)
    with open(sys.argv[2], "w") as f:
        f.write(str(server.server_address[1]))
    server.serve_forever()


if __name__ == "__main__":
    main()
