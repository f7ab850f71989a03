-- BM25: registered columns of terms, their corpus statistics kept by triggers, and the search.
-- Part of pg_embed's install script (see the extension_sql_file! that names this file).
--
-- A table keeps its documents' terms in a text[] column (a generated column of
-- pg_embed_bm25_terms(body), with a GIN index). pg_embed_bm25_register records the column and
-- puts statement triggers on the table that append, for each INSERT, UPDATE, DELETE or
-- TRUNCATE, the change in the number of documents, of terms, and of each term's document
-- frequency to pg_embed_bm25_totals. Writers only append rows there, so they never wait for each
-- other; a reader adds up the rows its snapshot sees (and pg_embed_bm25_df, where the triggers
-- fold them now and then), which are exactly the changes of the rows it sees. So scores are
-- exact and transactional: a search sees the statistics of precisely the rows visible to it,
-- committed or its own.

COMMENT ON FUNCTION pg_embed_bm25_terms(text, text) IS
  'The terms of a text for BM25, in order, repeats included: ASCII letters and digits, lower-cased, identifiers split at _ and case changes (tokenizer ''code'') or kept whole (''words''). IMMUTABLE: feeds a generated text[] column and its GIN index.';
COMMENT ON FUNCTION pg_embed_bm25_query_terms(text, text) IS
  'The distinct terms of a BM25 query, in first-seen order.';
COMMENT ON FUNCTION pg_embed_bm25_score(text[], text[], bigint[], float8, float8, float8, float8) IS
  'Internal: the BM25 score of a document''s terms for the query terms, given their document frequencies, the number of documents, their average length, k1 and b.';

CREATE TABLE pg_embed_bm25_columns (
    relation regclass NOT NULL,
    terms_column name NOT NULL,
    tokenizer text NOT NULL CHECK (tokenizer IN ('code', 'words')),
    k1 float8 NOT NULL CHECK (k1 >= 0 AND k1 < 'infinity'),
    b float8 NOT NULL CHECK (b >= 0 AND b <= 1),
    PRIMARY KEY (relation, terms_column)
);
COMMENT ON TABLE pg_embed_bm25_columns IS
  'Columns of terms registered for BM25 by pg_embed_bm25_register: the tokenizer their terms come from, and k1 and b.';

-- Changes in the number of documents (rows whose terms are not NULL), of terms, and of the
-- document frequency of each term (term_names[i] gained term_dfs[i] documents), one row per
-- statement that changed them. The sum over a column's rows is its corpus; the triggers fold
-- the rows into one, and the frequencies into pg_embed_bm25_df, when there are more than 64.
CREATE TABLE pg_embed_bm25_totals (
    relation regclass NOT NULL,
    terms_column name NOT NULL,
    documents bigint NOT NULL,
    terms bigint NOT NULL,
    term_names text[] NOT NULL DEFAULT '{}',
    term_dfs bigint[] NOT NULL DEFAULT '{}'
);
CREATE INDEX pg_embed_bm25_totals_column ON pg_embed_bm25_totals (relation, terms_column);
COMMENT ON TABLE pg_embed_bm25_totals IS
  'Internal: the number of documents and terms of each registered column, and changes to its terms'' document frequencies, as changes to sum.';

-- The document frequency of each term of a column, as of the last fold (the rows of
-- pg_embed_bm25_totals add the changes since).
CREATE TABLE pg_embed_bm25_df (
    relation regclass NOT NULL,
    terms_column name NOT NULL,
    term text NOT NULL,
    df bigint NOT NULL,
    PRIMARY KEY (relation, terms_column, term)
);
COMMENT ON TABLE pg_embed_bm25_df IS
  'Internal: how many documents of a registered column hold each term (plus the changes in pg_embed_bm25_totals).';

-- No planner statistics of the terms themselves: row-level security hides rows, and a role's
-- EXPLAIN would show estimates drawn from terms of tables it may not read.
ALTER TABLE pg_embed_bm25_totals ALTER COLUMN term_names SET STATISTICS 0;
ALTER TABLE pg_embed_bm25_df ALTER COLUMN term SET STATISTICS 0;

SELECT pg_catalog.pg_extension_config_dump('pg_embed_bm25_columns', '');
SELECT pg_catalog.pg_extension_config_dump('pg_embed_bm25_totals', '');
SELECT pg_catalog.pg_extension_config_dump('pg_embed_bm25_df', '');

-- A role sees the rows of the tables whose terms it may read (their terms and frequencies are
-- the table's data). Nobody but the extension's owner writes them: the triggers and the
-- SECURITY DEFINER steps of pg_embed_bm25_register, _recount and _unregister, each of which
-- checks that the table's state is one only its owner could have made. (With no write privilege
-- a role can take no lock on them that stalls writers.)
CREATE FUNCTION pg_embed_bm25_owns(relation regclass) RETURNS boolean
LANGUAGE sql STABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce((SELECT pg_has_role(current_user, c.relowner, 'USAGE') FROM pg_class c WHERE c.oid = $1), false)
$$;
COMMENT ON FUNCTION pg_embed_bm25_owns(regclass) IS 'Internal: whether the current role owns the relation (or is a member of its owner).';
-- Whether the current role may read a terms column: SELECT on the table or on the column, and no
-- row-level security of the table applies to it (the statistics count every row, so they would
-- show the terms of rows hidden from it). NULL, so false, for a table or column that no longer
-- exists. Inlined into the policies below, so
-- every name is qualified instead of a fixed search_path.
CREATE FUNCTION pg_embed_bm25_may_read(relation regclass, terms_column name) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT (pg_catalog.has_table_privilege($1, 'SELECT')
            OR pg_catalog.has_column_privilege($1, (SELECT a.attnum FROM pg_catalog.pg_attribute a
                                                     WHERE a.attrelid OPERATOR(pg_catalog.=) $1
                                                       AND a.attname OPERATOR(pg_catalog.=) $2 AND NOT a.attisdropped), 'SELECT'))
       AND NOT pg_catalog.row_security_active($1)
