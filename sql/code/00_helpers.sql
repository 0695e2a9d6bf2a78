-- Helpers of the api schema: errors, timestamps, names, pagination.
--
-- sql/code/ holds the database's code: every function, trigger and (later)
-- view, each defined once, in its current form, in the file named for what
-- it serves. `incidentctl migrate` re-applies these files, in name order,
-- after the migrations, whenever a migration ran or a file changed
-- (docs/SCHEMA.md, "Layout"); so every statement here must be re-runnable
-- (CREATE OR REPLACE), and a file may use only what earlier files define.
--
-- Conventions of the api functions the worker calls (one call per
-- request: each checks what needs the database, writes, and renders the
-- response JSON in the same round trip):
--   * errors: RAISE with ERRCODE 'IX422' (-> 422 validation_error) or
--     'IX404' (-> 404 not_found), MESSAGE = human readable text, DETAIL =
--     the offending field path (custom_field_entries[0].values[1].
--     value_option_id, or a query parameter name), HINT = the error code
--     (is_required | invalid_value | not_found) -- see api.fail;
--   * every function takes only $n parameters and builds no SQL from its
--     input.

create or replace function api.fail(p_errcode text, p_field text, p_code text, p_message text) returns void
language plpgsql
as $$
begin
    raise exception using errcode = p_errcode, message = p_message, detail = p_field, hint = p_code;
end
$$;

comment on function api.fail(text, text, text, text) is
    'Raises an API error: errcode IX422/IX404, detail = field path, hint = error code.';

-- RFC 3339 UTC with exactly six fractional digits: 2021-08-17T13:28:57.801578Z.
create or replace function api.ts(p_at timestamptz) returns text
language sql stable
as $$
    select to_char(p_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$$;

comment on function api.ts(timestamptz) is 'The API''s timestamp text: UTC, six fractional digits, Z.';

-- inc-<n>-<slug>, at most 80 characters. The slug keeps ASCII letters
-- (lower-cased) and digits; every other run of characters becomes one '-'.
-- translate() rather than lower() so the result never depends on the
-- database's locale.
create or replace function api.slack_channel_name(p_number bigint, p_name text) returns text
language plpgsql immutable
as $$
declare
    v_slug text := trim(both '-' from regexp_replace(
        translate(p_name, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'),
        '[^0-9a-z]+', '-', 'g'));
begin
    -- rtrim: truncation may leave a trailing '-'
    return rtrim(left('inc-' || p_number || case when v_slug = '' then '' else '-' || v_slug end, 80), '-');
end
$$;

comment on function api.slack_channel_name(bigint, text) is 'inc-<n>-<slug of name>, at most 80 characters.';

-- p_payload ->> p_key: present, not blank, at most p_max characters. The
-- worker checked presence and length already; repeated so that a direct
-- caller gets a 422 rather than a CHECK violation.
create or replace function api.required_text(p_payload jsonb, p_key text, p_max integer) returns text
language plpgsql immutable
as $$
declare
    v text := p_payload ->> p_key;
begin
    if v is null then
        perform api.fail('IX422', p_key, 'is_required', p_key || ' is required');
    end if;
    if v !~ '[^[:space:]]' then
        perform api.fail('IX422', p_key, 'is_required', p_key || ' must not be blank');
    end if;
    if char_length(v) > p_max then
        perform api.fail('IX422', p_key, 'invalid_value',
                         format('%s must be at most %s characters', p_key, p_max));
    end if;
    return v;
end
$$;

-- Raises the 404 of an unknown (or archived, or other organisation's) id.
-- Returns text so that show functions can write
-- coalesce((select ...), api.not_found(...)); VOLATILE so the planner never
-- evaluates it ahead of time.
create or replace function api.not_found(p_what text) returns text
language plpgsql volatile
as $$
begin
    perform api.fail('IX404', 'id', 'not_found', format('No %s with this id was found', p_what));
    return null;
end
$$;

-- Turns a unique violation of one of the live-name indexes above into the
-- 422 on the field it concerns; any other unique violation is raised again
-- unchanged.
create or replace function api.fail_duplicate(p_constraint text, p_message text) returns void
language plpgsql
as $$
declare
    v_field   text;
    v_message text;
begin
    select d.field, d.message into v_field, v_message
    from (values
        ('severities_live_name', 'name', 'A severity with this name already exists'),
        ('incident_roles_live_name', 'name', 'An incident role with this name already exists'),
        ('custom_fields_live_name', 'name', 'A custom field with this name already exists'),
        ('incident_statuses_live_name', 'name', 'An incident status with this name already exists'),
        ('custom_field_options_live_value', 'value',
         'This custom field already has an option with this value')
    ) as d(constraint_name, field, message)
    where d.constraint_name = p_constraint;
    if not found then
        raise unique_violation using message = p_message, constraint = coalesce(p_constraint, '');
    end if;
    perform api.fail('IX422', v_field, 'invalid_value', v_message);
end
$$;

-- PaginationMetaResultV1 / V2: after only when another page exists.
create or replace function api.pagination_meta_json(p_page_size integer, p_after text) returns json
language sql stable
as $$
    select json_strip_nulls(json_build_object('page_size', p_page_size, 'after', p_after))
$$;

-- A paginated list body {p_key: [...], "pagination_meta": {...}} from up to
-- p_size + 1 rendered rows and their ids (one more row than the page means
-- another page exists, which starts after the page's last id).
create or replace function api.page_json(p_key text, p_docs json[], p_ids text[], p_size integer) returns text
language sql stable
as $$
    select json_build_object(
        p_key, coalesce(array_to_json(p_docs[1:p_size]), '[]'::json),
        'pagination_meta', api.pagination_meta_json(
            p_size, case when cardinality(p_ids) > p_size then p_ids[p_size] end))::text
$$;
