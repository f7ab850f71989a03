#!/usr/bin/env bash
# The demo: embeds the Python FAQ (171 real questions with their answers, from Debian's
# python3.11-doc) with INSERT ... SELECT embed_doc(...), builds an HNSW index and asks three
# questions in plain English. Expects scripts/setup.sh to have run (make demo does that).
set -euo pipefail
source "$(dirname "$0")/env.sh"

faq_src=/usr/share/doc/python3.11/html/_sources/faq
csv=$PGE_HOME/demo/faq.csv
mkdir -p "$(dirname "$csv")"
python3 "$PGE_ROOT/scripts/faq_corpus.py" "$faq_src" > "$csv"
echo "corpus: $(python3 -c 'import csv,sys; print(sum(1 for _ in csv.reader(open(sys.argv[1]))))' "$csv") FAQ entries from $faq_src"

"$PGE_ROOT/scripts/cluster.sh" psql -q <<SQL
\set QUIET on
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS vector;
CREATE EXTENSION IF NOT EXISTS pg_embed;
DROP TABLE IF EXISTS faq_src, faq;
CREATE TABLE faq_src (id int PRIMARY KEY, section text, question text, answer text);
\copy faq_src FROM '$csv' WITH (FORMAT csv)
CREATE TABLE faq (id int PRIMARY KEY, section text, question text, answer text, embedding vector(384));
\timing on
\echo 'embedding the corpus: INSERT INTO faq ... SELECT ..., embed_doc(question || answer) FROM faq_src'
INSERT INTO faq SELECT id, section, question, answer, embed_doc(question || E'\n\n' || answer) FROM faq_src;
CREATE INDEX faq_embedding_idx ON faq USING hnsw (embedding vector_cosine_ops);
\timing off
\pset footer off
\echo
\echo 'Q: how can I make my program run faster?'
SELECT round((embedding <=> embed_doc('how can I make my program run faster')) ::numeric, 3) AS distance, question
FROM faq ORDER BY embedding <=> embed_doc('how can I make my program run faster') LIMIT 3;
\echo 'Q: why do my decimal calculations give slightly wrong answers?'
SELECT round((embedding <=> embed_doc('why do my decimal calculations give slightly wrong answers')) ::numeric, 3) AS distance, question
FROM faq ORDER BY embedding <=> embed_doc('why do my decimal calculations give slightly wrong answers') LIMIT 3;
\echo 'Q: how do I copy an object?'
SELECT round((embedding <=> embed_doc('how do I copy an object')) ::numeric, 3) AS distance, question
FROM faq ORDER BY embedding <=> embed_doc('how do I copy an object') LIMIT 3;
SQL
echo "psql on this cluster: make psql   (stop it: make stop)"