$$;
COMMENT ON FUNCTION pg_embed_bm25_may_read(regclass, name) IS 'Internal: whether the current role may read a terms column (SELECT on its table or on it).';
ALTER TABLE pg_embed_bm25_columns ENABLE ROW LEVEL SECURITY;
ALTER TABLE pg_embed_bm25_totals ENABLE ROW LEVEL SECURITY;
ALTER TABLE pg_embed_bm25_df ENABLE ROW LEVEL SECURITY;
CREATE POLICY columns_read ON pg_embed_bm25_columns FOR SELECT USING (@extschema@.pg_embed_bm25_may_read(relation, terms_column));
CREATE POLICY totals_read ON pg_embed_bm25_totals FOR SELECT USING (@extschema@.pg_embed_bm25_may_read(relation, terms_column));
CREATE POLICY df_read ON pg_embed_bm25_df FOR SELECT USING (@extschema@.pg_embed_bm25_may_read(relation, terms_column));
GRANT SELECT ON pg_embed_bm25_columns, pg_embed_bm25_totals, pg_embed_bm25_df TO PUBLIC;

-- The change a set of rows makes to a column's statistics, as SQL over "ch (sign, terms)": the
-- number of documents, of terms, and the terms whose document frequency changes, with the change.
CREATE FUNCTION pg_embed_bm25_delta_sql(changes text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT 'WITH ch AS MATERIALIZED (' || changes || ') '
           'SELECT coalesce((SELECT sum(ch.sign) FROM ch WHERE ch.terms IS NOT NULL), 0)::bigint AS documents, '
           '       coalesce((SELECT sum(ch.sign * cardinality(ch.terms)) FROM ch), 0)::bigint AS terms, '
           '       coalesce(array_agg(u.term ORDER BY u.term), ''{}'') AS term_names, '
           '       coalesce(array_agg(u.df ORDER BY u.term), ''{}'') AS term_dfs '
           '  FROM (SELECT x.term, sum(ch.sign)::bigint AS df FROM ch, LATERAL (SELECT DISTINCT unnest(ch.terms)) x(term) '
           '         WHERE x.term IS NOT NULL GROUP BY x.term HAVING sum(ch.sign) <> 0) u'
$$;
COMMENT ON FUNCTION pg_embed_bm25_delta_sql(text) IS 'Internal: the change rows make to BM25 statistics, as SQL.';

-- Whether this session holds a lock on the relation that keeps its writers out (SHARE ROW
-- EXCLUSIVE or stronger: the table's owner, and roles it let UPDATE, DELETE, TRUNCATE, create
-- triggers or reference it, can take one; so this alone proves nothing about the caller).
CREATE FUNCTION pg_embed_bm25_locked(relation regclass) RETURNS boolean
LANGUAGE sql STABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT EXISTS (SELECT FROM pg_locks l
                    WHERE l.locktype = 'relation' AND l.pid = pg_backend_pid() AND l.granted AND l.relation = $1
                      AND l.database = (SELECT d.oid FROM pg_database d WHERE d.datname = current_database())
                      AND l.mode IN ('ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock'))
$$;
COMMENT ON FUNCTION pg_embed_bm25_locked(regclass) IS 'Internal: whether this session holds a lock that keeps the relation''s writers out.';

-- Whether a relation is a plain, permanent table outside any inheritance tree: reading it runs
-- nothing its owner wrote (a view's query, a foreign table's wrapper would), and statement
-- triggers on it see every change.
CREATE FUNCTION pg_embed_bm25_plain(relation regclass) RETURNS boolean
LANGUAGE sql STABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT EXISTS (SELECT FROM pg_class c WHERE c.oid = $1 AND c.relkind = 'r' AND c.relpersistence <> 't')
       AND NOT EXISTS (SELECT FROM pg_inherits i WHERE i.inhparent = $1 OR i.inhrelid = $1)
       AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = $1 AND d.deptype = 'e')
$$;
COMMENT ON FUNCTION pg_embed_bm25_plain(regclass) IS 'Internal: whether a relation is a plain permanent table outside inheritance trees and extensions.';


-- The comment pg_embed_bm25_register and _recount put on a column's insert trigger: it names
-- their transaction's 64-bit id, which no other transaction ever has. Only the table's owner may
-- comment on its triggers, so a SECURITY DEFINER step that finds its own transaction's stamp
-- there acts for the owner.
CREATE FUNCTION pg_embed_bm25_stamp() RETURNS text
LANGUAGE sql VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT 'BM25 statistics of this column kept by pg_embed; registered or recounted by transaction ' || pg_current_xact_id()
$$;
COMMENT ON FUNCTION pg_embed_bm25_stamp() IS 'Internal: the comment that proves this transaction was the table owner''s (names the 64-bit transaction id).';

-- The comment left once the count is stored: no transaction's stamp.
CREATE FUNCTION pg_embed_bm25_stamp_spent() RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT 'BM25 statistics of this column kept by pg_embed (pg_embed_bm25_indexes)'::text
$$;
COMMENT ON FUNCTION pg_embed_bm25_stamp_spent() IS 'Internal: the comment on a registered column''s insert trigger between registrations and recounts.';

