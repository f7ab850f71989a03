#!/usr/bin/env bash
# From a model name and a network to a working model: `scripts/prepare_models.py fetch` against
# the loopback hub (tests/hub/serve.py), which serves small checkpoints of UniXcoder, CodeBERTa
# and CodeT5+ 110M embedding in their repositories' real file layout (tests/hub/checkpoints.py:
# pytorch_model.bin, config.json, vocab.json + merges.txt..., no ONNX). Then, on a throwaway
# cluster, embed_code routes to the installed models by the memory they need, UniXcoder's
# encoder-only layout reaches the model through SQL, and the errors: a corrupt file, a missing
# file, an unsupported architecture, a config.json that differs from the catalog's values, a model published as ONNX, pg_embed_download() of a
# checkpoint model, and a UniXcoder folder whose tokenizer.json lacks the mode token.
# Prints "N passed, M failed".
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/cluster.sh"
cd "$PGE_ROOT"
dir=$(test_dir hubconvert)
port=$(free_port)
hub_pid=
trap '[ -n "$hub_pid" ] && kill "$hub_pid" 2>/dev/null; [ -z "${KEEP:-}" ] && remove_clusters "$dir"' EXIT
py=$VENV/bin/python
models=$dir/models
mkdir -p "$models" && ln -s "$MODEL_DIR/all-MiniLM-L6-v2" "$models/all-MiniLM-L6-v2"

"$py" tests/hub/checkpoints.py "$dir/hub" "$dir/catalog.json" 0123456789abcdef0123456789abcdef01234567 \
  || { bad "writing the test checkpoints"; finish; exit 1; }
"$py" tests/hub/serve.py "$dir/hub" "$dir/port" >"$dir/hub.log" 2>&1 &
hub_pid=$!
for _ in $(seq 50); do [ -s "$dir/port" ] && break; sleep 0.1; done
hub=http://127.0.0.1:$(cat "$dir/port")

# fetch ENDPOINT NAME: runs the README's command against the test catalog; output and status.
fetch() { HF_ENDPOINT=$1 PG_EMBED_CATALOG=$dir/catalog.json "$py" scripts/prepare_models.py fetch "$2" "$models" 2>&1 | grep -v "^WARNING:root"; return "${PIPESTATUS[0]}"; }
# nothing_of NAME: no folder and no staging left behind.
nothing_of() { [ ! -e "$models/$1" ] && [ -z "$(ls -A "$models" | grep '^\.fetch-')" ]; }

# --- errors: each installs nothing ---------------------------------------------------------
out=$(fetch "$hub/corrupt" unixcoder-base); rc=$?
check "a corrupt file is refused (XX001, checksum)" "ERROR \(XX001\): checksum mismatch for [a-z_]+\.[a-z]+: expected sha256 \((server|catalog)\) [0-9a-f]{64}, got [0-9a-f]{64}" "$rc $out"
if [ "$rc" != 0 ] && nothing_of unixcoder-base; then ok "the corrupt download installed nothing"; else bad "corrupt download left files" "$(ls -la "$models")"; fi

out=$(fetch "$hub/corrupt/gitetag" codeberta-small-v1); rc=$?
check "a corrupt small file is refused by its git blob checksum (XX001)" "ERROR \(XX001\): checksum mismatch for config.json: expected git blob sha1 \(server\) [0-9a-f]{40}" "$rc $out"
if [ "$rc" != 0 ] && nothing_of codeberta-small-v1; then ok "the corrupt small file installed nothing"; else bad "corrupt small file left files"; fi

out=$(PG_EMBED_FETCH_TIMEOUT=2 fetch "$hub/slow" codeberta-small-v1); rc=$?
check "a download past PG_EMBED_FETCH_TIMEOUT stops (57014)" "ERROR \(57014\): .* took longer than its time limit" "$rc $out"
if [ "$rc" != 0 ] && nothing_of codeberta-small-v1; then ok "the timed-out download installed nothing"; else bad "timed-out download left files"; fi

