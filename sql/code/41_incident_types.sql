-- Incident types V1 (read only: types are created with incidentctl).

create or replace function api.incident_type_list(p_org text) returns text
language sql stable
security definer set search_path = public, pg_temp
as $$
    select json_build_object(
        'incident_types', coalesce(json_agg(api.incident_type_json(t) order by t.id), '[]'::json))::text
    from incident_types t
    where t.organisation_id = p_org and t.archived_at is null
$$;

comment on function api.incident_type_list(text) is
    'IncidentTypesListResultV1: the live incident types, oldest first.';

create or replace function api.incident_type_show(p_org text, p_id text) returns text
language sql stable
security definer set search_path = public, pg_temp
as $$
    select coalesce(
        (select json_build_object('incident_type', api.incident_type_json(t))::text
         from incident_types t
         where t.organisation_id = p_org and t.id = p_id and t.archived_at is null),
        api.not_found('incident type'))
$$;

comment on function api.incident_type_show(text, text) is
    'IncidentTypesShowResultV1 of a live incident type, or IX404.';