-- Whether the column's four triggers are as pg_embed_bm25_register makes them and this
-- transaction stamped them (COMMENT ON TRIGGER, which only the table's owner may run).
CREATE FUNCTION pg_embed_bm25_enabled_here(relation regclass, terms_column name) RETURNS boolean
LANGUAGE sql VOLATILE STRICT PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT @extschema@.pg_embed_bm25_triggers($1, $2) = 4
       AND EXISTS (SELECT FROM pg_trigger g JOIN pg_description d
                                 ON d.objoid = g.oid AND d.classoid = 'pg_trigger'::regclass AND d.objsubid = 0
                    WHERE g.tgrelid = $1 AND g.tgname = 'pg_embed_bm25_insert_' || $2
                      AND g.tgfoid = '@extschema@.pg_embed_bm25_count()'::regprocedure
                      AND d.description = @extschema@.pg_embed_bm25_stamp())
$$;
COMMENT ON FUNCTION pg_embed_bm25_enabled_here(regclass, name) IS 'Internal: whether the column''s four BM25 triggers are intact and this transaction (so the table''s owner) stamped them.';

-- Stores a count of a registered column as its statistics, as the extension's owner (nobody
-- else writes them): only for the table's owner, proven by the stamp it put on the column's
-- trigger in this transaction, on a plain table it holds locked against writers. It reads no table of the
-- caller's: pg_embed_bm25_census counts as the caller.
CREATE FUNCTION pg_embed_bm25_store(relation regclass, terms_column name, documents bigint, terms bigint,
                                    term_names text[], term_dfs bigint[]) RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF relation IS NULL OR terms_column IS NULL OR documents IS NULL OR terms IS NULL OR term_names IS NULL OR term_dfs IS NULL
       OR NOT @extschema@.pg_embed_bm25_locked(relation) OR NOT @extschema@.pg_embed_bm25_plain(relation)
       OR NOT @extschema@.pg_embed_bm25_enabled_here(relation, terms_column)
       OR NOT EXISTS (SELECT FROM @extschema@.pg_embed_bm25_columns c WHERE c.relation = $1 AND c.terms_column = $2) THEN
        RAISE EXCEPTION 'pg_embed_bm25_store(%, %) needs a registered column whose triggers this transaction stamped, on a table it has locked', relation, terms_column
            USING ERRCODE = '55000', HINT = 'pg_embed_bm25_recount(table) counts the table and stores the count.';
    END IF;
    DELETE FROM @extschema@.pg_embed_bm25_totals t WHERE t.relation = $1 AND t.terms_column = $2;
    DELETE FROM @extschema@.pg_embed_bm25_df f WHERE f.relation = $1 AND f.terms_column = $2;
    INSERT INTO @extschema@.pg_embed_bm25_totals VALUES (relation, terms_column, documents, terms);
    INSERT INTO @extschema@.pg_embed_bm25_df SELECT relation, terms_column, u.term, u.df
      FROM unnest(term_names, term_dfs) u(term, df);
END
$$;
COMMENT ON FUNCTION pg_embed_bm25_store(regclass, name, bigint, bigint, text[], bigint[]) IS
  'Internal: stores the count of a registered column as its BM25 statistics (runs as the extension''s owner; only for the owner who stamped the triggers in this transaction).';

-- Counts a registered column (as the caller: the table's owner, who has it locked and stamped its
-- triggers in this transaction) and stores the count. Returns the documents and terms counted.
CREATE FUNCTION pg_embed_bm25_census(relation regclass, terms_column name, OUT documents bigint, OUT terms bigint)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    total record;
BEGIN
    EXECUTE @extschema@.pg_embed_bm25_delta_sql(format('SELECT 1 AS sign, %I AS terms FROM ONLY %s', terms_column, relation))
        INTO total;
    PERFORM @extschema@.pg_embed_bm25_store(relation, terms_column, total.documents, total.terms, total.term_names, total.term_dfs);
    documents := total.documents;
    terms := total.terms;
END
$$;
COMMENT ON FUNCTION pg_embed_bm25_census(regclass, name) IS 'Internal: counts a terms column''s documents, terms and document frequencies (reads the whole table, as the caller) and stores them.';

-- Folds a column's rows of changes into one row and pg_embed_bm25_df. Rows another session is
-- folding are skipped; the frequencies are written in term order, so two sessions folding at once
-- lock them in the same order.
CREATE FUNCTION pg_embed_bm25_fold(relation regclass, terms_column name) RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp AS $$
    WITH gone AS (
        DELETE FROM @extschema@.pg_embed_bm25_totals t
         WHERE t.ctid = ANY (ARRAY(SELECT l.ctid FROM @extschema@.pg_embed_bm25_totals l
                                    WHERE l.relation = $1 AND l.terms_column = $2 FOR UPDATE SKIP LOCKED))
        RETURNING t.documents, t.terms, t.term_names, t.term_dfs),
    kept AS (
        INSERT INTO @extschema@.pg_embed_bm25_totals (relation, terms_column, documents, terms)
        SELECT $1, $2, sum(g.documents), sum(g.terms) FROM gone g HAVING count(*) > 0)
    INSERT INTO @extschema@.pg_embed_bm25_df AS f
    SELECT $1, $2, u.term, sum(u.df) FROM gone g, unnest(g.term_names, g.term_dfs) u(term, df) GROUP BY u.term ORDER BY u.term
    ON CONFLICT (relation, terms_column, term) DO UPDATE SET df = f.df + excluded.df
$$;
COMMENT ON FUNCTION pg_embed_bm25_fold(regclass, name) IS 'Internal: folds a column''s BM25 changes into one row and pg_embed_bm25_df.';
REVOKE ALL ON FUNCTION pg_embed_bm25_fold(regclass, name) FROM PUBLIC;

-- The statement trigger on a registered table (one argument: the terms column). Appends the
-- statement's change to pg_embed_bm25_totals; folds a column's rows when there are more than 64
-- or the change names more than 1,000 terms (rows another session is folding are left to it).
CREATE FUNCTION pg_embed_bm25_count() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    col name;
    delta record;
    trig record;
    typ oid;
    parts text[] := '{}';
