-- Smoke test of the api functions (sql/code/) on a freshly migrated,
-- empty database:
--
--   createdb t && DATABASE_URL=postgresql:///t incidentctl migrate
--   psql -d t -v ON_ERROR_STOP=1 -f tests/sql/smoke.sql
--
-- Any failed check raises, so the script stops with an error; success ends
-- with "smoke: all checks passed".
\set ON_ERROR_STOP 1
\set QUIET 1
\pset tuples_only on
\pset format unaligned
-- results are not interesting, only errors are
\o /dev/null

\ir fixture.sql
\ir oracle.sql

select set_config('incidentd.public_url', 'https://incidents.example.com/', false);

-- ---------------------------------------------------------------------------
-- helpers (session-local)
-- ---------------------------------------------------------------------------

create function pg_temp.mk(p jsonb, out replayed boolean, out inc jsonb)
language sql as $$
    select c.replayed, (c.body::jsonb) -> 'incident'
    from oracle.incident_create('01H0000000000000000000RGA1', '01H0000000000000000000KEYA', incidentd_ulid(), p) c
$$;

-- Runs a statement that must fail with the given SQLSTATE, and DETAIL, HINT
-- and MESSAGE when they are given (not null).
create function pg_temp.expect_err(p_sql text, p_state text, p_detail text, p_hint text,
                                   p_message text default null) returns void
language plpgsql as $$
declare
    g_state text; g_detail text; g_hint text; g_message text;
begin
    begin
        execute p_sql;
    exception when others then
        get stacked diagnostics g_state = returned_sqlstate, g_detail = pg_exception_detail,
                                g_hint = pg_exception_hint, g_message = message_text;
        if g_state is distinct from p_state
           or (p_detail is not null and g_detail is distinct from p_detail)
           or (p_hint is not null and g_hint is distinct from p_hint)
           or (p_message is not null and g_message is distinct from p_message) then
            raise exception 'expected % / % / % / %, got % / % / % / % for: %',
                p_state, p_detail, p_hint, p_message, g_state, g_detail, g_hint, g_message, p_sql;
        end if;
        return;
    end;
    raise exception 'expected error % % %, but it succeeded: %', p_state, p_detail, p_hint, p_sql;
end
$$;

-- A create that must fail with IX422 on field p_field with code p_hint.
create function pg_temp.create_err(p jsonb, p_field text, p_hint text, p_message text default null)
returns void language sql as $$
    select pg_temp.expect_err(
        format('select * from oracle.incident_create(%L, %L, incidentd_ulid(), %L::jsonb)',
               '01H0000000000000000000RGA1', '01H0000000000000000000KEYA', p),
        'IX422', p_field, p_hint, p_message)
$$;

create function pg_temp.check(p_ok boolean, p_what text) returns void
language plpgsql as $$
begin
    if p_ok is distinct from true then
        raise exception 'check failed: %', p_what;
    end if;
end
$$;

create function pg_temp.counts_exact() returns boolean
language sql as $$
    select not exists (
        select organisation_id, status, visibility, count(*) from incidents group by 1, 2, 3
        except
        select organisation_id, status, visibility, incident_count from incident_counts where incident_count > 0)
    and not exists (
        select organisation_id, status, visibility, incident_count from incident_counts where incident_count > 0
        except
        select organisation_id, status, visibility, count(*) from incidents group by 1, 2, 3)
$$;

-- ---------------------------------------------------------------------------
-- incidentd_ulid
-- ---------------------------------------------------------------------------

create temp table ulids as select incidentd_ulid() as u from generate_series(1, 1000);
select pg_temp.check(bool_and(u ~ '^[0-7][0-9A-HJKMNP-TV-Z]{25}$') and count(distinct u) = 1000, 'ulid shape and uniqueness') from ulids;
-- the first 10 characters are the time in milliseconds
select pg_temp.check(abs(sum((strpos('0123456789ABCDEFGHJKMNPQRSTVWXYZ', substr(u, g, 1)) - 1)::numeric * 32 ^ (10 - g))
                         - floor(extract(epoch from clock_timestamp()) * 1000)) < 60000, 'ulid time prefix')
from (select incidentd_ulid() as u) x, generate_series(1, 10) g;
select pg_sleep(0.002);
select pg_temp.check(max(u) < incidentd_ulid(), 'ulids increase with time') from ulids;

-- ---------------------------------------------------------------------------
-- create, replay, defaults, numbering
-- ---------------------------------------------------------------------------

