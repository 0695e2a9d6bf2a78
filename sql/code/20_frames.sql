-- Frames: the incident's own part of its IncidentV1 rendering, built when
-- the incident is written and stored in incidents.frame. The worker
-- answers a read by filling a frame in with configuration objects from its
-- cache (docs/DESIGN.md, "Read path"), so PostgreSQL only looks rows up.
--
-- A frame is IncidentV1's JSON text in which each configuration object is
-- left out and named by a reference instead: byte 0x01, a tag letter, a
-- payload, byte 0x02. The text between references is final, escaped by
-- PostgreSQL's to_json exactly as the renderer before frames
-- (tests/sql/oracle.sql) escaped it, so it never holds a byte below 0x20.
--   K<api key id>            creator: {"api_key":{"id":…,"name":…}}
--   S<severity id>           SeverityV1
--   T<incident type id>      IncidentTypeV1
--   U<user id>               UserV1, an assignee
--   R<incident role id>      IncidentRoleV1
--   F<field id>:<µs>         CustomFieldTypeInfoV1 with the options that were
--                            live at <µs>, the incident's created_at in
--                            microseconds since 1970
--   O<option id>             CustomFieldOptionV1, a value
--   A<status id>             IncidentStatusV2 (V2 frames and updates)
--   M<timestamp id>          IncidentTimestampV2 (V2 frames)
--   P<reference number>      ,"permalink":"<public URL>/incidents/<n>", or
--                            nothing when the worker has no public URL
-- api.config_objects answers the worker's questions about those objects.

-- These helpers are STABLE, not IMMUTABLE, although they are pure: to_json
-- and || of a number are STABLE, and PostgreSQL inlines a SQL function only
-- if its body is no more volatile than the function says. Inlined, a
-- create's frame costs some 40 us; called, 150 us more.
create or replace function api.frame_ref(p_tag text, p_payload text) returns text
language sql stable
as $$
    select E'\x01' || p_tag || p_payload || E'\x02'
$$;

create or replace function api.epoch_us(p_at timestamptz) returns bigint
language sql stable
as $$
    select (extract(epoch from p_at) * 1000000)::bigint
$$;

-- One element of incident_role_assignments.
create or replace function api.assignment_frame(p_role_id text, p_user_id text) returns text
language sql stable
as $$
    select '{"assignee":' || api.frame_ref('U', p_user_id) || ',"role":' || api.frame_ref('R', p_role_id) || '}'
$$;

-- One element of a custom field entry's values: exactly one argument is
-- not null (the CHECK of incident_custom_field_values).
create or replace function api.value_frame(p_option_id text, p_text text, p_link text, p_numeric numeric)
returns text
language sql stable
as $$
    select case
        when p_option_id is not null then '{"value_option":' || api.frame_ref('O', p_option_id) || '}'
        when p_text is not null then '{"value_text":' || to_json(p_text)::text || '}'
        when p_link is not null then '{"value_link":' || to_json(p_link)::text || '}'
        else '{"value_numeric":' || to_json(p_numeric::text)::text || '}'
    end
$$;

-- One element of custom_field_entries: p_values is its values' frames,
-- comma-separated.
create or replace function api.entry_frame(p_field_id text, p_incident_created_at timestamptz,
                                           p_values text) returns text
language sql stable
as $$
    select '{"custom_field":' || api.frame_ref('F', p_field_id || ':' || api.epoch_us(p_incident_created_at))
        || ',"values":[' || p_values || ']}'
$$;

-- The frame of incident i, given its role assignments' and custom field
-- entries' frames (comma-separated, in order; null for none). Optional
-- fields that are null are left out, as the API leaves them out.
create or replace function api.incident_frame(i incidents, p_assignments text, p_entries text)
returns text
language sql stable
as $$
    select '{"id":' || to_json((i).id)::text
        || ',"reference":"INC-' || (i).reference_number || '"'
        || ',"name":' || to_json((i).name)::text
        || coalesce(',"summary":' || to_json((i).summary)::text, '')
        || ',"status":' || to_json((i).status)::text
        || ',"visibility":' || to_json((i).visibility)::text
        || ',"mode":' || to_json((i).mode)::text
        || ',"creator":' || api.frame_ref('K', (i).creator_api_key_id)
        || coalesce(',"severity":' || api.frame_ref('S', (i).severity_id), '')
        || coalesce(',"incident_type":' || api.frame_ref('T', (i).incident_type_id), '')
        || ',"incident_role_assignments":[' || coalesce(p_assignments, '') || ']'
        || ',"custom_field_entries":[' || coalesce(p_entries, '') || ']'
        || ',"slack_team_id":' || to_json((i).slack_team_id)::text
        || ',"slack_channel_id":' || to_json((i).slack_channel_id)::text
        -- computed for rows loaded by hand without one
        || ',"slack_channel_name":' || to_json(coalesce(nullif((i).slack_channel_name, ''),
                                                        api.slack_channel_name((i).reference_number, (i).name)))::text
        || api.frame_ref('P', (i).reference_number::text)
        || ',"timestamps":[{"name":"last_activity","last_occurred_at":"' || api.ts((i).updated_at) || '"}]'
        || ',"created_at":"' || api.ts((i).created_at) || '"'
        || ',"updated_at":"' || api.ts((i).updated_at) || '"}'