BEGIN
    IF TG_LEVEL <> 'STATEMENT' OR TG_WHEN <> 'AFTER' OR TG_NARGS <> 1 THEN
        RAISE EXCEPTION 'pg_embed_bm25_count() must be an AFTER ... FOR EACH STATEMENT trigger with one argument'
            USING ERRCODE = '39P01', HINT = 'pg_embed_bm25_register(table, terms_column) creates the triggers.';
    END IF;
    -- Only the triggers pg_embed_bm25_register creates: the SQL below reads their transition
    -- tables by name, and a trigger made by hand without them would let that name resolve to a
    -- relation of the caller's, read with the extension owner's rights.
    SELECT g.tgfoid, g.tgnewtable, g.tgoldtable INTO trig FROM pg_trigger g WHERE g.tgrelid = TG_RELID AND g.tgname = TG_NAME;
    IF trig.tgfoid IS DISTINCT FROM '@extschema@.pg_embed_bm25_count()'::regprocedure
       OR TG_NAME IS DISTINCT FROM 'pg_embed_bm25_' || lower(TG_OP) || '_' || TG_ARGV[0]
       OR (TG_OP IN ('INSERT', 'UPDATE') AND trig.tgnewtable IS DISTINCT FROM 'pg_embed_bm25_new')
       OR (TG_OP IN ('UPDATE', 'DELETE') AND trig.tgoldtable IS DISTINCT FROM 'pg_embed_bm25_old') THEN
        RAISE EXCEPTION 'trigger % on % was not made by pg_embed_bm25_register', quote_ident(TG_NAME), TG_RELID::regclass
            USING ERRCODE = '39P01', HINT = format('Drop it (DROP TRIGGER %I ON %s); pg_embed_bm25_register(table, terms_column) creates the triggers.', TG_NAME, TG_RELID::regclass);
    END IF;
    col := TG_ARGV[0];
    IF NOT EXISTS (SELECT FROM @extschema@.pg_embed_bm25_columns c WHERE c.relation = TG_RELID AND c.terms_column = col) THEN
        -- The table was restored without pg_embed's tables, or the trigger was made by hand:
        -- the write goes on, BM25 statistics are not kept.
        RAISE WARNING 'column % of % is not registered for BM25; its statistics are not kept', quote_ident(col), TG_RELID::regclass
            USING HINT = format('SELECT pg_embed_bm25_register(%L, %L); or drop the trigger %I.', TG_RELID::regclass::text, col, TG_NAME);
        RETURN NULL;
    END IF;
    -- This runs as the extension's owner over a column of somebody's table: only text[] (whose
    -- operators are PostgreSQL's own), not a type whose functions its owner wrote.
    typ := (SELECT a.atttypid FROM pg_attribute a WHERE a.attrelid = TG_RELID AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped);
    IF typ IS NULL THEN
        -- The column was renamed: the write goes on, the registration goes (a search then says
        -- to register the column under its new name).
        DELETE FROM @extschema@.pg_embed_bm25_totals t WHERE t.relation = TG_RELID AND t.terms_column = col;
        DELETE FROM @extschema@.pg_embed_bm25_df f WHERE f.relation = TG_RELID AND f.terms_column = col;
        DELETE FROM @extschema@.pg_embed_bm25_columns c WHERE c.relation = TG_RELID AND c.terms_column = col;
        RAISE WARNING 'the terms column % of % registered for BM25 is gone; its registration is dropped', quote_ident(col), TG_RELID::regclass
            USING HINT = format('Register the column under its new name: SELECT pg_embed_bm25_unregister(%1$L, %2$L); SELECT pg_embed_bm25_register(%1$L, ''new_name'');',
                                TG_RELID::regclass::text, col);
        RETURN NULL;
    END IF;
    IF typ <> 'text[]'::regtype THEN
        RAISE EXCEPTION 'column % of % is not of type text[]', quote_ident(col), TG_RELID::regclass USING ERRCODE = '42804',
            DETAIL = 'Its BM25 statistics are kept from a text[] column of terms.',
            HINT = format('Change it back, or SELECT pg_embed_bm25_unregister(%L, %L);', TG_RELID::regclass::text, col);
    END IF;
    IF TG_OP = 'TRUNCATE' THEN
        -- TRUNCATE empties the table whatever the snapshot; under REPEATABLE READ the rows of
        -- changes that other sessions committed since the snapshot would survive it.
        IF current_setting('transaction_isolation') NOT IN ('read committed', 'read uncommitted') THEN
            RAISE EXCEPTION 'TRUNCATE of %, whose column % is registered for BM25, needs READ COMMITTED', TG_RELID::regclass, quote_ident(col)
                USING ERRCODE = '0A000', HINT = 'Run the TRUNCATE in a READ COMMITTED transaction, or DELETE the rows.';
        END IF;
        DELETE FROM @extschema@.pg_embed_bm25_totals t WHERE t.relation = TG_RELID AND t.terms_column = col;
        DELETE FROM @extschema@.pg_embed_bm25_df f WHERE f.relation = TG_RELID AND f.terms_column = col;
        INSERT INTO @extschema@.pg_embed_bm25_totals VALUES (TG_RELID, col, 0, 0);
        RETURN NULL;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        parts := parts || format('SELECT 1 AS sign, %I AS terms FROM pg_embed_bm25_new', col);
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        parts := parts || format('SELECT -1 AS sign, %I AS terms FROM pg_embed_bm25_old', col);
    END IF;
    EXECUTE @extschema@.pg_embed_bm25_delta_sql(array_to_string(parts, ' UNION ALL ')) INTO delta;
    IF delta.documents <> 0 OR delta.terms <> 0 OR cardinality(delta.term_names) > 0 THEN
        INSERT INTO @extschema@.pg_embed_bm25_totals
        VALUES (TG_RELID, col, delta.documents, delta.terms, delta.term_names, delta.term_dfs);
    END IF;
    -- Folding deletes rows other sessions may have seen: only under READ COMMITTED, where that
    -- cannot fail a writer's later statement with a serialization error.
    -- A large change (a bulk load) is folded at once: a search looks its terms up in every row
    -- of changes.
    IF current_setting('transaction_isolation') IN ('read committed', 'read uncommitted')  -- the same in PostgreSQL
       AND (cardinality(delta.term_names) > 1000
            OR (SELECT count(*) FROM (SELECT FROM @extschema@.pg_embed_bm25_totals t
                                       WHERE t.relation = TG_RELID AND t.terms_column = col LIMIT 65) s) > 64)
       -- One transaction folds a column at a time (two that each hold the frequencies of a
       -- fold could deadlock on a second): the column's registration row is the gate, and
       -- only the extension's owner may lock it.
       AND EXISTS (SELECT FROM @extschema@.pg_embed_bm25_columns c WHERE c.relation = TG_RELID AND c.terms_column = col
                   FOR NO KEY UPDATE SKIP LOCKED) THEN
        PERFORM @extschema@.pg_embed_bm25_fold(TG_RELID::regclass, col);
    END IF;
    RETURN NULL;
END
$$;
-- EXECUTE stays granted: CREATE TRIGGER needs it, and the table owners who register create the
-- triggers. Called otherwise than as a trigger, it refuses.
COMMENT ON FUNCTION pg_embed_bm25_count() IS
  'Internal: the statement trigger that keeps a registered column''s BM25 totals (writes as the extension''s owner, only the rows of the table it fires on).';

-- Whether a column's four BM25 triggers (insert, update, delete, truncate) are on the table as
-- pg_embed_bm25_register made them, and no other trigger of pg_embed_bm25_count for it: a role
-- with the TRIGGER privilege could replace one (CREATE OR REPLACE TRIGGER ... WHEN (false)).
CREATE FUNCTION pg_embed_bm25_triggers(relation regclass, terms_column name) RETURNS int
LANGUAGE sql STABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE WHEN bool_and(
               g.tgenabled IN ('A', 'O') AND g.tgqual IS NULL AND g.tgattr::text = ''
               AND CASE g.tgname::text
                   WHEN 'pg_embed_bm25_insert_' || $2 THEN g.tgtype = 4 AND g.tgnewtable = 'pg_embed_bm25_new' AND g.tgoldtable IS NULL
                   WHEN 'pg_embed_bm25_update_' || $2 THEN g.tgtype = 16 AND g.tgnewtable = 'pg_embed_bm25_new' AND g.tgoldtable = 'pg_embed_bm25_old'
                   WHEN 'pg_embed_bm25_delete_' || $2 THEN g.tgtype = 8 AND g.tgnewtable IS NULL AND g.tgoldtable = 'pg_embed_bm25_old'
                   WHEN 'pg_embed_bm25_truncate_' || $2 THEN g.tgtype = 32 AND g.tgnewtable IS NULL AND g.tgoldtable IS NULL
                   ELSE false END)
                THEN count(*)::int ELSE 0 END
      FROM pg_trigger g
     WHERE g.tgrelid = $1 AND g.tgfoid = '@extschema@.pg_embed_bm25_count()'::regprocedure
       AND g.tgargs = convert_to($2, current_setting('server_encoding')) || '\x00'::bytea
$$;
COMMENT ON FUNCTION pg_embed_bm25_triggers(regclass, name) IS 'Internal: 4 when a terms column has its four BM25 triggers exactly as pg_embed_bm25_register made them (AFTER ... FOR EACH STATEMENT, transition tables, enabled, no WHEN) and no other, else 0 or fewer.';

-- The registration of a table's terms column (terms_column NULL: its only one); raises with a
-- hint when there is none, several, or the triggers are gone.
CREATE FUNCTION pg_embed_bm25_column(relation regclass, terms_column name)
RETURNS pg_embed_bm25_columns LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    found @extschema@.pg_embed_bm25_columns;
    n int;
BEGIN
    IF relation IS NULL THEN
        RAISE EXCEPTION 'relation must not be NULL' USING ERRCODE = '22004', HINT = 'Name the table to search, e.g. ''docs''.';
    END IF;
    SELECT count(*) INTO n FROM @extschema@.pg_embed_bm25_columns c
     WHERE c.relation = $1 AND (c.terms_column = $2 OR $2 IS NULL);
    IF n = 0 AND row_security_active(relation) THEN
        RAISE EXCEPTION 'BM25 statistics of % are not shown to a role under its row-level security', relation
            USING ERRCODE = '42501', DETAIL = 'They count every row, so they would show the terms of rows hidden from you.',
                  HINT = 'Search as the table''s owner or a role that bypasses its row-level security, or use vector search.';
    ELSIF n = 0 THEN
        RAISE EXCEPTION '% has no column registered for BM25%', relation,
                CASE WHEN terms_column IS NOT NULL THEN format(' named %I', terms_column) ELSE '' END
            USING ERRCODE = '55000',
                  HINT = format('Add a terms column and register it: ALTER TABLE %1$s ADD COLUMN terms text[] GENERATED ALWAYS AS (pg_embed_bm25_terms(body)) STORED; CREATE INDEX ON %1$s USING gin (terms); SELECT pg_embed_bm25_register(%2$L, ''terms'');',
                                relation, relation::text);
    ELSIF n > 1 THEN
        RAISE EXCEPTION '% has % columns registered for BM25', relation, n USING ERRCODE = '42725',
            HINT = 'Name one: terms_column => ...; pg_embed_bm25_indexes lists them.';
    END IF;
    SELECT * INTO found FROM @extschema@.pg_embed_bm25_columns c WHERE c.relation = $1 AND (c.terms_column = $2 OR $2 IS NULL);
    PERFORM @extschema@.pg_embed_check_column(relation, found.terms_column, ARRAY['text[]'::regtype], 'terms'::text);
    -- Writes through a parent or to a child do not fire the table's statement triggers.
    IF EXISTS (SELECT FROM pg_inherits i WHERE i.inhparent = relation OR i.inhrelid = relation) THEN
        RAISE EXCEPTION 'the BM25 statistics of % are not kept: it became part of an inheritance tree or partitioned table', relation
            USING ERRCODE = '0A000',
                  HINT = format('Detach it (ALTER TABLE ... NO INHERIT, DETACH PARTITION), or SELECT pg_embed_bm25_unregister(%L, %L);', relation::text, found.terms_column);
    END IF;
    IF @extschema@.pg_embed_bm25_triggers(relation, found.terms_column) <> 4 THEN
        RAISE EXCEPTION 'the BM25 statistics of %.% are not kept: its triggers are missing, disabled, changed or more than four', relation, quote_ident(found.terms_column)
            USING ERRCODE = '55000',
                  HINT = format('Register it again (this recreates the triggers and counts the table): SELECT pg_embed_bm25_register(%L, %L);',
                                relation::text, found.terms_column);
    END IF;
    RETURN found;
END
$$;
COMMENT ON FUNCTION pg_embed_bm25_column(regclass, name) IS 'Internal: a registered BM25 column, checked.';

-- Drops a column's BM25 triggers (as the caller: the table's owner).
CREATE FUNCTION pg_embed_bm25_drop_triggers(relation regclass, terms_column name) RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    g record;
BEGIN
    FOR g IN SELECT t.tgname FROM pg_trigger t
              WHERE t.tgrelid = relation AND t.tgfoid = '@extschema@.pg_embed_bm25_count()'::regprocedure
                AND t.tgargs = convert_to(terms_column, current_setting('server_encoding')) || '\x00'::bytea LOOP
        EXECUTE format('DROP TRIGGER %I ON %s', g.tgname, relation);
    END LOOP;
