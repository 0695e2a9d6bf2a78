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
create or replace function incidentd_incident_counts_apply() returns trigger
language plpgsql
as $$
begin
    if tg_op = 'INSERT' then
        insert into incident_counts as c (organisation_id, status, visibility, incident_count)
        select organisation_id, status, visibility, count(*)
        from new_rows
        group by 1, 2, 3
        order by 1, 2, 3
        on conflict (organisation_id, status, visibility)
            do update set incident_count = c.incident_count + excluded.incident_count;
    elsif tg_op = 'DELETE' then
        insert into incident_counts as c (organisation_id, status, visibility, incident_count)
        select organisation_id, status, visibility, -count(*)
        from old_rows
        group by 1, 2, 3
        order by 1, 2, 3
        on conflict (organisation_id, status, visibility)
            do update set incident_count = c.incident_count + excluded.incident_count;
    else -- UPDATE: -1 for every old row, +1 for every new row; most updates net to zero
        insert into incident_counts as c (organisation_id, status, visibility, incident_count)
        select organisation_id, status, visibility, sum(delta)
        from (select organisation_id, status, visibility, -1 as delta from old_rows
              union all
              select organisation_id, status, visibility, 1 from new_rows) d
        group by 1, 2, 3
        having sum(delta) <> 0
        order by 1, 2, 3
        on conflict (organisation_id, status, visibility)
            do update set incident_count = c.incident_count + excluded.incident_count;
    end if;
    return null;
end
$$;

comment on function incidentd_incident_counts_apply() is
    'Trigger: applies the net change of an INSERT/UPDATE/DELETE statement on incidents to incident_counts.';

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
    return null;
end
$$;

create or replace trigger incidents_count_truncate
    after truncate on incidents
    for each statement execute function incidentd_incident_counts_truncate();

-- Recomputes incident_counts from incidents (after loads that bypassed
-- triggers). Locks incident_counts so no counted insert interleaves.
create or replace function incidentd_rebuild_incident_counts() returns void
language plpgsql
as $$
begin
    lock table incident_counts in exclusive mode;
    delete from incident_counts;
    insert into incident_counts (organisation_id, status, visibility, incident_count)
    select organisation_id, status, visibility, count(*)
    from incidents
    group by 1, 2, 3;
end
$$;

comment on function incidentd_rebuild_incident_counts() is
    'Recomputes incident_counts from incidents. Only needed after loading incidents with triggers disabled.';