$$;

-- The frames of incident i's role assignments and custom field entries
-- (comma-separated, in order; null for none), given one array element per
-- row of incident_role_assignments and of incident_custom_field_values, in
-- any order (the positions order them). What both renderings share: the
-- writers call it with the values they validated, api.incident_parts_of
-- with the rows.
create or replace function api.incident_parts_from(
    i incidents,
    p_ra_role text[], p_ra_user text[], p_ra_pos integer[],
    p_cf_field text[], p_cf_entry integer[], p_cf_pos integer[],
    p_cf_option text[], p_cf_text text[], p_cf_link text[], p_cf_num numeric[])
returns table (assignments text, entries text)
language sql stable
as $$
    select (select string_agg(api.assignment_frame(a.role_id, a.user_id), ',' order by a.pos)
            from unnest(p_ra_role, p_ra_user, p_ra_pos) as a(role_id, user_id, pos)),
           (select string_agg(api.entry_frame(e.field_id, (i).created_at, e.vals), ',' order by e.entry_pos)
            from (select v.field_id, min(v.entry_pos) as entry_pos,
                         string_agg(api.value_frame(v.option_id, v.txt, v.link, v.num), ',' order by v.value_pos) as vals
                  from unnest(p_cf_field, p_cf_entry, p_cf_pos, p_cf_option, p_cf_text, p_cf_link, p_cf_num)
                       as v(field_id, entry_pos, value_pos, option_id, txt, link, num)
                  group by v.field_id) e)
$$;

-- The same from incident i's rows.
create or replace function api.incident_parts_of(i incidents) returns table (assignments text, entries text)
language sql stable
as $$
    select p.assignments, p.entries
    from (select array_agg(x.incident_role_id), array_agg(x.user_id), array_agg(x.position)
          from incident_role_assignments x
          where x.incident_id = (i).id) as a(role_ids, user_ids, positions),
         (select array_agg(x.custom_field_id), array_agg(x.entry_position), array_agg(x.value_position),
                 array_agg(x.value_option_id), array_agg(x.value_text), array_agg(x.value_link),
                 array_agg(x.value_numeric)
          from incident_custom_field_values x
          where x.incident_id = (i).id) as v(field_ids, entries, positions, options, texts, links, nums),
         api.incident_parts_from(i, a.role_ids, a.user_ids, a.positions,
                                 v.field_ids, v.entries, v.positions, v.options, v.texts, v.links, v.nums) p
$$;

-- IncidentV2's incident_timestamp_values of incident i: every timestamp of
-- its organisation, by rank, with its value when set. PL/pgSQL for the
-- reason api.incident_status_id_of is (0.13 ms of planning per create).
create or replace function api.timestamp_values_frame(i incidents) returns text
language plpgsql stable
as $$
begin
    return (select string_agg('{"incident_timestamp":' || api.frame_ref('M', t.id)
                              || coalesce(',"value":{"value":"' || api.ts(case t.lifecycle
                                     when 'reported' then coalesce(i.reported_at, i.created_at)
                                     when 'accepted' then i.accepted_at
                                     when 'resolved' then i.resolved_at
                                     when 'closed' then i.closed_at
                                     else i.declined_at end) || '"}', '')
                              || '}', ',' order by t.rank, t.id)
            from incident_timestamps t
            where t.organisation_id = i.organisation_id);
end
$$;

