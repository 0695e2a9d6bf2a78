-- incidentd migration 004: the worker's create entry takes the idempotency
-- key as its own parameter and the payload as text, so a replay is looked
-- up and answered without parsing the payload into jsonb at all (the
-- payload is ignored on a replay: docs/CONFIG.md, CONTRACT "Create").
-- tests/bench measured the jsonb cast of the ~1 KB create payload as the
-- main difference between a replay's and a show's cost in PostgreSQL.

create function api.incident_create_by_key(p_org text, p_api_key_id text, p_id text,
                                           p_key text, p_payload text)
returns table (replayed boolean, body text)
language plpgsql volatile
as $$
begin
    return query
        select true, json_build_object('incident', api.incident_json(p_org, i.id))::text
        from incidents i
        where i.organisation_id = p_org and i.idempotency_key = p_key;
    if found then
        return;
    end if;
    if p_key is distinct from (p_payload::jsonb ->> 'idempotency_key') then
        perform api.fail('IX422', 'idempotency_key', 'invalid_value',
                         'idempotency_key does not match the payload''s');
    end if;
    return query select * from api.incident_write(p_org, p_api_key_id, p_id, p_payload::jsonb);
end
$$;

comment on function api.incident_create_by_key(text, text, text, text, text) is
    'The worker''s idempotent create: a known p_key is a replay answered without parsing p_payload; otherwise p_payload (which must carry the same idempotency_key) goes to api.incident_write. Returns replayed and the body {"incident": IncidentV1}.';

-- The jsonb entry stays for SQL callers, now a wrapper of the above.
create or replace function api.incident_create(p_org text, p_api_key_id text, p_id text, p_payload jsonb)
returns table (replayed boolean, body text)
language sql volatile
as $$
    select * from api.incident_create_by_key(p_org, p_api_key_id, p_id,
                                             p_payload ->> 'idempotency_key', p_payload::text)
$$;