create temp table r as select * from pg_temp.mk('{"idempotency_key": "k1", "visibility": "public"}');
select pg_temp.check(not replayed, 'first create is not a replay') from r;
select pg_temp.check(inc ->> 'reference' = 'INC-1', 'first reference INC-1') from r;
select pg_temp.check(inc ->> 'name' = 'Untitled incident', 'default name') from r;
select pg_temp.check(inc ->> 'status' = 'triage', 'default status') from r;
select pg_temp.check(inc ->> 'mode' = 'real', 'default mode') from r;
select pg_temp.check(inc ->> 'slack_team_id' = '' and inc ->> 'slack_channel_id' = '', 'slack ids') from r;
select pg_temp.check(inc ->> 'slack_channel_name' = 'inc-1-untitled-incident', 'channel name') from r;
select pg_temp.check(inc ->> 'permalink' = 'https://incidents.example.com/incidents/1', 'permalink') from r;
select pg_temp.check(inc -> 'incident_type' ->> 'id' = '01H0000000000000000000TYP1', 'default type') from r;
select pg_temp.check(not inc ? 'severity' and not inc ? 'summary', 'optional fields omitted') from r;
select pg_temp.check(inc -> 'creator' = '{"api_key": {"id": "01H0000000000000000000KEYA", "name": "Key A"}}', 'creator') from r;
select pg_temp.check(inc -> 'incident_role_assignments' = '[]' and inc -> 'custom_field_entries' = '[]', 'empty arrays') from r;
select pg_temp.check(inc ->> 'created_at' ~ '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$', 'timestamp format') from r;
select pg_temp.check(inc -> 'timestamps' = jsonb_build_array(jsonb_build_object('name', 'last_activity', 'last_occurred_at', inc ->> 'updated_at')), 'timestamps') from r;
select pg_temp.check(not (inc::text ~ ': null'), 'no nulls') from r;

-- replay: same incident, nothing consumed, new payload ignored
create temp table r2 as select * from pg_temp.mk('{"idempotency_key": "k1", "visibility": "private", "name": "other", "status": "fixing"}');
select pg_temp.check(r2.replayed and r2.inc ->> 'id' = r.inc ->> 'id' and r2.inc ->> 'name' = 'Untitled incident', 'replay returns the original') from r, r2;
select pg_temp.check(last_incident_number = 1, 'replay consumed no number') from organisations where id = '01H0000000000000000000RGA1';
-- the same key in another organisation is a different incident
select pg_temp.check(not c.replayed, 'keys are per organisation')
from oracle.incident_create('01H0000000000000000000RGB1', '01H0000000000000000000KEYB', incidentd_ulid(),
                         '{"idempotency_key": "k1", "visibility": "public"}') c;

-- ---------------------------------------------------------------------------
-- validation errors (each must leave nothing behind)
-- ---------------------------------------------------------------------------

select pg_temp.create_err('{"idempotency_key": "e", "visibility": "public", "status": "fixing"}',
                          'severity_id', 'is_required', 'A severity is required to open an incident');
select pg_temp.create_err('{"idempotency_key": "e", "visibility": "public", "status": "closed"}',
                          'severity_id', 'is_required', 'A severity is required to open an incident');
select pg_temp.create_err('{"idempotency_key": "e"}', 'visibility', 'is_required');
select pg_temp.create_err('{"visibility": "public"}', 'idempotency_key', 'is_required');
select pg_temp.create_err('{"idempotency_key": "e", "visibility": "public", "severity_id": "01H0000000000000000000SEVX"}', 'severity_id', 'invalid_value');
select pg_temp.create_err('{"idempotency_key": "e", "visibility": "public", "severity_id": "01H0000000000000000000SEVB"}', 'severity_id', 'invalid_value');
select pg_temp.create_err('{"idempotency_key": "e", "visibility": "public", "severity_id": "nope"}', 'severity_id', 'invalid_value');
select pg_temp.create_err('{"idempotency_key": "e", "visibility": "public", "incident_type_id": "01H0000000000000000000TYPX"}', 'incident_type_id', 'invalid_value');
select pg_temp.create_err('{"idempotency_key": "e", "visibility": "public", "incident_type_id": "01H0000000000000000000TYPB"}', 'incident_type_id', 'invalid_value');
select pg_temp.create_err('{"idempotency_key": "e", "visibility": "public", "incident_type_id": "01H0000000000000000000TYP3"}', 'visibility', 'invalid_value');
select pg_temp.create_err('{"idempotency_key": "e", "visibility": "public", "custom_field_entries": [{"custom_field_id": "01H0000000000000000000FXX1", "values": []}]}',
                          'custom_field_entries[0].custom_field_id', 'invalid_value');
select pg_temp.create_err('{"idempotency_key": "e", "visibility": "public", "custom_field_entries": [{"custom_field_id": "01H0000000000000000000FB01", "values": []}]}',
                          'custom_field_entries[0].custom_field_id', 'invalid_value');
