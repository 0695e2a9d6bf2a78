-- The reporting interface (docs/REPORTING.md): views of schema reporting
-- (migration 009 makes the schema) that a BI tool reads as the reporting
-- role. They are a public interface: a column, once released, keeps its
-- name, type and meaning; new ones are added at the end (CREATE OR
-- REPLACE VIEW refuses anything else, and tests/e2e/test_reporting.py pins
-- every view's columns and types).
--
-- Each view runs with its owner's rights (not security_invoker), so the
-- reporting role needs no privilege on the tables behind it. Each is a
-- security_barrier view filtered by reporting_scope: a role restricted to
-- organisations (reporting_role_organisations) cannot see other
-- organisations' rows through a function of its own in a WHERE clause
-- either. The views call built-in functions only: a view's caller needs
-- EXECUTE on the functions it calls, and PUBLIC has none of the owner's.

-- The organisations the current role may see: those granted to it, or
-- all when it has no grant (the unrestricted reporting role, the owner).
create or replace view reporting_scope as
select o.id as organisation_id
from organisations o
where not exists (select from reporting_role_organisations m where m.role_name = current_user::text)
   or o.id in (select m.organisation_id from reporting_role_organisations m
               where m.role_name = current_user::text);

comment on view reporting_scope is
    'The organisations the current role may see in schema reporting: those reporting_role_organisations grants it, or every organisation when it has none.';
comment on column reporting_scope.organisation_id is 'An organisation the current role may see.';

create or replace view reporting.organisations with (security_barrier) as
select o.id, o.name, o.created_at
from organisations o
where o.id in (select organisation_id from reporting_scope);

comment on view reporting.organisations is 'Organisations (customer accounts). Every other view has organisation_id: filter and join on it.';
comment on column reporting.organisations.id is 'The organisation''s id (ULID).';
comment on column reporting.organisations.name is 'The organisation''s name.';
comment on column reporting.organisations.created_at is 'When the organisation was created.';

create or replace view reporting.severities with (security_barrier) as
select s.organisation_id, s.id, s.name, s.description, s.rank, s.created_at, s.updated_at, s.archived_at
from severities s
where s.organisation_id in (select organisation_id from reporting_scope);

comment on view reporting.severities is 'Severities, archived ones included (old incidents keep pointing at them).';
comment on column reporting.severities.organisation_id is 'The organisation.';
comment on column reporting.severities.id is 'The severity''s id (ULID).';
comment on column reporting.severities.name is 'Its name, e.g. Major.';
comment on column reporting.severities.description is 'Its description.';
comment on column reporting.severities.rank is 'Higher is more severe.';
comment on column reporting.severities.created_at is 'When it was created.';
comment on column reporting.severities.updated_at is 'When it was last changed.';
comment on column reporting.severities.archived_at is 'When it was archived (deleted through the API); NULL while live.';

create or replace view reporting.incident_types with (security_barrier) as
select t.organisation_id, t.id, t.name, t.description, t.is_default, t.private_incidents_only,
       t.create_in_triage, t.created_at, t.updated_at, t.archived_at
from incident_types t
where t.organisation_id in (select organisation_id from reporting_scope);

comment on view reporting.incident_types is 'Incident types, archived ones included.';
comment on column reporting.incident_types.organisation_id is 'The organisation.';
comment on column reporting.incident_types.id is 'The type''s id (ULID).';
comment on column reporting.incident_types.name is 'Its name.';
comment on column reporting.incident_types.description is 'Its description.';
comment on column reporting.incident_types.is_default is 'Whether incidents created without a type get this one.';
comment on column reporting.incident_types.private_incidents_only is 'Whether its incidents must be private.';
comment on column reporting.incident_types.create_in_triage is 'always or optional.';
comment on column reporting.incident_types.created_at is 'When it was created.';
comment on column reporting.incident_types.updated_at is 'When it was last changed.';
comment on column reporting.incident_types.archived_at is 'When it was archived; NULL while live.';

create or replace view reporting.incident_statuses with (security_barrier) as
select s.organisation_id, s.id, s.name, s.description, s.rank, s.category, s.created_at, s.updated_at,
       s.archived_at
from incident_statuses s
where s.organisation_id in (select organisation_id from reporting_scope);

comment on view reporting.incident_statuses is 'The statuses incidents move through (docs/LIFECYCLE.md), archived ones included.';
comment on column reporting.incident_statuses.organisation_id is 'The organisation.';
comment on column reporting.incident_statuses.id is 'The status''s id (ULID).';
comment on column reporting.incident_statuses.name is 'Its name, e.g. Investigating.';
comment on column reporting.incident_statuses.description is 'Its description.';
comment on column reporting.incident_statuses.rank is 'Display order within its category.';
comment on column reporting.incident_statuses.category is 'triage, live, paused, learning, closed, declined, merged or canceled: what the status means for the lifecycle. Open incidents are those in triage, live or paused.';
comment on column reporting.incident_statuses.created_at is 'When it was created.';
comment on column reporting.incident_statuses.updated_at is 'When it was last changed.';
comment on column reporting.incident_statuses.archived_at is 'When it was archived; NULL while live.';

create or replace view reporting.incident_roles with (security_barrier) as
select r.organisation_id, r.id, r.name, r.description, r.shortform, r.role_type, r.required, r.created_at,
       r.updated_at, r.archived_at
from incident_roles r
where r.organisation_id in (select organisation_id from reporting_scope);

comment on view reporting.incident_roles is 'Roles people hold on incidents, archived ones included.';
comment on column reporting.incident_roles.organisation_id is 'The organisation.';
comment on column reporting.incident_roles.id is 'The role''s id (ULID).';
comment on column reporting.incident_roles.name is 'Its name, e.g. Incident Lead.';
comment on column reporting.incident_roles.description is 'Its description.';
comment on column reporting.incident_roles.shortform is 'Its short name.';
comment on column reporting.incident_roles.role_type is 'lead (one live per organisation), reporter or custom.';
comment on column reporting.incident_roles.required is 'Whether the role must be assigned.';
comment on column reporting.incident_roles.created_at is 'When it was created.';
comment on column reporting.incident_roles.updated_at is 'When it was last changed.';
comment on column reporting.incident_roles.archived_at is 'When it was archived; NULL while live.';

create or replace view reporting.custom_fields with (security_barrier) as
select f.organisation_id, f.id, f.name, f.description, f.field_type, f.created_at, f.updated_at, f.archived_at
from custom_fields f
where f.organisation_id in (select organisation_id from reporting_scope);

comment on view reporting.custom_fields is 'Custom fields, archived ones included.';
comment on column reporting.custom_fields.organisation_id is 'The organisation.';
comment on column reporting.custom_fields.id is 'The field''s id (ULID).';
comment on column reporting.custom_fields.name is 'Its name, e.g. Affected Team.';
comment on column reporting.custom_fields.description is 'Its description.';
comment on column reporting.custom_fields.field_type is 'single_select, multi_select, text, link or numeric.';
comment on column reporting.custom_fields.created_at is 'When it was created.';
comment on column reporting.custom_fields.updated_at is 'When it was last changed.';
comment on column reporting.custom_fields.archived_at is 'When it was archived; NULL while live.';

create or replace view reporting.custom_field_options with (security_barrier) as
select o.organisation_id, o.id, o.custom_field_id, o.value, o.sort_key, o.created_at, o.updated_at,
       o.archived_at
from custom_field_options o
where o.organisation_id in (select organisation_id from reporting_scope);

comment on view reporting.custom_field_options is 'The options of select custom fields, archived ones included.';
comment on column reporting.custom_field_options.organisation_id is 'The organisation.';
comment on column reporting.custom_field_options.id is 'The option''s id (ULID).';
comment on column reporting.custom_field_options.custom_field_id is 'The field it is an option of (reporting.custom_fields.id).';
comment on column reporting.custom_field_options.value is 'Its text, e.g. Payments.';
comment on column reporting.custom_field_options.sort_key is 'Display order (ascending).';
comment on column reporting.custom_field_options.created_at is 'When it was created.';
comment on column reporting.custom_field_options.updated_at is 'When it was last changed.';
comment on column reporting.custom_field_options.archived_at is 'When it was archived; NULL while live.';

create or replace view reporting.users with (security_barrier) as
select u.organisation_id, u.id, u.name, u.email, u.slack_user_id, u.role, u.is_active, u.created_at,
       u.updated_at
from users u
where u.organisation_id in (select organisation_id from reporting_scope);

comment on view reporting.users is 'People who can hold incident roles.';
comment on column reporting.users.organisation_id is 'The organisation.';
comment on column reporting.users.id is 'The user''s id (ULID).';
comment on column reporting.users.name is 'Their name.';
comment on column reporting.users.email is 'Their email address, if known.';
comment on column reporting.users.slack_user_id is 'Their Slack user id, if known.';
comment on column reporting.users.role is 'Their role in incident.io: viewer, responder, administrator, owner or unset.';
comment on column reporting.users.is_active is 'Whether the user is active.';
comment on column reporting.users.created_at is 'When the user was created.';
comment on column reporting.users.updated_at is 'When the user was last changed.';

create or replace view reporting.incident_timestamps with (security_barrier) as
select t.organisation_id, t.id, t.name, t.rank, t.lifecycle
from incident_timestamps t
where t.organisation_id in (select organisation_id from reporting_scope);

comment on view reporting.incident_timestamps is 'The lifecycle timestamps of an organisation and which reporting.incidents column holds each (lifecycle reported: reported_at, ...).';
comment on column reporting.incident_timestamps.organisation_id is 'The organisation.';
comment on column reporting.incident_timestamps.id is 'The timestamp''s id (ULID).';
comment on column reporting.incident_timestamps.name is 'Its name, e.g. Accepted at.';
comment on column reporting.incident_timestamps.rank is 'Display order.';
comment on column reporting.incident_timestamps.lifecycle is 'reported, accepted, resolved, closed or declined: the column <lifecycle>_at of reporting.incidents.';

-- One row per incident, with the names of what it points at. An incident
-- from before statuses has no incident_status_id: its status is the
-- seeded status of its V1 status (api.incident_status_id_of, as a join
-- here: the view may call no function of the owner). A NULL reported_at
-- means created_at.
create or replace view reporting.incidents with (security_barrier) as
select i.organisation_id,
       i.id,
       'INC-' || i.reference_number as reference,
       i.reference_number,
       i.name,
       i.summary,
       coalesce(st.id, st0.id) as incident_status_id,
       coalesce(st.name, st0.name) as incident_status_name,
       coalesce(st.category, st0.category) as status_category,
       i.status as v1_status,
       i.severity_id,
       sev.name as severity_name,
       sev.rank as severity_rank,
       i.incident_type_id,
       ty.name as incident_type_name,
       i.visibility,
       case when i.retrospective then 'retrospective' when i.mode = 'real' then 'standard' else i.mode end as mode,
       i.created_at,
       i.updated_at,
       coalesce(i.reported_at, i.created_at) as reported_at,
       i.accepted_at,
       i.resolved_at,
       i.closed_at,
       i.declined_at,
       i.accepted_at - coalesce(i.reported_at, i.created_at) as time_to_accept,
       i.resolved_at - coalesce(i.reported_at, i.created_at) as time_to_resolve,
       i.closed_at - coalesce(i.reported_at, i.created_at) as time_to_close
from incidents i
left join incident_statuses st
       on st.organisation_id = i.organisation_id and st.id = i.incident_status_id
left join incident_statuses st0
       on i.incident_status_id is null and st0.organisation_id = i.organisation_id and st0.seeded_as = i.status
left join severities sev
       on sev.organisation_id = i.organisation_id and sev.id = i.severity_id
left join incident_types ty
       on ty.organisation_id = i.organisation_id and ty.id = i.incident_type_id
where i.organisation_id in (select organisation_id from reporting_scope);

comment on view reporting.incidents is 'One row per incident, with the names of its status, severity and type, its lifecycle timestamps and the durations between them. Private and test incidents included: filter on visibility and mode.';
comment on column reporting.incidents.organisation_id is 'The organisation.';
comment on column reporting.incidents.id is 'The incident''s id (ULID), as the API shows it.';
comment on column reporting.incidents.reference is 'INC-<n>, as the API shows it.';
comment on column reporting.incidents.reference_number is 'The n of INC-<n>: per organisation, from 1, no gaps.';
comment on column reporting.incidents.name is 'The incident''s name.';
comment on column reporting.incidents.summary is 'Its summary; NULL when it has none.';
comment on column reporting.incidents.incident_status_id is 'Its status (reporting.incident_statuses.id).';
comment on column reporting.incidents.incident_status_name is 'The name of its status, e.g. Investigating.';
comment on column reporting.incidents.status_category is 'The category of its status: triage, live, paused, learning, closed, declined, merged or canceled. Open: triage, live or paused.';
comment on column reporting.incidents.v1_status is 'Its status as Incidents V1 shows it: triage, investigating, fixing, monitoring, closed or declined.';
comment on column reporting.incidents.severity_id is 'Its severity (reporting.severities.id); NULL when it has none (opened in triage, declined).';
comment on column reporting.incidents.severity_name is 'The name of its severity; NULL when it has none.';
comment on column reporting.incidents.severity_rank is 'The rank of its severity (higher is more severe); NULL when it has none.';
comment on column reporting.incidents.incident_type_id is 'Its type (reporting.incident_types.id); NULL when the organisation had no default type.';
comment on column reporting.incidents.incident_type_name is 'The name of its type.';
comment on column reporting.incidents.visibility is 'public or private.';
comment on column reporting.incidents.mode is 'standard, retrospective, test or tutorial (Incidents V2''s mode). Most reports want standard and retrospective only.';
comment on column reporting.incidents.created_at is 'When it was created.';
comment on column reporting.incidents.updated_at is 'When it was last changed.';
comment on column reporting.incidents.reported_at is 'When it was reported: the Reported at timestamp, else created_at.';
comment on column reporting.incidents.accepted_at is 'When it left triage for a live (or later) status; NULL if it never did.';
comment on column reporting.incidents.resolved_at is 'When it reached a learning or closed status; NULL if it has not.';
comment on column reporting.incidents.closed_at is 'When it reached a closed status; NULL if it has not.';
comment on column reporting.incidents.declined_at is 'When it was declined; NULL if it was not.';
comment on column reporting.incidents.time_to_accept is 'accepted_at - reported_at; NULL until accepted.';
comment on column reporting.incidents.time_to_resolve is 'resolved_at - reported_at; NULL until resolved.';
comment on column reporting.incidents.time_to_close is 'closed_at - reported_at; NULL until closed.';

-- Custom field values in long form: one row per value.
create or replace view reporting.custom_field_values with (security_barrier) as
select v.organisation_id,
       v.incident_id,
       v.custom_field_id,
       f.name as custom_field_name,
       f.field_type,
       v.entry_position,
       v.value_position,
       v.value_option_id as option_id,
       o.value as option_value,
       v.value_text,
       v.value_link,
       v.value_numeric,
       coalesce(o.value, v.value_text, v.value_link, v.value_numeric::text) as value,
       i.created_at as incident_created_at,
       case when i.retrospective then 'retrospective' when i.mode = 'real' then 'standard' else i.mode end
           as incident_mode,
       coalesce(st.category, st0.category) as incident_status_category
from incident_custom_field_values v
join custom_fields f
  on f.organisation_id = v.organisation_id and f.id = v.custom_field_id
left join custom_field_options o
       on o.organisation_id = v.organisation_id and o.id = v.value_option_id
join incidents i
  on i.organisation_id = v.organisation_id and i.id = v.incident_id
left join incident_statuses st
       on st.organisation_id = i.organisation_id and st.id = i.incident_status_id
left join incident_statuses st0
       on i.incident_status_id is null and st0.organisation_id = i.organisation_id and st0.seeded_as = i.status
where v.organisation_id in (select organisation_id from reporting_scope);

comment on view reporting.custom_field_values is 'Custom field values of incidents in long form: one row per value (a multi_select with three options chosen has three rows).';
comment on column reporting.custom_field_values.organisation_id is 'The organisation.';
comment on column reporting.custom_field_values.incident_id is 'The incident (reporting.incidents.id).';
comment on column reporting.custom_field_values.custom_field_id is 'The field (reporting.custom_fields.id).';
comment on column reporting.custom_field_values.custom_field_name is 'The field''s name.';
comment on column reporting.custom_field_values.field_type is 'The field''s type: single_select, multi_select, text, link or numeric.';
comment on column reporting.custom_field_values.entry_position is 'The order of the field among the incident''s fields.';
comment on column reporting.custom_field_values.value_position is 'The order of the value within the field.';
comment on column reporting.custom_field_values.option_id is 'For select fields: the option chosen (reporting.custom_field_options.id).';
comment on column reporting.custom_field_values.option_value is 'For select fields: the text of the option chosen.';
comment on column reporting.custom_field_values.value_text is 'For text fields: the text.';
comment on column reporting.custom_field_values.value_link is 'For link fields: the URL.';
comment on column reporting.custom_field_values.value_numeric is 'For numeric fields: the number.';
comment on column reporting.custom_field_values.value is 'The value as text, whatever the type.';
comment on column reporting.custom_field_values.incident_created_at is 'The incident''s created_at (reporting.incidents.created_at): filter on it here rather than join reporting.incidents, which costs a second pass over both.';
comment on column reporting.custom_field_values.incident_mode is 'The incident''s mode (reporting.incidents.mode).';
comment on column reporting.custom_field_values.incident_status_category is 'The category of the incident''s status (reporting.incidents.status_category).';

create or replace view reporting.role_assignments with (security_barrier) as
select a.organisation_id,
       a.incident_id,
       a.incident_role_id,
       r.name as role_name,
       r.role_type,
       a.user_id,
       u.name as user_name,
       u.email as user_email,
       a.created_at as assigned_at,
       i.created_at as incident_created_at,
       case when i.retrospective then 'retrospective' when i.mode = 'real' then 'standard' else i.mode end
           as incident_mode,
       coalesce(st.category, st0.category) as incident_status_category
from incident_role_assignments a
join incident_roles r
  on r.organisation_id = a.organisation_id and r.id = a.incident_role_id
join users u
  on u.organisation_id = a.organisation_id and u.id = a.user_id
join incidents i
  on i.organisation_id = a.organisation_id and i.id = a.incident_id
left join incident_statuses st
       on st.organisation_id = i.organisation_id and st.id = i.incident_status_id
left join incident_statuses st0
       on i.incident_status_id is null and st0.organisation_id = i.organisation_id and st0.seeded_as = i.status
where a.organisation_id in (select organisation_id from reporting_scope);

comment on view reporting.role_assignments is 'Who holds which role on each incident: one row per (incident, role).';
comment on column reporting.role_assignments.organisation_id is 'The organisation.';
comment on column reporting.role_assignments.incident_id is 'The incident (reporting.incidents.id).';
comment on column reporting.role_assignments.incident_role_id is 'The role (reporting.incident_roles.id).';
comment on column reporting.role_assignments.role_name is 'The role''s name, e.g. Incident Lead.';
comment on column reporting.role_assignments.role_type is 'lead, reporter or custom.';
comment on column reporting.role_assignments.user_id is 'The user holding it (reporting.users.id).';
comment on column reporting.role_assignments.user_name is 'The user''s name.';
comment on column reporting.role_assignments.user_email is 'The user''s email address, if known.';
comment on column reporting.role_assignments.assigned_at is 'When the assignment was made.';
comment on column reporting.role_assignments.incident_created_at is 'The incident''s created_at (reporting.incidents.created_at): filter on it here rather than join reporting.incidents, which costs a second pass over both.';
comment on column reporting.role_assignments.incident_mode is 'The incident''s mode (reporting.incidents.mode).';
comment on column reporting.role_assignments.incident_status_category is 'The category of the incident''s status (reporting.incidents.status_category).';

create or replace view reporting.incident_updates with (security_barrier) as
select u.organisation_id,
       u.id,
       u.incident_id,
       u.created_at,
       u.new_incident_status_id,
       st.name as new_incident_status_name,
       st.category as new_status_category,
       u.new_severity_id,
       sev.name as new_severity_name,
       u.message
from incident_updates u
join incident_statuses st
  on st.organisation_id = u.organisation_id and st.id = u.new_incident_status_id
left join severities sev
       on sev.organisation_id = u.organisation_id and sev.id = u.new_severity_id
where u.organisation_id in (select organisation_id from reporting_scope);

comment on view reporting.incident_updates is 'Each edit that changed an incident''s status or severity. In order: ORDER BY created_at, id.';
comment on column reporting.incident_updates.organisation_id is 'The organisation.';
comment on column reporting.incident_updates.id is 'The update''s id (ULID), as the API shows it.';
comment on column reporting.incident_updates.incident_id is 'The incident (reporting.incidents.id).';
comment on column reporting.incident_updates.created_at is 'When the edit was made.';
comment on column reporting.incident_updates.new_incident_status_id is 'The incident''s status after the edit.';
comment on column reporting.incident_updates.new_incident_status_name is 'The name of that status.';
comment on column reporting.incident_updates.new_status_category is 'The category of that status.';
comment on column reporting.incident_updates.new_severity_id is 'The incident''s severity after the edit; NULL when it has none.';
comment on column reporting.incident_updates.new_severity_name is 'The name of that severity.';
comment on column reporting.incident_updates.message is 'The update''s message, if any.';
