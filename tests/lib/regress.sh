# What the SQL golden tests need around them, for scripts/test.sh (PostgreSQL 15) and
# scripts/pg18.sh (PostgreSQL 18). Sourced after scripts/env.sh, never run.

# make_fault_models DIR: broken copies of the default model for the fault tests, made fresh from
# the real files: a truncated ONNX file, files the server cannot read, a tokenizer that does not
# match the model, and folders the tests change while the model is in use.
make_fault_models() {
  local faults=$1 f
  rm -rf "$faults"
  mkdir -p "$faults/corrupt/all-MiniLM-L6-v2" "$faults/unreadable/all-MiniLM-L6-v2" "$faults/empty"
  cp "$MODEL_DIR/all-MiniLM-L6-v2/tokenizer.json" "$faults/corrupt/all-MiniLM-L6-v2/"
  head -c 1000000 "$MODEL_DIR/all-MiniLM-L6-v2/model.onnx" > "$faults/corrupt/all-MiniLM-L6-v2/model.onnx"
  cp -r "$faults/corrupt/all-MiniLM-L6-v2" "$faults/corrupt/broken-model"   # a user model that cannot load
  cp "$MODEL_DIR/all-MiniLM-L6-v2/"{tokenizer.json,model.onnx} "$faults/unreadable/all-MiniLM-L6-v2/"
  chmod 000 "$faults/unreadable/all-MiniLM-L6-v2/"*
  chmod -R a+rX "$faults/corrupt" "$faults/empty"; chmod a+rx "$faults" "$faults/unreadable" "$faults/unreadable/all-MiniLM-L6-v2"
  # One word maps past the model's vocabulary.
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
}

# old_ort_library: the path of an ONNX Runtime too old for pg_embed (1.20.1, from its wheel,
# fetched once).
old_ort_library() {
  local old_ort=$PGE_HOME/onnxruntime-old/libonnxruntime.so.1.20.1 tmp
  if [ ! -f "$old_ort" ]; then
    tmp=$(mktemp -d)
    "$VENV/bin/pip" download -q --disable-pip-version-check --no-deps --only-binary=:all: \
      --python-version 3.11 --platform manylinux_2_28_x86_64 onnxruntime==1.20.1 -d "$tmp" >&2
    mkdir -p "$(dirname "$old_ort")"
    unzip -q -j -o "$tmp"/onnxruntime-*.whl "onnxruntime/capi/libonnxruntime.so.1.20.1" -d "$(dirname "$old_ort")"
    rm -rf "$tmp"; chmod -R a+rX "$(dirname "$old_ort")"
  fi
  echo "$old_ort"
}

# prepare_regress_run RUN FAULTS: a fresh RUN folder with the golden files and their data, a
# hub-like server on loopback serving the real model files (its pid in hub_pid; stop it with
# kill), folders under FAULTS to download into, and the machine's paths put in place of the
# placeholders (the sed arguments are left in the array subst, for the caller's other files;
# the paths in not_ort, old_ort and hub_url).
prepare_regress_run() {
  local run=$1 faults=$2 hub m snap scheme rev=0123456789abcdef0123456789abcdef01234567
  rm -rf "$run" && mkdir -p "$run" && cp -r tests/pg_regress/sql tests/pg_regress/expected tests/pg_regress/data "$run"/
  python3 tests/pg_regress/make_seed_data.py benches/accuracy/data/code/corpus.jsonl "$run/data/seed_code.tsv"
  cp -r benches/accuracy/data/faq "$run/data/faq"  # provenance and hybrid: the Python FAQ set
  hub=$run/hub
  for m in all-MiniLM-L6-v2 paraphrase-MiniLM-L3-v2; do
    mkdir -p "$hub/sentence-transformers/$m/onnx"
    ln -s "$MODEL_DIR/$m/tokenizer.json" "$hub/sentence-transformers/$m/tokenizer.json"
    ln -s "$MODEL_DIR/$m/model.onnx" "$hub/sentence-transformers/$m/onnx/model.onnx"
    ln -s "$MODEL_DIR/$m/model_int8.onnx" "$hub/sentence-transformers/$m/onnx/model_qint8_avx512.onnx"
  done
  python3 tests/hub/serve.py "$hub" "$run/hub.port" & hub_pid=$!
  for _ in $(seq 50); do [ -s "$run/hub.port" ] && break; sleep 0.1; done
  scheme=http; hub_url=$scheme://127.0.0.1:$(cat "$run/hub.port")
  mkdir -p "$faults/download"
  # A hub cache layout (models--org--repo/refs + snapshots) holding paraphrase-MiniLM-L3-v2.
  snap=$faults/hubcache/models--sentence-transformers--paraphrase-MiniLM-L3-v2
  mkdir -p "$snap/refs" "$snap/snapshots/$rev/onnx"
  printf '%s' "$rev" > "$snap/refs/main"
  cp "$MODEL_DIR/paraphrase-MiniLM-L3-v2/tokenizer.json" "$snap/snapshots/$rev/"
  cp "$MODEL_DIR/paraphrase-MiniLM-L3-v2/model.onnx" "$snap/snapshots/$rev/onnx/"
  chown -R postgres: "$faults/download" "$faults/hubcache"
  # A library that exists but is not ONNX Runtime, and an ONNX Runtime too old for pg_embed.
  not_ort=$(ls /usr/lib/x86_64-linux-gnu/libz.so.1 2>/dev/null || ls /lib/*/libz.so.1 | head -n1)
  old_ort=$(old_ort_library)
  subst=(-e "s|@faults@|$faults|g" -e "s|@not_ort@|$not_ort|g" -e "s|@old_ort@|$old_ort|g"
         -e "s|@data@|$run/data|g" -e "s|@models@|$MODEL_DIR|g" -e "s|@ort@|$ORT_LIB|g" -e "s|@hub@|$hub_url|g")
  sed -i "${subst[@]}" "$run"/sql/*.sql "$run"/expected/*.out
  chown -R postgres: "$run"
}