select pg_temp.create_err('{"idempotency_key": "e", "visibility": "public", "custom_field_entries": [{"custom_field_id": "01H0000000000000000000FTX1", "values": [{"value_text": "a"}]}, {"custom_field_id": "01H0000000000000000000FTX1", "values": [{"value_text": "b"}]}]}',
                          'custom_field_entries[1].custom_field_id', 'invalid_value');
select pg_temp.create_err('{"idempotency_key": "e", "visibility": "public", "custom_field_entries": [{"custom_field_id": "01H0000000000000000000FSS1", "values": [{"value_option_id": "01H0000000000000000000PSS1"}, {"value_option_id": "01H0000000000000000000PSS2"}]}]}',
                          'custom_field_entries[0].values', 'invalid_value');
select pg_temp.create_err('{"idempotency_key": "e", "visibility": "public", "custom_field_entries": [{"custom_field_id": "01H0000000000000000000FTX1", "values": []}, {"custom_field_id": "01H0000000000000000000FSS1", "values": [{"value_text": "x"}]}]}',
                          'custom_field_entries[1].values[0].value_option_id', 'is_required');
select pg_temp.create_err('{"idempotency_key": "e", "visibility": "public", "custom_field_entries": [{"custom_field_id": "01H0000000000000000000FSS1", "values": [{"value_option_id": "01H0000000000000000000PSSX"}]}]}',
                          'custom_field_entries[0].values[0].value_option_id', 'invalid_value');
select pg_temp.create_err('{"idempotency_key": "e", "visibility": "public", "custom_field_entries": [{"custom_field_id": "01H0000000000000000000FSS1", "values": [{"value_option_id": "01H0000000000000000000PMS1"}]}]}',
                          'custom_field_entries[0].values[0].value_option_id', 'invalid_value');
select pg_temp.create_err('{"idempotency_key": "e", "visibility": "public", "custom_field_entries": [{"custom_field_id": "01H0000000000000000000FMS1", "values": [{"value_option_id": "01H0000000000000000000PMS1"}, {"value_option_id": "01H0000000000000000000PB01"}]}]}',
                          'custom_field_entries[0].values[1].value_option_id', 'invalid_value');
select pg_temp.create_err('{"idempotency_key": "e", "visibility": "public", "custom_field_entries": [{"custom_field_id": "01H0000000000000000000FMS1", "values": [{"value_option_id": "01H0000000000000000000PMS1"}, {"value_option_id": "01H0000000000000000000PMS1"}]}]}',
                          'custom_field_entries[0].values[1].value_option_id', 'invalid_value');
select pg_temp.create_err('{"idempotency_key": "e", "visibility": "public", "custom_field_entries": [{"custom_field_id": "01H0000000000000000000FTX1", "values": [{"value_link": "https://x.example"}]}]}',
                          'custom_field_entries[0].values[0].value_text', 'is_required');
select pg_temp.create_err('{"idempotency_key": "e", "visibility": "public", "custom_field_entries": [{"custom_field_id": "01H0000000000000000000FWW1", "values": [{"value_link": "ftp://x.example"}]}]}',
                          'custom_field_entries[0].values[0].value_link', 'invalid_value');
select pg_temp.create_err('{"idempotency_key": "e", "visibility": "public", "custom_field_entries": [{"custom_field_id": "01H0000000000000000000FWW1", "values": [{"value_link": "http://"}]}]}',
                          'custom_field_entries[0].values[0].value_link', 'invalid_value');
select pg_temp.create_err('{"idempotency_key": "e", "visibility": "public", "custom_field_entries": [{"custom_field_id": "01H0000000000000000000FWW1", "values": [{"value_link": "https://x.example/a b"}]}]}',
                          'custom_field_entries[0].values[0].value_link', 'invalid_value');
select pg_temp.create_err('{"idempotency_key": "e", "visibility": "public", "custom_field_entries": [{"custom_field_id": "01H0000000000000000000FWW1", "values": [{}]}]}',
                          'custom_field_entries[0].values[0].value_link', 'is_required');
select pg_temp.create_err('{"idempotency_key": "e", "visibility": "public", "custom_field_entries": [{"custom_field_id": "01H0000000000000000000FNM1", "values": [{"value_numeric": "1e5"}]}]}',
                          'custom_field_entries[0].values[0].value_numeric', 'invalid_value');
select pg_temp.create_err('{"idempotency_key": "e", "visibility": "public", "custom_field_entries": [{"custom_field_id": "01H0000000000000000000FNM1", "values": [{"value_numeric": "12."}]}]}',
                          'custom_field_entries[0].values[0].value_numeric', 'invalid_value');
