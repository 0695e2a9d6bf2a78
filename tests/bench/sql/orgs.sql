-- :n more organisations, each a copy of organisation :org's configuration
-- (severities, incident types, roles, custom fields and their options,
-- users), with one API key and one incident that uses one of each kind of
-- object: what the benchmark's memory step shows every worker, so that
-- their caches of configuration objects hold :n organisations' worth
-- (docs/BENCHMARKS-HOWTO.md). Prints one line per organisation: the
-- incident's show path and the key's token, separated by a space.
-- The tokens are derived from the organisation's number: a throwaway
-- benchmark database only.
-- psql variables: org, n.
\set ON_ERROR_STOP on
set client_min_messages = warning;

begin;
create temp table m_orgs on commit drop as
select k, incidentd_ulid() as id,
       'inc_' || encode(sha256(convert_to('bench-org-' || k, 'UTF8')), 'hex') as token
from generate_series(1, :n) as k;

insert into organisations (id, name) select id, 'Memory organisation ' || k from m_orgs;
-- Unlimited (rate_limit 0): the benchmark is never throttled.
insert into api_keys (organisation_id, name, token_sha256, rate_limit)
select id, 'memory', sha256(convert_to(token, 'UTF8')), 0 from m_orgs;
insert into api_key_roles (api_key_id, role)
select k.id, 'viewer' from api_keys k join m_orgs o on o.id = k.organisation_id;

insert into severities (organisation_id, name, description, rank)
select o.id, s.name, s.description, s.rank
from m_orgs o cross join severities s where s.organisation_id = :'org' and s.archived_at is null;
insert into incident_types (organisation_id, name, description, is_default, private_incidents_only, create_in_triage)
select o.id, t.name, t.description, t.is_default, t.private_incidents_only, t.create_in_triage
from m_orgs o cross join incident_types t where t.organisation_id = :'org' and t.archived_at is null;
insert into incident_roles (organisation_id, name, description, instructions, shortform, role_type, required)
select o.id, r.name, r.description, r.instructions, r.shortform, r.role_type, r.required
from m_orgs o cross join incident_roles r where r.organisation_id = :'org' and r.archived_at is null;
insert into custom_fields (organisation_id, name, description, field_type)
select o.id, f.name, f.description, f.field_type
from m_orgs o cross join custom_fields f where f.organisation_id = :'org' and f.archived_at is null;
insert into custom_field_options (organisation_id, custom_field_id, value, sort_key)
select o.id, nf.id, x.value, x.sort_key
from m_orgs o
join custom_fields nf on nf.organisation_id = o.id
join custom_fields f on f.organisation_id = :'org' and f.name = nf.name
join custom_field_options x on x.custom_field_id = f.id and x.archived_at is null;
insert into users (organisation_id, name, email, slack_user_id, role)
select o.id, u.name, u.email, u.slack_user_id, u.role
from m_orgs o cross join users u where u.organisation_id = :'org';

-- One incident each: a severity, the default type, every role assigned,
-- a value for every custom field (the first options of select fields).
insert into incidents (id, organisation_id, reference_number, idempotency_key, name, summary,
                       status, visibility, severity_id, incident_type_id, creator_api_key_id)
select incidentd_ulid(), o.id, 1, 'memory-' || o.k, 'Memory incident ' || o.k,
       'One of each configuration object', 'investigating', 'public',
       (select s.id from severities s where s.organisation_id = o.id order by s.rank desc limit 1),
       (select t.id from incident_types t where t.organisation_id = o.id and t.is_default),
       (select k.id from api_keys k where k.organisation_id = o.id)
from m_orgs o;
insert into incident_role_assignments (organisation_id, incident_id, incident_role_id, user_id, position)
select i.organisation_id, i.id, r.id,
       (select u.id from users u where u.organisation_id = i.organisation_id order by u.id offset r.pos limit 1),
       r.pos - 1
from incidents i
join m_orgs o on o.id = i.organisation_id
cross join lateral (select r.id, row_number() over (order by r.id) as pos
                    from incident_roles r where r.organisation_id = i.organisation_id) r;
insert into incident_custom_field_values (organisation_id, incident_id, custom_field_id, entry_position,
                                          value_position, value_option_id, value_text, value_link, value_numeric)
select i.organisation_id, i.id, f.id, f.pos - 1, v.pos - 1, v.option_id,
       case when f.field_type = 'text' then 'Memory text value' end,
       case when f.field_type = 'link' then 'https://runbooks.example.com/memory' end,
       case when f.field_type = 'numeric' then 42 end
from incidents i
join m_orgs o on o.id = i.organisation_id
cross join lateral (select f.id, f.field_type, row_number() over (order by f.id) as pos
                    from custom_fields f where f.organisation_id = i.organisation_id) f
cross join lateral (
    (select x.id as option_id, row_number() over (order by x.sort_key, x.id) as pos
     from custom_field_options x
     where x.custom_field_id = f.id and f.field_type in ('single_select', 'multi_select')
     order by x.sort_key, x.id
     limit case f.field_type when 'multi_select' then 2 else 1 end)
    union all
    select null, 1 where f.field_type not in ('single_select', 'multi_select')
) v;
update incidents i set frame = api.incident_frame_of(i)
from m_orgs o where i.organisation_id = o.id;

select '/v1/incidents/' || i.id || ' ' || o.token
from m_orgs o join incidents i on i.organisation_id = o.id
order by o.k;
commit;
