-- Databases whose encoding is not UTF-8: text is converted to UTF-8 (LATIN1), or read as
-- UTF-8 and refused with SQLSTATE 22021 when it is not (SQL_ASCII).
\set VERBOSITY default
\set SHOW_CONTEXT never
-- Reference vectors from this UTF-8 database.
SET client_min_messages = warning;  -- routing's NOTICEs depend on what ran before
SELECT embed_doc('café crème brûlée')::text AS utf8_vec,
       embed_code('def naïve(x): return x')::text AS utf8_code,
       embed_auto('Ærø, Øresund, señor, Straße')::text AS utf8_nordic,
       embed_auto(string_agg(chr(c), '' ORDER BY c))::text AS utf8_latin1_range
  FROM generate_series(160, 255) c \gset
RESET client_min_messages;
CREATE DATABASE pg_embed_latin1 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
CREATE DATABASE pg_embed_sql_ascii ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;

\c pg_embed_latin1
SET client_encoding = 'UTF8';
CREATE EXTENSION vector;
CREATE EXTENSION pg_embed;
SELECT getdatabaseencoding();
-- The same words embed to the same vector as in a UTF-8 database.
SET client_min_messages = warning;
SELECT embed_doc('café crème brûlée')::text = :'utf8_vec' AS same_as_utf8,
       embed_code('def naïve(x): return x')::text = :'utf8_code' AS code_same_as_utf8;
RESET client_min_messages;
-- Stored text, every byte value LATIN1 has, the batch functions with NULLs, routing.
CREATE TABLE docs (id int, body text);
INSERT INTO docs VALUES (1, 'café crème brûlée'), (2, NULL), (3, 'Ærø, Øresund, señor, Straße');
INSERT INTO docs SELECT 4, string_agg(chr(c), '' ORDER BY c) FROM generate_series(160, 255) c;
CREATE TABLE expected (id int, vec text);
INSERT INTO expected VALUES (1, :'utf8_vec'), (3, :'utf8_nordic'), (4, :'utf8_latin1_range');
SELECT d.id, embed_auto(d.body)::text = e.vec AS same_as_utf8
  FROM docs d LEFT JOIN expected e USING (id) ORDER BY d.id;
SELECT b.ord, b.embedding::text = e.vec AS same_as_utf8
  FROM embed_auto_batch(ARRAY(SELECT body FROM docs ORDER BY id)) AS b LEFT JOIN expected e ON e.id = b.ord
 ORDER BY b.ord;
SELECT embed_explain('Straße und Café') ->> 'role' AS role;
-- A model name with a LATIN1 character is an invalid name, not a crash; the message writes
-- characters beyond ASCII as escapes, which every server encoding can show.
SELECT embed('text', 'modèle');
\echo :LAST_ERROR_SQLSTATE
-- The size bound applies before conversion.
SET pg_embed.max_text_size = '1kB';
SELECT embed_doc(repeat('é', 2000));
\echo :LAST_ERROR_SQLSTATE
RESET pg_embed.max_text_size;

\c pg_embed_sql_ascii
SET client_encoding = 'UTF8';
CREATE EXTENSION vector;
CREATE EXTENSION pg_embed;
SELECT getdatabaseencoding();
-- Valid UTF-8 bytes are read as UTF-8.
SELECT embed_doc('café crème brûlée')::text = :'utf8_vec' AS same_as_utf8;
-- Bytes that are not UTF-8 (here LATIN1 é, 0xE9) are refused with a hint, in scalar and batch.
SELECT embed_doc(E'caf\xe9');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM embed_doc_batch(ARRAY['fine', E'caf\xe9']);
\echo :LAST_ERROR_SQLSTATE
-- The hint's conversion works.
SELECT embed_doc(convert_from(convert(convert_to(E'caf\xe9 cr\xe8me br\xfbl\xe9e', 'SQL_ASCII'), 'LATIN1', 'UTF8'), 'UTF8'))::text = :'utf8_vec' AS converted_same_as_utf8;
-- The backend is fine afterwards.
SELECT vector_dims(embed_doc('still working')) AS dims;

\c regression
DROP DATABASE pg_embed_latin1;
DROP DATABASE pg_embed_sql_ascii;
