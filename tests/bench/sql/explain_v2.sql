-- EXPLAIN (ANALYZE, BUFFERS) of the Incidents V2 list's first page, without
-- a filter and with each common filter of the benchmark: the worker's
-- statement (src/api/incidents_v2_list.c) with the clauses it makes of the
-- query string, nested statements included (auto_explain, plans sent to
-- the client as NOTICEs), as explain.sql does for the v1 endpoints. Each
-- call runs three times (the first plans the plpgsql statements of the
-- session); only the third is kept, between the "#### NAME" and "#### end"
-- markers (on stderr, like the NOTICEs).
-- psql variables: org, public_url, and the clauses (JSON) of each call:
-- c_v2_list_first, c_v2_live, c_v2_sev_gte, c_v2_created_range,
-- c_v2_cf_one_of, c_v2_type_one_of.
\set ON_ERROR_STOP on
\set QUIET on
select set_config('incidentd.public_url', :'public_url', false) \g /dev/null
load 'auto_explain';
set auto_explain.log_min_duration = 0;
set auto_explain.log_analyze = on;
set auto_explain.log_buffers = on;
set auto_explain.log_timing = on;
set auto_explain.log_triggers = on;
set auto_explain.log_nested_statements = on;
set auto_explain.log_level = notice;
set client_min_messages = notice;

-- Planned as the worker plans them (src/daemon/db.c).
set plan_cache_mode = force_generic_plan;
prepare list_v2(text, boolean, jsonb, boolean, text[], boolean, text, int) as
    select id, frame, total, config_version, after_ok
    from api.incident_page_v2($1, $2::boolean, $3::jsonb, $4::boolean, $5::text[], $6::boolean, $7, $8::int);

\o /dev/null
execute list_v2(:'org', true, :'c_v2_list_first', false, null, false, null, 25);
execute list_v2(:'org', true, :'c_v2_list_first', false, null, false, null, 25);
\warn '#### v2_list_first'
execute list_v2(:'org', true, :'c_v2_list_first', false, null, false, null, 25);
\warn '#### end'

execute list_v2(:'org', true, :'c_v2_live', false, null, false, null, 25);
execute list_v2(:'org', true, :'c_v2_live', false, null, false, null, 25);
\warn '#### v2_live'
execute list_v2(:'org', true, :'c_v2_live', false, null, false, null, 25);
\warn '#### end'

execute list_v2(:'org', true, :'c_v2_sev_gte', false, null, false, null, 25);
execute list_v2(:'org', true, :'c_v2_sev_gte', false, null, false, null, 25);
\warn '#### v2_sev_gte'
execute list_v2(:'org', true, :'c_v2_sev_gte', false, null, false, null, 25);
\warn '#### end'

execute list_v2(:'org', true, :'c_v2_created_range', false, null, false, null, 25);
execute list_v2(:'org', true, :'c_v2_created_range', false, null, false, null, 25);
\warn '#### v2_created_range'
execute list_v2(:'org', true, :'c_v2_created_range', false, null, false, null, 25);
\warn '#### end'

execute list_v2(:'org', true, :'c_v2_cf_one_of', false, null, false, null, 25);
execute list_v2(:'org', true, :'c_v2_cf_one_of', false, null, false, null, 25);
\warn '#### v2_cf_one_of'
execute list_v2(:'org', true, :'c_v2_cf_one_of', false, null, false, null, 25);
\warn '#### end'

execute list_v2(:'org', true, :'c_v2_type_one_of', false, null, false, null, 25);
execute list_v2(:'org', true, :'c_v2_type_one_of', false, null, false, null, 25);
\warn '#### v2_type_one_of'
execute list_v2(:'org', true, :'c_v2_type_one_of', false, null, false, null, 25);
\warn '#### end'
\o
