#!/usr/bin/env bash
# Architecture parity of converted hub checkpoints (tests/convert/parity.py) in its own
# virtualenv with torch and transformers, made under PGE_HOME on first use (5.7 GB here: torch
# comes with its CUDA libraries from the package registry, though only the CPU is used).
# Not part of make test. Arguments go to parity.py, e.g. --dsn "host=127.0.0.1 port=25432 user=postgres".
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../scripts/env.sh"
venv=$PGE_HOME/venv-torch
if ! "$venv/bin/python" -c "import torch, transformers, onnx, onnxruntime" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "torch==2.15.0" "transformers==4.57.6" "tokenizers==0.22.2" onnx onnxruntime numpy
fi
exec "$venv/bin/python" "$here/parity.py" "$@"
