-- A canonical listing of everything the extension pg_embed owns, one line per fact, sorted:
-- functions (signature, kind, volatility, strictness, parallel safety, cost, rows, SECURITY
-- DEFINER, settings, result, language, body digest, comment, privileges), relations (kind, row
-- security, privileges, comment), columns, constraints, indexes, views, policies, sequences, the
-- configuration tables pg_dump keeps, and the role the extension creates. The upgrade test
-- compares it between an upgraded and a fresh install.
\set ON_ERROR_STOP on
\pset format unaligned
\pset tuples_only on
WITH ext AS (SELECT oid, extconfig, extcondition FROM pg_extension WHERE extname = 'pg_embed'),
members AS (
    SELECT d.classid, d.objid FROM pg_depend d, ext WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e'
),
rels AS (SELECT c.* FROM pg_class c JOIN members m ON m.classid = 'pg_class'::regclass AND m.objid = c.oid)
SELECT line FROM (
    SELECT format('function %s kind=%s vol=%s strict=%s par=%s cost=%s rows=%s definer=%s config=%s result=%s lang=%s body=%s acl=%s comment=%s',
                  p.oid::regprocedure, p.prokind, p.provolatile, p.proisstrict, p.proparallel, p.procost, p.prorows,
                  p.prosecdef, coalesce(p.proconfig::text, '-'), pg_get_function_result(p.oid), l.lanname,
                  md5(p.prosrc), coalesce(p.proacl::text, '-'), coalesce(obj_description(p.oid, 'pg_proc'), '-'))
      FROM pg_proc p JOIN members m ON m.classid = 'pg_proc'::regclass AND m.objid = p.oid JOIN pg_language l ON l.oid = p.prolang
    UNION ALL
    SELECT format('function %s arguments=%s', p.oid::regprocedure, pg_get_function_arguments(p.oid))
      FROM pg_proc p JOIN members m ON m.classid = 'pg_proc'::regclass AND m.objid = p.oid
    UNION ALL
    SELECT format('relation %s kind=%s rls=%s forcerls=%s acl=%s comment=%s', c.oid::regclass, c.relkind,
                  c.relrowsecurity, c.relforcerowsecurity, coalesce(c.relacl::text, '-'), coalesce(obj_description(c.oid, 'pg_class'), '-'))
      FROM rels c
    UNION ALL
    SELECT format('column %s.%s type=%s notnull=%s default=%s position=%s', a.attrelid::regclass, a.attname,
                  format_type(a.atttypid, a.atttypmod), a.attnotnull, coalesce(pg_get_expr(ad.adbin, ad.adrelid), '-'),
                  (SELECT count(*) FROM pg_attribute b WHERE b.attrelid = a.attrelid AND b.attnum > 0 AND NOT b.attisdropped AND b.attnum <= a.attnum))
      FROM rels c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
     WHERE c.relkind IN ('r', 'v', 'p')
    UNION ALL
    SELECT format('constraint %s.%s %s', co.conrelid::regclass, co.conname, pg_get_constraintdef(co.oid))
      FROM pg_constraint co JOIN rels c ON c.oid = co.conrelid
    UNION ALL
    SELECT format('index %s on %s', pg_get_indexdef(i.indexrelid), i.indrelid::regclass)
      FROM pg_index i JOIN rels c ON c.oid = i.indrelid
    UNION ALL
    SELECT format('view %s %s', c.oid::regclass, regexp_replace(pg_get_viewdef(c.oid), '\s+', ' ', 'g'))
      FROM rels c WHERE c.relkind = 'v'
    UNION ALL
    SELECT format('policy %s.%s cmd=%s roles=%s using=%s check=%s', po.polrelid::regclass, po.polname, po.polcmd,
                  po.polroles::regrole[], coalesce(pg_get_expr(po.polqual, po.polrelid), '-'), coalesce(pg_get_expr(po.polwithcheck, po.polrelid), '-'))
      FROM pg_policy po JOIN rels c ON c.oid = po.polrelid
    UNION ALL
    SELECT format('trigger %s', pg_get_triggerdef(t.oid)) FROM pg_trigger t JOIN rels c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal
    UNION ALL
    SELECT format('config-dump %s where=%s', cfg.rel::regclass, coalesce(nullif(cfg.cond, ''), '-'))
      FROM ext, unnest(ext.extconfig, ext.extcondition) AS cfg(rel, cond)
    UNION ALL
    SELECT format('role %s login=%s', rolname, rolcanlogin) FROM pg_roles WHERE rolname = 'embed_admin'
    UNION ALL
    SELECT format('member-count %s', count(*)) FROM members
) listing(line) ORDER BY line;