select pg_temp.create_err('{"idempotency_key": "e", "visibility": "public", "custom_field_entries": [{"custom_field_id": "01H0000000000000000000FNM1", "values": [{"value_text": "12"}]}]}',
                          'custom_field_entries[0].values[0].value_numeric', 'is_required');
select pg_temp.create_err('{"idempotency_key": "e", "visibility": "public", "incident_role_assignments": [{"incident_role_id": "01H0000000000000000000R0EX", "assignee": {"id": "01H0000000000000000000VSR1"}}]}',
                          'incident_role_assignments[0].incident_role_id', 'invalid_value');
select pg_temp.create_err('{"idempotency_key": "e", "visibility": "public", "incident_role_assignments": [{"incident_role_id": "01H0000000000000000000R0EB", "assignee": {"id": "01H0000000000000000000VSR1"}}]}',
                          'incident_role_assignments[0].incident_role_id', 'invalid_value');
select pg_temp.create_err('{"idempotency_key": "e", "visibility": "public", "incident_role_assignments": [{"incident_role_id": "01H0000000000000000000R0E1", "assignee": {"id": "01H0000000000000000000VSR1"}}, {"incident_role_id": "01H0000000000000000000R0E1", "assignee": {"id": "01H0000000000000000000VSR2"}}]}',
                          'incident_role_assignments[1].incident_role_id', 'invalid_value');
select pg_temp.create_err('{"idempotency_key": "e", "visibility": "public", "incident_role_assignments": [{"incident_role_id": "01H0000000000000000000R0E1", "assignee": {}}]}',
                          'incident_role_assignments[0].assignee', 'is_required');
select pg_temp.create_err('{"idempotency_key": "e", "visibility": "public", "incident_role_assignments": [{"incident_role_id": "01H0000000000000000000R0E1", "assignee": {"email": "nobody@example.com"}}]}',
                          'incident_role_assignments[0].assignee', 'invalid_value');
select pg_temp.create_err('{"idempotency_key": "e", "visibility": "public", "incident_role_assignments": [{"incident_role_id": "01H0000000000000000000R0E1", "assignee": {"id": "01H0000000000000000000VSRB"}}]}',
                          'incident_role_assignments[0].assignee', 'invalid_value');
select pg_temp.create_err('{"idempotency_key": "e", "visibility": "public", "incident_role_assignments": [{"incident_role_id": "01H0000000000000000000R0E1", "assignee": {"email": "bea@example.com"}}]}',
                          'incident_role_assignments[0].assignee', 'invalid_value');

select pg_temp.check(not exists (select 1 from incidents where idempotency_key = 'e'), 'failed creates wrote nothing');
select pg_temp.check(last_incident_number = 1, 'failed creates consumed no number') from organisations where id = '01H0000000000000000000RGA1';

-- ---------------------------------------------------------------------------
-- successful variants
-- ---------------------------------------------------------------------------

-- declined needs no severity; always-triage type forces triage (so no severity needed)
select pg_temp.check(inc ->> 'reference' = 'INC-2' and inc ->> 'status' = 'declined', 'declined without severity')
from pg_temp.mk('{"idempotency_key": "k2", "visibility": "public", "status": "declined"}');
select pg_temp.check(inc ->> 'reference' = 'INC-3' and inc ->> 'status' = 'triage', 'create_in_triage always')
from pg_temp.mk('{"idempotency_key": "k3", "visibility": "public", "status": "fixing", "incident_type_id": "01H0000000000000000000TYP2"}');
select pg_temp.check(inc ->> 'visibility' = 'private' and inc -> 'incident_type' ->> 'id' = '01H0000000000000000000TYP3', 'private-only type')
from pg_temp.mk('{"idempotency_key": "k4", "visibility": "private", "incident_type_id": "01H0000000000000000000TYP3", "status": "triage"}');

