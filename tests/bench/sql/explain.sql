-- EXPLAIN (ANALYZE, BUFFERS) of every statement the endpoints run, nested
-- statements included: auto_explain in this session, its plans sent to the
-- client as NOTICEs. Each call runs three times (the first plans the
-- plpgsql statements of the session); only the third is kept, between the
-- "#### NAME" and "#### end" markers (on stderr, like the NOTICEs).
-- psql variables: org, key_id, public_url, show_id, after_id, statuses,
-- create_payload (with @KEY@ for the key), replay_payload.
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

-- The worker's statements (src/api/incidents.c), planned as the worker plans
-- them (src/daemon/db.c).
set plan_cache_mode = force_generic_plan;
prepare show(text, text, boolean) as
    select frame, config_version from api.incident_show($1, $2, $3::boolean);
prepare list(text, boolean, text, int) as
    select id, frame, total, config_version, after_ok from api.incident_page($1, $2::boolean, $3, $4::int);
prepare list_status(text, boolean, text[], text, int) as
    select id, frame, total, config_version, after_ok
    from api.incident_page_by_status($1, $2::boolean, $3::text[], $4, $5::int);
prepare probe(text, text) as select frame, config_version from api.incident_replay($1, $2);
prepare mk(text, text, text, text) as
    select replayed, frame, config_version
    from api.incident_create_by_key($1, $2, $3, $4::jsonb ->> 'idempotency_key', $4);

\o /dev/null
execute show(:'org', :'show_id', true);
execute show(:'org', :'show_id', true);
\warn '#### show'
execute show(:'org', :'show_id', true);
\warn '#### end'

execute list(:'org', true, null, 25);
execute list(:'org', true, null, 25);
\warn '#### list_first'
execute list(:'org', true, null, 25);
\warn '#### end'

execute list(:'org', true, :'after_id', 25);
execute list(:'org', true, :'after_id', 25);
\warn '#### list_deep'
execute list(:'org', true, :'after_id', 25);
\warn '#### end'

execute list_status(:'org', true, :'statuses', null, 25);
execute list_status(:'org', true, :'statuses', null, 25);
\warn '#### list_status'
execute list_status(:'org', true, :'statuses', null, 25);
\warn '#### end'

select replace(:'create_payload', '@KEY@', 'explain-' || incidentd_ulid()) as p1,
       replace(:'create_payload', '@KEY@', 'explain-' || incidentd_ulid()) as p2,
       replace(:'create_payload', '@KEY@', 'explain-' || incidentd_ulid()) as p3,
       incidentd_ulid() as i1, incidentd_ulid() as i2, incidentd_ulid() as i3 \gset
execute probe(:'org', :'p1'::jsonb ->> 'idempotency_key');
execute mk(:'org', :'key_id', :'i1', :'p1');
execute probe(:'org', :'p2'::jsonb ->> 'idempotency_key');
execute mk(:'org', :'key_id', :'i2', :'p2');
\warn '#### create'
execute probe(:'org', :'p3'::jsonb ->> 'idempotency_key');
execute mk(:'org', :'key_id', :'i3', :'p3');
\warn '#### end'

execute probe(:'org', :'replay_payload'::jsonb ->> 'idempotency_key');
execute probe(:'org', :'replay_payload'::jsonb ->> 'idempotency_key');
\warn '#### replay'
execute probe(:'org', :'replay_payload'::jsonb ->> 'idempotency_key');
\warn '#### end'
\o