END
$$;
COMMENT ON FUNCTION pg_embed_bm25_drop_triggers(regclass, name) IS 'Internal: drops the BM25 triggers of a terms column.';

-- Records a column's registration, as the extension's owner (pg_embed_bm25_census then counts
-- it as the caller): only when the column's four triggers are on the table as registration
-- makes them, stamped by this transaction (COMMENT ON TRIGGER, which only the table's owner may
-- run; pg_embed_bm25_stamp), the table is a plain
-- one, this session holds a lock keeping the table's writers out, and the column has no
-- registration yet (pg_embed_bm25_register forgets a broken one first).
CREATE FUNCTION pg_embed_bm25_adopt(relation regclass, terms_column name, tokenizer text, k1 float8, b float8) RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF relation IS NULL OR terms_column IS NULL OR NOT @extschema@.pg_embed_bm25_locked(relation)
       OR NOT @extschema@.pg_embed_bm25_plain(relation)
       OR NOT @extschema@.pg_embed_bm25_enabled_here(relation, terms_column)
       OR EXISTS (SELECT FROM @extschema@.pg_embed_bm25_columns c WHERE c.relation = $1 AND c.terms_column = $2) THEN
        RAISE EXCEPTION 'pg_embed_bm25_adopt(%, %) needs the column''s four triggers, stamped by this transaction, on a table it has locked, and no registration yet', relation, terms_column
            USING ERRCODE = '55000', HINT = 'pg_embed_bm25_register(table, terms_column) creates them.';
    END IF;
    DELETE FROM @extschema@.pg_embed_bm25_totals t WHERE t.relation = $1 AND t.terms_column = $2;
    DELETE FROM @extschema@.pg_embed_bm25_df f WHERE f.relation = $1 AND f.terms_column = $2;
    INSERT INTO @extschema@.pg_embed_bm25_columns AS c VALUES (relation, terms_column, tokenizer, k1, b);
