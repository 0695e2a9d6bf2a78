-- Bulk-loads :n incidents into organisation :org, created by API key
-- :key_id, with role assignments and custom field values, in one
-- transaction of set-based INSERT ... SELECT (generate_series).
--
-- What the API would have produced, without going through it:
--   * ids are ULIDs (26 Crockford base32 characters) whose time part is the
--     incident's created_at, like the service's own;
--   * reference numbers continue from organisations.last_incident_number,
--     which is bumped to the last one; slack_channel_name is
--     inc-<n>-<slug of the name> exactly as api.slack_channel_name makes it;
--   * created_at increases with the reference number (one incident a
--     minute, ending a day ago), updated_at follows it;
--   * statuses, visibility, mode, severity (none for triage), type (the
--     private-only type for some private incidents), role assignments and
--     custom field values (one of each field type, select values drawn from
--     the field's own options) follow a plausible distribution.
-- Row triggers are skipped (session_replication_role = replica: foreign key
-- checks and the incident_counts trigger), which makes the load several
-- times faster; every reference is drawn from the organisation's own rows,
-- verify.sql checks that, and incident_counts is rebuilt afterwards with
-- the schema's own incidentd_rebuild_incident_counts(). Frames are built
-- from the loaded rows at the end (api.incident_frame_of).
--
-- psql variables: org, key_id, n, salt (makes idempotency keys unique).
\set ON_ERROR_STOP on
set work_mem = '256MB';
set maintenance_work_mem = '512MB';

begin;
set local session_replication_role = replica;
-- Only this load's own commit; the benchmark's creates keep it on.
set local synchronous_commit = off;

select o.last_incident_number as base from organisations o where o.id = :'org' \gset

-- The configuration existed before the first incident: rendering may
-- depend on what a field's options were when the incident was created.
select now() - (:n + 2880) * interval '1 minute' as t_config \gset
update organisations set created_at = least(created_at, :'t_config'), updated_at = least(updated_at, :'t_config')
    where id = :'org';
update api_keys set created_at = least(created_at, :'t_config'), updated_at = least(updated_at, :'t_config')
    where organisation_id = :'org';
update users set created_at = least(created_at, :'t_config'), updated_at = least(updated_at, :'t_config')
    where organisation_id = :'org';
update severities set created_at = least(created_at, :'t_config'), updated_at = least(updated_at, :'t_config')
    where organisation_id = :'org';
update incident_types set created_at = least(created_at, :'t_config'), updated_at = least(updated_at, :'t_config')
    where organisation_id = :'org';
update incident_roles set created_at = least(created_at, :'t_config'), updated_at = least(updated_at, :'t_config')
    where organisation_id = :'org';
update custom_fields set created_at = least(created_at, :'t_config'), updated_at = least(updated_at, :'t_config')
    where organisation_id = :'org';
update custom_field_options set created_at = least(created_at, :'t_config'), updated_at = least(updated_at, :'t_config')
    where organisation_id = :'org';

-- The organisation's configuration, numbered for random picks.
create temp table b_sev on commit drop as
    select row_number() over (order by rank, id)::int as k, id
    from severities where organisation_id = :'org' and archived_at is null;
create temp table b_users on commit drop as
    select row_number() over (order by id)::int as k, id
    from users where organisation_id = :'org';
-- Lead first; each role has a probability of being assigned.
create temp table b_roles on commit drop as
    select id, (row_number() over (order by role_type <> 'lead', name, id) - 1)::int as pos,
           case when role_type = 'lead' then 0.95 when role_type = 'reporter' then 0.5 else 0.2 end as prob
    from incident_roles where organisation_id = :'org' and archived_at is null;
-- One field of each type (the first by name); entry order by type.
create temp table b_fields on commit drop as
    select distinct on (field_type) field_type, id,
           array_position(array['single_select', 'multi_select', 'text', 'link', 'numeric'],
                          field_type) - 1 as pos
    from custom_fields where organisation_id = :'org' and archived_at is null
    order by field_type, name, id;
create temp table b_opts on commit drop as
    select f.field_type,
           row_number() over (partition by f.field_type order by o.sort_key, o.value, o.id)::int as k,
           o.id, o.custom_field_id
    from b_fields f
    join custom_field_options o
      on o.organisation_id = :'org' and o.custom_field_id = f.id and o.archived_at is null
    where f.field_type in ('single_select', 'multi_select');

select (select count(*) from b_sev) as n_sev,
       (select count(*) from b_users) as n_users,
       (select count(*) from b_opts where field_type = 'single_select') as n_single,
       (select count(*) from b_opts where field_type = 'multi_select') as n_multi,
       coalesce((select id from incident_types where organisation_id = :'org' and is_default
          and archived_at is null limit 1), '') as type_default,
       coalesce((select id from incident_types where organisation_id = :'org'
          and private_incidents_only and archived_at is null order by id limit 1), '') as type_private,
       (select id from b_fields where field_type = 'single_select') as f_single,
       (select id from b_fields where field_type = 'multi_select') as f_multi,
       (select id from b_fields where field_type = 'text') as f_text,
       (select id from b_fields where field_type = 'link') as f_link,
       (select id from b_fields where field_type = 'numeric') as f_numeric
\gset

-- Names and summaries; the slug of each name made once by the API's own
-- function ('inc-1-' stripped).
create temp table b_names on commit drop as
    select k::int, name, summary, substr(api.slack_channel_name(1, name), 7) as slug
    from unnest(array[
        'Checkout API returning 500s',
        'Elevated latency on search',
        'Login failures for SSO customers',
        'Payments webhook backlog',
        'Database replica lag above 30s',
        'Mobile app crash on launch (iOS 17)',
        'Email notifications delayed',
        'Disk usage critical on ingest nodes',
        'CDN cache misses after deploy',
        'Partial outage in eu-west-1',
        'Status page not updating',
        'Rate limiter rejecting valid traffic',
        'Billing export job failing',
        'Kafka consumer group stuck',
        'TLS certificate expiring on api.example.com',
        'Memory leak in notification worker'
    ]) with ordinality as t(name, k)
    cross join lateral (select 'Customers report errors; on-call is investigating. Started after '
                               || 'the ' || (k * 7 % 24) || ':00 deploy. Dashboards: '
                               || 'https://grafana.example.com/d/' || k || ' (error rate, p99). '
                               || 'Mitigation and next update in the incident channel.' as summary) s;

-- One row per incident with every random choice made.
create temp table b_inc on commit drop as
select g.n,
       g.created_at,
       case when g.rs < 0.70 then 'closed' when g.rs < 0.75 then 'declined'
            when g.rs < 0.80 then 'triage' when g.rs < 0.88 then 'investigating'
            when g.rs < 0.95 then 'fixing' else 'monitoring' end as status,
       case when g.rv < 0.10 then 'private' else 'public' end as visibility,
       case when g.rm < 0.05 then 'test' else 'real' end as mode,
       g.rv < 0.05 as private_type,
       1 + floor(g.rsev * :n_sev)::int as sev_k,
       1 + (g.n % 16)::int as name_k,
       (g.ru * 2880)::int as updated_after_min,
       bench_ulid(g.t, g.r1, g.r2) as id
from (
    select n, created_at, floor(extract(epoch from created_at) * 1000)::bigint as t,
           rs, rv, rm, rsev, ru, r1, r2
    from (
        select n,
               now() - interval '1 day' - (:n - n) * interval '1 minute'
                   + floor(random() * 50000) * interval '1 millisecond' as created_at,
               random() as rs, random() as rv, random() as rm, random() as rsev, random() as ru,
               floor(random() * 1099511627776)::bigint as r1,
               floor(random() * 1099511627776)::bigint as r2
        from generate_series(1, :n) as n
    ) r
) g;

insert into incidents (
    id, organisation_id, reference_number, idempotency_key, name, summary, status,
    visibility, mode, severity_id, incident_type_id, creator_api_key_id, slack_team_id,
    slack_channel_id, slack_channel_name, created_at, updated_at)
select b.id, :'org', :base + b.n, 'bulk-' || :'salt' || '-' || b.n, nm.name, nm.summary,
       b.status, b.visibility, b.mode,
       case when b.status = 'triage' then null else s.id end,
       case when b.private_type and :'type_private' <> '' then nullif(:'type_private', '')
            else nullif(:'type_default', '') end,
       :'key_id', '', '',
       rtrim(left('inc-' || (:base + b.n) || '-' || nm.slug, 80), '-'),
       b.created_at, b.created_at + b.updated_after_min * interval '1 minute'
from b_inc b
join b_names nm on nm.k = b.name_k
join b_sev s on s.k = b.sev_k
order by b.n;

insert into incident_role_assignments (organisation_id, incident_id, incident_role_id, user_id,
                                       position, created_at)
select :'org', x.id, x.role_id, u.id, x.pos, x.created_at
from (
    select b.id, b.created_at, r.id as role_id, r.pos, r.prob,
           1 + floor(random() * :n_users)::int as uk, random() as p
    from b_inc b
    cross join b_roles r
) x
join b_users u on u.k = x.uk
where x.p < x.prob;

-- Custom field values: single select 80 %, multi select 60 % (one or two
-- options), text 30 %, link 20 %, numeric 40 %.
insert into incident_custom_field_values (organisation_id, incident_id, custom_field_id,
                                          entry_position, value_position, value_option_id,
                                          value_text, value_link, value_numeric)
select :'org', x.id, :'f_single', 0, 0, o.id, null::text, null::text, null::numeric
from (select id, 1 + floor(random() * :n_single)::int as k, random() as p from b_inc) x
join b_opts o on o.field_type = 'single_select' and o.k = x.k
where x.p < 0.8
union all
select :'org', x.id, :'f_multi', 1, v.pos, o.id, null, null, null
from (select id, 1 + floor(random() * :n_multi)::int as k, random() as p, random() as p2
      from b_inc) x
cross join lateral (values (0, x.k), (1, x.k % :n_multi + 1)) as v(pos, k)
join b_opts o on o.field_type = 'multi_select' and o.k = v.k
where x.p < 0.6 and (v.pos = 0 or x.p2 < 0.5)
union all
select :'org', b.id, :'f_text', 2, 0, null,
       'Root cause: a configuration change rolled out to ' || (b.n % 40 + 1)
       || ' hosts. Follow-up actions tracked in the postmortem.', null, null
from b_inc b where random() < 0.3
union all
select :'org', b.id, :'f_link', 3, 0, null, null,
       'https://runbooks.example.com/incidents/' || b.n, null
from b_inc b where random() < 0.2
union all
select :'org', b.id, :'f_numeric', 4, 0, null, null, null, floor(random() * 5000)::numeric
from b_inc b where random() < 0.4;

update organisations set last_incident_number = :base + :n, updated_at = now() where id = :'org';

-- Each incident's frame, as the API's create stores it (sql/code/20_frames.sql).
update incidents i set frame = api.incident_frame_of(i)
from b_inc b
where i.id = b.id;

commit;

-- What the statement-level trigger would have counted.
select incidentd_rebuild_incident_counts();
