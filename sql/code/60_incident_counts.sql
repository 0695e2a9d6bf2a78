-- incident_counts: exact totals without count(*), kept by triggers on
-- incidents.

-- Statement-level triggers with transition tables: one upsert per
-- (organisation, status, visibility) touched by a statement, so a bulk load
-- of a million rows costs a handful of counter updates, not a million.
-- Every operation is a single INSERT ... ON CONFLICT DO UPDATE of signed
-- deltas in key order, so concurrent statements lock counter rows in the
-- same order and cannot deadlock on them. (That is also why incident_count
-- has no CHECK (>= 0): the proposed row of a negative delta is checked
-- before the conflict turns it into an update.)
-- Applies signed deltas, one array element per incident row (+1 a new
-- row, -1 an old one), to incident_counts (v1 status), incident_facet_counts
-- and incident_day_counts; rows whose deltas cancel out are not written.
-- A NULL incident_status_id counts as the seeded status of its v1 status.
-- PL/pgSQL, not SQL: PostgreSQL 15 parses and plans the statements of a SQL
-- function that it cannot inline on every call, and the triggers call
-- this one once or twice per statement on incidents (a create spent some
-- 4 ms of its 6.6 ms in the insert trigger planning these three INSERTs
-- and those of incidentd_apply_option_deltas; a PL/pgSQL function keeps
-- its plans for the session). force_generic_plan: the arrays' lengths are
-- known to a custom plan, so its estimate always beats the generic plan's
-- and PL/pgSQL's plan cache re-plans the three INSERTs on every call
-- (0.1-0.17 ms a call, two or three calls a create); the plan is the same
-- (unnest, group, upsert) for any number of rows.
create or replace function incidentd_apply_count_deltas(
    p_org text[], p_status text[], p_visibility text[], p_mode text[], p_status_id text[],
    p_severity text[], p_type text[], p_day date[], p_delta integer[])
returns void
language plpgsql volatile
set plan_cache_mode = force_generic_plan
as $$
begin
    insert into incident_counts as c (organisation_id, status, visibility, incident_count)
    select d.org, d.status, d.vis, sum(d.delta)
    from unnest(p_org, p_status, p_visibility, p_delta) as d(org, status, vis, delta)
    group by 1, 2, 3
    having sum(d.delta) <> 0
    order by 1, 2, 3
    on conflict (organisation_id, status, visibility)
        do update set incident_count = c.incident_count + excluded.incident_count;

    insert into incident_facet_counts as c (organisation_id, visibility, mode, incident_status_id, severity_id,
                                            incident_type_id, incident_count)
    select d.org, d.vis, d.mode,
           coalesce(d.status_id, (select s.id from incident_statuses s
                                  where s.organisation_id = d.org and s.seeded_as = d.status)),
           d.sev, d.typ, sum(d.delta)
    from unnest(p_org, p_status, p_visibility, p_mode, p_status_id, p_severity, p_type, p_delta)
         as d(org, status, vis, mode, status_id, sev, typ, delta)
    group by 1, 2, 3, 4, 5, 6
    having sum(d.delta) <> 0
    order by 1, 2, 3, 4, 5, 6
    on conflict (organisation_id, visibility, mode, incident_status_id, severity_id, incident_type_id)
        do update set incident_count = c.incident_count + excluded.incident_count;

    insert into incident_day_counts as c (organisation_id, visibility, mode, created_on, incident_count)
    select d.org, d.vis, d.mode, d.day, sum(d.delta)
    from unnest(p_org, p_visibility, p_mode, p_day, p_delta) as d(org, vis, mode, day, delta)
    group by 1, 2, 3, 4
    having sum(d.delta) <> 0
    order by 1, 2, 3, 4
    on conflict (organisation_id, visibility, mode, created_on)
        do update set incident_count = c.incident_count + excluded.incident_count;
end
$$;

-- Adds p_delta for each option chosen by incidents p_ids to
-- incident_option_counts (the incidents' visibility and mode from the
-- incidents table). PL/pgSQL and a generic plan for the reasons above.
create or replace function incidentd_apply_option_deltas(p_ids text[], p_options text[], p_delta integer[])
returns void
language plpgsql volatile
set plan_cache_mode = force_generic_plan
as $$
begin
    insert into incident_option_counts as c (organisation_id, visibility, mode, option_id, incident_count)
    select i.organisation_id, i.visibility, api.mode_v2(i), d.option_id, sum(d.delta)
    from unnest(p_ids, p_options, p_delta) as d(incident_id, option_id, delta)
    join incidents i on i.id = d.incident_id
    where d.option_id is not null
    group by 1, 2, 3, 4
    having sum(d.delta) <> 0
    order by 1, 2, 3, 4
    on conflict (organisation_id, visibility, mode, option_id)
        do update set incident_count = c.incident_count + excluded.incident_count;
end
$$;

