-- 006_read_path: what the worker needs to answer incident reads without
-- PostgreSQL building JSON (docs/DESIGN.md, "Read path").
--
-- Locks: the ADD COLUMN takes AccessExclusiveLock on incidents for a
-- catalog change only (no default, no rewrite: 0.00 s at 1 000 000
-- incidents, docs/SCHEMA.md "Long locks"). Existing incidents keep a NULL
-- frame, which the reads build on the fly until
-- incidentd_fill_frames() fills them (docs/SCHEMA.md, "Frames").

alter table incidents add column frame text;

comment on column incidents.frame is
    'The incident''s own part of its API rendering, written with the incident by the api functions (sql/code/20_frames.sql): the JSON text with each configuration object named by a reference instead. Derived data: NULL means not built yet (reads build it on the fly; SELECT incidentd_fill_frames(5000) builds them), and an UPDATE of the row by hand sets it to NULL. After changing an incident''s role assignments or custom field values by hand, set its frame to NULL.';

create table config_versions (
    organisation_id text   primary key references organisations (id) on delete cascade,
    version         bigint not null default 0 check (version >= 0)
);

comment on table config_versions is
    'A counter per organisation, bumped by a trigger on every change to its severities, incident types, incident roles, custom fields, options, users and API keys. The workers cache configuration objects per organisation and compare this counter on every read, so a changed object renders at once. No row: 0.';

-- A create writes an incident's role assignments and custom field values
-- before it takes the organisation's lock, and the incident after it
-- (sql/code/30_incidents.sql, api.incident_write): their references to the
-- incident may wait for the commit. Still checked on every statement unless
-- a transaction says otherwise (SET CONSTRAINTS). A catalog change.
alter table incident_role_assignments
    alter constraint incident_role_assignments_organisation_id_incident_id_fkey
    deferrable initially immediate;
alter table incident_custom_field_values
    alter constraint incident_custom_field_values_organisation_id_incident_id_fkey
    deferrable initially immediate;

-- The JSON renderers the worker no longer calls, and the functions whose
-- results change shape; sql/code/ defines their successors.
drop function if exists api.incident_show(text, text, boolean);
drop function if exists api.incident_list(text, boolean, text[], text, integer);
drop function if exists api.incident_replay(text, text);
drop function if exists api.incident_create(text, text, text, jsonb);
drop function if exists api.incident_create_by_key(text, text, text, text, text);
drop function if exists api.incident_write(text, text, text, jsonb);
drop function if exists api.incident_json(text, text);
drop function if exists api.incidents_json(text, text[]);
