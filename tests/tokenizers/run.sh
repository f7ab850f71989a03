#!/usr/bin/env bash
# Tokenizer parity (tests/tokenizers/parity.py) in its own virtualenv with transformers' slow
# tokenizers (no torch), made under PGE_HOME on first use. Prints "N passed, M failed".
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../scripts/env.sh"
venv=$PGE_HOME/venv-transformers
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import transformers, tokenizers" 2>/dev/null; then
  python3 -m venv "$venv" && "$venv/bin/pip" install -q "transformers==4.57.6" "tokenizers==0.22.2" >/dev/null \
    || { echo "0 passed, 1 failed (could not install transformers into $venv)"; exit 1; }
fi
out=$(PG_EMBED_MODEL_DIR=$MODEL_DIR "$venv/bin/python" "$here/parity.py" 2>&1 | grep -v "None of PyTorch")
rc=$?
printf '%s\n' "$out"
passed=$(printf '%s\n' "$out" | grep -c "^ok:" || true)
failed=$(printf '%s\n' "$out" | grep -c "^FAIL:" || true)
if [ "$rc" != 0 ] && [ "$failed" = 0 ]; then failed=1; fi
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