-- The statement trigger on incidents: the net change of the statement to
-- the counters. An inserted incident also counts the options its custom
-- field values (written before it, api.incident_write) choose.
create or replace function incidentd_incident_counts_apply() returns trigger
language plpgsql
as $$
begin
    if tg_op in ('UPDATE', 'DELETE') then
        perform incidentd_apply_count_deltas(
            array_agg(o.organisation_id), array_agg(o.status), array_agg(o.visibility), array_agg(api.mode_v2(o)),
            array_agg(o.incident_status_id), array_agg(o.severity_id), array_agg(o.incident_type_id),
            array_agg((o.created_at at time zone 'UTC')::date), array_agg(-1))
        from old_rows o
        having count(*) > 0;
    end if;
    if tg_op in ('INSERT', 'UPDATE') then
        perform incidentd_apply_count_deltas(
            array_agg(n.organisation_id), array_agg(n.status), array_agg(n.visibility), array_agg(api.mode_v2(n)),
            array_agg(n.incident_status_id), array_agg(n.severity_id), array_agg(n.incident_type_id),
            array_agg((n.created_at at time zone 'UTC')::date), array_agg(1))
        from new_rows n
        having count(*) > 0;
    end if;
    if tg_op = 'INSERT' then
        perform incidentd_apply_option_deltas(array_agg(v.incident_id), array_agg(v.value_option_id), array_agg(1))
        from new_rows n
        join incident_custom_field_values v on v.incident_id = n.id
        where v.value_option_id is not null
        having count(*) > 0;
    end if;
    return null;
end
$$;

-- The statement trigger on incident_custom_field_values: options chosen
-- or given up by incidents that exist (an incident being created is
-- counted by the trigger above when it is inserted, after its values).
create or replace function incidentd_option_counts_apply() returns trigger
language plpgsql
as $$
begin
    if tg_op = 'DELETE' then
        perform incidentd_apply_option_deltas(array_agg(o.incident_id), array_agg(o.value_option_id), array_agg(-1))
        from old_rows o
        where o.value_option_id is not null
        having count(*) > 0;
    else
        perform incidentd_apply_option_deltas(array_agg(n.incident_id), array_agg(n.value_option_id), array_agg(1))
        from new_rows n
        where n.value_option_id is not null
        having count(*) > 0;
    end if;
    return null;
end
$$;

comment on function incidentd_option_counts_apply() is
    'Trigger: applies the options chosen or given up by a statement on incident_custom_field_values to incident_option_counts.';

create or replace trigger incident_custom_field_values_count_insert
    after insert on incident_custom_field_values
    referencing new table as new_rows
    for each statement execute function incidentd_option_counts_apply();

create or replace trigger incident_custom_field_values_count_delete
    after delete on incident_custom_field_values
    referencing old table as old_rows
    for each statement execute function incidentd_option_counts_apply();

comment on function incidentd_incident_counts_apply() is
    'Trigger: applies the net change of an INSERT/UPDATE/DELETE statement on incidents to incident_counts, incident_facet_counts, incident_day_counts and (inserts) incident_option_counts.';

create or replace trigger incidents_count_insert
    after insert on incidents
    referencing new table as new_rows
    for each statement execute function incidentd_incident_counts_apply();

create or replace trigger incidents_count_update
    after update on incidents
    referencing old table as old_rows new table as new_rows
    for each statement execute function incidentd_incident_counts_apply();

create or replace trigger incidents_count_delete
    after delete on incidents
    referencing old table as old_rows
    for each statement execute function incidentd_incident_counts_apply();

create or replace function incidentd_incident_counts_truncate() returns trigger
language plpgsql
as $$
begin
    delete from incident_counts;
    delete from incident_facet_counts;
    delete from incident_day_counts;
    delete from incident_option_counts;
    return null;
end
$$;

create or replace trigger incidents_count_truncate
    after truncate on incidents
    for each statement execute function incidentd_incident_counts_truncate();

-- Recomputes the counters from incidents (after loads that bypassed
-- triggers, or deletes of incidents by hand). Locks them so no counted
-- write interleaves.
create or replace function incidentd_rebuild_incident_counts() returns void
language plpgsql
as $$
begin
    lock table incident_counts, incident_facet_counts, incident_day_counts, incident_option_counts
        in exclusive mode;
    delete from incident_counts;
    delete from incident_facet_counts;
    delete from incident_day_counts;
    delete from incident_option_counts;
    perform incidentd_apply_count_deltas(
        array_agg(i.organisation_id), array_agg(i.status), array_agg(i.visibility), array_agg(api.mode_v2(i)),
        array_agg(i.incident_status_id), array_agg(i.severity_id), array_agg(i.incident_type_id),
        array_agg((i.created_at at time zone 'UTC')::date), array_agg(1))
    from incidents i
    having count(*) > 0;
    perform incidentd_apply_option_deltas(array_agg(v.incident_id), array_agg(v.value_option_id), array_agg(1))
    from incident_custom_field_values v
    where v.value_option_id is not null
    having count(*) > 0;
end
$$;

comment on function incidentd_rebuild_incident_counts() is
    'Recomputes incident_counts, incident_facet_counts, incident_day_counts and incident_option_counts from incidents. Only needed after loading incidents with triggers disabled or deleting them by hand.';
