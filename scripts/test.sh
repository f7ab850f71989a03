#!/usr/bin/env bash
# Runs every test against the real PostgreSQL, pgvector, ONNX Runtime and model that
# scripts/setup.sh installed. Stages: engine (plain cargo test, tokenizer parity), pg (#[pg_test] through
# cargo pgrx test), regress (SQL golden files through pg_regress, isolation, replica, upgrade,
# dump, vectorizers, package), pg18 (the same golden, isolation, upgrade and package tests on PostgreSQL 18,
# scripts/pg18.sh), citus (a coordinator and two workers, tests/citus/run.sh, with Citus built
# by scripts/citus.sh), reliability (10,000 fuzzed statements and cancellation latency,
# tests/reliability/run.sh). No argument runs all.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$PGE_ROOT"
stages=${1:-engine pg regress pg18 citus reliability}
export PG_EMBED_MODEL_DIR=$MODEL_DIR PG_EMBED_ORT_LIB=$ORT_LIB
export PG_EMBED_DEFAULT_ORT_LIB=$ORT_LIB PG_EMBED_DEFAULT_MODEL_DIR=$MODEL_DIR
passed=0; failed=0
record() { if [ "$1" = 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi; }

source tests/lib/regress.sh   # the fault models, hub and placeholders of the golden tests

timings=()
for stage in $stages; do
  stage_start=$(date +%s)
  case $stage in
    engine)
      step "engine tests (cargo test)"
      set +e; (cd crates/engine && cargo test --release -- --nocapture 2>&1 | grep -vE '^\s+(Compiling|Running|Downloaded)'); rc=${PIPESTATUS[0]}; set -e
      step "tokenizer parity with transformers' slow tokenizers (tests/tokenizers/run.sh)"
      set +e; tests/tokenizers/run.sh; rc2=$?; set -e
      record "$(( rc != 0 ? rc : rc2 ))"
      ;;
    pg)
      step "#[pg_test] (cargo pgrx test)"
      mkdir -p "$PGE_HOME/pgrx-test" && chown postgres: "$PGE_HOME/pgrx-test"
      # cargo pgrx test copies its build over the installed library in place; give it a new
      # file instead, so backends of other clusters that have the library mapped are unharmed.
      so=$($PG_CONFIG --pkglibdir)/pg_embed.so
      if [ -f "$so" ]; then mv -f "$so" "$so.prev"; fi
      set +e
      cargo pgrx test pg15 --release --runas postgres --pgdata "$PGE_HOME/pgrx-test/data" 2>&1 \
        | grep -vE '^\s+(Compiling|Running|Copying|Installing|Discovered|Writing|Finished|Using)|sudo cp '
      rc=${PIPESTATUS[0]}; set -e
      record "$rc"
      # cargo pgrx test leaves its test build installed; put the release build back.
      scripts/install.sh
      rm -f "$so.prev"
      ;;
    regress)
      step "SQL golden tests (pg_regress)"
      scripts/install.sh >/dev/null
      run=$PGE_HOME/regress-run
      faults=$PGE_HOME/test-models
      make_fault_models "$faults"
      prepare_regress_run "$run" "$faults"
      trap 'kill $hub_pid 2>/dev/null || true' EXIT
      regress=$(dirname "$($PG_CONFIG --pgxs)")/../test/regress/pg_regress
      # REGRESS_ONLY="a b" runs just those files (of the schedule) while working on them.
      tests=${REGRESS_ONLY:-$(sed -n 's/^test: //p' tests/pg_regress/schedule | tr '\n' ' ')}
      set +e
      # The server runs with RUST_BACKTRACE set: no error may carry a Rust backtrace anyway.
      env -u RUST_LIB_BACKTRACE RUST_BACKTRACE=1 runuser -u postgres -- "$regress" --temp-instance="$run/tmp" --bindir="$PG_BIN" \
        --inputdir="$run" --outputdir="$run" --dbname=regression \
        --load-extension=vector --load-extension=pg_embed $tests
      rc=$?; set -e
      kill "$hub_pid" 2>/dev/null || true
      if [ $rc != 0 ] && [ -f "$run/regression.diffs" ]; then cat "$run/regression.diffs"; fi
      # A second server with pg_embed in shared_preload_libraries, for what needs shared
      # memory (statistics across backends); its own output folder.
      preload=$run/preload
      mkdir -p "$preload" && echo "shared_preload_libraries = 'pg_embed'" > "$preload/postgresql.conf"
      chown -R postgres: "$preload"
      tests=$(sed -n 's/^test: //p' tests/pg_regress/schedule.preload | tr '\n' ' ')
      set +e
      env -u RUST_BACKTRACE -u RUST_LIB_BACKTRACE runuser -u postgres -- "$regress" --temp-instance="$preload/tmp" --bindir="$PG_BIN" \
        --temp-config="$preload/postgresql.conf" --inputdir="$run" --outputdir="$preload" --dbname=regression \
        --load-extension=vector --load-extension=pg_embed $tests
      rc2=$?; set -e
      if [ $rc2 != 0 ] && [ -f "$preload/regression.diffs" ]; then cat "$preload/regression.diffs"; fi
      if [ $rc = 0 ]; then rc=$rc2; fi
      # Concurrency contracts with PostgreSQL's isolation tester (tests/isolation/specs): what
      # one session's embedding calls do to another's (no waits, no deadlocks).
      iso=$run/isolation
      mkdir -p "$iso" && cp -r tests/isolation/specs tests/isolation/expected "$iso"/
      sed -i "${subst[@]}" "$iso"/expected/*.out
      chown -R postgres: "$iso"
      isolation=$(dirname "$($PG_CONFIG --pgxs)")/../test/isolation/pg_isolation_regress
      specs=$(cd tests/isolation/specs && ls *.spec | sed 's/\.spec$//' | tr '\n' ' ')
      set +e
      env -u RUST_BACKTRACE -u RUST_LIB_BACKTRACE runuser -u postgres -- "$isolation" --temp-instance="$iso/tmp" --bindir="$PG_BIN" \
        --inputdir="$iso" --outputdir="$iso" --dbname=isolation_regression \
        --load-extension=vector --load-extension=pg_embed $specs
      rc3=$?; set -e
      if [ $rc3 != 0 ] && [ -f "$iso/regression.diffs" ]; then cat "$iso/regression.diffs"; fi
      if [ $rc = 0 ]; then rc=$rc3; fi
      # A primary and a streaming standby: pins, routing and refusals on the replica.
      set +e; tests/replica/run.sh; rc4=$?; set -e
      if [ $rc = 0 ]; then rc=$rc4; fi
      # The release checks: the generated install script is the committed one, and 0.1.0 -> now
      # by ALTER EXTENSION UPDATE keeps the user's objects and equals a fresh install.
      step "upgrade and schema (tests/upgrade/run.sh)"
      set +e; tests/upgrade/run.sh; rc5=$?; set -e
      if [ $rc = 0 ]; then rc=$rc5; fi
      step "dump and restore (tests/dump/run.sh)"
      set +e; tests/dump/run.sh; rc6=$?; set -e
      if [ $rc = 0 ]; then rc=$rc6; fi
      step "vectorizers and their background workers (tests/vectorize/run.sh)"
      set +e; tests/vectorize/run.sh; rc8=$?; set -e
      if [ $rc = 0 ]; then rc=$rc8; fi
      step "hub checkpoints become models (tests/hub/convert.sh)"
      set +e; tests/hub/convert.sh; rc9=$?; set -e
      if [ $rc = 0 ]; then rc=$rc9; fi
      step "Debian package (tests/package/run.sh)"
      set +e; tests/package/run.sh; rc7=$?; set -e
      if [ $rc = 0 ]; then rc=$rc7; fi
      if [ "${REGRESS_ACCEPT:-0}" = 1 ]; then
        for f in "$iso"/results/*.out; do
          sed -e "s|$MODEL_DIR|@models@|g" "$f" > tests/isolation/expected/"$(basename "$f")"
        done
        # Take the new output as the expected output, machine paths put back as placeholders.
        for f in "$run"/results/*.out "$preload"/results/*.out; do
          sed -e "s|$faults|@faults@|g" -e "s|$not_ort|@not_ort@|g" -e "s|$old_ort|@old_ort@|g" \
              -e "s|$run/data|@data@|g" -e "s|$MODEL_DIR|@models@|g" -e "s|$ORT_LIB|@ort@|g" -e "s|$hub_url|@hub@|g" \
              "$f" > tests/pg_regress/expected/"$(basename "$f")"
        done
        echo "accepted: $(ls "$run"/results)"
      fi
      record "$rc"
      ;;
    pg18)
      step "PostgreSQL 18 (scripts/pg18.sh)"
      set +e; scripts/pg18.sh; rc=$?; set -e
      record "$rc"
      ;;
    citus)
      step "Citus (scripts/citus.sh, tests/citus/run.sh)"
      scripts/install.sh >/dev/null
      set +e; scripts/citus.sh; rc=$?; set -e
      if [ $rc = 3 ]; then
        echo "NOT RUN: the Citus source is not on this machine (see scripts/citus.sh); the citus stage is skipped"
        rc=0
      elif [ $rc = 0 ]; then
        set +e; tests/citus/run.sh; rc=$?; set -e
      fi
      record "$rc"
      ;;
    reliability)
      step "reliability: fuzzing and cancellation (tests/reliability/run.sh)"
      scripts/install.sh >/dev/null
      set +e; tests/reliability/run.sh; rc=$?; set -e
      record "$rc"
      ;;
    *) echo "unknown stage $stage" >&2; exit 2 ;;
  esac
  timings+=("$stage $(( $(date +%s) - stage_start )) s")
done
echo
printf 'stage time: %s\n' "${timings[@]}"
echo "stages: $passed passed, $failed failed"
[ "$failed" = 0 ]
