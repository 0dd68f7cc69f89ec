-- Report queries (a site's own SQL) run as accesslog_report, a role that may read the
-- document tables (tab_…) and nothing else: no users, sessions, API keys, Access Log,
-- review or Merkle tables, and, not being a superuser, no file or network functions.
-- crates/store-postgres/src/reports.rs grants it SELECT on each document table before a
-- report runs, and runs the query inside accesslog_report_rows (below).
--
-- Roles belong to the whole cluster, and many databases may migrate at once: the role is
-- created only if missing, and a concurrent creation elsewhere is not an error. A database
-- user that may not create roles gets a clear error naming what the operator must run
-- (README, "Report queries run with least privilege").

DO $$
DECLARE
    r pg_roles%ROWTYPE;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'accesslog_report') THEN
        BEGIN
            CREATE ROLE accesslog_report NOLOGIN;
        EXCEPTION
            WHEN duplicate_object OR unique_violation THEN NULL;
            WHEN insufficient_privilege THEN
                RAISE EXCEPTION 'the role accesslog_report, which report queries run as, does not exist, and the database user % may not create it', current_user
                    USING HINT = format('As a superuser run: CREATE ROLE accesslog_report NOLOGIN; GRANT accesslog_report TO %I; then start again (README: "Report queries run with least privilege").', current_user);
        END;
    END IF;
    SELECT * INTO r FROM pg_roles WHERE rolname = 'accesslog_report';
    IF r.rolsuper OR r.rolbypassrls OR r.rolcreaterole OR r.rolcreatedb OR r.rolcanlogin THEN
        RAISE EXCEPTION 'the role accesslog_report must be a plain NOLOGIN role (no SUPERUSER, BYPASSRLS, CREATEROLE, CREATEDB or LOGIN): report queries run as it';
    END IF;
    IF EXISTS (SELECT FROM pg_auth_members m WHERE m.member = r.oid) THEN
        RAISE EXCEPTION 'the role accesslog_report must not be a member of other roles: report queries run as it';
    END IF;
    -- SET LOCAL ROLE needs membership (a superuser has it already).
    IF NOT pg_has_role(current_user, 'accesslog_report', 'MEMBER') THEN
        BEGIN
            EXECUTE format('GRANT accesslog_report TO %I', current_user);
        EXCEPTION
            WHEN unique_violation THEN NULL;
            WHEN insufficient_privilege THEN
                RAISE EXCEPTION 'the database user % is not a member of the role accesslog_report and may not make itself one', current_user
                    USING HINT = format('As a superuser run: GRANT accesslog_report TO %I; (README: "Report queries run with least privilege").', current_user);
        END;
    END IF;
    IF NOT has_schema_privilege('accesslog_report', current_schema(), 'USAGE') THEN
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO accesslog_report', current_schema());
    END IF;
END
$$;

-- A report's query runs inside this function. SET ROLE alone is no barrier against SQL
-- that calls set_config('role', 'none', true) and reads on as the connecting user; inside
-- a SECURITY DEFINER function PostgreSQL refuses to change role or session
-- authorization, so the query runs as the function's owner, accesslog_report, throughout.
-- `params` are the report's values ($1[1], $1[2], … in `query`), never part of its text.
CREATE FUNCTION accesslog_report_rows(query TEXT, params TEXT[]) RETURNS SETOF RECORD
LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    RETURN QUERY EXECUTE query USING params;
END
$$;

REVOKE ALL ON FUNCTION accesslog_report_rows(TEXT, TEXT[]) FROM PUBLIC;

-- The new owner must be allowed to create in the schema at the moment ownership changes;
-- it keeps no such right afterwards.
DO $$
DECLARE
    may_create BOOLEAN := has_schema_privilege('accesslog_report', current_schema(), 'CREATE');
BEGIN
    IF NOT may_create THEN
        EXECUTE format('GRANT CREATE ON SCHEMA %I TO accesslog_report', current_schema());
    END IF;
    ALTER FUNCTION accesslog_report_rows(TEXT, TEXT[]) OWNER TO accesslog_report;
    IF NOT may_create THEN
        EXECUTE format('REVOKE CREATE ON SCHEMA %I FROM accesslog_report', current_schema());
    END IF;
END
$$;
