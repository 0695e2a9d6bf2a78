-- The test oracle of the read path (docs/DESIGN.md, "Read path"): the
-- IncidentV1 renderer that ran in PostgreSQL until the worker assembled
-- incidents from stored frames, kept verbatim (schema renamed to oracle).
-- tests/e2e/test_render_oracle.py loads it into the test database and
-- compares, byte for byte, what the API answers with what this renders.
-- Never loaded into a real database.

create schema if not exists oracle;

-- Renders the incidents p_ids of organisation p_org as a JSON array in the
-- order of p_ids, in one statement. Ids that are not incidents of p_org are
-- skipped; visibility is the caller's business. Archived configuration rows
-- still render: an incident keeps showing what it had.
--
-- Set-based: role assignments and custom field values of all the incidents
-- are fetched and aggregated once (incident_id = any (p_ids)) and joined by
-- incident, and each custom field's definition and options are rendered
-- once per call; about twice as fast as per-incident lateral subqueries
-- for a page of 250.
--
-- plpgsql rather than SQL, and a forced generic plan, on purpose: planning
-- this query (with the helpers above inlined) costs several milliseconds,
-- more than running it. plpgsql keeps the plan for the session, and
-- force_generic_plan stops the plan cache from re-planning it on every call
-- because a one-element array looks cheaper to a custom plan.
create or replace function oracle.incidents_json(p_org text, p_ids text[]) returns json
language plpgsql stable
set plan_cache_mode = force_generic_plan
as $$
declare
    v_doc json;
begin
    with cfv as materialized (
        -- every custom field value of these incidents
        select v.*
        from incident_custom_field_values v
        where v.incident_id = any (p_ids) and v.organisation_id = p_org
    ), ra as (
        select a.incident_id,
               json_agg(json_build_object(
                   'assignee', api.user_json(u),
                   'role', api.incident_role_json(r)) order by a.position) as doc
        from incident_role_assignments a
        join incident_roles r on r.organisation_id = a.organisation_id and r.id = a.incident_role_id
        join users u on u.organisation_id = a.organisation_id and u.id = a.user_id
        where a.incident_id = any (p_ids) and a.organisation_id = p_org
        group by a.incident_id
    ), fields as materialized (
        -- CustomFieldTypeInfoV1 of each field an incident uses, with the
        -- options the field had when the incident was created: deleting
        -- (archiving) or adding an option later leaves past incidents
        -- rendering exactly as before.
        select u.incident_id, f.id,
               json_build_object(
                   'id', f.id,
                   'name', f.name,
                   'description', f.description,
                   'field_type', f.field_type,
                   'options', coalesce((
                       select json_agg(api.custom_field_option_json(fo) order by fo.sort_key, fo.value, fo.id)
                       from custom_field_options fo
                       where fo.organisation_id = f.organisation_id
                         and fo.custom_field_id = f.id
                         and fo.created_at <= u.created_at
                         and (fo.archived_at is null or fo.archived_at > u.created_at)), '[]'::json)) as doc
        from (select distinct cfv.incident_id, cfv.custom_field_id, i.created_at
              from cfv
              join incidents i on i.organisation_id = cfv.organisation_id and i.id = cfv.incident_id) u
        join custom_fields f on f.organisation_id = p_org and f.id = u.custom_field_id
    ), entries as (
        select v.incident_id, v.custom_field_id,
               min(v.entry_position) as entry_position,
               json_agg(case
                   when v.value_option_id is not null
                       then json_build_object('value_option', api.custom_field_option_json(o))
                   when v.value_text is not null
                       then json_build_object('value_text', v.value_text)
                   when v.value_link is not null
                       then json_build_object('value_link', v.value_link)
                   else json_build_object('value_numeric', v.value_numeric::text)
               end order by v.value_position) as vals
        from cfv v
        left join custom_field_options o
          on o.organisation_id = v.organisation_id
         and o.custom_field_id = v.custom_field_id
         and o.id = v.value_option_id
        group by v.incident_id, v.custom_field_id
    ), cf as (
        select e.incident_id,
               json_agg(json_build_object('custom_field', fields.doc, 'values', e.vals)
                        order by e.entry_position) as doc
        from entries e
        join fields on fields.incident_id = e.incident_id and fields.id = e.custom_field_id
        group by e.incident_id
    )
    select coalesce(json_agg(x.doc order by x.ord), '[]'::json) into v_doc
    from (
        select t.ord,
               -- strip: omits the optional fields that are null (summary,
               -- severity, incident_type, permalink)
               json_strip_nulls(json_build_object(
                   'id', i.id,
                   'reference', 'INC-' || i.reference_number,
                   'name', i.name,
                   'summary', i.summary,
                   'status', i.status,
                   'visibility', i.visibility,
                   'mode', i.mode,
                   'creator', json_build_object(
                       'api_key', json_build_object('id', k.id, 'name', k.name)),
                   'severity', case when s.id is not null then api.severity_json(s) end,
                   'incident_type', case when ty.id is not null then api.incident_type_json(ty) end,
                   'incident_role_assignments', coalesce(ra.doc, '[]'::json),
                   'custom_field_entries', coalesce(cf.doc, '[]'::json),
                   'slack_team_id', i.slack_team_id,
                   'slack_channel_id', i.slack_channel_id,
                   -- computed for rows loaded by hand without one
                   'slack_channel_name', coalesce(nullif(i.slack_channel_name, ''),
                                                  api.slack_channel_name(i.reference_number, i.name)),
                   'permalink', nullif(rtrim(current_setting('incidentd.public_url', true), '/'), '')
                                || '/incidents/' || i.reference_number,
                   'timestamps', json_build_array(json_build_object(
                       'name', 'last_activity',
                       'last_occurred_at', api.ts(i.updated_at))),
                   'created_at', api.ts(i.created_at),
                   'updated_at', api.ts(i.updated_at))) as doc
        from unnest(p_ids) with ordinality as t(id, ord)
        join incidents i
          on i.organisation_id = p_org and i.id = t.id
        join api_keys k
          on k.organisation_id = i.organisation_id and k.id = i.creator_api_key_id
        left join severities s
          on s.organisation_id = i.organisation_id and s.id = i.severity_id
        left join incident_types ty
          on ty.organisation_id = i.organisation_id and ty.id = i.incident_type_id
        left join ra on ra.incident_id = i.id
        left join cf on cf.incident_id = i.id
    ) x;
    return v_doc;
