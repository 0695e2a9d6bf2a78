-- Rounds out the configuration of a benchmark organisation after
-- `incidentctl seed-demo` (3 severities, 2 incident types, 3 roles, 5 custom
-- fields, 2 users) and the six seeded statuses: 48 more users and more
-- options on the two select fields, so that rendering an incident costs
-- what it would in a real organisation (CustomFieldTypeInfoV1 carries every
-- live option of a field); a third incident type (Customer impact, neither
-- default nor private-only) and a created status of category learning
-- (Post-incident, between Monitoring and Closed), which the v1 API shows
-- as closed, so that the loaded incidents use more than the seeded set.
-- psql variables: org.
\set ON_ERROR_STOP on

insert into users (organisation_id, name, email, slack_user_id, role)
select :'org', 'Bench User ' || i, 'bench.user' || i || '@example.com',
       'UB' || lpad(i::text, 5, '0'), (array['viewer', 'responder', 'administrator'])[1 + i % 3]
from generate_series(1, 48) as i;

-- single_select: 10 options in all; multi_select: 8.
insert into custom_field_options (organisation_id, custom_field_id, value, sort_key)
select :'org', f.id, v.value, 1000 + v.ord
from custom_fields f
cross join lateral (
    select value, ord
    from unnest(case f.field_type
                    when 'single_select' then array['Search', 'Mobile', 'Data', 'Identity',
                                                    'Billing', 'Infrastructure', 'Support']
                    else array['Queue', 'Cache', 'Auth', 'Search', 'Mobile']
                end) with ordinality as u(value, ord)
) v
where f.organisation_id = :'org'
  and f.field_type in ('single_select', 'multi_select')
  and f.archived_at is null;

insert into incident_types (organisation_id, name, description, is_default, private_incidents_only)
values (:'org', 'Customer impact', 'Incidents that customers noticed: status page and follow-up', false, false);

insert into incident_statuses (organisation_id, name, description, rank, category)
values (:'org', 'Post-incident', 'The incident is over; the review and its follow-ups are under way.', 45, 'learning');
