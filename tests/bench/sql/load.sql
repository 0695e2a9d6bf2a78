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
--   * created_at increases with the reference number, spread evenly over
--     the year that ends a day ago (whatever :n is), updated_at follows it;
--   * every incident has a status (incident_status_id) of the organisation:
--     62 % Closed, 8 % Post-incident (learning, created by org.sql),
--     5 % Declined, 5 % Triage, 8 % Investigating, 7 % Fixing, 5 %
--     Monitoring (20 % live); its v1 status is what api.v1_status makes of
--     that status (Post-incident shows as closed); the lifecycle timestamps
--     a create and its edits would have set (reported at creation,
--     accepted, resolved, closed, declined as the status implies);
--   * severity (none for triage) 55 % the lowest rank, 30 % the middle one,
--     15 % the highest; incident type 65 % the default, 30 % Customer
--     impact (org.sql), 5 % the private-only type (those incidents are
--     private); 10 % private; mode 93 % standard, 2 % retrospective, 5 %
--     test; role assignments and custom field values (one of each field
--     type, select values drawn from the field's own options, the
--     single-select field's skewed towards its first options as real
--     choices are) follow a plausible distribution.
-- Row triggers are skipped (session_replication_role = replica: foreign key
-- checks and the counters' triggers), which makes the load several times
-- faster; every reference is drawn from the organisation's own rows,
-- verify.sql checks that, and the counters (incident_counts and the v2
-- list's incident_facet_counts, incident_day_counts,
-- incident_option_counts) are rebuilt afterwards with the schema's own
-- incidentd_rebuild_incident_counts(), which verify.sql checks against a
-- recount. Both frames (V1 and V2) are built from the loaded rows before
-- the incidents are inserted, as a create stores them (what
-- api.incident_frame_of and api.incident_frame_v2_of build: verify.sql
-- compares a sample).
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
select now() - interval '367 days' - 2880 * interval '1 minute' as t_config \gset
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
update incident_statuses set created_at = least(created_at, :'t_config'), updated_at = least(updated_at, :'t_config')
    where organisation_id = :'org';
update incident_timestamps set created_at = least(created_at, :'t_config'), updated_at = least(updated_at, :'t_config')
    where organisation_id = :'org';

-- The organisation's configuration, numbered for random picks.
create temp table b_sev on commit drop as
    select row_number() over (order by rank, id)::int as k, id
    from severities where organisation_id = :'org' and archived_at is null;
-- The statuses an incident is drawn into, by the name org.sql and the
-- seeding trigger give them, with the v1 status each shows as.
create temp table b_status on commit drop as
    select s.name, s.id, s.category, api.v1_status(s.category, s.seeded_as) as v1_status
    from incident_statuses s
    where s.organisation_id = :'org' and s.archived_at is null;
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
       coalesce((select id from incident_types where organisation_id = :'org' and not is_default
          and not private_incidents_only and archived_at is null order by name, id limit 1), '') as type_other,
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
       case when g.rs < 0.62 then 'Closed' when g.rs < 0.70 then 'Post-incident'
            when g.rs < 0.75 then 'Declined' when g.rs < 0.80 then 'Triage'
            when g.rs < 0.88 then 'Investigating' when g.rs < 0.95 then 'Fixing'
            else 'Monitoring' end as status_name,
       case when g.rv < 0.10 then 'private' else 'public' end as visibility,
       case when g.rm < 0.05 then 'test' else 'real' end as mode,
       g.rm >= 0.05 and g.rm < 0.07 as retrospective,
       g.rv < 0.05 as private_type,
       g.rt < 0.30 as other_type,
       least(case when g.rsev < 0.55 then 1 when g.rsev < 0.85 then 2 else 3 end, :n_sev) as sev_k,
       1 + (g.n % 16)::int as name_k,
       (g.ru * 2880)::int as updated_after_min,
       1 + (g.ra * 30)::int as accepted_after_min,
       bench_ulid(g.t, g.r1, g.r2) as id
from (
    select n, created_at, floor(extract(epoch from created_at) * 1000)::bigint as t,
           rs, rv, rm, rt, rsev, ru, ra, r1, r2
    from (
        -- :n incidents over the 365 days before yesterday, in order, each
        -- at a random point of its own slot.
        select n,
               now() - interval '1 day' - interval '365 days' * ((:n - n + 1)::float8 / :n)
                   + interval '365 days' * ((0.05 + 0.9 * random()) / :n) as created_at,
               random() as rs, random() as rv, random() as rm, random() as rt, random() as rsev,
               random() as ru, random() as ra,
               floor(random() * 1099511627776)::bigint as r1,
               floor(random() * 1099511627776)::bigint as r2
        from generate_series(1, :n) as n
    ) r
) g;

-- The incidents are made in a temporary copy of the table (b_rows) and
-- inserted with their frames at the end: frames added by an UPDATE of the
-- loaded incidents would write every row (and its index entries) twice.
create temp table b_rows (like incidents including defaults) on commit drop;

insert into b_rows (
    id, organisation_id, reference_number, idempotency_key, name, summary, status, incident_status_id,
    visibility, mode, retrospective, severity_id, incident_type_id, creator_api_key_id, slack_team_id,
    slack_channel_id, slack_channel_name, reported_at, accepted_at, resolved_at, closed_at, declined_at,
    created_at, updated_at)
select b.id, :'org', :base + b.n, 'bulk-' || :'salt' || '-' || b.n, nm.name, nm.summary,
       st.v1_status, st.id, b.visibility, b.mode, b.retrospective,
       case when st.category = 'triage' then null else s.id end,
       case when b.private_type and :'type_private' <> '' then nullif(:'type_private', '')
            when b.other_type and :'type_other' <> '' then nullif(:'type_other', '')
            else nullif(:'type_default', '') end,
       :'key_id', '', '',
       rtrim(left('inc-' || (:base + b.n) || '-' || nm.slug, 80), '-'),
       b.created_at,
       case when st.category not in ('triage', 'declined')
            then b.created_at + b.accepted_after_min * interval '1 minute' end,
       case when st.category in ('learning', 'closed')
            then b.created_at + (b.accepted_after_min + b.updated_after_min * 0.5) * interval '1 minute' end,
       case when st.category = 'closed'
            then b.created_at + greatest(b.updated_after_min, b.accepted_after_min) * interval '1 minute' end,
       case when st.category = 'declined'
            then b.created_at + b.accepted_after_min * interval '1 minute' end,
       b.created_at, b.created_at + greatest(b.updated_after_min, b.accepted_after_min) * interval '1 minute'
from b_inc b
join b_names nm on nm.k = b.name_k
join b_sev s on s.k = b.sev_k
join b_status st on st.name = b.status_name
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

-- Custom field values: single select 80 % (option k of n with probability
-- (k/n)^(2/3) - ((k-1)/n)^(2/3): 22 % the first of 10 options, 4 % the
-- last), multi select 60 % (one or two options), text 30 %, link 20 %,
-- numeric 40 %.
insert into incident_custom_field_values (organisation_id, incident_id, custom_field_id,
                                          entry_position, value_position, value_option_id,
                                          value_text, value_link, value_numeric)
select :'org', x.id, :'f_single', 0, 0, o.id, null::text, null::text, null::numeric
from (select id, 1 + floor(power(random(), 1.5) * :n_single)::int as k, random() as p from b_inc) x
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

-- Each incident's frames, as the API's create stores them
-- (sql/code/20_frames.sql). The parts both share (role assignments and
-- custom field entries) are made once per incident by
-- api.incident_parts_from from its rows, grouped in one pass over each
-- table: what api.incident_frame_of and api.incident_frame_v2_of do one
-- incident at a time, each (an UPDATE of the incidents with both took
-- 500 us an incident, this about 160).
create temp table b_parts on commit drop as
select i.id, p.assignments, p.entries
from b_rows i
left join (select x.incident_id, array_agg(x.incident_role_id) as role_ids, array_agg(x.user_id) as user_ids,
                  array_agg(x.position) as positions
           from incident_role_assignments x
           where x.organisation_id = :'org'
           group by 1) a on a.incident_id = i.id
left join (select x.incident_id, array_agg(x.custom_field_id) as field_ids, array_agg(x.entry_position) as entries,
                  array_agg(x.value_position) as positions, array_agg(x.value_option_id) as options,
                  array_agg(x.value_text) as texts, array_agg(x.value_link) as links,
                  array_agg(x.value_numeric) as nums
           from incident_custom_field_values x
           where x.organisation_id = :'org'
           group by 1) v on v.incident_id = i.id
cross join lateral api.incident_parts_from(row(i.*)::incidents, a.role_ids, a.user_ids, a.positions,
                                           v.field_ids, v.entries, v.positions, v.options, v.texts, v.links,
                                           v.nums) p;

insert into incidents
select f.*
from b_rows r
join b_parts p on p.id = r.id
cross join lateral jsonb_populate_record(row(r.*)::incidents, jsonb_build_object(
    'frame', api.incident_frame(row(r.*)::incidents, p.assignments, p.entries),
    'frame_v2', api.incident_frame_v2(row(r.*)::incidents, p.assignments, p.entries))) f
order by r.reference_number;

commit;

-- What the statement-level triggers would have counted.
select incidentd_rebuild_incident_counts();