mv "$dir/hub/huggingface/CodeBERTa-small-v1/merges.txt" "$dir/merges.txt"
out=$(fetch "$hub" codeberta-small-v1); rc=$?
mv "$dir/merges.txt" "$dir/hub/huggingface/CodeBERTa-small-v1/merges.txt"
check "a missing file is refused (58000, HTTP 404)" "ERROR \(58000\): .*/merges.txt: HTTP 404" "$rc $out"
if [ "$rc" != 0 ] && nothing_of codeberta-small-v1; then ok "the incomplete download installed nothing"; else bad "incomplete download left files"; fi

out=$(fetch "$hub" unsupported-architecture); rc=$?
check "an unsupported architecture is refused (0A000)" "ERROR \(0A000\): cannot convert model \"unsupported-architecture\": model_type 'gpt2' is not supported" "$rc $out"
if [ "$rc" != 0 ] && nothing_of unsupported-architecture; then ok "the unsupported checkpoint installed nothing"; else bad "unsupported checkpoint left files"; fi

out=$(fetch "$hub" tampered-config); rc=$?
check "a config.json that differs from the catalog's values is refused (XX001)" "ERROR \(XX001\): config.json of \"tampered-config\" says layer_norm_eps = 10.0, the catalog 1e-05" "$rc $out"
if [ "$rc" != 0 ] && nothing_of tampered-config; then ok "the tampered configuration installed nothing"; else bad "tampered configuration left files"; fi

out=$(fetch "$hub" all-MiniLM-L12-v2); rc=$?
check "a model published as ONNX is sent to pg_embed_download (0A000)" "ERROR \(0A000\).*HINT: SELECT \* FROM pg_embed_download\('all-MiniLM-L12-v2'\)" "$rc $(printf '%s' "$out" | tr '\n' ' ')"

# --- two code models installed from their checkpoints ---------------------------------------
for m in unixcoder-base codeberta-small-v1; do
  out=$(fetch "$hub" "$m"); rc=$?
  check "fetch $m installs it" "^0 installed: $models/$m" "$rc $out"
done
layout=$("$py" - "$models/unixcoder-base/tokenizer.json" <<'PY'
import sys
from tokenizers import Tokenizer
tok = Tokenizer.from_file(sys.argv[1])
enc = tok.encode("def f(x): return x")
print(" ".join(enc.tokens[:3]), "...", enc.tokens[-1])
PY
)
check "UniXcoder's tokenizer.json puts its encoder-only layout around a text" "^<s> <encoder-only> </s> \.\.\. </s>$" "$layout"

start_cluster "$dir/data" "$port" "pg_embed.model_dir = '$models'" || { bad "cluster start"; finish; exit 1; }
q() { psql -X -q -At -h 127.0.0.1 -p "$port" -U postgres -d postgres -v VERBOSITY=verbose "$@" 2>&1; }
q -v ON_ERROR_STOP=1 -c "CREATE EXTENSION vector" -c "CREATE EXTENSION pg_embed" >/dev/null \
  || { bad "CREATE EXTENSION pg_embed"; finish; exit 1; }

# The code preferences ranked by published figures, with the small code model for tight memory
# (README, Routing); the default list stays the 0.6.0 one, which routing pins record.
ranked="SET pg_embed.code_models = 'codet5p-110m-embedding,unixcoder-base,codeberta-small-v1,all-MiniLM-L6-v2'"
check "the default preferences take UniXcoder, their first" "^unixcoder-base$" \
  "$(q -c "SELECT pg_embed_role_model('code')" 2>/dev/null | grep -v NOTICE)"
check "ranked, room for it, CodeT5+ absent: embed_code takes UniXcoder" "^unixcoder-base$" \
  "$(q -c "$ranked" -c "SELECT pg_embed_role_model('code')" 2>/dev/null | grep -v NOTICE)"
check "UniXcoder's vectors have 768 dimensions" "^768$" "$(q -c "SELECT vector_dims(embed_code('def f(x): return x'))" | grep -v NOTICE)"
check "ranked, memory_limit 600MB: the smaller code model (CodeBERTa, 490 MB held)" "^codeberta-small-v1$" \
  "$(q -c "$ranked" -c "SET pg_embed.memory_limit = '600MB'" -c "SELECT pg_embed_role_model('code')" | grep -v NOTICE)"
