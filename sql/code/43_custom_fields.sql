-- Custom fields V2 (docs/CONFIG.md; rules in 40_severities.sql).

create or replace function api.custom_field_list(p_org text) returns text
language sql stable
security definer set search_path = public, pg_temp
as $$
    select json_build_object(
        'custom_fields', coalesce(json_agg(api.custom_field_json(f) order by f.id), '[]'::json))::text
    from custom_fields f
    where f.organisation_id = p_org and f.archived_at is null
$$;

comment on function api.custom_field_list(text) is
    'CustomFieldsListResultV2: the live custom fields, oldest first.';

create or replace function api.custom_field_show(p_org text, p_id text) returns text
language sql stable
security definer set search_path = public, pg_temp
as $$
    select coalesce(
        (select json_build_object('custom_field', api.custom_field_json(f))::text
         from custom_fields f
         where f.organisation_id = p_org and f.id = p_id and f.archived_at is null),
        api.not_found('custom field'))
$$;

comment on function api.custom_field_show(text, text) is
    'CustomFieldsShowResultV2 of a live custom field, or IX404.';

create or replace function api.custom_field_create(p_org text, p_id text, p_payload jsonb) returns text
language plpgsql volatile
security definer set search_path = public, pg_temp
as $$
declare
    v          custom_fields;
    v_type     text := p_payload ->> 'field_type';
    v_conflict text;
    v_message  text;
begin
    select f.* into v from custom_fields f where f.organisation_id = p_org and f.id = p_id;
    if found then
        return json_build_object('custom_field', api.custom_field_json(v))::text;
    end if;
    if v_type is null then
        perform api.fail('IX422', 'field_type', 'is_required', 'field_type is required');
    elsif v_type not in ('single_select', 'multi_select', 'text', 'link', 'numeric') then
        perform api.fail('IX422', 'field_type', 'invalid_value',
                         'field_type must be one of: single_select, multi_select, text, link, numeric');
    end if;
    begin
        insert into custom_fields as f (id, organisation_id, name, description, field_type)
        values (p_id, p_org, api.required_text(p_payload, 'name', 50),
                coalesce(p_payload ->> 'description', ''), v_type)
        returning f.* into v;
    exception when unique_violation then
        get stacked diagnostics v_conflict = constraint_name, v_message = message_text;
        perform api.fail_duplicate(v_conflict, v_message);
    end;
    return json_build_object('custom_field', api.custom_field_json(v))::text;
end
$$;

comment on function api.custom_field_create(text, text, jsonb) is
    'Creates custom field p_id from a CustomFieldsCreatePayloadV2: CustomFieldsCreateResultV2. IX422 on name for a duplicate live name.';

-- A PUT of name and description; field_type never changes (the update
-- payload has none).
create or replace function api.custom_field_update(p_org text, p_id text, p_payload jsonb) returns text
language plpgsql volatile
security definer set search_path = public, pg_temp
as $$
declare
    v          custom_fields;
    v_conflict text;
    v_message  text;
begin
    begin
        update custom_fields f
        set name = api.required_text(p_payload, 'name', 50),
            description = coalesce(p_payload ->> 'description', ''),
            updated_at = now()
        where f.organisation_id = p_org and f.id = p_id and f.archived_at is null
        returning f.* into v;
    exception when unique_violation then
        get stacked diagnostics v_conflict = constraint_name, v_message = message_text;
        perform api.fail_duplicate(v_conflict, v_message);
    end;
    if v.id is null then
        perform api.not_found('custom field');
    end if;
    return json_build_object('custom_field', api.custom_field_json(v))::text;
end
$$;

comment on function api.custom_field_update(text, text, jsonb) is
    'Updates a live custom field from a CustomFieldsUpdatePayloadV2: CustomFieldsUpdateResultV2, or IX404.';

-- Archives the field and its live options, with one timestamp.
create or replace function api.custom_field_delete(p_org text, p_id text) returns void
language plpgsql volatile
security definer set search_path = public, pg_temp
as $$
declare
    v_now timestamptz := now();
begin
    update custom_fields f
    set archived_at = v_now
    where f.organisation_id = p_org and f.id = p_id and f.archived_at is null;
    if not found then
        perform api.not_found('custom field');
    end if;
    update custom_field_options o
    set archived_at = v_now
    where o.organisation_id = p_org and o.custom_field_id = p_id and o.archived_at is null;
end
$$;

comment on function api.custom_field_delete(text, text) is
    'Archives a live custom field and its options, or IX404.';

-- The live custom field p_field_id of p_org; IX422 on custom_field_id
-- otherwise.
create or replace function api.live_custom_field(p_org text, p_field_id text) returns custom_fields
language plpgsql stable
as $$
declare
    v custom_fields;
begin
    if p_field_id is null then
        perform api.fail('IX422', 'custom_field_id', 'is_required', 'custom_field_id is required');
    end if;
    select f.* into v
    from custom_fields f
    where f.organisation_id = p_org and f.id = p_field_id and f.archived_at is null;
    if not found then
        perform api.fail('IX422', 'custom_field_id', 'invalid_value', 'No custom field with this id exists');
    end if;
    return v;
end
$$;
