-- Renderers of configuration objects, shared by the incident renderer and
-- the configuration endpoints. Each takes a table row and returns json (not
-- jsonb: json_build_object only concatenates text, and nested json values
-- are embedded without being re-parsed, which made rendering several times
-- cheaper). They are single-expression SQL functions declared STABLE (as
-- json_build_object is), so the planner inlines them into the caller's
-- query; declared IMMUTABLE they would not be inlined.

-- SeverityV1 / SeverityV2
create or replace function api.severity_json(s severities) returns json
language sql stable
as $$
    select json_build_object(
        'id', (s).id,
        'name', (s).name,
        'description', (s).description,
        'rank', (s).rank,
        'created_at', api.ts((s).created_at),
        'updated_at', api.ts((s).updated_at))
$$;

comment on function api.severity_json(severities) is 'SeverityV1/V2 JSON of a severity row.';

-- IncidentTypeV1 / IncidentTypeV2
create or replace function api.incident_type_json(t incident_types) returns json
language sql stable
as $$
    select json_build_object(
        'id', (t).id,
        'name', (t).name,
        'description', (t).description,
        'is_default', (t).is_default,
        'private_incidents_only', (t).private_incidents_only,
        'create_in_triage', (t).create_in_triage,
        'created_at', api.ts((t).created_at),
        'updated_at', api.ts((t).updated_at))
$$;

comment on function api.incident_type_json(incident_types) is 'IncidentTypeV1/V2 JSON of an incident type row.';

-- IncidentRoleV1 (IncidentRoleV2 is the same without "required")
create or replace function api.incident_role_json(r incident_roles) returns json
language sql stable
as $$
    select json_build_object(
        'id', (r).id,
        'name', (r).name,
        'description', (r).description,
        'instructions', (r).instructions,
        'shortform', (r).shortform,
        'role_type', (r).role_type,
        'required', (r).required,
        'created_at', api.ts((r).created_at),
        'updated_at', api.ts((r).updated_at))
$$;

comment on function api.incident_role_json(incident_roles) is 'IncidentRoleV1 JSON of an incident role row (V2: the same without required).';

-- IncidentRoleV2: IncidentRoleV1 without "required" (config reads only, so
-- the jsonb round trip costs nothing that matters).
create or replace function api.incident_role_v2_json(r incident_roles) returns json
language sql stable
as $$
    select (api.incident_role_json(r)::jsonb - 'required')::json
$$;

-- UserV1 (email and slack_user_id omitted when unset)
create or replace function api.user_json(u users) returns json
language sql stable
as $$
    select json_strip_nulls(json_build_object(
        'id', (u).id,
        'name', (u).name,
        'email', (u).email,
        'slack_user_id', (u).slack_user_id,
        'role', (u).role))
$$;

comment on function api.user_json(users) is 'UserV1 JSON of a user row.';

-- RBACRoleV2 of a users.role value: one fixed role per value, with a
-- stable id (docs/CONFIG.md).
create or replace function api.base_role_json(p_role text) returns json
language sql stable
as $$
    select json_build_object('id', b.id, 'name', b.name, 'slug', b.slug)
    from (values
        ('viewer', '00000000000000000000000001', 'Viewer'),
        ('responder', '00000000000000000000000002', 'Responder'),
        ('administrator', '00000000000000000000000003', 'Administrator'),
        ('owner', '00000000000000000000000004', 'Owner'),
        ('unset', '00000000000000000000000005', 'Unset')
    ) as b(slug, id, name)
    where b.slug = p_role
$$;

-- UserWithRolesV2. Seats follow the base role: viewers get a viewer-only
-- response seat, unset users none, everyone else a full one; there is no
-- on-call product, so no on-call seat.
create or replace function api.user_with_roles_json(u users) returns json
language sql stable
as $$
    select json_strip_nulls(json_build_object(
        'id', (u).id,
        'name', (u).name,
        'email', (u).email,
        'slack_user_id', (u).slack_user_id,
        'role', (u).role,
        'base_role', api.base_role_json((u).role),
        'custom_roles', '[]'::json,
        'seats', json_build_object(
            'on_call', 'none',
            'response', case (u).role
                            when 'viewer' then 'viewer_only'
                            when 'unset' then 'none'
                            else 'full_access'
                        end),
        'is_active', (u).is_active))
$$;

-- CustomFieldOptionV1 / CustomFieldOptionV2
create or replace function api.custom_field_option_json(o custom_field_options) returns json
language sql stable
as $$
    select json_build_object(
        'id', (o).id,
        'custom_field_id', (o).custom_field_id,
        'value', (o).value,
        'sort_key', (o).sort_key)
$$;

comment on function api.custom_field_option_json(custom_field_options) is 'CustomFieldOptionV1/V2 JSON of an option row.';

-- The live options of a custom field, in display order.
create or replace function api.custom_field_options_json(p_org text, p_custom_field_id text) returns json
language sql stable
as $$
    select coalesce(json_agg(api.custom_field_option_json(o) order by o.sort_key, o.value, o.id), '[]'::json)
    from custom_field_options o
    where o.organisation_id = p_org
      and o.custom_field_id = p_custom_field_id
      and o.archived_at is null
$$;

comment on function api.custom_field_options_json(text, text) is 'JSON array of the live options of a custom field, in display order.';

-- CustomFieldTypeInfoV1: the field with its live options.
create or replace function api.custom_field_type_info_json(f custom_fields) returns json
language sql stable
as $$
    select json_build_object(
        'id', (f).id,
        'name', (f).name,
        'description', (f).description,
        'field_type', (f).field_type,
        'options', api.custom_field_options_json((f).organisation_id, (f).id))
$$;

comment on function api.custom_field_type_info_json(custom_fields) is 'CustomFieldTypeInfoV1 JSON of a custom field row, with its live options.';

-- CustomFieldV2 (the catalog attributes are omitted: there is no catalog)
create or replace function api.custom_field_json(f custom_fields) returns json
language sql stable
as $$
    select json_build_object(
        'id', (f).id,
        'name', (f).name,
        'description', (f).description,
        'field_type', (f).field_type,
        'created_at', api.ts((f).created_at),
        'updated_at', api.ts((f).updated_at))
$$;

-- IncidentStatusV1 / IncidentStatusV2
create or replace function api.incident_status_json(s incident_statuses) returns json
language sql stable
as $$
    select json_build_object(
        'id', (s).id,
        'name', (s).name,
        'description', (s).description,
        'rank', (s).rank,
        'category', (s).category,
        'created_at', api.ts((s).created_at),
        'updated_at', api.ts((s).updated_at))
$$;

comment on function api.incident_status_json(incident_statuses) is 'IncidentStatusV1/V2 JSON of a status row.';

-- IncidentTimestampV2
create or replace function api.incident_timestamp_json(t incident_timestamps) returns json
language sql stable
as $$
    select json_build_object('id', (t).id, 'name', (t).name, 'rank', (t).rank)
$$;

comment on function api.incident_timestamp_json(incident_timestamps) is 'IncidentTimestampV2 JSON of a timestamp row.';