END
$$;
COMMENT ON FUNCTION pg_embed_bm25_adopt(regclass, name, text, float8, float8) IS
  'Internal: records and counts a registration whose triggers pg_embed_bm25_register made (runs as the extension''s owner; checks the table''s state).';

-- Deletes a column's registration and statistics, as the extension's owner: only when none of
-- its triggers is left on the table (DROP TRIGGER, which only the table's owner may run), so it
-- removes nothing a search could still use.
CREATE FUNCTION pg_embed_bm25_forget(relation regclass, terms_column name) RETURNS boolean
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF relation IS NULL OR terms_column IS NULL
       OR EXISTS (SELECT FROM pg_trigger g
                   WHERE g.tgrelid = $1 AND g.tgfoid = '@extschema@.pg_embed_bm25_count()'::regprocedure
                     AND g.tgargs = convert_to($2, current_setting('server_encoding')) || '\x00'::bytea) THEN
        RAISE EXCEPTION 'pg_embed_bm25_forget(%, %) needs the column''s triggers dropped first', relation, terms_column
            USING ERRCODE = '55000', HINT = 'pg_embed_bm25_unregister(table, terms_column) drops them.';
    END IF;
    DELETE FROM @extschema@.pg_embed_bm25_totals t WHERE t.relation = $1 AND t.terms_column = $2;
    DELETE FROM @extschema@.pg_embed_bm25_df f WHERE f.relation = $1 AND f.terms_column = $2;
    DELETE FROM @extschema@.pg_embed_bm25_columns c WHERE c.relation = $1 AND c.terms_column = $2;
    RETURN FOUND;
END
$$;
COMMENT ON FUNCTION pg_embed_bm25_forget(regclass, name) IS
  'Internal: deletes the registration and statistics of a column whose triggers are gone (runs as the extension''s owner; checks the table''s state).';

CREATE FUNCTION pg_embed_bm25_register(
    relation regclass,
    terms_column name DEFAULT 'terms',
    tokenizer text DEFAULT 'code',
    k1 float8 DEFAULT 1.2,
    b float8 DEFAULT 0.75,
    OUT documents bigint,
    OUT terms bigint
) LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    kind "char";
    expr text;
BEGIN
    IF relation IS NULL THEN
        RAISE EXCEPTION 'relation must not be NULL' USING ERRCODE = '22004', HINT = 'Name the table, e.g. ''docs''.';
    END IF;
    PERFORM @extschema@.pg_embed_check_column(relation, terms_column, ARRAY['text[]'::regtype], 'terms'::text);
    PERFORM @extschema@.pg_embed_bm25_terms(''::text, tokenizer);  -- raises 22023 for an unknown tokenizer
    IF tokenizer IS NULL OR k1 IS NULL OR b IS NULL OR NOT (k1 >= 0 AND k1 < 'infinity') OR NOT (b >= 0 AND b <= 1) THEN
        RAISE EXCEPTION 'invalid BM25 settings: k1 %, b %', coalesce(k1::text, 'NULL'), coalesce(b::text, 'NULL')
            USING ERRCODE = '22023', HINT = 'k1 is 0 or more (1.2 is usual), b between 0 and 1 (0.75 is usual).';
    END IF;
    -- The triggers are named after the column: pg_embed_bm25_truncate_<column> must fit a name.
    IF octet_length(terms_column) > 40 THEN
        RAISE EXCEPTION 'the name of the terms column % is too long for BM25''s trigger names', quote_ident(terms_column)
            USING ERRCODE = '42622', HINT = 'Rename it to at most 40 bytes.';
    END IF;
    -- The tokenizer of a generated column's expression (pg_embed_bm25_terms(body, 'words')) is the
    -- one queries must be cut with.
    expr := (SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
              WHERE d.adrelid = relation AND a.attname = terms_column AND a.attgenerated = 's');
    IF expr LIKE '%pg_embed_bm25_terms(%'
       AND (CASE WHEN expr LIKE '%''words''%' THEN 'words' ELSE 'code' END) IS DISTINCT FROM tokenizer THEN
        RAISE EXCEPTION 'the terms column % of % is generated with another tokenizer than %', quote_ident(terms_column), relation, quote_literal(tokenizer)
            USING ERRCODE = '22023', DETAIL = format('Its expression: %s', expr),
                  HINT = 'Register it with the tokenizer of its expression: tokenizer => ''words'' or ''code''.';
    END IF;
    SELECT c.relkind INTO kind FROM pg_class c WHERE c.oid = relation AND c.relpersistence <> 't';
    IF kind IS DISTINCT FROM 'r' OR EXISTS (SELECT FROM pg_inherits i WHERE i.inhparent = relation OR i.inhrelid = relation)
       OR EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = relation AND d.deptype = 'e')
       OR @extschema@.pg_embed_citus_keys(relation) IS NOT NULL THEN
        RAISE EXCEPTION 'BM25 statistics cannot be kept for %', relation USING ERRCODE = '0A000',
            DETAIL = 'Only a plain table, not temporary, not a partition, without partitions, inheritance parents or children or Citus distribution (statement triggers on it see every change), and not one of an extension.',
            HINT = 'Register a plain table.';
    END IF;
    IF NOT @extschema@.pg_embed_bm25_owns(relation) THEN
        RAISE EXCEPTION 'must be owner of table %', relation USING ERRCODE = '42501',
            HINT = 'Only the table''s owner (or a member of its role) may register it for BM25.';
    END IF;
    -- Writers wait from here to the commit, so the count below and the triggers agree.
    EXECUTE format('LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE', relation);
    -- A registration whose triggers are gone or disabled (the table was dropped and another got
    -- its OID, or the triggers were dropped) is replaced; a working one is not.
    IF EXISTS (SELECT FROM @extschema@.pg_embed_bm25_columns c WHERE c.relation = $1 AND c.terms_column = $2)
       AND @extschema@.pg_embed_bm25_triggers(relation, terms_column) = 4 THEN
        RAISE EXCEPTION 'column % of % is already registered for BM25', quote_ident(terms_column), relation USING ERRCODE = '42710',
            HINT = format('To change its settings, SELECT pg_embed_bm25_unregister(%1$L, %2$L) first; to recount it, SELECT pg_embed_bm25_recount(%1$L, %2$L).',
                          relation::text, terms_column);
    END IF;
    PERFORM @extschema@.pg_embed_bm25_drop_triggers(relation, terms_column);
    PERFORM @extschema@.pg_embed_bm25_forget(relation, terms_column);
    EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %s REFERENCING NEW TABLE AS pg_embed_bm25_new '
                   'FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.pg_embed_bm25_count(%L)',
                   'pg_embed_bm25_insert_' || terms_column, relation, terms_column);
    EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON %s REFERENCING OLD TABLE AS pg_embed_bm25_old NEW TABLE AS pg_embed_bm25_new '
                   'FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.pg_embed_bm25_count(%L)',
                   'pg_embed_bm25_update_' || terms_column, relation, terms_column);
    EXECUTE format('CREATE TRIGGER %I AFTER DELETE ON %s REFERENCING OLD TABLE AS pg_embed_bm25_old '
                   'FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.pg_embed_bm25_count(%L)',
                   'pg_embed_bm25_delete_' || terms_column, relation, terms_column);
    EXECUTE format('CREATE TRIGGER %I AFTER TRUNCATE ON %s FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.pg_embed_bm25_count(%L)',
                   'pg_embed_bm25_truncate_' || terms_column, relation, terms_column);
    -- Also on a logical replication subscriber, whose apply worker runs as a replica.
    EXECUTE format('ALTER TABLE %1$s ENABLE ALWAYS TRIGGER %2$I, ENABLE ALWAYS TRIGGER %3$I, '
                   'ENABLE ALWAYS TRIGGER %4$I, ENABLE ALWAYS TRIGGER %5$I', relation,
                   'pg_embed_bm25_insert_' || terms_column, 'pg_embed_bm25_update_' || terms_column,
                   'pg_embed_bm25_delete_' || terms_column, 'pg_embed_bm25_truncate_' || terms_column);
    EXECUTE format('COMMENT ON TRIGGER %I ON %s IS %L', 'pg_embed_bm25_insert_' || terms_column, relation, @extschema@.pg_embed_bm25_stamp());
    PERFORM @extschema@.pg_embed_bm25_adopt(relation, terms_column, tokenizer, k1, b);
    -- Counted as the caller (the owner): a query planned on the table may run its owner's
    -- functions (index expressions, statistics).
    SELECT s.documents, s.terms INTO documents, terms FROM @extschema@.pg_embed_bm25_census(relation, terms_column) s;
    -- The stamp is spent: later code of this transaction (a trigger someone else wrote) cannot use it.
    EXECUTE format('COMMENT ON TRIGGER %I ON %s IS %L', 'pg_embed_bm25_insert_' || terms_column, relation, @extschema@.pg_embed_bm25_stamp_spent());