end
$$;

comment on function oracle.incidents_json(text, text[]) is
    'IncidentV1 JSON of the given incidents of one organisation, as an array in the order given.';

-- One incident as IncidentV1 JSON; null if it is not an incident of p_org.
create or replace function oracle.incident_json(p_org text, p_id text) returns json
language sql stable
as $$
    select oracle.incidents_json(p_org, array[p_id]) -> 0
$$;

comment on function oracle.incident_json(text, text) is
    'IncidentV1 JSON of one incident of the organisation (null if none). Used by incident_create, incident_show and, through incidents_json, incident_list.';

-- ---------------------------------------------------------------------------
-- The old api functions' bodies, from what the api functions answer now
-- (ids and frames) rendered by the oracle: what tests/sql/smoke.sql checks.
-- ---------------------------------------------------------------------------

create or replace function oracle.body(p_org text, p_id text) returns text
language sql stable
as $$
    select json_build_object('incident', oracle.incident_json(p_org, p_id))::text
$$;

-- No row from api.incident_show is the worker's 404.
create or replace function oracle.incident_show(p_org text, p_id text, p_can_see_private boolean)
returns text
language plpgsql stable
as $$
begin
    if not exists (select from api.incident_show(p_org, p_id, p_can_see_private)) then
        perform api.fail('IX404', 'id', 'not_found', 'No incident with this id was found');
    end if;
    return oracle.body(p_org, p_id);
end
$$;

create or replace function oracle.incident_replay(p_org text, p_key text) returns text
language sql stable
as $$
    select oracle.body(p_org, r.id) from api.incident_replay(p_org, p_key) r
$$;

-- plpgsql, so that the rendering runs after the create, on a snapshot that
-- sees it.
create or replace function oracle.incident_create_by_key(p_org text, p_api_key_id text, p_id text,
                                                         p_key text, p_payload text)
returns table (replayed boolean, body text)
language plpgsql volatile
as $$
declare
    v_replayed boolean;
    v_id       text;
begin
    select c.replayed, c.id into v_replayed, v_id
    from api.incident_create_by_key(p_org, p_api_key_id, p_id, p_key, p_payload) c;
    return query select v_replayed, oracle.body(p_org, v_id);
end
$$;

create or replace function oracle.incident_create(p_org text, p_api_key_id text, p_id text, p_payload jsonb)
returns table (replayed boolean, body text)
language sql volatile
as $$
    select * from oracle.incident_create_by_key(p_org, p_api_key_id, p_id,
                                                p_payload ->> 'idempotency_key', p_payload::text)
$$;

-- The worker's list: api.incident_page_by_status when statuses are given
-- (api.incident_page otherwise); a cursor that is not found is its 422.
create or replace function oracle.incident_list(p_org text, p_can_see_private boolean, p_statuses text[],
                                                p_after text, p_page_size integer) returns text
language plpgsql stable
as $$
declare
    v_size     integer := least(greatest(coalesce(p_page_size, 25), 1), 250);
    v_total    bigint;
    v_after_ok boolean;
    v_ids      text[];
    v_more     boolean;
begin
    if coalesce(cardinality(array_remove(p_statuses, null)), 0) = 0 then
        select max(p.total), bool_and(p.after_ok),
               coalesce(array_agg(p.id order by p.ord) filter (where p.id is not null), '{}')
        into v_total, v_after_ok, v_ids
        from api.incident_page(p_org, p_can_see_private, p_after, p_page_size)
             with ordinality as p(id, frame, total, config_version, after_ok, ord);
    else
        select max(p.total), bool_and(p.after_ok),
               coalesce(array_agg(p.id order by p.ord) filter (where p.id is not null), '{}')
        into v_total, v_after_ok, v_ids
        from api.incident_page_by_status(p_org, p_can_see_private, p_statuses, p_after, p_page_size)
             with ordinality as p(id, frame, total, config_version, after_ok, ord);
    end if;
    if not v_after_ok then
        perform api.fail('IX422', 'after', 'invalid_value',
                         'after must be the id of an incident from the previous page');
    end if;
    v_more := cardinality(v_ids) > v_size;
    if v_more then
        v_ids := v_ids[1:v_size];
    end if;
    return json_build_object(
        'incidents', oracle.incidents_json(p_org, v_ids),
        'pagination_meta', json_strip_nulls(json_build_object(
            'page_size', v_size,
            'total_record_count', v_total,
            'after', case when v_more then v_ids[v_size] end))
    )::text;
end
$$;
