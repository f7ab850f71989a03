#!/usr/bin/env bash
# Reliability tests: fuzz.py (random and adversarial input through SQL) and cancel.py
# (cancellation latency), each on its own throwaway PostgreSQL cluster, one after the other
# so that the latency measurements do not compete with the fuzzing. soak.py is not run here
# (it takes five minutes; see tests/reliability/README.md).
#
#   tests/reliability/run.sh                 # as root: the clusters run as the user postgres
#   FUZZ_SEED=7 FUZZ_STATEMENTS=20000 tests/reliability/run.sh
#
# Prints each script's output, then their summary lines; exits non-zero if either fails.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../scripts/env.sh"
py=${PYTHON:-$VENV/bin/python}
if [ "$(id -u)" != 0 ]; then
  echo "run.sh must run as root (it starts throwaway clusters as the user postgres)" >&2
  exit 2
fi
logs=${RELIABILITY_LOGS:-$PGE_HOME/reliability-logs}
mkdir -p "$logs"

declare -A summary status
total_passed=0; total_failed=0
for t in fuzz cancel; do
  step "tests/reliability/$t.py"
  args=(--keep-log "$logs/$t-server.log")
  if [ "$t" = fuzz ]; then args+=(--seed "${FUZZ_SEED:-1}" --statements "${FUZZ_STATEMENTS:-10000}"); fi
  start=$(date +%s)
  "$py" "$here/$t.py" "${args[@]}" 2>&1 | tee "$logs/$t.out"
  status[$t]=${PIPESTATUS[0]}
  line=$(tail -n 1 "$logs/$t.out")
  if [[ $line =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
    total_passed=$((total_passed + BASH_REMATCH[1])); total_failed=$((total_failed + BASH_REMATCH[2]))
  else
    line="did not finish (exit status ${status[$t]})"; total_failed=$((total_failed + 1))
  fi
  summary[$t]="$line ($(( $(date +%s) - start )) s)"
done

echo
for t in fuzz cancel; do echo "$t.py: ${summary[$t]}"; done
echo "server logs and output: $logs"
echo "$total_passed passed, $total_failed failed"
[ "${status[fuzz]}" = 0 ] && [ "${status[cancel]}" = 0 ]