END
$$;
COMMENT ON FUNCTION pg_embed_bm25_register(regclass, name, text, float8, float8) IS
  'Registers a text[] column of terms (a generated column of pg_embed_bm25_terms(body, tokenizer)) for BM25 search with k1 and b: counts its documents and terms and creates the statement triggers that keep the counts. The table''s owner only; writers wait until the registering transaction commits. Returns the documents and terms counted.';

CREATE FUNCTION pg_embed_bm25_unregister(relation regclass, terms_column name DEFAULT 'terms') RETURNS boolean
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF relation IS NULL OR terms_column IS NULL THEN
        RAISE EXCEPTION 'relation and terms_column must not be NULL' USING ERRCODE = '22004', HINT = 'pg_embed_bm25_indexes lists the registered columns.';
    END IF;
    IF NOT @extschema@.pg_embed_bm25_owns(relation) THEN
        RAISE EXCEPTION 'must be owner of table %', relation USING ERRCODE = '42501',
            HINT = 'Only the table''s owner (or a member of its role) may unregister it.';
    END IF;
    PERFORM @extschema@.pg_embed_bm25_drop_triggers(relation, terms_column);
    RETURN @extschema@.pg_embed_bm25_forget(relation, terms_column);
END
$$;
COMMENT ON FUNCTION pg_embed_bm25_unregister(regclass, name) IS
  'Drops a column''s BM25 triggers and statistics (the column and its index stay). The table''s owner only. Returns whether it was registered.';

