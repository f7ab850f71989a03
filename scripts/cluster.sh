#!/usr/bin/env bash
# The dev/demo cluster: initdb'd and run by the unprivileged user postgres, listening on
# 127.0.0.1:$PGE_PORT only, data in $PGE_CLUSTER.
#   cluster.sh start | stop | status | psql [psql args...]
set -euo pipefail
source "$(dirname "$0")/env.sh"

as_pg() { runuser -u postgres -- "$@"; }
running() { [ -f "$PGE_CLUSTER/postmaster.pid" ] && as_pg "$PG_BIN/pg_ctl" -D "$PGE_CLUSTER" status >/dev/null 2>&1; }

case "${1:-}" in
  start)
    if [ ! -f "$PGE_CLUSTER/PG_VERSION" ]; then
      mkdir -p "$PGE_CLUSTER" && chown postgres: "$PGE_CLUSTER" && chmod 700 "$PGE_CLUSTER"
      as_pg "$PG_BIN/initdb" -D "$PGE_CLUSTER" --auth=trust -E UTF8 --locale=C.UTF-8 -U postgres >/dev/null
      cat >> "$PGE_CLUSTER/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$PGE_CLUSTER'
max_parallel_workers_per_gather = 2
CONF
    fi
    if running; then echo "ok: cluster already running on 127.0.0.1:$PGE_PORT"; exit 0; fi
    env -u RUST_BACKTRACE -u RUST_LIB_BACKTRACE runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PGE_CLUSTER" -l "$PGE_CLUSTER/server.log" -o "-p $PGE_PORT" -w start >/dev/null
    echo "ok: cluster running on 127.0.0.1:$PGE_PORT (log: $PGE_CLUSTER/server.log)"
    ;;
  stop)
    if running; then as_pg "$PG_BIN/pg_ctl" -D "$PGE_CLUSTER" -m fast -w stop >/dev/null; fi
    echo "ok: cluster stopped"
    ;;
  status)
    if running; then echo "running on 127.0.0.1:$PGE_PORT"; else echo "stopped"; exit 3; fi
    ;;
  psql)
    shift
    exec psql -X -h 127.0.0.1 -p "$PGE_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 "$@"
    ;;
  *)
    echo "usage: $0 start|stop|status|psql [args]" >&2; exit 2
    ;;
esac
