-- incidentd migration 005: the replay probe. The worker looks a create's
-- idempotency key up before it parses and checks the rest of the body: a
-- known key is answered from here (the new payload is ignored, CONTRACT
-- "Create"), and only a new key pays for validation and
-- api.incident_create_by_key, which still settles concurrent first
-- creates (INSERT ... ON CONFLICT). tests/bench measured the worker's JSON
-- work as the main part of a replay's cost outside PostgreSQL.

create function api.incident_replay(p_org text, p_key text) returns text
language plpgsql stable
as $$
declare
    v_body text;
begin
    select json_build_object('incident', api.incident_json(p_org, i.id))::text into v_body
    from incidents i
    where i.organisation_id = p_org and i.idempotency_key = p_key;
    return v_body;
end
$$;

comment on function api.incident_replay(text, text) is
    'Body {"incident": IncidentV1} of the incident that idempotency key p_key created in organisation p_org, or null if the key is new. Read only: a null answer promises nothing, the create itself settles races.';

-- The worker's create answers a replay with the same body, from the same
-- lookup: one definition of what a replay returns.
create or replace function api.incident_create_by_key(p_org text, p_api_key_id text, p_id text,
                                                      p_key text, p_payload text)
returns table (replayed boolean, body text)
language plpgsql volatile
as $$
declare
    v_body text := api.incident_replay(p_org, p_key);
begin
    if v_body is not null then
        return query select true, v_body;
        return;
    end if;
    if p_key is distinct from (p_payload::jsonb ->> 'idempotency_key') then
        perform api.fail('IX422', 'idempotency_key', 'invalid_value',
                         'idempotency_key does not match the payload''s');
    end if;
    return query select * from api.incident_write(p_org, p_api_key_id, p_id, p_payload::jsonb);
end
$$;