-- The Incidents V2 frame of incident i, given the frames of its role
-- assignments and custom field entries: IncidentV2 with the objects V1
-- shares (same schemas) named by the same references, and two more: A,
-- the incident's status, and M, a lifecycle timestamp. duration_metrics
-- is left out, as the contract allows.
create or replace function api.incident_frame_v2(i incidents, p_assignments text, p_entries text)
returns text
language sql stable
as $$
    select '{"id":' || to_json((i).id)::text
        || ',"reference":"INC-' || (i).reference_number || '"'
        || ',"name":' || to_json((i).name)::text
        || coalesce(',"summary":' || to_json((i).summary)::text, '')
        || ',"incident_status":' || api.frame_ref('A', api.incident_status_id_of(i))
        || ',"visibility":' || to_json((i).visibility)::text
        || ',"mode":"' || api.mode_v2(i) || '"'
        || ',"creator":' || api.frame_ref('K', (i).creator_api_key_id)
        || coalesce(',"severity":' || api.frame_ref('S', (i).severity_id), '')
        || coalesce(',"incident_type":' || api.frame_ref('T', (i).incident_type_id), '')
        || ',"incident_role_assignments":[' || coalesce(p_assignments, '') || ']'
        || ',"custom_field_entries":[' || coalesce(p_entries, '') || ']'
        || ',"incident_timestamp_values":[' || coalesce(api.timestamp_values_frame(i), '') || ']'
        || ',"slack_team_id":' || to_json((i).slack_team_id)::text
        || ',"slack_channel_id":' || to_json((i).slack_channel_id)::text
        || ',"slack_channel_name":' || to_json(coalesce(nullif((i).slack_channel_name, ''),
                                                        api.slack_channel_name((i).reference_number, (i).name)))::text
        || coalesce(',"call_url":' || to_json((i).call_url)::text, '')
        || coalesce(',"postmortem_document_url":' || to_json((i).postmortem_document_url)::text, '')
        || api.frame_ref('P', (i).reference_number::text)
        || ',"created_at":"' || api.ts((i).created_at) || '"'
        || ',"updated_at":"' || api.ts((i).updated_at) || '"}'
$$;

-- The frames of incident i from its rows: what reads use while a frame
-- column is NULL, and what incidentd_fill_frames stores.
create or replace function api.incident_frame_of(i incidents) returns text
language sql stable
security definer set search_path = public, pg_temp
as $$
    select api.incident_frame(i, p.assignments, p.entries) from api.incident_parts_of(i) p
$$;

create or replace function api.incident_frame_v2_of(i incidents) returns text
language sql stable
security definer set search_path = public, pg_temp
as $$
    select api.incident_frame_v2(i, p.assignments, p.entries) from api.incident_parts_of(i) p
$$;

-- An incident update's frame: IncidentUpdateV2 with its status, severity
-- and updater by reference.
create or replace function api.incident_update_frame(u incident_updates) returns text
language sql stable
as $$
    select '{"id":' || to_json((u).id)::text
        || ',"incident_id":' || to_json((u).incident_id)::text
        || coalesce(',"message":' || to_json((u).message)::text, '')
        || ',"new_incident_status":' || api.frame_ref('A', (u).new_incident_status_id)
        || coalesce(',"new_severity":' || api.frame_ref('S', (u).new_severity_id), '')
        || ',"updater":' || api.frame_ref('K', (u).updater_api_key_id)
        || ',"created_at":"' || api.ts((u).created_at) || '"}'
$$;

comment on function api.incident_frame(incidents, text, text) is
    'The frame of an incident (the header of sql/code/20_frames.sql says what a frame is), given its role assignments'' and custom field entries'' frames.';
comment on function api.incident_parts_from(incidents, text[], text[], integer[], text[], integer[], integer[], text[], text[], text[], numeric[]) is
    'The frames of an incident''s role assignments and custom field entries, given one array element per row.';
comment on function api.incident_frame_v2(incidents, text, text) is
    'The Incidents V2 frame of an incident, given its role assignments'' and custom field entries'' frames.';
comment on function api.incident_frame_of(incidents) is
    'The V1 frame of an incident, built from its rows.';
comment on function api.incident_frame_v2_of(incidents) is
    'The V2 frame of an incident, built from its rows.';
comment on function api.incident_update_frame(incident_updates) is
    'The frame of an incident update (IncidentUpdateV2 with objects by reference).';

