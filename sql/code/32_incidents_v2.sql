-- Incidents V2: show, edit and the incident updates (docs/LIFECYCLE.md).
-- The create is api.incident_create_by_key with p_v2 (30_incidents.sql),
-- the list api.incident_page_v2 (33_incidents_v2_list.sql). Reads answer
-- frames, as V1's do (20_frames.sql).

-- Show by id, or by the number of its reference (p_id null:
-- /v2/incidents/123 is INC-123). Inlined into the worker's statement, as
-- V1's show is; the reference's lookup is an InitPlan that runs only when
-- p_id is null.
create or replace function api.incident_show_v2(p_org text, p_id text, p_number bigint, p_can_see_private boolean)
returns table (frame text, config_version bigint)
language sql stable
as $$
    select coalesce(i.frame_v2, api.incident_frame_v2_of(i)),
           (select c.version from api.config_version(p_org) c)
    from incidents i
    where i.organisation_id = p_org
      and i.id = coalesce(p_id, (select x.id from incidents x
                                 where x.organisation_id = p_org and x.reference_number = p_number))
      and (coalesce(p_can_see_private, false) or i.visibility = 'public')
$$;

comment on function api.incident_show_v2(text, text, bigint, boolean) is
    'The V2 frame of one incident (by id, or by reference number when the id is null) and the configuration version; no row if the key may not see it.';

-- Replaces the custom field values of the fields an edit names (p_fields;
-- a field with no values is cleared) and the holders of the roles it
-- names (a NULL user unassigns). Fields and roles the incident had keep
-- their place in its lists; new ones go after them, in request order.
create or replace function api.edit_incident_rows(p_org text, p_id text, p_fields text[], p_cf record,
                                                  p_ra record)
returns void
language plpgsql volatile
as $$
declare
    v_entry_base integer;
    v_role_base  integer;
begin
    if cardinality(p_fields) > 0 then
        v_entry_base := coalesce((select max(v.entry_position) + 1 from incident_custom_field_values v
                                  where v.incident_id = p_id), 0);
        with kept as (
            delete from incident_custom_field_values v
            where v.incident_id = p_id and v.custom_field_id = any (p_fields)
            returning v.custom_field_id, v.entry_position
        ), place as (
            select f.field_id, coalesce((select min(k.entry_position) from kept k where k.custom_field_id = f.field_id),
                                        v_entry_base + f.n::integer - 1) as entry_position
            from unnest(p_fields) with ordinality as f(field_id, n)
        )
        insert into incident_custom_field_values (
            organisation_id, incident_id, custom_field_id, entry_position, value_position,
            value_option_id, value_text, value_link, value_numeric)
        select p_org, p_id, x.field_id, p.entry_position, x.value_pos, x.option_id, x.txt, x.link, x.num
        from unnest(p_cf.cf_field, p_cf.cf_pos, p_cf.cf_option, p_cf.cf_text, p_cf.cf_link, p_cf.cf_num)
             as x(field_id, value_pos, option_id, txt, link, num)
        join place p on p.field_id = x.field_id;
    end if;
    if cardinality(p_ra.ra_role) > 0 then
        v_role_base := coalesce((select max(a.position) + 1 from incident_role_assignments a
                                 where a.incident_id = p_id), 0);
        with kept as (
            delete from incident_role_assignments a
            where a.incident_id = p_id and a.incident_role_id = any (p_ra.ra_role)
            returning a.incident_role_id, a.position
        )
        insert into incident_role_assignments (organisation_id, incident_id, incident_role_id, user_id, position)
        select p_org, p_id, x.role_id, x.user_id,
               coalesce((select k.position from kept k where k.incident_role_id = x.role_id),
                        v_role_base + x.n::integer - 1)
        from unnest(p_ra.ra_role, p_ra.ra_user) with ordinality as x(role_id, user_id, n)
        where x.user_id is not null;
    end if;
end
$$;

-- The edit (POST /v2/incidents/{id}/actions/edit). Only the fields present
-- in p_payload -> 'incident' change. The incident's row lock serialises
-- edits of one incident: each reads what the previous one committed, so
-- none is lost, and the update it appends takes its created_at under that
-- lock (commit order). A change of status or severity appends one
-- incident update (its id is p_update_id); an edit that changes nothing
-- writes nothing. Raises IX404 if the key cannot see the incident, IX422
-- (on incident.<field>) before writing anything.
create or replace function api.incident_edit(p_org text, p_api_key_id text, p_can_see_private boolean,
                                             p_id text, p_number bigint, p_update_id text, p_payload jsonb)
returns table (frame text, config_version bigint)
language plpgsql volatile
security definer set search_path = public, pg_temp
as $$
declare
    v_inc       jsonb := p_payload -> 'incident';
    v_old       incidents;
    v_new       incidents;
    v_from      incident_statuses;
    v_to        incident_statuses;
    v_cf        record;
    v_ra        record;
    v_now       timestamptz;
    v_parts_old record;
    v_parts_new record;
    v_update    incident_updates;
