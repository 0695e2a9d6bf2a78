-- Consistency of a loaded organisation :org: prints one line
--   <incidents> <sum of incident_counts> <dangling references> <counter rows off> <frames off>
-- The load skipped the foreign key triggers, so every reference is checked
-- here the way they would have checked it (an incident whose v1 status is
-- not the one its status shows as, api.v1_status, counts as dangling too);
-- incident_counts must match.
-- <counter rows off> compares every counter the triggers keep
-- (sql/code/60_incident_counts.sql: incident_counts by v1 status,
-- incident_facet_counts, incident_day_counts, incident_option_counts) with
-- a recount of the incidents by GROUP BY, written here without the
-- schema's functions: the number of rows that differ either way (0 when
-- every counter is exact; counter rows of 0 are ignored). <frames off>:
-- among every 500th incident, those whose stored frames (V1, V2) are not
-- what api.incident_frame_of / api.incident_frame_v2_of build from its rows.
\set ON_ERROR_STOP on
create temp view v_inc as
select i.id, i.status, i.visibility, i.severity_id, i.incident_type_id, i.created_at,
       case when i.retrospective then 'retrospective' when i.mode = 'real' then 'standard' else i.mode end
           as mode2,
       coalesce(i.incident_status_id, (select s.id from incident_statuses s
                                       where s.organisation_id = i.organisation_id and s.seeded_as = i.status))
           as status_id
from incidents i
where i.organisation_id = :'org';

create temp view v_off as
with v1_counted as (
    select status, visibility, incident_count from incident_counts
    where organisation_id = :'org' and incident_count <> 0
), v1_recount as (
    select status, visibility, count(*) from v_inc group by 1, 2
), facet_counted as (
    select visibility, mode, incident_status_id, severity_id, incident_type_id, incident_count
    from incident_facet_counts where organisation_id = :'org' and incident_count <> 0
), facet_recount as (
    select visibility, mode2, status_id, severity_id, incident_type_id, count(*) from v_inc group by 1, 2, 3, 4, 5
), day_counted as (
    select visibility, mode, created_on, incident_count
    from incident_day_counts where organisation_id = :'org' and incident_count <> 0
), day_recount as (
    select visibility, mode2, (created_at at time zone 'UTC')::date, count(*) from v_inc group by 1, 2, 3
), option_counted as (
    select visibility, mode, option_id, incident_count
    from incident_option_counts where organisation_id = :'org' and incident_count <> 0
), option_recount as (
    select i.visibility, i.mode2, v.value_option_id, count(distinct i.id)
    from incident_custom_field_values v
    join v_inc i on i.id = v.incident_id
    where v.organisation_id = :'org' and v.value_option_id is not null
    group by 1, 2, 3
)
select 'incident_counts' as counter, count(*) as rows_off from (
    (select * from v1_counted except all select * from v1_recount)
    union all (select * from v1_recount except all select * from v1_counted)) d
union all
select 'incident_facet_counts', count(*) from (
    (select * from facet_counted except all select * from facet_recount)
    union all (select * from facet_recount except all select * from facet_counted)) d
union all
select 'incident_day_counts', count(*) from (
    (select * from day_counted except all select * from day_recount)
    union all (select * from day_recount except all select * from day_counted)) d
union all
select 'incident_option_counts', count(*) from (
    (select * from option_counted except all select * from option_recount)
    union all (select * from option_recount except all select * from option_counted)) d;

select
    (select count(*) from incidents where organisation_id = :'org'),
    (select coalesce(sum(incident_count), 0) from incident_counts where organisation_id = :'org'),
    (select count(*) from incidents i where i.organisation_id = :'org' and (
        (i.severity_id is not null and not exists (
            select 1 from severities s where s.organisation_id = i.organisation_id and s.id = i.severity_id))
        or (i.incident_type_id is not null and not exists (
            select 1 from incident_types t where t.organisation_id = i.organisation_id and t.id = i.incident_type_id))
        or (i.incident_status_id is not null and not exists (
            select 1 from incident_statuses s where s.organisation_id = i.organisation_id and s.id = i.incident_status_id))
        or not exists (
            select 1 from api_keys k where k.organisation_id = i.organisation_id and k.id = i.creator_api_key_id)
        or exists (
            select 1 from incident_statuses s where s.organisation_id = i.organisation_id and s.id = i.incident_status_id
               and api.v1_status(s.category, s.seeded_as) is distinct from i.status)))
    + (select count(*) from incident_role_assignments a where a.organisation_id = :'org' and (
        not exists (select 1 from incidents i where i.organisation_id = a.organisation_id and i.id = a.incident_id)
        or not exists (select 1 from incident_roles r where r.organisation_id = a.organisation_id and r.id = a.incident_role_id)
        or not exists (select 1 from users u where u.organisation_id = a.organisation_id and u.id = a.user_id)))
    + (select count(*) from incident_custom_field_values v where v.organisation_id = :'org' and (
        not exists (select 1 from incidents i where i.organisation_id = v.organisation_id and i.id = v.incident_id)
        or not exists (select 1 from custom_fields f where f.organisation_id = v.organisation_id and f.id = v.custom_field_id)
        or (v.value_option_id is not null and not exists (
            select 1 from custom_field_options o where o.organisation_id = v.organisation_id
               and o.custom_field_id = v.custom_field_id and o.id = v.value_option_id)))),
    (select sum(rows_off) from v_off),
    (select count(*) from incidents i where i.organisation_id = :'org' and i.reference_number % 500 = 0
        and (i.frame is distinct from api.incident_frame_of(i) or i.frame_v2 is distinct from api.incident_frame_v2_of(i)));
