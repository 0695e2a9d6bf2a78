-- Custom field options V1 (docs/CONFIG.md; rules in 40_severities.sql).

-- Keyset pagination on (sort_key, id); the cursor must be a live option of
-- the field (a deleted option is not one of its options any more).
create or replace function api.custom_field_option_list(p_org text, p_custom_field_id text, p_after text,
                                             p_page_size integer) returns text
language plpgsql stable
security definer set search_path = public, pg_temp
as $$
declare
    v_size    integer := least(greatest(coalesce(p_page_size, 25), 1), 250);
    -- the sentinel sorts before every real option
    v_sort    bigint := -9223372036854775808;
    v_id      text := '';
    v_docs    json[];
    v_ids     text[];
begin
    perform api.live_custom_field(p_org, p_custom_field_id);
    if p_after is not null then
        select o.sort_key, o.id into v_sort, v_id
        from custom_field_options o
        where o.organisation_id = p_org and o.custom_field_id = p_custom_field_id and o.id = p_after
          and o.archived_at is null;
        if not found then
            perform api.fail('IX422', 'after', 'invalid_value',
                             'after must be the id of an option of this custom field');
        end if;
    end if;
    select array_agg(api.custom_field_option_json(p.o) order by (p.o).sort_key, (p.o).id),
           array_agg((p.o).id order by (p.o).sort_key, (p.o).id)
    into v_docs, v_ids
    from (
        select o
        from custom_field_options o
        where o.organisation_id = p_org
          and o.custom_field_id = p_custom_field_id
          and o.archived_at is null
          and (o.sort_key, o.id) > (v_sort, v_id)
        order by o.sort_key, o.id
        limit v_size + 1
    ) p;
    return api.page_json('custom_field_options', v_docs, v_ids, v_size);
end
$$;

comment on function api.custom_field_option_list(text, text, text, integer) is
    'CustomFieldOptionsListResultV1: a page of the live options of a live custom field, by sort_key then id. IX422 on custom_field_id or after.';

create or replace function api.custom_field_option_show(p_org text, p_id text) returns text
language sql stable
security definer set search_path = public, pg_temp
as $$
    select coalesce(
        (select json_build_object('custom_field_option', api.custom_field_option_json(o))::text
         from custom_field_options o
         where o.organisation_id = p_org and o.id = p_id and o.archived_at is null),
        api.not_found('custom field option'))
$$;

comment on function api.custom_field_option_show(text, text) is
    'CustomFieldOptionsShowResultV1 of a live option, or IX404.';

-- Options belong to select fields only; sort_key defaults to 1000.
create or replace function api.custom_field_option_create(p_org text, p_id text, p_payload jsonb) returns text
language plpgsql volatile
security definer set search_path = public, pg_temp
as $$
declare
    v          custom_field_options;
    v_field    custom_fields;
    v_conflict text;
    v_message  text;
begin
    select o.* into v from custom_field_options o where o.organisation_id = p_org and o.id = p_id;
    if found then
        return json_build_object('custom_field_option', api.custom_field_option_json(v))::text;
    end if;
    -- Lock the field before checking it: a concurrent delete has either
    -- committed (and the check sees the field archived) or waits for this
    -- insert to commit (and then archives the new option with the others).
    perform 1
    from custom_fields f
    where f.organisation_id = p_org and f.id = p_payload ->> 'custom_field_id'
    for share;
    v_field := api.live_custom_field(p_org, p_payload ->> 'custom_field_id');
    if v_field.field_type not in ('single_select', 'multi_select') then
        perform api.fail('IX422', 'custom_field_id', 'invalid_value',
                         'Options can only be added to single_select and multi_select custom fields');
    end if;
    begin
        insert into custom_field_options as o (id, organisation_id, custom_field_id, value, sort_key)
        values (p_id, p_org, v_field.id, api.required_text(p_payload, 'value', 255),
                coalesce((p_payload ->> 'sort_key')::bigint, 1000))
        returning o.* into v;
    exception when unique_violation then
        get stacked diagnostics v_conflict = constraint_name, v_message = message_text;
        perform api.fail_duplicate(v_conflict, v_message);
    end;
    return json_build_object('custom_field_option', api.custom_field_option_json(v))::text;
end
$$;

comment on function api.custom_field_option_create(text, text, jsonb) is
    'Creates option p_id from a CustomFieldOptionsCreatePayloadV1: CustomFieldOptionsCreateResultV1. IX422 on custom_field_id, or on value for a duplicate.';

-- A PUT of value and sort_key (both required by the payload).
create or replace function api.custom_field_option_update(p_org text, p_id text, p_payload jsonb) returns text
language plpgsql volatile
security definer set search_path = public, pg_temp
as $$
declare
    v          custom_field_options;
    v_conflict text;
    v_message  text;
begin
    begin
        update custom_field_options o
        set value = api.required_text(p_payload, 'value', 255),
            sort_key = coalesce((p_payload ->> 'sort_key')::bigint, o.sort_key),
            updated_at = now()
        where o.organisation_id = p_org and o.id = p_id and o.archived_at is null
        returning o.* into v;
    exception when unique_violation then
        get stacked diagnostics v_conflict = constraint_name, v_message = message_text;
        perform api.fail_duplicate(v_conflict, v_message);
    end;
    if v.id is null then
        perform api.not_found('custom field option');
    end if;
    return json_build_object('custom_field_option', api.custom_field_option_json(v))::text;
end
$$;

comment on function api.custom_field_option_update(text, text, jsonb) is
    'Updates a live option from a CustomFieldOptionsUpdatePayloadV1: CustomFieldOptionsUpdateResultV1, or IX404.';

create or replace function api.custom_field_option_delete(p_org text, p_id text) returns void
language plpgsql volatile
security definer set search_path = public, pg_temp
as $$
begin
    update custom_field_options o
    set archived_at = now()
    where o.organisation_id = p_org and o.id = p_id and o.archived_at is null;
    if not found then
        perform api.not_found('custom field option');
    end if;
end
$$;

comment on function api.custom_field_option_delete(text, text) is
    'Archives a live option, or IX404.';
