-- 002_api: the schema of the SQL interface the worker calls (docs/DESIGN.md,
-- "SQL interface used by the worker"). Its functions are code, defined in
-- sql/code/ (conventions in sql/code/00_helpers.sql).

create schema api;

comment on schema api is
    'Functions called by the incidentd workers (one per request). Reporting users should query the tables in public instead.';
