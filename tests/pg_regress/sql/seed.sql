-- The model guide's seed test: among real code (CPython standard library functions from the
-- code benchmark set), "sort array ascending" finds a sorting function in the top 3.
CREATE TEMP TABLE code (id text, body text, embedding vector(384));
COPY code (id, body) FROM '@data@/seed_code.tsv';
SELECT count(*) AS functions, count(*) FILTER (WHERE split_part(id, ':', 3) ILIKE '%sort%') AS about_sorting FROM code;
UPDATE code SET embedding = embed_code(body);
SELECT id FROM code ORDER BY embedding <=> embed_code('sort array ascending') LIMIT 3;
SELECT count(*) >= 1 AS sorting_function_in_top_3
  FROM (SELECT id FROM code ORDER BY embedding <=> embed_code('sort array ascending') LIMIT 3) top
  WHERE split_part(id, ':', 3) ILIKE '%sort%';