CREATE FUNCTION pg_embed_bm25_recount(relation regclass, terms_column name DEFAULT NULL, OUT documents bigint, OUT terms bigint)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    reg @extschema@.pg_embed_bm25_columns := @extschema@.pg_embed_bm25_column(relation, terms_column);
BEGIN
    IF NOT @extschema@.pg_embed_bm25_owns(relation) THEN
        RAISE EXCEPTION 'must be owner of table %', relation USING ERRCODE = '42501',
            HINT = 'Only the table''s owner (or a member of its role) may recount it.';
    END IF;
    EXECUTE format('LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE', relation);
    -- Stamped by this transaction (only the owner may): what lets the count be stored as the owner's.
    EXECUTE format('COMMENT ON TRIGGER %I ON %s IS %L', 'pg_embed_bm25_insert_' || reg.terms_column, relation, @extschema@.pg_embed_bm25_stamp());
    SELECT s.documents, s.terms INTO documents, terms FROM @extschema@.pg_embed_bm25_census(relation, reg.terms_column) s;
    EXECUTE format('COMMENT ON TRIGGER %I ON %s IS %L', 'pg_embed_bm25_insert_' || reg.terms_column, relation, @extschema@.pg_embed_bm25_stamp_spent());
END
$$;
COMMENT ON FUNCTION pg_embed_bm25_recount(regclass, name) IS
  'Counts a registered column''s documents, terms and document frequencies again from the table and replaces its statistics (after triggers were disabled, e.g. a data-only restore with --disable-triggers). The table''s owner only; writers wait until the transaction commits.';

-- A dropped table or terms column takes its registration, statistics and triggers with it, so no
-- row names an OID another table may get later. (Runs as the extension's owner: the dropped
-- table's owner can no longer be checked. It can only run as an event trigger, and it touches
-- only what pg_event_trigger_dropped_objects() names.)
CREATE FUNCTION pg_embed_bm25_forget_dropped() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    gone record;
BEGIN
    FOR gone IN
        SELECT c.relation::oid AS relid, c.terms_column, d.object_type
          FROM @extschema@.pg_embed_bm25_columns c
          JOIN pg_event_trigger_dropped_objects() d ON d.classid = 'pg_class'::regclass AND d.objid = c.relation::oid
         WHERE d.object_type IN ('table', 'view', 'materialized view', 'foreign table')
            OR (d.object_type = 'table column'
                AND NOT EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = c.relation AND a.attname = c.terms_column AND NOT a.attisdropped))
    LOOP
        IF gone.object_type = 'table column' THEN
            PERFORM @extschema@.pg_embed_bm25_drop_triggers(gone.relid::regclass, gone.terms_column);
        END IF;
        DELETE FROM @extschema@.pg_embed_bm25_totals t WHERE t.relation = gone.relid AND t.terms_column = gone.terms_column;
        DELETE FROM @extschema@.pg_embed_bm25_df f WHERE f.relation = gone.relid AND f.terms_column = gone.terms_column;
        DELETE FROM @extschema@.pg_embed_bm25_columns c WHERE c.relation = gone.relid AND c.terms_column = gone.terms_column;
    END LOOP;
END
$$;
REVOKE ALL ON FUNCTION pg_embed_bm25_forget_dropped() FROM PUBLIC;
COMMENT ON FUNCTION pg_embed_bm25_forget_dropped() IS
  'Internal: the event trigger that drops the BM25 registration, statistics and triggers of a dropped table or terms column.';
CREATE EVENT TRIGGER pg_embed_bm25_dropped ON sql_drop EXECUTE FUNCTION pg_embed_bm25_forget_dropped();