begin
    select i.* into v_old
    from incidents i
    where i.organisation_id = p_org
      and (i.id = p_id or i.reference_number = p_number)
      and (coalesce(p_can_see_private, false) or i.visibility = 'public')
    for no key update;
    if not found then
        perform api.fail('IX404', 'id', 'not_found', 'No incident with this id was found');
    end if;
    v_new := v_old;

    if v_inc ->> 'name' is not null then
        if v_inc ->> 'name' !~ '[^[:space:]]' or char_length(v_inc ->> 'name') > 500 then
            perform api.fail('IX422', 'incident.name', 'invalid_value', 'name must be 1 to 500 characters, not blank');
        end if;
        v_new.name := v_inc ->> 'name';
    end if;
    if v_inc ->> 'summary' is not null then
        v_new.summary := v_inc ->> 'summary';
    end if;
    if v_inc ->> 'call_url' is not null then
        if not api.is_http_url(v_inc ->> 'call_url') then
            perform api.fail('IX422', 'incident.call_url', 'invalid_value',
                             'call_url must be an absolute http or https URL');
        end if;
        v_new.call_url := v_inc ->> 'call_url';
    end if;
    if v_inc ->> 'slack_channel_name_override' is not null then
        v_new.slack_channel_name := v_inc ->> 'slack_channel_name_override';
    end if;
    if v_inc ->> 'severity_id' is not null then
        perform 1 from severities s
        where s.organisation_id = p_org and s.id = v_inc ->> 'severity_id' and s.archived_at is null;
        if not found then
            perform api.fail('IX422', 'incident.severity_id', 'invalid_value', 'No severity with this id exists');
        end if;
        v_new.severity_id := v_inc ->> 'severity_id';
    end if;

    select s.* into v_from from incident_statuses s
    where s.organisation_id = p_org and s.id = api.incident_status_id_of(v_old);
    v_to := v_from;
    if v_inc ->> 'incident_status_id' is not null then
        select s.* into v_to from incident_statuses s
        where s.organisation_id = p_org and s.id = v_inc ->> 'incident_status_id' and s.archived_at is null
        for share;
        if not found then
            perform api.fail('IX422', 'incident.incident_status_id', 'invalid_value',
                             'No incident status with this id exists');
        end if;
        if not api.transition_allowed(v_from.category, v_to.category) then
            perform api.fail('IX422', 'incident.incident_status_id', 'invalid_value',
                             format('An incident cannot move from a %s status to a %s status',
                                    v_from.category, v_to.category));
        end if;
    end if;
    if v_new.severity_id is null and v_to.category not in ('triage', 'declined') then
        perform api.fail('IX422', 'incident.severity_id', 'is_required', 'A severity is required to open an incident');
    end if;

    select * into v_cf from api.check_custom_field_entries(p_org, v_inc -> 'custom_field_entries', 'incident.');
    select * into v_ra from api.check_role_assignments(p_org, v_inc -> 'incident_role_assignments', 'incident.', true);

    v_now := clock_timestamp();
    v_new.incident_status_id := v_to.id;
    v_new.status := api.v1_status(v_to.category, v_to.seeded_as);
    v_new := api.lifecycle_timestamps(v_new, v_from.category, v_to.category, v_now);
    v_new := api.set_timestamp_values(p_org, v_new, v_inc -> 'incident_timestamp_values', 'incident.');

    select * into v_parts_old from api.incident_parts_of(v_old) p;
    perform api.edit_incident_rows(p_org, v_old.id, v_cf.p_fields, v_cf, v_ra);
    select * into v_parts_new from api.incident_parts_of(v_new) p;

    -- incident_status_id is compared as resolved: an incident from before
    -- statuses that an edit leaves in its status is unchanged.
    if v_new.incident_status_id is not distinct from api.incident_status_id_of(v_old) then
        v_new.incident_status_id := v_old.incident_status_id;
    end if;
    if v_new is not distinct from v_old
       and v_parts_new.assignments is not distinct from v_parts_old.assignments
       and v_parts_new.entries is not distinct from v_parts_old.entries then
        return query select coalesce(v_old.frame_v2, api.incident_frame_v2_of(v_old)),
                            (select c.version from api.config_version(p_org) c);
        return;
    end if;

    v_new.incident_status_id := v_to.id;
    v_new.updated_at := v_now;
    v_new.frame := api.incident_frame(v_new, v_parts_new.assignments, v_parts_new.entries);
    v_new.frame_v2 := api.incident_frame_v2(v_new, v_parts_new.assignments, v_parts_new.entries);
    update incidents i
    set name = v_new.name, summary = v_new.summary, call_url = v_new.call_url,
        slack_channel_name = v_new.slack_channel_name, severity_id = v_new.severity_id,
        incident_status_id = v_new.incident_status_id, status = v_new.status,
        reported_at = v_new.reported_at, accepted_at = v_new.accepted_at, resolved_at = v_new.resolved_at,
        closed_at = v_new.closed_at, declined_at = v_new.declined_at,
        updated_at = v_new.updated_at, frame = v_new.frame, frame_v2 = v_new.frame_v2
    where i.id = v_old.id;

    if v_to.id is distinct from v_from.id or v_new.severity_id is distinct from v_old.severity_id then
        v_update.id := p_update_id;
        v_update.organisation_id := p_org;
        v_update.incident_id := v_old.id;
        v_update.new_incident_status_id := v_to.id;
        v_update.new_severity_id := v_new.severity_id;
        v_update.updater_api_key_id := p_api_key_id;
        v_update.created_at := v_now;
        v_update.frame := api.incident_update_frame(v_update);
        insert into incident_updates select v_update.*;
    end if;

    return query select v_new.frame_v2, (select c.version from api.config_version(p_org) c);
