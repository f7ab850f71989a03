#!/usr/bin/env bash
# Runs every test against the real PostgreSQL, pgvector, ONNX Runtime and model that
# scripts/setup.sh installed. Stages: engine (plain cargo test), pg (#[pg_test] through
# cargo pgrx test), regress (SQL golden files through pg_regress, isolation, replica, upgrade,
# dump, package), pg18 (the same golden, isolation, upgrade and package tests on PostgreSQL 18,
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

# Broken copies of the default model for the fault tests: a truncated ONNX file, and files
# the server cannot read. Made fresh each run from the real files.
faults=$PGE_HOME/test-models
rm -rf "$faults"
mkdir -p "$faults/corrupt/all-MiniLM-L6-v2" "$faults/unreadable/all-MiniLM-L6-v2" "$faults/empty"
cp "$MODEL_DIR/all-MiniLM-L6-v2/tokenizer.json" "$faults/corrupt/all-MiniLM-L6-v2/"
head -c 1000000 "$MODEL_DIR/all-MiniLM-L6-v2/model.onnx" > "$faults/corrupt/all-MiniLM-L6-v2/model.onnx"
cp -r "$faults/corrupt/all-MiniLM-L6-v2" "$faults/corrupt/broken-model"   # a user model that cannot load
cp "$MODEL_DIR/all-MiniLM-L6-v2/"{tokenizer.json,model.onnx} "$faults/unreadable/all-MiniLM-L6-v2/"
chmod 000 "$faults/unreadable/all-MiniLM-L6-v2/"*
chmod -R a+rX "$faults/corrupt" "$faults/empty"; chmod a+rx "$faults" "$faults/unreadable" "$faults/unreadable/all-MiniLM-L6-v2"
# A tokenizer that does not match the model: one word maps past the model's vocabulary.
mkdir -p "$faults/mismatch/all-MiniLM-L6-v2"
ln -s "$MODEL_DIR/all-MiniLM-L6-v2/model.onnx" "$faults/mismatch/all-MiniLM-L6-v2/model.onnx"
python3 - "$MODEL_DIR/all-MiniLM-L6-v2/tokenizer.json" "$faults/mismatch/all-MiniLM-L6-v2/tokenizer.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
t["model"]["vocab"]["zebra"] = 60000
json.dump(t, open(sys.argv[2], "w"))
PY
# A model folder the tests make unreadable while the model is in use.
mkdir -p "$faults/inuse/all-MiniLM-L6-v2"
cp "$MODEL_DIR/all-MiniLM-L6-v2/"{tokenizer.json,model.onnx} "$faults/inuse/all-MiniLM-L6-v2/"
chown -R postgres: "$faults/inuse"; chmod -R a+rX "$faults/mismatch"
# Model folders whose model.onnx the cache and provenance tests replace (with the int8 file).
for f in swap replace; do
  mkdir -p "$faults/$f/all-MiniLM-L6-v2"
  cp "$MODEL_DIR/all-MiniLM-L6-v2/"{tokenizer.json,model.onnx} "$faults/$f/all-MiniLM-L6-v2/"
  chown -R postgres: "$faults/$f"
done
# A library that exists but is not ONNX Runtime, and an ONNX Runtime too old for pg_embed.
not_ort=$(ls /usr/lib/x86_64-linux-gnu/libz.so.1 2>/dev/null || ls /lib/*/libz.so.1 | head -n1)
old_ort=$PGE_HOME/onnxruntime-old/libonnxruntime.so.1.20.1
if [ ! -f "$old_ort" ]; then
  tmp=$(mktemp -d)
  "$VENV/bin/pip" download -q --disable-pip-version-check --no-deps --only-binary=:all: \
    --python-version 3.11 --platform manylinux_2_28_x86_64 onnxruntime==1.20.1 -d "$tmp"
  mkdir -p "$(dirname "$old_ort")"
  unzip -q -j -o "$tmp"/onnxruntime-*.whl "onnxruntime/capi/libonnxruntime.so.1.20.1" -d "$(dirname "$old_ort")"
  rm -rf "$tmp"; chmod -R a+rX "$(dirname "$old_ort")"
fi

timings=()
for stage in $stages; do
  stage_start=$(date +%s)
  case $stage in
    engine)
      step "engine tests (cargo test)"
      set +e; (cd crates/engine && cargo test --release -- --nocapture 2>&1 | grep -vE '^\s+(Compiling|Running|Downloaded)'); rc=${PIPESTATUS[0]}; set -e
      record "$rc"
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
      rm -rf "$run" && mkdir -p "$run" && cp -r tests/pg_regress/sql tests/pg_regress/expected tests/pg_regress/data "$run"/
      python3 tests/pg_regress/make_seed_data.py benches/accuracy/data/code/corpus.jsonl "$run/data/seed_code.tsv"
      cp -r benches/accuracy/data/faq "$run/data/faq"  # provenance and hybrid: the Python FAQ set
      # A hub-like server on loopback with the real model files, and folders to download into.
      hub=$run/hub
      for m in all-MiniLM-L6-v2 paraphrase-MiniLM-L3-v2; do
        mkdir -p "$hub/sentence-transformers/$m/onnx"
        ln -s "$MODEL_DIR/$m/tokenizer.json" "$hub/sentence-transformers/$m/tokenizer.json"
        ln -s "$MODEL_DIR/$m/model.onnx" "$hub/sentence-transformers/$m/onnx/model.onnx"
        ln -s "$MODEL_DIR/$m/model_int8.onnx" "$hub/sentence-transformers/$m/onnx/model_qint8_avx512.onnx"
      done
      python3 tests/hub/serve.py "$hub" "$run/hub.port" & hub_pid=$!
      trap 'kill $hub_pid 2>/dev/null || true' EXIT
      for _ in $(seq 50); do [ -s "$run/hub.port" ] && break; sleep 0.1; done
      scheme=http; hub_url=$scheme://127.0.0.1:$(cat "$run/hub.port")
      mkdir -p "$faults/download"
      # A hub cache layout (models--org--repo/refs + snapshots) holding paraphrase-MiniLM-L3-v2.
      snap=$faults/hubcache/models--sentence-transformers--paraphrase-MiniLM-L3-v2
      mkdir -p "$snap/refs" "$snap/snapshots/0123456789abcdef0123456789abcdef01234567/onnx"
      printf 0123456789abcdef0123456789abcdef01234567 > "$snap/refs/main"
      cp "$MODEL_DIR/paraphrase-MiniLM-L3-v2/tokenizer.json" "$snap/snapshots/0123456789abcdef0123456789abcdef01234567/"
      cp "$MODEL_DIR/paraphrase-MiniLM-L3-v2/model.onnx" "$snap/snapshots/0123456789abcdef0123456789abcdef01234567/onnx/"
      chown -R postgres: "$faults/download" "$faults/hubcache"
      # Placeholders in the SQL files for paths that differ per machine.
      subst=(-e "s|@faults@|$faults|g" -e "s|@not_ort@|$not_ort|g" -e "s|@old_ort@|$old_ort|g"
             -e "s|@data@|$run/data|g" -e "s|@models@|$MODEL_DIR|g" -e "s|@ort@|$ORT_LIB|g" -e "s|@hub@|$hub_url|g")
      sed -i "${subst[@]}" "$run"/sql/*.sql "$run"/expected/*.out
      chown -R postgres: "$run"
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
