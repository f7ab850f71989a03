#!/usr/bin/env bash
# A primary and a streaming standby (pg_basebackup -R) on loopback, each a throwaway cluster
# owned by the unprivileged user postgres. Checks what a DBA with a replica relies on: pins
# decided on the primary reach the standby and route its embedding calls the same way; the
# calls that must write refuse plainly on the standby (SQLSTATE 25006 with a hint to run them
# on the primary), and embedding works there. Prints "N passed, M failed".
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../scripts/env.sh"
dir=$(mktemp -d "${TMPDIR:-/tmp}/pg_embed-replica.XXXXXX")
chown postgres: "$dir"; chmod 700 "$dir"
as_pg() { env -u RUST_BACKTRACE -u RUST_LIB_BACKTRACE runuser -u postgres -- "$@"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
p1=$(free_port); p2=$(free_port)
cleanup() {
  for d in standby primary; do
    [ -f "$dir/$d/postmaster.pid" ] && as_pg "$PG_BIN/pg_ctl" -D "$dir/$d" -m fast -w stop >/dev/null 2>&1
  done
  rm -rf "$dir"
}
trap cleanup EXIT
as_pg "$PG_BIN/initdb" -D "$dir/primary" --auth=trust -E UTF8 >/dev/null || exit 1
as_pg "$PG_BIN/pg_ctl" -D "$dir/primary" -l "$dir/primary.log" -w \
  -o "-p $p1 -k $dir -c listen_addresses=127.0.0.1" start >/dev/null || exit 1
q1() { psql -X -A -t -q -h 127.0.0.1 -p "$p1" -U postgres -d postgres -v ON_ERROR_STOP=1 -c "$1" 2>&1; }
q2() { psql -X -A -t -q -h 127.0.0.1 -p "$p2" -U postgres -d postgres -v ON_ERROR_STOP=1 -v VERBOSITY=verbose -c "$1" 2>&1; }
q1 "SET client_min_messages = warning; CREATE EXTENSION pg_embed CASCADE; SELECT count(*) FROM pg_embed_reselect();" >/dev/null
primary_code=$(q1 "SELECT pg_embed_role_model('code')")
as_pg "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$p1" -U postgres -D "$dir/standby" -R -X stream >/dev/null || exit 1
as_pg "$PG_BIN/pg_ctl" -D "$dir/standby" -l "$dir/standby.log" -w \
  -o "-p $p2 -k $dir -c listen_addresses=127.0.0.1" start >/dev/null || exit 1

passed=0; failed=0
check() {  # name, expected (grep -E pattern), actual
  if printf '%s' "$3" | grep -qE "$2"; then passed=$((passed + 1)); echo "ok: $1"
  else failed=$((failed + 1)); echo "FAILED: $1"; echo "  expected /$2/, got: $3"; fi
}
check "the standby is in recovery" '^t$' "$(q2 "SELECT pg_is_in_recovery()")"
check "pins reached the standby" '^3$' "$(q2 "SELECT count(*) FROM pg_embed_selection")"
check "the standby routes code as the primary does" "^${primary_code}\$" "$(q2 "SELECT pg_embed_role_model('code')")"
check "embedding works on the standby" '^384$' "$(q2 "SELECT vector_dims(embed_code('def f(x):\n    return x'))")"
check "embed_fixed works on the standby" '^384$' "$(q2 "SELECT vector_dims(embed_fixed('hello', 'all-MiniLM-L6-v2', 'fp32'))")"
out=$(q2 "SELECT pg_embed_reselect()")
check "pg_embed_reselect refuses with 25006" 'ERROR:  25006: pg_embed_reselect\(\) cannot run on a standby' "$out"
check "and says to run it on the primary" 'HINT:  Run SELECT pg_embed_reselect\(\); on the primary' "$out"
check "the cache cannot be filled on a standby" 'ERROR:  25006' "$(q2 "SELECT pg_embed_cache_store('all-MiniLM-L6-v2', ARRAY['x'])")"
# A new pin on the primary reaches the standby.
q1 "SET pg_embed.code_models = 'paraphrase-MiniLM-L3-v2'; SELECT count(*) FROM pg_embed_reselect();" >/dev/null
for _ in $(seq 50); do
  [ "$(q2 "SELECT model FROM pg_embed_selection WHERE role = 'code'")" = paraphrase-MiniLM-L3-v2 ] && break; sleep 0.1
done
check "a re-selection on the primary reaches the standby" '^paraphrase-MiniLM-L3-v2$' \
  "$(q2 "SET pg_embed.code_models = 'paraphrase-MiniLM-L3-v2'; SELECT pg_embed_role_model('code')")"
if grep -qE "terminated by signal|PANIC|TRAP:" "$dir/primary.log" "$dir/standby.log"; then
  failed=$((failed + 1)); echo "FAILED: a server log shows a crash"
fi
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
