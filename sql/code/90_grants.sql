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

-- Revokes whatever p_role holds on p_owner's tables and views of schemas
-- api and public, and on p_owner's functions of p_function_schemas: a
-- role's grants are applied from nothing every time, whatever an earlier
-- version granted.
create or replace function incidentd_revoke_owned(p_owner regrole, p_role name,
                                                  p_function_schemas regnamespace[]) returns void
language plpgsql
set search_path = public, pg_temp
as $$
declare
    v_obj text;
begin
    for v_obj in
        select c.oid::regclass::text
        from pg_class c
        where c.relowner = p_owner
          and c.relnamespace in ('api'::regnamespace, 'public'::regnamespace)
          and c.relkind in ('r', 'p', 'v', 'm', 'f')
    loop
        execute format('revoke all on %s from %I', v_obj, p_role);
    end loop;
    for v_obj in
        select p.oid::regprocedure::text
        from pg_proc p
        where p.proowner = p_owner and p.pronamespace = any (p_function_schemas)
    loop
        execute format('revoke all on function %s from %I', v_obj, p_role);
    end loop;
end
$$;

comment on function incidentd_revoke_owned(regrole, name, regnamespace[]) is
    'Revokes a role''s privileges on the owner''s tables and views (schemas api and public) and functions (the schemas given). Called by incidentd_apply_grants and incidentd_apply_reporting_grants.';

-- The reporting roles (docs/REPORTING.md): the role recorded in
-- schema_roles with purpose 'reporting' (incidentd_reporting by default),
-- which sees every organisation, and the roles reporting_role_organisations
-- restricts to some. Each may read the views of schema reporting and
-- nothing else: whatever it holds on the owner's tables and functions of
-- schemas api and public is revoked, every time.
create or replace function incidentd_apply_reporting_grants(p_owner regrole) returns void
language plpgsql
set search_path = public, pg_temp
as $$
declare
    v_role name;
begin
    if to_regnamespace('reporting') is null then
        return; -- before migration 009
    end if;
    for v_role in
        execute case when to_regclass('schema_roles') is null
                     then 'select distinct m.role_name::name from reporting_role_organisations m'
                     else 'select s.role_name::name from schema_roles s where s.purpose = ''reporting'' '
                          'union select m.role_name from reporting_role_organisations m' end
    loop
        if not exists (select from pg_roles r where r.rolname = v_role) then
            raise exception 'the reporting role % does not exist', v_role
                using hint = 'run incidentctl roles setup, or incidentd_reporting_revoke it';
        end if;
        perform incidentd_revoke_owned(p_owner, v_role, array['api', 'public']::regnamespace[]);
        execute format('revoke all on schema api from %I', v_role);
        execute format('grant usage on schema reporting to %I', v_role);
        execute format('grant select on all tables in schema reporting to %I', v_role);
    end loop;
end
$$;

comment on function incidentd_apply_reporting_grants(regrole) is
    'Lets the reporting roles (schema_roles purpose reporting, reporting_role_organisations) read schema reporting and nothing else of the owner''s. Called by incidentd_apply_grants.';

-- Restricts role p_role to organisation p_org in schema reporting (one
-- more organisation if it has some already) and applies the grants. Run
-- by the owner. The role must exist, and must not be able to become a
-- role that sees more: not a superuser, not a member of the owner or of
-- the unrestricted reporting role.
create or replace function incidentd_reporting_grant(p_role text, p_org text) returns void
language plpgsql
set search_path = public, pg_temp
as $$
declare
    v_unrestricted name;
begin
    if not exists (select from pg_roles r where r.rolname = p_role) then
        raise exception 'role % does not exist', p_role using hint = 'CREATE ROLE ... LOGIN first';
    end if;
    if not exists (select from organisations o where o.id = p_org) then
        raise exception 'organisation % does not exist', p_org;
    end if;
    if to_regclass('schema_roles') is not null then
        execute 'select role_name from schema_roles where purpose = ''reporting''' into v_unrestricted;
    end if;
    if exists (select from pg_roles r where r.rolname = p_role and r.rolsuper)
       or pg_has_role(p_role, (select n.nspowner from pg_namespace n where n.nspname = 'api'), 'MEMBER')
       or (v_unrestricted is not null and pg_has_role(p_role, v_unrestricted, 'MEMBER'))
       or p_role = v_unrestricted then
        raise exception 'role % sees every organisation (a superuser, incidentd''s own role or a member of one): it cannot be restricted', p_role;
    end if;
    insert into reporting_role_organisations (role_name, organisation_id) values (p_role, p_org)
    on conflict do nothing;
    perform incidentd_apply_grants();
end
$$;

comment on function incidentd_reporting_grant(text, text) is
    'Lets role p_role read schema reporting, restricted to organisation p_org (and any granted before). docs/REPORTING.md.';

-- Takes organisation p_org from role p_role; with no organisation left,
-- the role loses schema reporting altogether (it would otherwise see
-- every organisation).
create or replace function incidentd_reporting_revoke(p_role text, p_org text) returns void
language plpgsql
set search_path = public, pg_temp
as $$
begin
    delete from reporting_role_organisations m where m.role_name = p_role and m.organisation_id = p_org;
    if not exists (select from reporting_role_organisations m where m.role_name = p_role)
       and exists (select from pg_roles r where r.rolname = p_role) then
        execute format('revoke all on all tables in schema reporting from %I', p_role);
        execute format('revoke all on schema reporting from %I', p_role);
    end if;
end
$$;

comment on function incidentd_reporting_revoke(text, text) is
    'Takes organisation p_org from reporting role p_role; a role left with none loses schema reporting. docs/REPORTING.md.';

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

    perform incidentd_apply_reporting_grants(v_owner);

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
    perform incidentd_revoke_owned(v_owner, v_app, array['public']::regnamespace[]);
    execute format('grant usage on schema api to %I', v_app);
    execute format('grant execute on all functions in schema api to %I', v_app);
    execute format('grant select on incidents, config_versions to %I', v_app);
end
$$;

comment on function incidentd_apply_grants() is
    'Sets the privileges of PUBLIC and of the runtime role recorded in schema_roles on the schema''s objects (sql/code/90_grants.sql). Run by migrate and incidentctl roles setup.';

select incidentd_apply_grants();
