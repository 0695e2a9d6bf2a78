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
