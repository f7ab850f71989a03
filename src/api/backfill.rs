//! Backfill: embed a text column of an existing table into a vector column, in chunks that
//! each commit, resumable, with progress other sessions can watch.
//!
//! The procedure is PL/pgSQL because it must COMMIT between chunks (only a procedure called
//! with CALL outside a transaction block can). Each chunk locks only its own rows, skipping
//! rows the application holds locked (FOR UPDATE SKIP LOCKED), so writes are never blocked
//! for longer than one chunk.

use pgrx::prelude::*;

extension_sql!(
    r#"
CREATE TABLE pg_embed_backfill_progress (
    pid int NOT NULL,
    relation regclass NOT NULL,
    text_column name NOT NULL,
    vector_column name NOT NULL,
    model text NOT NULL,
    started timestamptz NOT NULL,
    updated timestamptz NOT NULL,
    rows_done bigint NOT NULL,
    rows_total bigint NOT NULL,
    finished boolean NOT NULL DEFAULT false,
    PRIMARY KEY (pid, relation, vector_column)
);
COMMENT ON TABLE pg_embed_backfill_progress IS 'Progress of pg_embed_backfill() runs, one row per run, updated at every chunk commit.';
GRANT SELECT ON pg_embed_backfill_progress TO PUBLIC;

CREATE FUNCTION pg_embed_backfill_report(
    p_relation regclass, p_text name, p_vector name, p_model text,
    p_started timestamptz, p_done bigint, p_total bigint, p_finished boolean
) RETURNS void LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    INSERT INTO @extschema@.pg_embed_backfill_progress AS p
        (pid, relation, text_column, vector_column, model, started, updated, rows_done, rows_total, finished)
    VALUES (pg_backend_pid(), p_relation, p_text, p_vector, p_model, p_started, clock_timestamp(), p_done, p_total, p_finished)
    ON CONFLICT (pid, relation, vector_column) DO UPDATE
        SET text_column = EXCLUDED.text_column, model = EXCLUDED.model, started = EXCLUDED.started,
            updated = EXCLUDED.updated, rows_done = EXCLUDED.rows_done, rows_total = EXCLUDED.rows_total,
            finished = EXCLUDED.finished;
$$;
-- Every role that may CALL pg_embed_backfill on its own tables needs it; it writes only the
-- caller's own progress row (keyed by pg_backend_pid()), never the table being embedded.
GRANT EXECUTE ON FUNCTION pg_embed_backfill_report(regclass, name, name, text, timestamptz, bigint, bigint, boolean) TO PUBLIC;

CREATE VIEW pg_embed_backfills AS
SELECT pid, relation, text_column, vector_column, model, started, updated, rows_done, rows_total,
       round(100.0 * rows_done / nullif(rows_total, 0), 1) AS percent,
       round(rows_done / nullif(extract(epoch FROM updated - started), 0)::numeric, 1) AS rows_per_second,
       CASE WHEN finished THEN interval '0'
            WHEN rows_done > 0 THEN (updated - started) * ((rows_total - rows_done)::float8 / rows_done)
       END AS eta,
       finished,
       NOT finished AND NOT EXISTS (
           SELECT FROM pg_stat_activity a
           WHERE a.pid = p.pid AND a.pid <> pg_backend_pid() AND a.state = 'active'
             AND a.query ILIKE '%pg_embed_backfill%') AS interrupted
FROM pg_embed_backfill_progress p;
GRANT SELECT ON pg_embed_backfills TO PUBLIC;
COMMENT ON VIEW pg_embed_backfills IS 'Backfills running or finished: rows done of the total, rate, ETA; interrupted = it stopped before finishing (cancelled, failed or its session ended): CALL it again to resume.';

CREATE PROCEDURE pg_embed_backfill(
    relation regclass,
    text_column name,
    vector_column name,
    model text DEFAULT NULL,
    chunk_size int DEFAULT 200,
    hash_column name DEFAULT NULL,
    notice_every bigint DEFAULT 1000,
    model_id_column name DEFAULT NULL
) LANGUAGE plpgsql AS $$
DECLARE
    -- The model id each row should carry (with model_id_column): one literal for a named
    -- model, computed per row for 'auto' (embed_auto's choice depends on the text).
    id_expr text := CASE WHEN model_id_column IS NULL THEN NULL
                         WHEN model = 'auto' THEN '@extschema@.pg_embed_model_id(@extschema@.embed_auto_model(%s))'
                         ELSE quote_literal(@extschema@.pg_embed_model_id(coalesce(model, @extschema@.pg_embed_role_model('doc')))) END;
    -- Rows still to do: no vector yet, or (with a hash column) text changed since it was
    -- embedded, or (with a model id column) made by another model or model file.
    todo text := format('%I IS NOT NULL AND (%I IS NULL%s%s)', text_column, vector_column,
                        CASE WHEN hash_column IS NULL THEN ''
                             ELSE format(' OR %I IS DISTINCT FROM md5(%I)', hash_column, text_column) END,
                        CASE WHEN model_id_column IS NULL THEN ''
                             ELSE format(' OR %I IS DISTINCT FROM ', model_id_column) || format(id_expr, quote_ident(text_column)) END);
    embed_expr text := CASE WHEN model IS NULL THEN format('@extschema@.embed_doc(t.%I)', text_column)
                            WHEN model = 'auto' THEN format('@extschema@.embed_auto(t.%I)', text_column)
                            ELSE format('@extschema@.embed(t.%I, %L)', text_column, model) END;
    set_hash text := CASE WHEN hash_column IS NULL THEN ''
                          ELSE format(', %I = md5(t.%I)', hash_column, text_column) END
                     || CASE WHEN model_id_column IS NULL THEN ''
                             ELSE format(', %I = ', model_id_column) || format(id_expr, 't.' || quote_ident(text_column)) END;
    model_name text := coalesce(model, 'all-MiniLM-L6-v2');
    total bigint;
    done bigint := 0;
    n bigint;
    next_notice bigint := notice_every;
    started timestamptz := clock_timestamp();
    elapsed float8;
BEGIN
    IF chunk_size < 1 THEN
        RAISE EXCEPTION 'chunk_size must be at least 1, not %', chunk_size USING ERRCODE = '22023';
    END IF;
    EXECUTE format('SELECT count(*) FROM %s WHERE %s', relation, todo) INTO total;
    PERFORM @extschema@.pg_embed_backfill_report(relation, text_column, vector_column, model_name, started, 0, total, false);
    COMMIT;
    LOOP
        EXECUTE format(
            'WITH chunk AS (SELECT ctid AS c FROM %1$s WHERE %2$s LIMIT %3$s FOR UPDATE SKIP LOCKED)
             UPDATE %1$s AS t SET %4$I = %5$s%6$s FROM chunk WHERE t.ctid = chunk.c',
            relation, todo, chunk_size, vector_column, embed_expr, set_hash);
        GET DIAGNOSTICS n = ROW_COUNT;
        EXIT WHEN n = 0;
        done := done + n;
        PERFORM @extschema@.pg_embed_backfill_report(relation, text_column, vector_column, model_name, started, done, greatest(total, done), false);
        COMMIT;
        IF done >= next_notice THEN
            elapsed := extract(epoch FROM clock_timestamp() - started);
            RAISE NOTICE 'pg_embed_backfill: % of % rows (% rows/s, about % s left)',
                done, total, round((done / nullif(elapsed, 0))::numeric, 1),
                round(((total - done) * elapsed / done)::numeric);
            next_notice := done + notice_every;
        END IF;
    END LOOP;
    PERFORM @extschema@.pg_embed_backfill_report(relation, text_column, vector_column, model_name, started, done, greatest(total, done), true);
    COMMIT;
    RAISE NOTICE 'pg_embed_backfill: done, % rows embedded in % s', done,
        round(extract(epoch FROM clock_timestamp() - started)::numeric, 1);
END
$$;
COMMENT ON PROCEDURE pg_embed_backfill(regclass, name, name, text, int, name, bigint, name) IS
  'Embeds text_column into vector_column for rows missing a vector (or whose text changed, with hash_column holding md5 of the embedded text; or made by another model file, with model_id_column holding pg_embed_model_id()), committing every chunk_size rows; CALL again to resume. Progress: pg_embed_backfills.';
"#,
    name = "backfill",
    requires = ["models_sql", "embed_doc_comment", "provenance_sql"],
);
