#!/usr/bin/env bash
# Backfill throughput on one node against a Citus cluster (a coordinator and two workers) on the
# same machine, side by side in one run:
#
#     benches/citus/run.sh [rows]     # default 3000 rows of the bulk corpus
#
# Needs the set-up, Citus (scripts/citus.sh) and the bulk corpus (built here if missing,
# benches/bulk/corpus.py). Each configuration gets fresh clusters with pg_embed preloaded; the
# same rows (the first N of the corpus) are backfilled with CALL pg_embed_backfill(...,
# 'all-MiniLM-L6-v2', chunk_size => 200) in fp32, and on Citus also with one UPDATE of every row
# through embed_fixed(). Wall time from CALL to return; CPU time is
# every process of the cluster(s): the live ones' utime + stime plus what the postmasters
# collected from exited children (cutime + cstime), before and after. Model loads are included
# (each backend that embeds loads the model once). Writes benches/citus/results.json.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../tests/lib/cluster.sh"
source "$here/../../tests/lib/citus.sh"
cd "$PGE_ROOT"
rows=${1:-3000}
corpus=benches/bulk/corpus.jsonl
[ -f "$corpus" ] || "$VENV/bin/python" benches/bulk/corpus.py --out "$corpus" >/dev/null
dir=$(test_dir citus-bench)
trap 'remove_clusters "$dir"' EXIT
python3 - "$corpus" "$rows" "$dir/rows.tsv" <<'PY'
import json, sys
src, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
esc = lambda s: s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
with open(src) as f, open(out, "w") as o:
    for i, line in enumerate(f):
        if i >= n: break
        o.write(f"{i + 1}\t{esc(json.loads(line)['text'])}\n")
PY
chown postgres: "$dir/rows.tsv"

# CPU seconds used so far by every process of the clusters whose data folders are given.
cpu() {
  python3 - "$@" <<'PY'
import os, sys
tick = os.sysconf("SC_CLK_TCK")
def stat(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()
total = 0
for data in sys.argv[1:]:
    pm = int(open(f"{data}/postmaster.pid").readline())
    s = stat(pm)
    total += sum(int(x) for x in s[11:15])  # utime stime cutime cstime
    for p in os.listdir("/proc"):
        if p.isdigit() and int(p) != pm:
            try:
                s = stat(p)
            except OSError:
                continue
            if int(s[1]) == pm:
                total += int(s[11]) + int(s[12])
print(total / tick)
PY
}

backfill_sql="CALL pg_embed_backfill('bench', 'body', 'emb', 'all-MiniLM-L6-v2', chunk_size => 200)"
results=()
measure() {  # label port SQL-giving-model-loads statement data-folders...
  local label=$1 port=$2 loads_sql=$3 statement=$4; shift 4
  local c0 c1 t0 t1 done_rows loads
  c0=$(cpu "$@"); t0=$(date +%s.%N)
  citus_q "$port" -c "$statement" >/dev/null
  t1=$(date +%s.%N); c1=$(cpu "$@")
  done_rows=$(citus_q "$port" -c "SELECT count(emb) FROM bench")
  loads=$(citus_q "$port" -c "$loads_sql")
  results+=("$(python3 -c "import json,sys; l,n,w,c,m=sys.argv[1:]; n=int(n); w=float(w); c=float(c)
print(json.dumps({'setup': l, 'rows': n, 'wall_s': round(w, 2), 'texts_per_s': round(n / w, 1), 'cpu_s': round(c, 2), 'cpu_ms_per_text': round(1000 * c / n, 2), 'model_loads': int(m)}))" \
    "$label" "$done_rows" "$(echo "$t1 - $t0" | bc)" "$(echo "$c1 - $c0" | bc)" "$loads")")
  echo "${results[-1]}"
}
table="CREATE TABLE bench (id bigint PRIMARY KEY, body text, emb vector(384))"

# One node.
single=$dir/single
mkdir -p "$single" && chown postgres: "$single"
sport=$(free_port)
start_cluster "$single/data" "$sport" "shared_preload_libraries = 'pg_embed'"
citus_q "$sport" -c "CREATE EXTENSION pg_embed CASCADE" -c "$table" -c "COPY bench (id, body) FROM '$dir/rows.tsv'" >/dev/null
measure "one node: CALL pg_embed_backfill" "$sport" "SELECT coalesce(sum(loads), 0) FROM pg_embed_stats" "$backfill_sql" "$single/data"
remove_clusters "$single"

# Citus, with the executor pool the README advises, then with Citus's default (16).
for pool in 2 16; do
  cl=$dir/citus-$pool
  mkdir -p "$cl" && chown postgres: "$cl"
  start_citus "$cl" "citus.max_adaptive_executor_pool_size = $pool" "citus.max_cached_conns_per_worker = 1"
  citus_q "$p0" -c "CREATE EXTENSION pg_embed CASCADE" -c "$table" -c "SELECT create_distributed_table('bench', 'id')" \
    -c "COPY bench (id, body) FROM '$dir/rows.tsv'" >/dev/null
  loads="SELECT (SELECT coalesce(sum(loads), 0) FROM pg_embed_stats) + (SELECT sum(result::bigint) FROM
           run_command_on_workers('SELECT coalesce(sum(loads), 0) FROM pg_embed_stats'))"
  measure "Citus, pool $pool: CALL pg_embed_backfill" "$p0" "$loads" "$backfill_sql" "$cl/node0" "$cl/node1" "$cl/node2"
  # One UPDATE of every row: long shard tasks, where the pool size decides how many backends
  # (each loading the model) a worker runs. Statistics reset so loads count this run only.
  citus_q "$p0" -c "UPDATE bench SET emb = NULL" -c "SELECT pg_embed_stats_reset()" \
    -c "SELECT run_command_on_workers('SELECT pg_embed_stats_reset()')" >/dev/null
  measure "Citus, pool $pool: one UPDATE ... embed_fixed()" "$p0" "$loads" \
    "UPDATE bench SET emb = embed_fixed(body, 'all-MiniLM-L6-v2', 'fp32')" "$cl/node0" "$cl/node1" "$cl/node2"
  remove_clusters "$cl"
done

python3 - "$here/results.json" "$rows" "${results[@]}" <<'PY'
import json, platform, sys
out, rows, *res = sys.argv[1:]
res = [json.loads(r) for r in res]
try:
    info = open("/proc/cpuinfo").read()
    model = next(l.split(":", 1)[1].strip() for l in info.splitlines() if l.startswith("model name"))
    flags = next(l.split(":", 1)[1].split() for l in info.splitlines() if l.startswith("flags"))
    cpu = f"{model} ({', '.join(f for f in ('avx2', 'avx512f', 'avx512_vnni', 'avx_vnni') if f in flags)})"
except Exception:
    cpu = platform.processor()
base = res[0]["texts_per_s"]
for r in res:
    r["speed_vs_one_node"] = round(r["texts_per_s"] / base, 2)
json.dump({"cpu": cpu, "cores": __import__("os").cpu_count(), "rows": int(rows), "model": "all-MiniLM-L6-v2 fp32",
           "results": res}, open(out, "w"), indent=1)
print(f"{'setup':50} {'texts/s':>8} {'CPU ms/text':>12} {'× one node':>10} {'model loads':>11}")
for r in res:
    print(f"{r['setup']:50} {r['texts_per_s']:8.1f} {r['cpu_ms_per_text']:12.2f} {r['speed_vs_one_node']:10.2f} {r['model_loads']:11d}")
PY
