-- Routing: code and prose go to their role's model, chosen by policy; pg_embed_reselect() pins
-- the choice per database. Embedding calls never write a pin.
\set VERBOSITY terse
SELECT * FROM pg_embed_selection;
-- The code preferences name UniXcoder and CodeT5+ first; their files are not installed here, so
-- each is skipped with a one-time NOTICE and the small model serves code.
SELECT vector_dims(embed_code('def add(a, b):\n    return a + b')) AS code_dims;
SELECT vector_dims(embed_code('fn main() {}')) AS again_no_notice;
-- Nothing was written: without a pin every backend takes the first preferred model present.
SELECT role, model, preferences FROM pg_embed_selection ORDER BY role;
-- pg_embed_reselect() runs the resource-aware policy and pins its choice for every session.
SELECT role, model FROM pg_embed_reselect() ORDER BY role;
SELECT role, model, preferences FROM pg_embed_selection ORDER BY role;

-- embed_auto detects the content.
SELECT embed_auto_model(E'import os\n\ndef walk(root):\n    for d, _, files in os.walk(root):\n        yield from files\n') AS code_text,
       embed_auto_model('PostgreSQL is an object-relational database. It stores data in tables and answers SQL queries.') AS prose_text,
       embed_auto_model('ok') AS too_short;
SELECT round((embed_auto('The quick brown fox jumps over the lazy dog, as everyone knows.')
              <=> embed_doc('The quick brown fox jumps over the lazy dog, as everyone knows.'))::numeric, 4) AS prose_uses_doc_model;

-- embed_explain: what was decided and why.
SELECT e->'content'->>'kind' AS kind, e->'content'->>'language' AS language, e->>'role' AS role,
       e->>'chosen_model' AS model, e->>'pinned' AS pinned, e->'policy_now'->'considered' AS considered,
       jsonb_typeof(e->'content'->'evidence') AS evidence, e->'resources' ? 'available_mb' AS has_resources
  FROM embed_explain(E'#include <stdio.h>\nint main(void) {\n    printf("hi\\n");\n    return 0;\n}\n') AS e;
SELECT e->'content'->>'kind' AS kind, e->>'role' AS role, e->>'chosen_model' AS model,
       e->'policy_now'->'considered' AS considered
  FROM embed_explain('Vacuum reclaims storage occupied by dead tuples. You should run it regularly on busy tables.') AS e;

-- A session with other preferences decides for itself and does not move the pin.
SET pg_embed.code_models = 'paraphrase-MiniLM-L3-v2';
SELECT embed_auto_model('for (int i = 0; i < n; i++) { sum += a[i]; }') AS session_choice;
SELECT model FROM pg_embed_selection WHERE role = 'code';
RESET pg_embed.code_models;
SELECT embed_auto_model('for (int i = 0; i < n; i++) { sum += a[i]; }') AS back_to_pin;

-- pg_embed_reselect() pins the current settings' choice for everyone.
SET pg_embed.code_models = 'paraphrase-MiniLM-L3-v2';
SELECT * FROM pg_embed_reselect() ORDER BY role;
RESET pg_embed.code_models;
\c
SET pg_embed.code_models = 'paraphrase-MiniLM-L3-v2';
SELECT embed_auto_model('SELECT id FROM t WHERE x > 1 ORDER BY id;') AS pinned_now;
RESET pg_embed.code_models;
SELECT * FROM pg_embed_reselect() ORDER BY role;

-- Batches route each element.
SELECT ord, vector_dims(embedding) FROM embed_auto_batch(ARRAY['def f(x):\n    return x * 2', NULL, 'A sentence about databases and their indexes.']) ORDER BY ord;
SELECT ord, vector_dims(embedding) FROM embed_code_batch(ARRAY['x = 1', 'y = 2']) ORDER BY ord;

-- Storing the model next to the vector.
CREATE TABLE snippets (id int, body text, model text, embedding vector(384));
INSERT INTO snippets SELECT i, b, embed_auto_model(b), embed_auto(b)
  FROM (VALUES (1, 'def f():\n    pass'), (2, 'Indexes speed up lookups on large tables.')) v(i, b);
SELECT id, model FROM snippets ORDER BY id;

-- Only superusers and embed_admin may re-pin.
CREATE ROLE routing_user LOGIN;
\c - routing_user
SELECT * FROM pg_embed_reselect();
SELECT vector_dims(embed_auto('x = compute(1, 2)')) AS users_embed;
\c - postgres
DROP ROLE routing_user;
DROP TABLE snippets;
