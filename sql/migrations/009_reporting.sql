-- 009_reporting: the reporting interface (docs/REPORTING.md). What must
-- exist once: the schema whose views sql/code/70_reporting.sql defines,
-- the table that restricts a reporting role to organisations, the
-- publication a warehouse follows, and the indexes the reports need.
--
-- Locks: the schema and the table are new. CREATE PUBLICATION takes a
-- ShareUpdateExclusiveLock on each table it names (reads and writes go
-- on). The indexes hold the writes of incidents and custom field values
-- while they are built, under migrate's ShareLock (docs/SCHEMA.md, "Long
-- locks"): 2.3 s, 1.0 s and 3.1 s at 1 000 000 incidents (2.6 million
-- values) on the benchmark machine.

create schema reporting;

comment on schema reporting is
    'The reporting interface: views that are a public, stable interface to incidents and their configuration (docs/REPORTING.md). Columns are only ever added. Readable by the reporting role (schema_roles purpose reporting) and the roles incidentd_reporting_grant restricted to organisations.';

-- Which organisations a reporting role may see. A role with rows here
-- sees those organisations only; the reporting role recorded in
-- schema_roles (no rows) sees all. Keyed on the role itself, not on a
-- setting: a session can SET its own settings, but not become another
-- role it is not a member of.
create table reporting_role_organisations (
    role_name       text        not null,
    organisation_id text        not null references organisations (id) on delete cascade,
    granted_at      timestamptz not null default now(),
    primary key (role_name, organisation_id)
);

comment on table reporting_role_organisations is
    'Reporting roles restricted to organisations: a role with rows here sees only those organisations in schema reporting. Maintained by incidentd_reporting_grant / incidentd_reporting_revoke (docs/REPORTING.md).';

-- The change feed: the tables behind schema reporting, for a warehouse to
-- follow by logical replication. Every one has a primary key, which is
-- the replica identity an UPDATE or DELETE needs. api_keys (token hashes)
-- and incidentd's own bookkeeping (counts, frames' config versions,
-- schema_*) are not in it.
create publication incidentd_reporting for table
    organisations, users, severities, incident_types, incident_statuses, incident_timestamps,
    incident_roles, custom_fields, custom_field_options,
    incidents, incident_role_assignments, incident_custom_field_values, incident_updates;

-- The reports' indexes (docs/REPORTING.md, "Cost, and where to run
-- reports": each example query within a second at 1 000 000 incidents).
-- A report reads many incidents of one organisation, usually within a
-- window of created_at, and few of their columns: this index holds those
-- columns, so such a report reads it alone (an index-only scan) and not
-- the table, whose rows carry the API's frames (about 2.8 kB each).
create index incidents_reporting on incidents (organisation_id, created_at)
    include (id, severity_id, incident_type_id, incident_status_id, status, mode, retrospective,
             visibility, reported_at, accepted_at, resolved_at, closed_at, declined_at);

-- "Open incidents by status": the open ones are few among many closed
-- ones; this index finds them without reading the rest.
create index incidents_open on incidents (organisation_id, incident_status_id)
    include (status, mode, retrospective)
    where status not in ('closed', 'declined');

-- A custom field's values with their incidents and options, read alone.
create index incident_custom_field_values_reporting
    on incident_custom_field_values (organisation_id, custom_field_id)
    include (incident_id, value_option_id);

-- The views' mode (standard, retrospective, test, tutorial) is an
-- expression: without statistics on it the planner guesses that a filter
-- on it keeps 0.5 % of the rows, and picks plans for a few hundred rows
-- that then meet hundreds of thousands.
create statistics incidents_mode_v2
    on (case when retrospective then 'retrospective' when mode = 'real' then 'standard' else mode end)
    from incidents;
