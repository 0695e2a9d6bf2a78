-- Incident timestamps V2 (read only: every organisation has the five
-- lifecycle timestamps of 15_lifecycle.sql; docs/CONFIG.md).

create or replace function api.incident_timestamp_list(p_org text) returns text
language sql stable
security definer set search_path = public, pg_temp
as $$
    select json_build_object(
        'incident_timestamps', coalesce(json_agg(api.incident_timestamp_json(t) order by t.rank, t.id), '[]'::json))::text
    from incident_timestamps t
    where t.organisation_id = p_org
$$;

comment on function api.incident_timestamp_list(text) is
    'IncidentTimestampsListResultV2: the organisation''s incident timestamps, by rank then id.';

create or replace function api.incident_timestamp_show(p_org text, p_id text) returns text
language sql stable
security definer set search_path = public, pg_temp
as $$
    select coalesce(
        (select json_build_object('incident_timestamp', api.incident_timestamp_json(t))::text
         from incident_timestamps t
         where t.organisation_id = p_org and t.id = p_id),
        api.not_found('incident timestamp'))
$$;

comment on function api.incident_timestamp_show(text, text) is
    'IncidentTimestampsShowResultV2 of one of the organisation''s incident timestamps, or IX404.';
