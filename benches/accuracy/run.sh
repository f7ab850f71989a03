#!/usr/bin/env bash
# The retrieval-quality benchmark in one command (benches/README.md, Retrieval quality):
#   benches/accuracy/run.sh [--mpnet] [evaluate.py options, e.g. --models all-MiniLM-L6-v2]
# Rebuilds the data sets from the Debian packages (installing perl-doc, which only the Perl
# FAQ needs), makes sure the dev cluster runs, and evaluates every installed model at every
# precision against BM25, rewriting results.json, results.md and chart.png, then fuses each
# model with BM25 (fusion.py: fusion_results.md). --mpnet first adds all-mpnet-base-v2
# (scripts/fetch-models.sh --mpnet); once added, it is evaluated from the folder that holds it.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../../scripts/env.sh"
cd "$PGE_ROOT"

models=$MODEL_DIR
if [ "${1:-}" = --mpnet ]; then
  shift
  scripts/fetch-models.sh --mpnet
fi
if [ -d "$PGE_HOME/models-extra/all-mpnet-base-v2" ]; then models=$PGE_HOME/models-extra; fi

if ! dpkg -s perl-doc >/dev/null 2>&1; then
  step "installing perl-doc (the Perl FAQ)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq perl-doc >/dev/null
fi
"$VENV/bin/python" -c 'import matplotlib' 2>/dev/null || "$VENV/bin/pip" install --quiet matplotlib
scripts/cluster.sh status >/dev/null || scripts/setup.sh   # builds, installs, starts the dev cluster

step "building the data sets"
python3 "$HERE/build_data.py"

step "evaluating (models from $models)"
"$VENV/bin/python" "$HERE/evaluate.py" --model-dir "$models" "$@"

step "fusing each model's ranking with BM25's (fusion.py)"
"$VENV/bin/python" "$HERE/fusion.py"
