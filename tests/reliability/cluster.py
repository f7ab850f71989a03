"""A throwaway PostgreSQL 15 cluster for the reliability tests.

The cluster lives in a fresh temporary directory owned by the OS user `postgres` (PostgreSQL
refuses to run as root), listens on a free port on 127.0.0.1 only, logs to `server.log` in
that directory (no logging collector), and has `vector` and `pg_embed` created in its
database. It is stopped (`pg_ctl stop -m fast`) and removed when the `with` block ends, also
on an exception, Ctrl-C or SIGTERM.

    with Cluster("fuzz") as c:
        conn = c.connect()
        ...
        bad = c.crash_lines()      # crash evidence in the server log, [] when clean

The cluster runs a private copy of the installed pg_embed.so, taken when it starts: after
CREATE EXTENSION, the functions' library path (pg_proc.probin) is pointed at the copy. Other
work on the machine may reinstall the extension at any time (`scripts/install.sh` moves the
old file aside, `cargo pgrx test` installs its own build); without the copy, a run would
test two builds, and would see "could not access file" errors while the file is missing.
`Cluster.library_sha256` names the build under test.

The server starts with RUST_BACKTRACE and RUST_LIB_BACKTRACE removed from its environment,
as scripts/cluster.sh and the regress stage do.

Run alone (`python cluster.py`), it starts a cluster, embeds one text and removes it again.
"""
import hashlib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import psycopg

PG_BIN = os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin")
PG_USER = "postgres"
PKGLIBDIR = os.environ.get("PG_PKGLIBDIR", "/usr/lib/postgresql/15/lib")

# Lines of a server log that mean a backend crashed or the server reinitialised.
CRASH_PATTERNS = [
    re.compile(r"was terminated by signal"),
    re.compile(r"server process \(PID \d+\) exited with exit code"),
    re.compile(r"\bPANIC:"),
    re.compile(r"terminating any other active server processes"),
    re.compile(r"\bTRAP:"),
    re.compile(r"all server processes terminated; reinitializing"),
]


def _as_postgres(argv, **kw):
    """Runs argv as the OS user postgres, with the Rust backtrace variables removed."""
    env = {k: v for k, v in os.environ.items() if k not in ("RUST_BACKTRACE", "RUST_LIB_BACKTRACE")}
    return subprocess.run(["runuser", "-u", PG_USER, "--", *argv], env=env, **kw)