-- Builds up to p_batch incidents' missing frames (oldest incidents first)
-- and returns how many incidents it framed: call it until it returns 0
-- after an upgrade or a load by hand, each call its own short transaction.
create or replace function incidentd_fill_frames(p_batch integer) returns integer
language sql volatile
as $$
    with todo as (
        select i.id from incidents i
        where i.frame is null or i.frame_v2 is null
        order by i.id
        limit p_batch
        for update skip locked
    ), done as (
        update incidents i set frame = coalesce(i.frame, api.incident_frame_of(i)),
                               frame_v2 = coalesce(i.frame_v2, api.incident_frame_v2_of(i))
        from todo
        where i.id = todo.id
        returning 1
    )
    select count(*)::integer from done
$$;

comment on function incidentd_fill_frames(integer) is
    'Builds up to the given number of missing incident frames; returns how many. Run until it returns 0 (docs/SCHEMA.md, "Frames").';

-- ---------------------------------------------------------------------------
-- The configuration objects the frames name
-- ---------------------------------------------------------------------------

-- The organisation's configuration version (config_versions): one row. A
-- set-returning SQL function so that PostgreSQL inlines it where the reads
-- ask for it, (select c.version from api.config_version(org) c): a scalar
-- SQL function with a subquery would be called, not inlined.
create or replace function api.config_version(p_org text) returns table (version bigint)
language sql stable
as $$
    select coalesce((select v.version from config_versions v where v.organisation_id = p_org), 0)
$$;