create temp table full_inc as
select * from pg_temp.mk($j${
    "idempotency_key": "k5", "visibility": "public", "status": "fixing", "mode": "test",
    "name": "Our Database is SAD!!  (eu-west-1) -- très bad",
    "summary": "Really sad", "severity_id": "01H0000000000000000000SEV2", "slack_team_id": "T02",
    "source_message_channel_id": "C1", "source_message_timestamp": "1653650280.526509",
    "custom_field_entries": [
        {"custom_field_id": "01H0000000000000000000FNM1", "values": [{"value_numeric": "-123.450"}]},
        {"custom_field_id": "01H0000000000000000000FMS1", "values": [{"value_option_id": "01H0000000000000000000PMS2"}, {"value_option_id": "01H0000000000000000000PMS1"}]},
        {"custom_field_id": "01H0000000000000000000FTX1", "values": []},
        {"custom_field_id": "01H0000000000000000000FSS1", "values": [{"value_option_id": "01H0000000000000000000PSS1"}]},
        {"custom_field_id": "01H0000000000000000000FWW1", "values": [{"value_link": "HTTPS://runbooks.example.com/db?x=1#y"}]}],
    "incident_role_assignments": [
        {"incident_role_id": "01H0000000000000000000R0E2", "assignee": {"email": "lisa@example.com"}},
        {"incident_role_id": "01H0000000000000000000R0E1", "assignee": {"id": "01H0000000000000000000VSRB", "slack_user_id": "U002"}}]
}$j$);
select pg_temp.check(inc ->> 'reference' = 'INC-5', 'INC-5') from full_inc;
select pg_temp.check(inc ->> 'slack_channel_name' = 'inc-5-our-database-is-sad-eu-west-1-tr-s-bad', 'slug: ' || (inc ->> 'slack_channel_name')) from full_inc;
select pg_temp.check(inc ->> 'mode' = 'test' and inc ->> 'slack_team_id' = 'T02' and inc ->> 'summary' = 'Really sad', 'echoed fields') from full_inc;
select pg_temp.check(inc -> 'severity' ->> 'name' = 'Major' and (inc -> 'severity' -> 'rank') = '2', 'severity rendered') from full_inc;
select pg_temp.check(jsonb_path_query_array(inc, '$.custom_field_entries[*].custom_field.id')
                     = '["01H0000000000000000000FNM1", "01H0000000000000000000FMS1", "01H0000000000000000000FSS1", "01H0000000000000000000FWW1"]',
                     'entries in request order, empty one skipped') from full_inc;
select pg_temp.check(inc -> 'custom_field_entries' -> 0 -> 'values' = '[{"value_numeric": "-123.450"}]', 'numeric as text') from full_inc;
select pg_temp.check(jsonb_path_query_array(inc, '$.custom_field_entries[1].values[*].value_option.value') = '["Web", "API"]', 'multi values in order') from full_inc;
select pg_temp.check(jsonb_path_query_array(inc, '$.custom_field_entries[2].custom_field.options[*].value') = '["Platform", "Product"]', 'live options by sort_key') from full_inc;
select pg_temp.check(inc -> 'custom_field_entries' -> 3 -> 'values' = '[{"value_link": "HTTPS://runbooks.example.com/db?x=1#y"}]', 'link') from full_inc;
select pg_temp.check(jsonb_path_query_array(inc, '$.incident_role_assignments[*].assignee.name') = '["Lisa", "Bob"]', 'assignees (email case-insensitive, id of other org falls back to slack id)') from full_inc;
select pg_temp.check(inc -> 'incident_role_assignments' -> 1 -> 'assignee' = '{"id": "01H0000000000000000000VSR2", "name": "Bob", "role": "responder", "slack_user_id": "U002"}', 'UserV1 without email') from full_inc;
select pg_temp.check(inc -> 'incident_role_assignments' -> 1 -> 'role' ->> 'role_type' = 'lead', 'role rendered') from full_inc;

-- archived configuration still renders on old incidents
update severities set archived_at = now() where id = '01H0000000000000000000SEV2';
update custom_field_options set archived_at = now() where id = '01H0000000000000000000PSS1';
select pg_temp.check(
    (s::jsonb -> 'incident' -> 'severity' ->> 'name') = 'Major'
    and jsonb_path_query_array(s::jsonb, '$.incident.custom_field_entries[2].values[*].value_option.value') = '["Product"]'
    -- the field keeps the options it had when the incident was created
    and jsonb_path_query_array(s::jsonb, '$.incident.custom_field_entries[2].custom_field.options[*].value') = '["Platform", "Product"]',
    'archived rows still render')
from full_inc, oracle.incident_show('01H0000000000000000000RGA1', full_inc.inc ->> 'id', true) s;
update severities set archived_at = null where id = '01H0000000000000000000SEV2';
update custom_field_options set archived_at = null where id = '01H0000000000000000000PSS1';

-- ---------------------------------------------------------------------------
-- show
-- ---------------------------------------------------------------------------

select pg_temp.check((oracle.incident_show('01H0000000000000000000RGA1', inc ->> 'id', false)::jsonb -> 'incident' ->> 'id') = inc ->> 'id', 'show') from full_inc;
select pg_temp.expect_err(format('select oracle.incident_show(%L, %L, true)', '01H0000000000000000000RGB1', inc ->> 'id'), 'IX404', 'id', 'not_found') from full_inc;
select pg_temp.expect_err(format('select oracle.incident_show(%L, %L, true)', '01H0000000000000000000RGA1', '01H00000000000000000000000'), 'IX404', 'id', 'not_found');
select pg_temp.expect_err(format('select oracle.incident_show(%L, %L, false)', '01H0000000000000000000RGA1', id), 'IX404', 'id', 'not_found')
from incidents where idempotency_key = 'k4';
select pg_temp.check((oracle.incident_show('01H0000000000000000000RGA1', id, true)::jsonb -> 'incident' ->> 'visibility') = 'private', 'show private with global access')
from incidents where idempotency_key = 'k4';

