-- Incident statuses V1 (docs/CONFIG.md, "Incident statuses"; rules in
-- 40_severities.sql).
--
-- Every write of an organisation's statuses first takes that organisation's
-- status lock (api.incident_status_lock), so the rules that read more than
-- the row written (a new status's rank, names unique ignoring case, "the
-- last live status") never see a concurrent write half done. Incident
-- writes do not take it.

-- The order of the categories in the list: triage, live (and paused),
-- learning, closed, declined (and merged, canceled). A status's rank keeps
-- it among the statuses of its category.
create or replace function api.incident_status_category_order(p_category text) returns integer
language sql immutable
as $$
    select case p_category
               when 'triage' then 1
               when 'live' then 2
               when 'paused' then 2
               when 'learning' then 3
               when 'closed' then 4
               else 5
           end
$$;

comment on function api.incident_status_category_order(text) is
    'Position of a status category in the status list: triage 1, live/paused 2, learning 3, closed 4, declined/merged/canceled 5.';

-- A transaction-scoped advisory lock per organisation: its status writes
-- run one at a time. Advisory rather than row locks, so that incident
-- writes (whose foreign key checks take KEY SHARE on a status row) are
-- never blocked by it.
create or replace function api.incident_status_lock(p_org text) returns void
language sql volatile
as $$
    select pg_advisory_xact_lock(hashtextextended('incident_statuses ' || p_org, 0))
$$;

comment on function api.incident_status_lock(text) is
    'Serialises the writes of one organisation''s incident statuses until the transaction ends.';

-- The 422 on name when another live status of the organisation has this
-- name, ignoring case. The unique index incident_statuses_live_name is
-- exact; this check, made under the status lock, adds the case rule the
-- other configuration resources have.
create or replace function api.incident_status_check_name(p_org text, p_id text, p_name text) returns void
language plpgsql stable
as $$
begin
    perform 1
    from incident_statuses s
    where s.organisation_id = p_org and s.archived_at is null and s.id <> p_id
      and lower(s.name) = lower(p_name);
    if found then
        perform api.fail('IX422', 'name', 'invalid_value', 'An incident status with this name already exists');
    end if;
end
$$;

create or replace function api.incident_status_list(p_org text) returns text
language sql stable
security definer set search_path = public, pg_temp
as $$
    select json_build_object(
        'incident_statuses', coalesce(json_agg(api.incident_status_json(s) order by s.rank, s.id), '[]'::json))::text
    from incident_statuses s
    where s.organisation_id = p_org and s.archived_at is null
$$;

comment on function api.incident_status_list(text) is
    'IncidentStatusesListResultV1: the live incident statuses, by rank then id.';

create or replace function api.incident_status_show(p_org text, p_id text) returns text
language sql stable
security definer set search_path = public, pg_temp
as $$
    select coalesce(
        (select json_build_object('incident_status', api.incident_status_json(s))::text
         from incident_statuses s
         where s.organisation_id = p_org and s.id = p_id and s.archived_at is null),
        api.not_found('incident status'))
$$;

comment on function api.incident_status_show(text, text) is
    'IncidentStatusesShowResultV1 of a live incident status, or IX404.';

-- category is live, learning or closed. The new status's rank puts it after
-- every live status of its own and earlier categories (their highest rank
-- + 1); when a status of a later category has that rank or less, the
-- statuses of the later categories all move up by the same amount, so they
-- stay in their order and after it.
create or replace function api.incident_status_create(p_org text, p_id text, p_payload jsonb) returns text
language plpgsql volatile
security definer set search_path = public, pg_temp
as $$
declare
    v          incident_statuses;
    v_category text := p_payload ->> 'category';
    v_name     text;
    v_order    integer;
    v_rank     bigint;
    v_later    bigint;
    v_conflict text;
    v_message  text;
begin
    select s.* into v from incident_statuses s where s.organisation_id = p_org and s.id = p_id;
    if found then
        return json_build_object('incident_status', api.incident_status_json(v))::text;
    end if;
    v_name := api.required_text(p_payload, 'name', 50);
    if v_category is null then
        perform api.fail('IX422', 'category', 'is_required', 'category is required');
    elsif v_category not in ('live', 'learning', 'closed') then
        perform api.fail('IX422', 'category', 'invalid_value', 'category must be one of: live, learning, closed');
    end if;
    perform api.incident_status_lock(p_org);
    perform api.incident_status_check_name(p_org, p_id, v_name);
    v_order := api.incident_status_category_order(v_category);
    select coalesce(max(s.rank) filter (where api.incident_status_category_order(s.category) <= v_order), 0) + 1,
           min(s.rank) filter (where api.incident_status_category_order(s.category) > v_order)
    into v_rank, v_later
    from incident_statuses s
    where s.organisation_id = p_org and s.archived_at is null;
    if v_later <= v_rank then
        update incident_statuses s
        set rank = s.rank + (v_rank - v_later + 1), updated_at = now()
        where s.organisation_id = p_org and s.archived_at is null
          and api.incident_status_category_order(s.category) > v_order;
    end if;
    begin
        insert into incident_statuses as s (id, organisation_id, name, description, rank, category)
        values (p_id, p_org, v_name, coalesce(p_payload ->> 'description', ''), v_rank, v_category)
        returning s.* into v;
    exception when unique_violation then
        get stacked diagnostics v_conflict = constraint_name, v_message = message_text;
        perform api.fail_duplicate(v_conflict, v_message);
    end;
    return json_build_object('incident_status', api.incident_status_json(v))::text;
end
$$;

comment on function api.incident_status_create(text, text, jsonb) is
    'Creates incident status p_id from an IncidentStatusesCreatePayloadV1: IncidentStatusesCreateResultV1. IX422 on name (duplicate live name, ignoring case) or category.';

-- A PUT of name and description; category and rank never change. The
-- triage and declined statuses cannot be modified (the spec's words).
create or replace function api.incident_status_update(p_org text, p_id text, p_payload jsonb) returns text
language plpgsql volatile
security definer set search_path = public, pg_temp
as $$
declare
    v          incident_statuses;
    v_name     text;
    v_conflict text;
    v_message  text;
begin
    perform api.incident_status_lock(p_org);
    select s.* into v
    from incident_statuses s
    where s.organisation_id = p_org and s.id = p_id and s.archived_at is null;
    if not found then
        perform api.not_found('incident status');
    end if;
    if v.category in ('triage', 'declined') then
        perform api.fail('IX422', 'id', 'invalid_value', 'The triage and declined statuses cannot be modified');
    end if;
    v_name := api.required_text(p_payload, 'name', 50);
    perform api.incident_status_check_name(p_org, p_id, v_name);
    begin
        update incident_statuses s
        set name = v_name,
            description = coalesce(p_payload ->> 'description', ''),
            updated_at = now()
        where s.organisation_id = p_org and s.id = p_id
        returning s.* into v;
    exception when unique_violation then
        get stacked diagnostics v_conflict = constraint_name, v_message = message_text;
        perform api.fail_duplicate(v_conflict, v_message);
    end;
    return json_build_object('incident_status', api.incident_status_json(v))::text;
end
$$;

comment on function api.incident_status_update(text, text, jsonb) is
    'Updates a live incident status from an IncidentStatusesUpdatePayloadV1: IncidentStatusesUpdateResultV1; IX422 for the triage and declined statuses or a duplicate name, IX404 for an unknown id.';

-- Archives; updated_at is left alone, so incidents render the status
-- exactly as it was. Refused (IX422 on id), in this order: a triage or
-- declined status; the last live status of its category (live or closed:
-- incidents must be able to be active and to end); a status some incident
-- is in (incident_status_id, or for incidents from before statuses, a
-- NULL there and the status's seeded_as as their v1 status). The row is
-- locked before the incidents are looked at, so an incident write that
-- locks the status (FOR SHARE) and checks archived_at either commits
-- first and is seen, or waits and finds the status archived.
create or replace function api.incident_status_delete(p_org text, p_id text) returns void
language plpgsql volatile
security definer set search_path = public, pg_temp
as $$
declare
    v incident_statuses;
begin
    perform api.incident_status_lock(p_org);
    select s.* into v
    from incident_statuses s
    where s.organisation_id = p_org and s.id = p_id and s.archived_at is null
    for no key update;
    if not found then
        perform api.not_found('incident status');
    end if;
    if v.category in ('triage', 'declined') then
        perform api.fail('IX422', 'id', 'invalid_value', 'The triage and declined statuses cannot be deleted');
    end if;
    if v.category in ('live', 'closed') then
        perform 1
        from incident_statuses s
        where s.organisation_id = p_org and s.archived_at is null and s.category = v.category and s.id <> p_id;
        if not found then
            perform api.fail('IX422', 'id', 'invalid_value',
                             format('The last %s status cannot be deleted', v.category));
        end if;
    end if;
    -- The organisation's lock, which every create holds from before it
    -- checks its status again to its commit (api.incident_write): creates
    -- that got there first are committed and seen below, later ones find
    -- the status archived. Edits share-lock the status row instead.
    perform 1 from organisations o where o.id = p_org for no key update;
    perform 1
    from incidents i
    where i.organisation_id = p_org and i.incident_status_id = p_id;
    if not found and v.seeded_as is not null then
        perform 1
        from incidents i
        where i.organisation_id = p_org and i.status = v.seeded_as and i.incident_status_id is null;
    end if;
    if found then
        perform api.fail('IX422', 'id', 'invalid_value', 'This status is in use by incidents and cannot be deleted');
    end if;
    update incident_statuses s
    set archived_at = now()
    where s.organisation_id = p_org and s.id = p_id;
end
$$;

comment on function api.incident_status_delete(text, text) is
    'Archives a live incident status; IX422 for triage/declined, the last live or closed status, or a status in use; IX404 for an unknown id.';