-- The rendered objects that references p_refs name ("S01H…", "F01H…" for a
-- custom field: its head and all its options; tags as in the header), with
-- the configuration version they were read at. Each object's JSON is
-- compact, as it appears inside an incident. A custom field answers one row
-- with its head ({"id","name","description","field_type" without the
-- closing brace) and created_us null, then a row per option, archived ones
-- included, in display order, with the option's created_at and archived_at
-- in microseconds. References that name nothing answer no row.
create or replace function api.config_objects(p_org text, p_refs text[])
returns table (ref text, doc text, created_us bigint, archived_us bigint, config_version bigint)
language plpgsql stable
security definer set search_path = public, pg_temp
as $$
declare
    v_version bigint := (select c.version from api.config_version(p_org) c);
    -- the ids of each tag, so that each lookup is an index scan
    v_s text[] := array(select substr(r, 2) from unnest(p_refs) r where left(r, 1) = 'S');
    v_t text[] := array(select substr(r, 2) from unnest(p_refs) r where left(r, 1) = 'T');
    v_r text[] := array(select substr(r, 2) from unnest(p_refs) r where left(r, 1) = 'R');
    v_u text[] := array(select substr(r, 2) from unnest(p_refs) r where left(r, 1) = 'U');
    v_k text[] := array(select substr(r, 2) from unnest(p_refs) r where left(r, 1) = 'K');
    v_o text[] := array(select substr(r, 2) from unnest(p_refs) r where left(r, 1) = 'O');
    v_f text[] := array(select substr(r, 2) from unnest(p_refs) r where left(r, 1) = 'F');
    v_a text[] := array(select substr(r, 2) from unnest(p_refs) r where left(r, 1) = 'A');
    v_m text[] := array(select substr(r, 2) from unnest(p_refs) r where left(r, 1) = 'M');
begin
    return query
        select 'S' || s.id, json_strip_nulls(api.severity_json(s))::text, null::bigint, null::bigint, v_version
        from severities s
        where s.organisation_id = p_org and s.id = any (v_s)
        union all
        select 'T' || t.id, json_strip_nulls(api.incident_type_json(t))::text, null, null, v_version
        from incident_types t
        where t.organisation_id = p_org and t.id = any (v_t)
        union all
        select 'R' || r.id, json_strip_nulls(api.incident_role_json(r))::text, null, null, v_version
        from incident_roles r
        where r.organisation_id = p_org and r.id = any (v_r)
        union all
        select 'U' || u.id, json_strip_nulls(api.user_json(u))::text, null, null, v_version
        from users u
        where u.organisation_id = p_org and u.id = any (v_u)
        union all
        select 'K' || k.id,
               json_strip_nulls(json_build_object('api_key', json_build_object('id', k.id, 'name', k.name)))::text,
               null, null, v_version
        from api_keys k
        where k.organisation_id = p_org and k.id = any (v_k)
        union all
        select 'O' || o.id, json_strip_nulls(api.custom_field_option_json(o))::text, null, null, v_version
        from custom_field_options o
        where o.organisation_id = p_org and o.id = any (v_o)
        union all
        select 'A' || st.id, json_strip_nulls(api.incident_status_json(st))::text, null, null, v_version
        from incident_statuses st
        where st.organisation_id = p_org and st.id = any (v_a)
        union all
        select 'M' || t.id, json_strip_nulls(api.incident_timestamp_json(t))::text, null, null, v_version
        from incident_timestamps t
        where t.organisation_id = p_org and t.id = any (v_m);
    return query
        select x.ref, x.doc, x.created_us, x.archived_us, v_version
        from (
            select 'F' || f.id as ref, 0 as ord, 0::bigint as sort_key, '' as sort_value, '' as sort_id,
                   left(json_strip_nulls(json_build_object(
                       'id', f.id, 'name', f.name, 'description', f.description,
                       'field_type', f.field_type))::text, -1) as doc,
                   null::bigint as created_us, null::bigint as archived_us
            from custom_fields f
            where f.organisation_id = p_org and f.id = any (v_f)
            union all
            select 'F' || o.custom_field_id, 1, o.sort_key, o.value, o.id,
                   json_strip_nulls(api.custom_field_option_json(o))::text,
                   api.epoch_us(o.created_at), api.epoch_us(o.archived_at)
            from custom_field_options o
            where o.organisation_id = p_org and o.custom_field_id = any (v_f)
        ) x
        order by x.ref, x.ord, x.sort_key, x.sort_value, x.sort_id;
end
$$;

comment on function api.config_objects(text, text[]) is
    'Compact JSON of the configuration objects that frame references name, with the organisation''s configuration version: what the worker caches to fill frames in.';

-- Bumps the organisation's configuration version: a trigger on every table
-- whose rows a frame reference can name.
create or replace function incidentd_bump_config_version() returns trigger
language plpgsql
as $$
begin
    insert into config_versions as v (organisation_id, version)
    values (case when tg_op = 'DELETE' then old.organisation_id else new.organisation_id end, 1)
    on conflict (organisation_id) do update set version = v.version + 1;
    if tg_op = 'UPDATE' and new.organisation_id is distinct from old.organisation_id then
        insert into config_versions as v (organisation_id, version)
        values (old.organisation_id, 1)
        on conflict (organisation_id) do update set version = v.version + 1;
    end if;
    return null;
end
$$;

comment on function incidentd_bump_config_version() is
    'Trigger: counts a change to an organisation''s configuration in config_versions, which tells the workers that their cached objects of it are stale.';

create or replace trigger severities_config_version
    after insert or update or delete on severities
    for each row execute function incidentd_bump_config_version();
create or replace trigger incident_types_config_version
    after insert or update or delete on incident_types
    for each row execute function incidentd_bump_config_version();
create or replace trigger incident_roles_config_version
    after insert or update or delete on incident_roles
    for each row execute function incidentd_bump_config_version();
create or replace trigger custom_fields_config_version
    after insert or update or delete on custom_fields
    for each row execute function incidentd_bump_config_version();
create or replace trigger custom_field_options_config_version
    after insert or update or delete on custom_field_options
    for each row execute function incidentd_bump_config_version();
create or replace trigger users_config_version
    after insert or update or delete on users
    for each row execute function incidentd_bump_config_version();
create or replace trigger incident_statuses_config_version
    after insert or update or delete on incident_statuses
    for each row execute function incidentd_bump_config_version();
create or replace trigger incident_timestamps_config_version
    after insert or update or delete on incident_timestamps
    for each row execute function incidentd_bump_config_version();
create or replace trigger api_keys_config_version
    after insert or update or delete on api_keys
    for each row execute function incidentd_bump_config_version();

-- A frame follows its row: an UPDATE that changes the incident but neither
-- of its frames (by hand, or by code that forgot) sets both to NULL, so the
-- reads build them again from the row. Writers set both.
create or replace function incidentd_incident_frame_reset() returns trigger
language plpgsql
as $$
begin
    if new.frame is not distinct from old.frame and new.frame_v2 is not distinct from old.frame_v2
       and new is distinct from old then
        new.frame := null;
        new.frame_v2 := null;
    end if;
    return new;
end
$$;

comment on function incidentd_incident_frame_reset() is
    'Trigger: an UPDATE of an incident that leaves both its frames as they were clears them, and they are built again from the row.';

create or replace trigger incidents_frame_reset
    before update on incidents
    for each row execute function incidentd_incident_frame_reset();
