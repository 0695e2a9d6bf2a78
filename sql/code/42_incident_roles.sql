-- Incident roles V2 (docs/CONFIG.md; rules in 40_severities.sql).

create or replace function api.incident_role_list(p_org text) returns text
language sql stable
security definer set search_path = public, pg_temp
as $$
    select json_build_object(
        'incident_roles', coalesce(json_agg(api.incident_role_v2_json(r) order by r.id), '[]'::json))::text
    from incident_roles r
    where r.organisation_id = p_org and r.archived_at is null
$$;

comment on function api.incident_role_list(text) is
    'IncidentRolesListResultV2: the live incident roles, oldest first.';

create or replace function api.incident_role_show(p_org text, p_id text) returns text
language sql stable
security definer set search_path = public, pg_temp
as $$
    select coalesce(
        (select json_build_object('incident_role', api.incident_role_v2_json(r))::text
         from incident_roles r
         where r.organisation_id = p_org and r.id = p_id and r.archived_at is null),
        api.not_found('incident role'))
$$;

comment on function api.incident_role_show(text, text) is
    'IncidentRolesShowResultV2 of a live incident role, or IX404.';

-- Roles created through the API are custom roles, never required.
create or replace function api.incident_role_create(p_org text, p_id text, p_payload jsonb) returns text
language plpgsql volatile
security definer set search_path = public, pg_temp
as $$
declare
    v          incident_roles;
    v_conflict text;
    v_message  text;
begin
    select r.* into v from incident_roles r where r.organisation_id = p_org and r.id = p_id;
    if found then
        return json_build_object('incident_role', api.incident_role_v2_json(v))::text;
    end if;
    begin
        insert into incident_roles as r (id, organisation_id, name, description, instructions,
                                         shortform, role_type, required)
        values (p_id, p_org, api.required_text(p_payload, 'name', 255),
                api.required_text(p_payload, 'description', 10000),
                coalesce(p_payload ->> 'instructions', ''),
                coalesce(p_payload ->> 'shortform', ''), 'custom', false)
        returning r.* into v;
    exception when unique_violation then
        get stacked diagnostics v_conflict = constraint_name, v_message = message_text;
        perform api.fail_duplicate(v_conflict, v_message);
    end;
    return json_build_object('incident_role', api.incident_role_v2_json(v))::text;
end
$$;

comment on function api.incident_role_create(text, text, jsonb) is
    'Creates custom incident role p_id from an IncidentRolesCreatePayloadV2: IncidentRolesCreateResultV2. IX422 on name for a duplicate live name.';

-- A PUT of the four editable fields; role_type and required never change.
create or replace function api.incident_role_update(p_org text, p_id text, p_payload jsonb) returns text
language plpgsql volatile
security definer set search_path = public, pg_temp
as $$
declare
    v          incident_roles;
    v_conflict text;
    v_message  text;
begin
    begin
        update incident_roles r
        set name = api.required_text(p_payload, 'name', 255),
            description = api.required_text(p_payload, 'description', 10000),
            instructions = coalesce(p_payload ->> 'instructions', ''),
            shortform = coalesce(p_payload ->> 'shortform', ''),
            updated_at = now()
        where r.organisation_id = p_org and r.id = p_id and r.archived_at is null
        returning r.* into v;
    exception when unique_violation then
        get stacked diagnostics v_conflict = constraint_name, v_message = message_text;
        perform api.fail_duplicate(v_conflict, v_message);
    end;
    if v.id is null then
        perform api.not_found('incident role');
    end if;
    return json_build_object('incident_role', api.incident_role_v2_json(v))::text;
end
$$;

comment on function api.incident_role_update(text, text, jsonb) is
    'Updates a live incident role from an IncidentRolesUpdatePayloadV2: IncidentRolesUpdateResultV2, or IX404.';

-- Archives any live role but the organisation's lead role (IX422 on id).
create or replace function api.incident_role_delete(p_org text, p_id text) returns void
language plpgsql volatile
security definer set search_path = public, pg_temp
as $$
begin
    update incident_roles r
    set archived_at = now()
    where r.organisation_id = p_org and r.id = p_id and r.archived_at is null
      and r.role_type <> 'lead';
    if found then
        return;
    end if;
    perform 1
    from incident_roles r
    where r.organisation_id = p_org and r.id = p_id and r.archived_at is null;
    if found then
        perform api.fail('IX422', 'id', 'invalid_value', 'The incident lead role cannot be deleted');
    end if;
    perform api.not_found('incident role');
end
$$;

comment on function api.incident_role_delete(text, text) is
    'Archives a live incident role; IX422 for the lead role, IX404 for an unknown id.';