-- ---------------------------------------------------------------------------
-- list
-- ---------------------------------------------------------------------------

-- 40 more incidents in assorted statuses and visibilities
select pg_temp.mk(jsonb_build_object(
    'idempotency_key', 'bulk-' || g,
    'visibility', case when g % 4 = 0 then 'private' else 'public' end,
    'status', (array['triage', 'investigating', 'fixing', 'monitoring', 'closed', 'declined'])[1 + g % 6],
    'severity_id', '01H0000000000000000000SEV1',
    'name', 'Bulk ' || g))
from generate_series(1, 40) g;

select pg_temp.check(last_incident_number = 45 and (select array_agg(reference_number order by reference_number) from incidents where organisation_id = o.id) = (select array_agg(g::bigint) from generate_series(1, 45) g),
                     'reference numbers 1..45 without gaps')
from organisations o where id = '01H0000000000000000000RGA1';
select pg_temp.check(pg_temp.counts_exact(), 'incident_counts exact after inserts');

-- Walks every page; compares with the expected order and the totals.
create function pg_temp.walk(p_private boolean, p_statuses text[], p_size int) returns void
language plpgsql as $$
declare
    v_after text;
    v_body jsonb;
    v_got text[] := '{}';
    v_want text[];
    v_total bigint;
    v_pages int := 0;
begin
    select coalesce(array_agg(id order by created_at desc, id desc), '{}'), count(*) into v_want, v_total
    from incidents
    where organisation_id = '01H0000000000000000000RGA1'
      and (p_private or visibility = 'public')
      and (coalesce(cardinality(p_statuses), 0) = 0 or status = any (p_statuses));
    loop
        v_body := oracle.incident_list('01H0000000000000000000RGA1', p_private, p_statuses, v_after, p_size)::jsonb;
        v_pages := v_pages + 1;
        perform pg_temp.check((v_body -> 'pagination_meta' -> 'total_record_count')::bigint = v_total,
                              format('total %s = %s', v_body -> 'pagination_meta' -> 'total_record_count', v_total));
        perform pg_temp.check((v_body -> 'pagination_meta' -> 'page_size')::int = least(p_size, 250), 'page_size echoed');
        perform pg_temp.check(jsonb_array_length(v_body -> 'incidents') <= p_size, 'page not over size');
        v_got := v_got || array(select jsonb_array_elements(v_body -> 'incidents') ->> 'id');
        v_after := v_body -> 'pagination_meta' ->> 'after';
        exit when v_after is null;
        perform pg_temp.check(jsonb_array_length(v_body -> 'incidents') = p_size, 'full page before the last');
        perform pg_temp.check(v_after = (v_body -> 'incidents' -> (p_size - 1) ->> 'id'), 'after is the last id');
    end loop;
    perform pg_temp.check(v_got = v_want, format('walk %s %s %s: every incident once, in order', p_private, p_statuses, p_size));
    perform pg_temp.check(v_pages = greatest(1, ceil(cardinality(v_want)::numeric / p_size)), 'no empty trailing page');
end
$$;

select pg_temp.walk(true, null, 7);
select pg_temp.walk(false, null, 7);
select pg_temp.walk(true, null, 250);
select pg_temp.walk(true, null, 1);
select pg_temp.walk(true, '{fixing}', 3);
select pg_temp.walk(false, '{triage,closed,triage}', 4);
select pg_temp.walk(true, '{monitoring,declined,investigating}', 5);
select pg_temp.walk(true, '{}', 9);
-- exactly a page: no "after"
select pg_temp.check(not ((oracle.incident_list('01H0000000000000000000RGA1', true, null, null, 45)::jsonb -> 'pagination_meta') ? 'after'), 'exact page has no after');
select pg_temp.check((oracle.incident_list('01H0000000000000000000RGA1', true, null, null, 44)::jsonb -> 'pagination_meta') ? 'after', 'one more has after');
-- organisation B sees only its own
select pg_temp.check((oracle.incident_list('01H0000000000000000000RGB1', true, null, null, 25)::jsonb -> 'pagination_meta' -> 'total_record_count') = '1', 'org B total');
-- bad cursors
select pg_temp.expect_err(format('select oracle.incident_list(%L, true, null, %L, 10)', '01H0000000000000000000RGA1', 'nope'), 'IX422', 'after', 'invalid_value');
select pg_temp.expect_err(format('select oracle.incident_list(%L, true, null, %L, 10)', '01H0000000000000000000RGB1', id), 'IX422', 'after', 'invalid_value')
from incidents where idempotency_key = 'k5' and organisation_id = '01H0000000000000000000RGA1';
select pg_temp.expect_err(format('select oracle.incident_list(%L, false, null, %L, 10)', '01H0000000000000000000RGA1', id), 'IX422', 'after', 'invalid_value')
from incidents where idempotency_key = 'k4';