def free_port():
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _settled_file(path, quiet_seconds=10, timeout=1800):
    """(mtime, size) of `path` once it exists and has not changed for `quiet_seconds`: an
    install in progress (the file moved aside, then rebuilt and copied) is waited out."""
    deadline = time.time() + timeout
    said = False
    while True:
        try:
            st = os.stat(path)
            if time.time() - st.st_mtime >= quiet_seconds:
                return (st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            pass
        if time.time() > deadline:
            raise RuntimeError(f"{path} is missing or keeps changing")
        if not said:
            print(f"cluster: waiting for {path} (being reinstalled)", flush=True)
            said = True
        time.sleep(2)


class _Terminated(BaseException):
    """SIGTERM, turned into an exception so that `finally` blocks clean up."""


def _on_sigterm(signum, frame):
    raise _Terminated(f"signal {signum}")


class Cluster:
    def __init__(self, name="reliability", settings=None, keep_log=None, quiet=False, before_start=None):
        """settings: extra postgresql.conf lines {name: value}, or a function of the cluster
        directory that returns them; before_start: a function called with the cluster
        directory (owned by postgres) before the server starts; keep_log: a path the server
        log is copied to before the directory is removed."""
        self.name = name
        self.before_start = before_start
        self.settings = {
            "max_connections": 40,
            "shared_buffers": "128MB",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "logging_collector": "off",
            "log_line_prefix": "'%m [%p] '",
            "log_min_messages": "warning",
            "max_parallel_workers_per_gather": 0,
        }
        self.extra_settings = settings or {}
        self.keep_log = keep_log
        self.quiet = quiet
        self.dir = None
        self.port = None
        self.started = False

    # -- life cycle ---------------------------------------------------------------------
    def __enter__(self):
        self._old_sigterm = signal.signal(signal.SIGTERM, _on_sigterm)
        try:
            self.start()
        except BaseException:
            self.cleanup()
            raise
        return self

    def __exit__(self, *exc):
        self.cleanup()
        return False

    @property
    def data(self):
        return os.path.join(self.dir, "data")

    @property
    def log_path(self):
        return os.path.join(self.dir, "server.log")

    def start(self):
        pw = pwd.getpwnam(PG_USER)
        self.dir = tempfile.mkdtemp(prefix=f"pg_embed-{self.name}-")
        os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        os.chmod(self.dir, 0o700)
        _as_postgres([f"{PG_BIN}/initdb", "-D", self.data, "--auth=trust", "-E", "UTF8",
                      "--locale=C.UTF-8", "-U", PG_USER], cwd=self.dir, check=True,
                     stdout=subprocess.DEVNULL)
        extra = self.extra_settings(self.dir) if callable(self.extra_settings) else self.extra_settings
        if self.before_start:
            self.before_start(self.dir)
        conf = dict(self.settings)
        conf.update(extra)
        conf.update(listen_addresses="'127.0.0.1'", unix_socket_directories=f"'{self.dir}'")
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write("\n# reliability tests\n")
            for k, v in conf.items():
                f.write(f"{k} = {v}\n")
        # The port can be taken between choosing and binding it: try a few.
        for attempt in range(5):
            self.port = free_port()
            r = _as_postgres([f"{PG_BIN}/pg_ctl", "-D", self.data, "-l", self.log_path, "-o", f"-p {self.port}",
                              "-w", "-t", "120", "start"], cwd=self.dir, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
            if r.returncode == 0:
                break
            if attempt == 4:
                raise RuntimeError(f"pg_ctl start failed: {r.stderr}\n{self.log_tail()}")
            time.sleep(0.5)
        self.started = True
        self._create_extensions()
        if not self.quiet:
            print(f"cluster: {self.dir} on 127.0.0.1:{self.port}, pg_embed.so sha256 {self.library_sha256[:16]}",
                  flush=True)

    def _create_extensions(self):
        """CREATE EXTENSION, then point pg_embed's functions at a private copy of its library."""
        libdir = os.path.join(self.dir, "lib")
        os.mkdir(libdir)
        copy = os.path.join(libdir, "pg_embed.so")
        installed = os.path.join(PKGLIBDIR, "pg_embed.so")
        for attempt in range(5):
            before = _settled_file(installed)
            shutil.copyfile(installed, copy)
            os.chmod(copy, 0o755)
            with open(copy, "rb") as f:
                self.library_sha256 = hashlib.sha256(f.read()).hexdigest()
            with self.connect() as conn:
                conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
                conn.execute("CREATE EXTENSION pg_embed")
                if _settled_file(installed) != before:  # reinstalled meanwhile: SQL and library may differ
                    conn.execute("DROP EXTENSION pg_embed")
                    continue
                n = conn.execute("UPDATE pg_proc SET probin = %s WHERE probin = '$libdir/pg_embed'",
                                 (copy[:-3],)).rowcount
                break
        else:
            raise RuntimeError("pg_embed.so kept changing while the extension was created")
        if n == 0:
            raise RuntimeError("no pg_embed function found in pg_proc")

    def stop(self):
        if not self.started:
            return
        r = _as_postgres([f"{PG_BIN}/pg_ctl", "-D", self.data, "-m", "fast", "-w", "-t", "60", "stop"],
                         cwd=self.dir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if r.returncode != 0:
            _as_postgres([f"{PG_BIN}/pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop"],
                         cwd=self.dir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.started = False

    def cleanup(self):
        try:
            self.stop()
        finally:
            if self.dir and os.path.isdir(self.dir):
                if self.keep_log and os.path.exists(self.log_path):
                    shutil.copyfile(self.log_path, self.keep_log)
                shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
            if hasattr(self, "_old_sigterm"):
                signal.signal(signal.SIGTERM, self._old_sigterm)

    # -- use ----------------------------------------------------------------------------
    def dsn(self):
        return f"host=127.0.0.1 port={self.port} user={PG_USER} dbname=postgres"

    def connect(self, **kw):
        kw.setdefault("autocommit", True)
        kw.setdefault("connect_timeout", 30)
        return psycopg.connect(self.dsn(), **kw)

    def log_text(self):
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def log_tail(self, n=40):
        return "\n".join(self.log_text().splitlines()[-n:])

    def crash_lines(self):
        """Server-log lines that show a crashed backend, a PANIC or an assertion failure."""
        return [line for line in self.log_text().splitlines() if any(p.search(line) for p in CRASH_PATTERNS)]

    def log_context(self, line, before=15, after=5):
        """The log lines around the first occurrence of `line`."""
        lines = self.log_text().splitlines()
        for i, l in enumerate(lines):
            if l == line:
                return "\n".join(lines[max(0, i - before):i + after + 1])
        return line


def rss_kb(pid, field="VmRSS"):
    """A field of /proc/<pid>/status in kB (VmRSS, VmHWM, RssAnon, ...), None if gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


class Checks:
    """Named pass/fail checks; `summary()` prints the last line as `N passed, M failed`."""

    def __init__(self):
        self.results = []

    def check(self, name, ok, detail=""):
        self.results.append((name, bool(ok)))
        print(f"{'PASS' if ok else 'FAIL'}: {name}{' -- ' + detail if detail else ''}", flush=True)
        return bool(ok)

    @property
    def failed(self):
        return sum(1 for _, ok in self.results if not ok)

    def summary(self):
        passed = sum(1 for _, ok in self.results if ok)
        print(f"{passed} passed, {self.failed} failed", flush=True)
        return 1 if self.failed else 0


if __name__ == "__main__":
    with Cluster("smoke") as c:
        with c.connect() as conn:
            dims = conn.execute("SELECT vector_dims(embed_doc('hello world'))").fetchone()[0]
            print(f"embed_doc dims: {dims}")
        print(f"crash lines: {c.crash_lines()}")
    sys.exit(0)
