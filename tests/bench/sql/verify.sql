-- Consistency of a loaded organisation :org: prints one line
--   <incidents> <sum of incident_counts> <dangling references>
-- The load skipped the foreign key triggers, so every reference is checked
-- here the way they would have checked it; incident_counts must match.
\set ON_ERROR_STOP on
select
    (select count(*) from incidents where organisation_id = :'org'),
    (select coalesce(sum(incident_count), 0) from incident_counts where organisation_id = :'org'),
    (select count(*) from incidents i where i.organisation_id = :'org' and (
        (i.severity_id is not null and not exists (
            select 1 from severities s where s.organisation_id = i.organisation_id and s.id = i.severity_id))
        or (i.incident_type_id is not null and not exists (
            select 1 from incident_types t where t.organisation_id = i.organisation_id and t.id = i.incident_type_id))
        or not exists (
            select 1 from api_keys k where k.organisation_id = i.organisation_id and k.id = i.creator_api_key_id)))
    + (select count(*) from incident_role_assignments a where a.organisation_id = :'org' and (
        not exists (select 1 from incidents i where i.organisation_id = a.organisation_id and i.id = a.incident_id)
        or not exists (select 1 from incident_roles r where r.organisation_id = a.organisation_id and r.id = a.incident_role_id)
        or not exists (select 1 from users u where u.organisation_id = a.organisation_id and u.id = a.user_id)))
    + (select count(*) from incident_custom_field_values v where v.organisation_id = :'org' and (
        not exists (select 1 from incidents i where i.organisation_id = v.organisation_id and i.id = v.incident_id)
        or not exists (select 1 from custom_fields f where f.organisation_id = v.organisation_id and f.id = v.custom_field_id)
        or (v.value_option_id is not null and not exists (
            select 1 from custom_field_options o where o.organisation_id = v.organisation_id
               and o.custom_field_id = v.custom_field_id and o.id = v.value_option_id))));