-- ---------------------------------------------------------------------------
-- incident_counts under updates and deletes
-- ---------------------------------------------------------------------------

-- Every create so far stored a frame, and it is the one its rows give.
select pg_temp.check(count(*) > 20 and count(*) = count(i.frame) and bool_and(i.frame = api.incident_frame_of(i)),
                     'stored frames = frames of the rows')
from incidents i;

update incidents set status = 'closed' where organisation_id = '01H0000000000000000000RGA1' and status = 'fixing';
update incidents set visibility = 'private' where idempotency_key = 'bulk-1';
update incidents set updated_at = now();
select pg_temp.check(pg_temp.counts_exact(), 'incident_counts exact after updates');
delete from incidents where idempotency_key like 'bulk-1%';
select pg_temp.check(pg_temp.counts_exact(), 'incident_counts exact after deletes');
select incidentd_rebuild_incident_counts();
select pg_temp.check(pg_temp.counts_exact(), 'incident_counts exact after rebuild');
select pg_temp.walk(true, '{closed}', 4);

-- ---------------------------------------------------------------------------
-- rows loaded by hand
-- ---------------------------------------------------------------------------

-- no id, no slack_channel_name, counter not bumped
insert into incidents (organisation_id, reference_number, idempotency_key, name, visibility, creator_api_key_id)
select '01H0000000000000000000RGA1', last_incident_number + 1, 'by-hand', 'Loaded By Hand', 'public', '01H0000000000000000000KEYA'
from organisations where id = '01H0000000000000000000RGA1';
select pg_temp.check((oracle.incident_show('01H0000000000000000000RGA1', id, false)::jsonb -> 'incident' ->> 'slack_channel_name')
                     = 'inc-' || reference_number || '-loaded-by-hand', 'derived slack_channel_name')
from incidents where idempotency_key = 'by-hand';
select pg_temp.check((inc ->> 'reference') = 'INC-' || (select reference_number + 1 from incidents where idempotency_key = 'by-hand'),
                     'numbering continues after a hand-loaded incident')
from pg_temp.mk('{"idempotency_key": "after-hand", "visibility": "public"}');
select pg_temp.check(pg_temp.counts_exact(), 'incident_counts exact after hand insert');

