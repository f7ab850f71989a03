# Shared by the shell tests (tests/{replica,upgrade,dump,package}/run.sh). Sourced, never run.
# Throwaway PostgreSQL clusters owned by the unprivileged user postgres on loopback ports, and
# the "ok:/FAILED:" lines ending with "N passed, M failed".
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/env.sh"

# Runs a command as postgres, without the Rust backtrace variables (as the other tests do).
as_pg() { env -u RUST_BACKTRACE -u RUST_LIB_BACKTRACE runuser -u postgres -- "$@"; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# A new temporary folder owned by postgres: the tests' clusters and files live in it.
test_dir() {
  local d; d=$(mktemp -d "${TMPDIR:-/tmp}/pg_embed-$1.XXXXXX")
  chown postgres: "$d"; chmod 755 "$d"
  echo "$d"
}

# start_cluster DATA_DIR PORT [postgresql.conf line...]: initdb (unless DATA_DIR exists) and start.
start_cluster() {
  local data=$1 port=$2; shift 2
  if [ ! -d "$data" ]; then as_pg "$PG_BIN/initdb" -D "$data" --auth=trust -E UTF8 >/dev/null || return 1; fi
  for line in "$@"; do echo "$line" >> "$data/postgresql.conf"; done
  as_pg "$PG_BIN/pg_ctl" -D "$data" -l "$data.log" -w \
    -o "-p $port -k $(dirname "$data") -c listen_addresses=127.0.0.1" start >/dev/null
}

# Stops every cluster whose data folder is directly under DIR, then removes DIR.
remove_clusters() {
  local dir=$1 data
  for data in "$dir"/*/; do
    [ -f "$data/postmaster.pid" ] && as_pg "$PG_BIN/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1
  done
  rm -rf "$dir"
}

# A crash in any server log under DIR counts as a failure.
check_logs() {
  if grep -qsE "terminated by signal|PANIC|TRAP:" "$1"/*.log; then bad "a server log shows a crash"; fi
}

passed=0; failed=0
ok() { passed=$((passed + 1)); echo "ok: $1"; }
bad() { failed=$((failed + 1)); echo "FAILED: $1"; [ -n "${2:-}" ] && printf '%s\n' "$2" | head -n 40; }
# check NAME PATTERN ACTUAL: ok when ACTUAL matches the extended regular expression PATTERN.
check() { if printf '%s' "$3" | grep -qE "$2"; then ok "$1"; else bad "$1" "expected /$2/, got: $3"; fi; }
finish() { echo "$passed passed, $failed failed"; [ "$failed" = 0 ]; }