end
$$;

comment on function api.incident_edit(text, text, boolean, text, bigint, text, jsonb) is
    'Incidents V2 edit: changes the fields present in payload.incident, appends an incident update when the status or severity changed, and returns the V2 frame and configuration version. IX404 / IX422 as usual.';

-- A page of incident updates, newest first, keyset-paginated on
-- (created_at, id) like the incident lists: rows (id, frame,
-- config_version, after_ok, incident_ok); an empty page is one row with id
-- and frame null. incident_ok is false when p_incident_id is given and the
-- key cannot see that incident; updates of incidents the key cannot see are
-- never listed.
--
-- One plan for every call (force_generic_plan): left to choose, PL/pgSQL
-- planned this statement again on every call (0.28 ms of planning against
-- 0.03 of work for one incident's updates), because a custom plan can drop
-- the branch p_incident_id rules out and so always looks cheaper. The two
-- cases are therefore two branches, each switched by a one-time filter on
-- p_incident_id and each an ordered, limited scan of its own index, merged
-- in order: 0.52 -> 0.07 ms a page of one incident's updates, 1.41 -> 0.30
-- ms a page of the organisation's (pgbench, 29,000 incidents).
create or replace function api.incident_update_page(p_org text, p_can_see_private boolean, p_incident_id text,
                                                    p_after text, p_page_size integer)
returns table (id text, frame text, config_version bigint, after_ok boolean, incident_ok boolean)
language plpgsql stable
security definer set search_path = public, pg_temp
set enable_bitmapscan = off
set enable_seqscan = off
set plan_cache_mode = force_generic_plan
as $$
begin
    return query
        with cursor as (
            select 'infinity'::timestamptz as created_at, ''::text as id
            where p_after is null
            union all
            select u.created_at, u.id
            from incident_updates u
            join incidents i on i.id = u.incident_id
            where p_after is not null and u.organisation_id = p_org and u.id = p_after
              and (coalesce(p_can_see_private, false) or i.visibility = 'public')
        ), meta as (
            select (select c.version from api.config_version(p_org) c) as config_version,
                   exists (select from cursor) as after_ok,
                   (p_incident_id is null
                    or exists (select from incidents i
                               where i.organisation_id = p_org and i.id = p_incident_id
                                 and (coalesce(p_can_see_private, false) or i.visibility = 'public')))
                       as incident_ok
        )
        select p.id, p.frame, m.config_version, m.after_ok, m.incident_ok
        from meta m
        left join lateral (
            (select u.id, u.frame, u.created_at
             from incident_updates u
             join incidents i on i.id = u.incident_id
             where p_incident_id is null
               and u.organisation_id = p_org
               and (u.created_at, u.id) < ((select k.created_at from cursor k), (select k.id from cursor k))
               and (coalesce(p_can_see_private, false) or i.visibility = 'public')
             order by u.created_at desc, u.id desc
             limit least(greatest(coalesce(p_page_size, 25), 1), 250) + 1)
            union all
            (select u.id, u.frame, u.created_at
             from incident_updates u
             join incidents i on i.id = u.incident_id
             where p_incident_id is not null
               and u.organisation_id = p_org and u.incident_id = p_incident_id
               and (u.created_at, u.id) < ((select k.created_at from cursor k), (select k.id from cursor k))
               and (coalesce(p_can_see_private, false) or i.visibility = 'public')
             order by u.created_at desc, u.id desc
             limit least(greatest(coalesce(p_page_size, 25), 1), 250) + 1)
            order by 3 desc, 1 desc
        ) p on m.incident_ok;
end
$$;

comment on function api.incident_update_page(text, boolean, text, text, integer) is
    'A page of incident updates as frames, newest first, with the configuration version and whether the cursor and the incident were found.';
