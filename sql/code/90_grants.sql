-- Privileges: who may call and read what (docs/SCHEMA.md, "Roles and
-- privileges"). Applied with the rest of the code by every migrate, and by
-- incidentctl roles setup, so a function added later is covered by the
-- next migrate.
--
-- The roles:
--   owner    owns schema api and every table and function, runs migrate
--            and incidentctl's other commands (incidentd_owner by default)
--   runtime  incidentd's workers: the role recorded in schema_roles with
--            purpose 'app' by incidentctl roles setup (incidentd_app by
--            default); LOGIN, no superuser, CREATEDB, CREATEROLE or
--            membership of the owner
--
-- What the runtime role may do, and nothing else:
--   * call the functions of schema api. The ones the worker calls run as
--     the owner (SECURITY DEFINER, search_path fixed to public, pg_temp),
--     with the triggers their writes fire, except the reads PostgreSQL
--     inlines into the worker's statement: api.incident_show,
--     api.incident_replay, api.incident_show_v2 (by id or number) and the
--     api.config_version they use.
--     A SECURITY DEFINER function is never inlined, and inlined a show
--     costs a third of a called one (docs/DESIGN.md, "Read path");
--   * read the two tables those inlined reads read: incidents and
--     config_versions.
-- No other table: api_keys (and its token_sha256) only through
-- api.authenticate, and no INSERT, UPDATE, DELETE or TRUNCATE anywhere.
-- The helpers the entry points call stay SECURITY INVOKER (a SECURITY
-- DEFINER helper would not be inlined into its callers either): the
-- runtime role may call them, with its own rights.
--
-- Nobody else (PUBLIC) may call any function of the schema.

create or replace function incidentd_apply_grants() returns void
language plpgsql
set search_path = public, pg_temp
as $$
declare
    -- The owner: of schema api, and of whatever of schemas api and public
    -- these statements touch (objects of others, an extension's or a
    -- report's, are left alone).
    v_owner regrole := (select n.nspowner from pg_namespace n where n.nspname = 'api');
    v_app   name;
    v_obj   text;
begin
    -- A SECURITY DEFINER function that looked names up in the caller's
    -- search_path would run the caller's objects with the owner's rights.
    for v_obj in
        select p.oid::regprocedure::text
        from pg_proc p
        where p.proowner = v_owner
          and p.pronamespace in ('api'::regnamespace, 'public'::regnamespace)
          and p.prosecdef
          and not exists (select from unnest(p.proconfig) c where c like 'search_path=%')
    loop
        raise exception 'security definer function % has no fixed search_path', v_obj;
    end loop;

    -- PostgreSQL lets PUBLIC execute every new function: not here. The
    -- default covers functions the owner creates before this runs again.
    execute format('alter default privileges for role %s revoke execute on functions from public',
                   v_owner);
    for v_obj in
        select p.oid::regprocedure::text
        from pg_proc p
        where p.proowner = v_owner
          and p.pronamespace in ('api'::regnamespace, 'public'::regnamespace)
    loop
        execute format('revoke all on function %s from public', v_obj);
    end loop;

    if to_regclass('schema_roles') is not null then
        execute 'select role_name from schema_roles where purpose = ''app''' into v_app;
    end if;
    if v_app is null then
        return; -- no runtime role recorded (incidentctl roles setup): owner only
    end if;
    if not exists (select from pg_roles r where r.rolname = v_app) then
        raise exception 'the runtime role % recorded in schema_roles does not exist', v_app
            using hint = 'run incidentctl roles setup';
    end if;

    -- Exactly the privileges above, whatever an earlier version granted.
    for v_obj in
        select c.oid::regclass::text
        from pg_class c
        where c.relowner = v_owner
          and c.relnamespace in ('api'::regnamespace, 'public'::regnamespace)
          and c.relkind in ('r', 'p', 'v', 'm', 'f')
    loop
        execute format('revoke all on %s from %I', v_obj, v_app);
    end loop;
    for v_obj in
        select p.oid::regprocedure::text
        from pg_proc p
        where p.proowner = v_owner and p.pronamespace = 'public'::regnamespace
    loop
        execute format('revoke all on function %s from %I', v_obj, v_app);
    end loop;
    execute format('grant usage on schema api to %I', v_app);
    execute format('grant execute on all functions in schema api to %I', v_app);
    execute format('grant select on incidents, config_versions to %I', v_app);
end
$$;

comment on function incidentd_apply_grants() is
    'Sets the privileges of PUBLIC and of the runtime role recorded in schema_roles on the schema''s objects (sql/code/90_grants.sql). Run by migrate and incidentctl roles setup.';

select incidentd_apply_grants();
