# A Citus cluster for tests/citus and benches/citus: a coordinator and two workers, each a
# throwaway cluster (tests/lib/cluster.sh) with shared_preload_libraries = 'citus,pg_embed'.
# Sourced after cluster.sh, never run.

# start_citus DIR [postgresql.conf line...]: starts DIR/node0 (coordinator), DIR/node1 and
# DIR/node2 on free loopback ports, which it leaves in p0, p1, p2 (and in DIR/ports); a line may
# name @n@, replaced by the node's number. Creates citus in each and adds the workers.
start_citus() {
  local d=$1 n port line lines; shift
  p0=$(free_port); p1=$(free_port); p2=$(free_port)
  echo "$p0 $p1 $p2" > "$d/ports"
  for n in 0 1 2; do
    eval "port=\$p$n"
    lines=()
    for line in "$@"; do lines+=("${line//@n@/$n}"); done
    start_cluster "$d/node$n" "$port" "shared_preload_libraries = 'citus,pg_embed'" "${lines[@]}" || return 1
  done
  for port in "$p1" "$p2" "$p0"; do citus_q "$port" -c "CREATE EXTENSION citus" >/dev/null || return 1; done
  citus_q "$p0" -c "SELECT citus_set_coordinator_host('127.0.0.1', $p0)" \
    -c "SELECT citus_add_node('127.0.0.1', $p1)" -c "SELECT citus_add_node('127.0.0.1', $p2)" >/dev/null
}

# citus_q PORT psql-arguments...: unaligned, tuples only, quiet, stop on error, notices off.
citus_q() {
  local p=$1; shift
  PGOPTIONS="-c client_min_messages=warning" psql -X -A -t -q -h 127.0.0.1 -p "$p" -U postgres -d postgres -v ON_ERROR_STOP=1 "$@" 2>&1
}
