-- API keys: authentication (with the key's rate limit), and the NOTIFY that
-- keeps the workers' key caches honest (a changed rate_limit included).

-- plpgsql, not SQL: a SECURITY DEFINER SQL function is never inlined and
-- is planned again on every call (53 us); plpgsql keeps its plan for the
-- session (20 us). Called only on a worker's key cache miss.
create or replace function api.authenticate(p_token_sha256 bytea)
returns table (api_key_id text, api_key_name text, organisation_id text, roles text,
               rate_limit integer)
language plpgsql stable
security definer set search_path = public, pg_temp
as $$
begin
    return query
        select k.id, k.name, k.organisation_id,
               coalesce((select string_agg(kr.role, ',' order by kr.role)
                         from api_key_roles kr
                         where kr.api_key_id = k.id), ''),
               k.rate_limit
        from api_keys k
        where k.token_sha256 = p_token_sha256
          and k.revoked_at is null;
end
$$;

comment on function api.authenticate(bytea) is
    'The live (not revoked) API key whose token has this SHA-256: one row with its roles comma-separated in alphabetical order and its rate limit (requests per minute, 0 = unlimited), or no row.';

-- Workers cache authenticated keys; any change to a key or its roles tells
-- them (at commit) to drop that key. The payload is the api key id.
create or replace function incidentd_notify_api_key_change() returns trigger
language plpgsql
as $$
begin
    if tg_table_name = 'api_keys' then
        perform pg_notify('incidentd_api_keys', old.id);
        if tg_op = 'UPDATE' and new.id is distinct from old.id then
            perform pg_notify('incidentd_api_keys', new.id);
        end if;
    else
        if tg_op in ('UPDATE', 'DELETE') then
            perform pg_notify('incidentd_api_keys', old.api_key_id);
        end if;
        if tg_op in ('INSERT', 'UPDATE') then
            perform pg_notify('incidentd_api_keys', new.api_key_id);
        end if;
    end if;
    return null;
end
$$;

comment on function incidentd_notify_api_key_change() is
    'Trigger: NOTIFY incidentd_api_keys with the api key id, so workers drop the cached key.';

create or replace trigger api_keys_notify
    after update or delete on api_keys
    for each row execute function incidentd_notify_api_key_change();

create or replace trigger api_key_roles_notify
    after insert or update or delete on api_key_roles
    for each row execute function incidentd_notify_api_key_change();