check "ranked, memory_limit 300MB: the small general model" "^all-MiniLM-L6-v2$" \
  "$(q -c "$ranked" -c "SET pg_embed.memory_limit = '300MB'" -c "SELECT pg_embed_role_model('code')" | grep -v NOTICE)"

# Through SQL, UniXcoder gets the same vector as its ONNX graph run on the tokenizer's own ids
# with mean pooling (a short text, and one cut at max_tokens = 512).
long=$(printf 'def handler_%d(request): return respond(request, status=%d)\n' $(seq 1 200 | awk '{print $1, $1}'))
for text in "def f(x): return x" "$long"; do
  [ "${#text}" -gt 100 ] && name="a long text, cut at 512 tokens" || name="a short text"
  cos=$(TEXT=$text "$py" - "$models/unixcoder-base" "$port" <<'PY'
import os, sys
import numpy as np, onnxruntime as ort, psycopg
from tokenizers import Tokenizer
folder, port = sys.argv[1], sys.argv[2]
text = os.environ["TEXT"]
with psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres") as conn:
    got = np.array([float(x) for x in conn.execute("SELECT embed(%s, 'unixcoder-base')::text", (text,)).fetchone()[0].strip("[]").split(",")], np.float32)
tok = Tokenizer.from_file(os.path.join(folder, "tokenizer.json"))
tok.enable_truncation(512)
enc = tok.encode(text)
s = ort.InferenceSession(os.path.join(folder, "model.onnx"), providers=["CPUExecutionProvider"])
feed = {"input_ids": np.array([enc.ids], np.int64), "attention_mask": np.ones((1, len(enc.ids)), np.int64),
        "token_type_ids": np.zeros((1, len(enc.ids)), np.int64)}
names = {i.name for i in s.get_inputs()}
ref = s.run(["last_hidden_state"], {k: v for k, v in feed.items() if k in names})[0][0].mean(0)
print(f"{min(1.0, float(ref @ got / np.linalg.norm(ref) / np.linalg.norm(got))):.7f} {len(enc.ids)} {enc.ids[:3]}")
PY
)
  check "SQL equals the graph on the tokenizer's ids: $name" "^(0\.99999[0-9]{2}|1\.0000000) [0-9]+ \[0, 5, 2\]$" "$cos"
done
check "the long text was cut at 512 tokens" "^(1\.0+|0\.99999[0-9]{2}) 512 " "$cos"

# CodeT5+ installed too: it ranks first (published figures), with its projection to 256.
out=$(fetch "$hub" codet5p-110m-embedding); rc=$?
check "fetch codet5p-110m-embedding installs it" "^0 installed:" "$rc $out"
check "ranked, with CodeT5+ present, embed_code takes it" "^codet5p-110m-embedding$" "$(q -c "$ranked" -c "SELECT pg_embed_role_model('code')" | grep -v NOTICE)"
check "CodeT5+'s vectors have 256 dimensions, unit length" "^256\|1\.0+$|^256\|0\.99999" \
  "$(q -c "$ranked" -c "SELECT vector_dims(v) || '|' || round(vector_norm(v)::numeric, 6) FROM (SELECT embed_code('def f(x): return x') v) s" | grep -v NOTICE)"

# pg_embed_download() of a checkpoint model says which command converts it.
check "pg_embed_download of a checkpoint model: 0A000 and the command" \
  "ERROR:  0A000: model \"unixcoder-base\" is published as a checkpoint.*HINT:.*prepare_models.py fetch unixcoder-base" \
  "$(q -c "SET pg_embed.allow_download = on" -c "SELECT * FROM pg_embed_download('unixcoder-base')" | tr '\n' ' ')"

# A UniXcoder folder whose tokenizer.json lacks the mode token is refused, not used.
"$py" scripts/make_tokenizer.py "$dir/hub/microsoft/unixcoder-base" "$models/unixcoder-base/tokenizer.json" >/dev/null
check "a UniXcoder tokenizer.json without <encoder-only> is refused (XX001)" \
  "ERROR:  XX001: .*it puts \"<s> \\\$A </s>\" around a text, the model expects \"<s> <encoder-only> </s> \\\$A </s>\"" \
  "$(q -c "SELECT embed('def f(): pass', 'unixcoder-base')" | tr '\n' ' ')"

check_logs "$dir"
finish