-- ---------------------------------------------------------------------------
-- incident_create_by_key (the worker's entry, migration 004)
-- ---------------------------------------------------------------------------

-- A known key is a replay whatever the payload: it is not even parsed.
select pg_temp.check(c.replayed and (c.body::jsonb #>> '{incident,id}') = (select id from incidents where idempotency_key = 'k1' and organisation_id = '01H0000000000000000000RGA1'),
                     'by_key replay ignores the payload')
from oracle.incident_create_by_key('01H0000000000000000000RGA1', '01H0000000000000000000KEYA', incidentd_ulid(), 'k1', 'not json') c;
-- A new key must be the payload's own.
select pg_temp.expect_err(
    $s$select * from oracle.incident_create_by_key('01H0000000000000000000RGA1', '01H0000000000000000000KEYA', incidentd_ulid(), 'by-key-a', '{"idempotency_key": "by-key-b", "visibility": "public"}')$s$,
    'IX422', 'idempotency_key', 'invalid_value');
select pg_temp.check(not c.replayed and (c.body::jsonb #>> '{incident,name}') is not null, 'by_key creates')
from oracle.incident_create_by_key('01H0000000000000000000RGA1', '01H0000000000000000000KEYA', incidentd_ulid(), 'by-key-c', '{"idempotency_key": "by-key-c", "visibility": "public"}') c;
select pg_temp.check(pg_temp.counts_exact(), 'incident_counts exact after by_key creates');

-- ---------------------------------------------------------------------------
-- incident_replay (the worker's probe before a create, migration 005)
-- ---------------------------------------------------------------------------

select pg_temp.check(oracle.incident_replay('01H0000000000000000000RGA1', 'by-key-c')
                     = (select c.body from oracle.incident_create_by_key('01H0000000000000000000RGA1', '01H0000000000000000000KEYA', incidentd_ulid(), 'by-key-c', 'x') c),
                     'replay probe answers what a replayed create answers');
select pg_temp.check(oracle.incident_replay('01H0000000000000000000RGA1', 'never-used') is null, 'replay probe: new key is null');
select pg_temp.check(oracle.incident_replay('01H0000000000000000000RGB1', 'by-key-c') is null, 'replay probe: keys are per organisation');

-- ---------------------------------------------------------------------------
-- authenticate
-- ---------------------------------------------------------------------------

select pg_temp.check((select roles from api.authenticate(sha256('token-a'))) = 'global_access,incident_creator,viewer', 'authenticate live key');
select pg_temp.check((select api_key_name || '/' || organisation_id from api.authenticate(sha256('token-a'))) = 'Key A/01H0000000000000000000RGA1', 'authenticate columns');
select pg_temp.check(not exists (select 1 from api.authenticate(sha256('token-r'))), 'revoked key');
select pg_temp.check(not exists (select 1 from api.authenticate(sha256('unknown'))), 'unknown key');

-- ---------------------------------------------------------------------------
-- cross-organisation references are impossible even by hand
-- ---------------------------------------------------------------------------

select pg_temp.expect_err($s$insert into incidents (organisation_id, reference_number, idempotency_key, name, visibility, severity_id, creator_api_key_id)
    values ('01H0000000000000000000RGA1', 1000, 'x', 'x', 'public', '01H0000000000000000000SEVB', '01H0000000000000000000KEYA')$s$,
    '23503', null, null);
select pg_temp.expect_err($s$insert into incident_custom_field_values (organisation_id, incident_id, custom_field_id, entry_position, value_position, value_option_id)
    select organisation_id, id, '01H0000000000000000000FSS1', 0, 0, '01H0000000000000000000PMS1' from incidents where idempotency_key = 'k1' and organisation_id = '01H0000000000000000000RGA1'$s$,
    '23503', null, null);
select pg_temp.expect_err($s$insert into incident_roles (organisation_id, name, description, role_type) values ('01H0000000000000000000RGA1', 'Second lead', 'x', 'lead')$s$,
    '23505', null, null);

-- ---------------------------------------------------------------------------
-- frames (sql/code/20_frames.sql) and configuration versions
-- ---------------------------------------------------------------------------

-- (The updates of the counts section above cleared most frames.)
select pg_temp.check(count(*) > 0, 'updated incidents have no frame') from incidents where frame is null;
select pg_temp.check(count(*) > 0 and bool_and(f.frame = api.incident_frame_of(i)), 'a missing frame is built on the fly')
from api.incident_page('01H0000000000000000000RGA1', true, null, 250) f
join incidents i on i.id = f.id
where i.frame is null;
create temp table nulls as select count(*) as n from incidents where frame is null;
select pg_temp.check(incidentd_fill_frames(5) = least(n, 5) and incidentd_fill_frames(1000) = greatest(n - 5, 0)
                     and incidentd_fill_frames(1000) = 0, 'fill_frames builds the missing ones, in batches')
from nulls;
select pg_temp.check(bool_and(i.frame = api.incident_frame_of(i)), 'filled frame = frame of the rows') from incidents i;
-- Changing an incident by hand clears its frame.
update incidents set name = 'renamed by hand' where idempotency_key = 'k1' and organisation_id = '01H0000000000000000000RGA1';
select pg_temp.check(frame is null, 'an update by hand clears the frame')
from incidents where idempotency_key = 'k1' and organisation_id = '01H0000000000000000000RGA1';
select pg_temp.check(incidentd_fill_frames(10) = 1, 'and it is built again');
-- Every configuration write counts in config_versions, per organisation.
create temp table v0 as select (select version from api.config_version('01H0000000000000000000RGA1')) as a, (select version from api.config_version('01H0000000000000000000RGB1')) as b;
update severities set description = 'changed' where id = '01H0000000000000000000SEV1';
update incident_types set description = 'changed' where id = '01H0000000000000000000TYP1';
update incident_roles set description = 'changed' where id = '01H0000000000000000000R0E1';
update custom_fields set description = 'changed' where id = '01H0000000000000000000FSS1';
update custom_field_options set value = 'Changed' where id = '01H0000000000000000000PSS1';
update users set name = 'Lisa L' where id = '01H0000000000000000000VSR1';
update api_keys set name = 'Key A renamed' where id = '01H0000000000000000000KEYA';
select pg_temp.check((select version from api.config_version('01H0000000000000000000RGA1')) = a + 7
                     and (select version from api.config_version('01H0000000000000000000RGB1')) = b, 'config writes count per organisation')
from v0;

\echo smoke: all checks passed
