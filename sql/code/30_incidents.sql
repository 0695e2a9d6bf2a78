-- Incidents V1: show, list and the idempotent create (docs/DESIGN.md, "SQL
-- interface used by the worker").

-- Show, list and the replay probe answer frames (sql/code/20_frames.sql)
-- with the organisation's configuration version, which the worker fills in
-- from its cache; a NULL frame (an incident not yet framed) is built on the
-- fly. None raises: the worker turns "no row" into its 404 and a cursor
-- that is not found into its 422. Show and the probe are single-statement
-- SQL functions on purpose: PostgreSQL inlines them into the worker's
-- prepared statement, which then costs what the plain index lookup costs
-- (pgbench on the benchmark's data: 113 000 shows a second as inlined SQL,
-- 40 000 as plpgsql). So they are SECURITY INVOKER, unlike the functions
-- below: PostgreSQL never inlines a SECURITY DEFINER function, and the
-- runtime role reads incidents and config_versions itself (90_grants.sql).

create or replace function api.incident_show(p_org text, p_id text, p_can_see_private boolean)
returns table (frame text, config_version bigint)
language sql stable
as $$
    select coalesce(i.frame, api.incident_frame_of(i)),
           (select c.version from api.config_version(p_org) c)
    from incidents i
    where i.organisation_id = p_org
      and i.id = p_id
      and (coalesce(p_can_see_private, false) or i.visibility = 'public')
$$;

comment on function api.incident_show(text, text, boolean) is
    'The frame of one incident and the configuration version; no row if the key may not see it (unknown, another organisation''s, or private).';

-- A page's keyset cursor: the (created_at, id) of incident p_after if the
-- key can see it, no row if it cannot, and a sentinel that sorts after
-- every incident when p_after is null.
create or replace function api.page_cursor(p_org text, p_can_see_private boolean, p_after text)
returns table (created_at timestamptz, id text)
language sql stable
as $$
    select 'infinity'::timestamptz, ''::text
    where p_after is null
    union all
    select i.created_at, i.id
    from incidents i
    where p_after is not null
      and i.organisation_id = p_org
      and i.id = p_after
      and (coalesce(p_can_see_private, false) or i.visibility = 'public')
$$;

-- total_record_count: the incidents the key can see, in any of p_statuses
-- (all when null). Exact without count(*): incident_counts is kept by
-- triggers.
create or replace function api.incident_total(p_org text, p_can_see_private boolean, p_statuses text[])
returns table (total bigint)
language sql stable
as $$
    select coalesce(sum(c.incident_count), 0)::bigint
    from incident_counts c
    where c.organisation_id = p_org
      and (p_statuses is null or c.status = any (p_statuses))
      and (coalesce(p_can_see_private, false) or c.visibility = 'public')
$$;

-- A page of incidents, newest first, keyset-paginated on (created_at, id):
-- up to page size + 1 rows (one more than the page says that another page
-- exists, which starts after the page's last id), each with the meta
-- columns: total_record_count, the configuration version, and after_ok,
-- false when p_after is not an incident the key can see. An empty page is
-- one row of meta columns with id and frame null. STABLE: one snapshot, so
-- the page and the total agree.
--
-- plpgsql with bitmap and sequential scans disabled, rather than inlined
-- SQL: the plan must be the index scan backwards from the cursor whatever
-- the statistics say. Without statistics (a fresh or restored database)
-- the planner takes an organisation for a few rows and would rather fetch
-- and sort every incident before the cursor (tests/e2e/test_read_path.py),
-- and the worker's generic plan would keep that choice for the session;
-- with those two paths off, the ordered index scan is the cheapest left
-- (an index scan and a sort costs the same scan and more). The cost:
-- plpgsql's call, some 5 us of a page's 40.
--
-- force_generic_plan: that ordered scan is also the generic plan, but
-- PL/pgSQL's plan cache keeps a generic plan only when its estimate is
-- close to the custom plans'; on some databases (29,000 incidents made in
-- one run, tests/bench/write-cost.sh's) it re-planned this statement on
-- every call: 0.33 ms of planning for 0.05 ms of work, and a page cost
-- 0.7-1.1 ms of PostgreSQL's time against 0.14-0.17 with the plan kept.
create or replace function api.incident_page(p_org text, p_can_see_private boolean, p_after text,
                                             p_page_size integer)
returns table (id text, frame text, total bigint, config_version bigint, after_ok boolean)
language plpgsql stable
security definer set search_path = public, pg_temp
set enable_bitmapscan = off
set enable_seqscan = off
set plan_cache_mode = force_generic_plan
as $$
begin
    return query
        with cursor as (
            select * from api.page_cursor(p_org, p_can_see_private, p_after)
        ), meta as (
            select (select t.total from api.incident_total(p_org, p_can_see_private, null) t) as total,
                   (select c.version from api.config_version(p_org) c)
                       as config_version,
                   exists (select from cursor) as after_ok
        )
        select p.id, p.frame, m.total, m.config_version, m.after_ok
        from meta m
        left join lateral (
            -- incidents_org_created, scanned backwards from the cursor
            select i.id, coalesce(i.frame, api.incident_frame_of(i)) as frame
            from incidents i
            where i.organisation_id = p_org
              -- scalars (InitPlans), so that the index scan starts at the cursor
              and (i.created_at, i.id) < ((select k.created_at from cursor k), (select k.id from cursor k))
              and (coalesce(p_can_see_private, false) or i.visibility = 'public')
            order by i.created_at desc, i.id desc
            limit least(greatest(coalesce(p_page_size, 25), 1), 250) + 1
        ) p on true;
end
$$;

comment on function api.incident_page(text, boolean, text, integer) is
    'A page of incidents as frames, newest first, with total_record_count, the configuration version and whether the cursor was found on every row (sql/code/30_incidents.sql).';

-- api.incident_page with a status filter (p_statuses not empty; repeats
-- count once): one ordered incidents_org_status_created scan per status,
-- merged, so the cost stays proportional to the page even for rare
-- statuses. A function of its own rather than a branch of the one above:
-- each keeps one plan.
create or replace function api.incident_page_by_status(p_org text, p_can_see_private boolean,
                                                       p_statuses text[], p_after text,
                                                       p_page_size integer)
returns table (id text, frame text, total bigint, config_version bigint, after_ok boolean)
language plpgsql stable
security definer set search_path = public, pg_temp
set enable_bitmapscan = off
set enable_seqscan = off
as $$
begin
    return query
        with cursor as (
            select * from api.page_cursor(p_org, p_can_see_private, p_after)
        ), meta as (
            select (select t.total from api.incident_total(p_org, p_can_see_private, p_statuses) t) as total,
                   (select c.version from api.config_version(p_org) c)
                       as config_version,
                   exists (select from cursor) as after_ok
        )
        select p.id, p.frame, m.total, m.config_version, m.after_ok
        from meta m
        left join lateral (
            select x.id, x.frame
            from (select distinct s from unnest(p_statuses) as s where s is not null) as st(status)
            cross join lateral (
                select i.id, i.created_at, coalesce(i.frame, api.incident_frame_of(i)) as frame
                from incidents i
                where i.organisation_id = p_org
                  and i.status = st.status
                  and (i.created_at, i.id) < ((select k.created_at from cursor k), (select k.id from cursor k))
                  and (coalesce(p_can_see_private, false) or i.visibility = 'public')
                order by i.created_at desc, i.id desc
                limit least(greatest(coalesce(p_page_size, 25), 1), 250) + 1
            ) x
            order by x.created_at desc, x.id desc
            limit least(greatest(coalesce(p_page_size, 25), 1), 250) + 1
        ) p on true;
end
$$;

comment on function api.incident_page_by_status(text, boolean, text[], text, integer) is
    'api.incident_page for the incidents in any of the given statuses.';

create or replace function api.incident_replay(p_org text, p_key text, p_v2 boolean default false)
returns table (id text, frame text, config_version bigint)
language sql stable
as $$
    select i.id,
           case when p_v2 then coalesce(i.frame_v2, api.incident_frame_v2_of(i))
                else coalesce(i.frame, api.incident_frame_of(i)) end,
           (select c.version from api.config_version(p_org) c)
    from incidents i
    where i.organisation_id = p_org and i.idempotency_key = p_key
$$;

comment on function api.incident_replay(text, text, boolean) is
    'The incident that idempotency key p_key created in organisation p_org (id, V1 or V2 frame, configuration version), or no row if the key is new. Read only: no row promises nothing, the create itself settles races.';

-- Takes back the role assignments and custom field values a create wrote
-- before it found that its key was taken (api.incident_write, step 5).
create or replace function api.forget_incident_rows(p_org text, p_id text) returns void
language sql volatile
as $$
    delete from incident_role_assignments where organisation_id = p_org and incident_id = p_id;
    delete from incident_custom_field_values where organisation_id = p_org and incident_id = p_id;
$$;

-- Checks custom_field_entries (the create's, or an edit's: p_prefix is ''
-- or 'incident.') against the organisation's live fields and options, and
-- returns the values to store, one array element per row of
-- incident_custom_field_values. An entry with no values stores nothing
-- (an edit reads it as "clear this field": p_fields lists every field
-- named). Raises IX422 on the first problem, naming its path.
create or replace function api.check_custom_field_entries(
    p_org text, p_list jsonb, p_prefix text,
    out p_fields text[],
    out cf_field text[], out cf_entry integer[], out cf_pos integer[],
    out cf_option text[], out cf_text text[], out cf_link text[], out cf_num numeric[])
language plpgsql stable
as $$
declare
    v_item       jsonb;
    v_values     jsonb;
    v_value      jsonb;
    v_path       text;
    v_vpath      text;
    v_field_id   text;
    v_field_type text;
    v_str        text;
    v_seen_opts  text[];
begin
    p_fields := '{}'; cf_field := '{}'; cf_entry := '{}'; cf_pos := '{}';
    cf_option := '{}'; cf_text := '{}'; cf_link := '{}'; cf_num := '{}';
    if jsonb_typeof(p_list) is distinct from 'array' then
        return;
    end if;
    for n_i in 0 .. jsonb_array_length(p_list) - 1 loop
        v_item := p_list -> n_i;
        v_path := format('%scustom_field_entries[%s]', p_prefix, n_i);
        v_field_id := v_item ->> 'custom_field_id';
        if v_field_id is null then
            perform api.fail('IX422', v_path || '.custom_field_id', 'is_required',
                             'custom_field_id is required');
        end if;
        select f.field_type into v_field_type
        from custom_fields f
        where f.organisation_id = p_org and f.id = v_field_id and f.archived_at is null;
        if not found then
            perform api.fail('IX422', v_path || '.custom_field_id', 'invalid_value',
                             'No custom field with this id exists');
        end if;
        if v_field_id = any (p_fields) then
            perform api.fail('IX422', v_path || '.custom_field_id', 'invalid_value',
                             'This custom field is already set by an earlier entry');
        end if;
        p_fields := p_fields || v_field_id;

        v_values := v_item -> 'values';
        if jsonb_typeof(v_values) is distinct from 'array' then
            perform api.fail('IX422', v_path || '.values', 'is_required', 'values is required');
        end if;
        if v_field_type = 'single_select' and jsonb_array_length(v_values) > 1 then
            perform api.fail('IX422', v_path || '.values', 'invalid_value',
                             'A single-select custom field takes at most one value');
        end if;

        v_seen_opts := '{}';
        for n_j in 0 .. jsonb_array_length(v_values) - 1 loop
            v_value := v_values -> n_j;
            v_vpath := format('%s.values[%s]', v_path, n_j);
            if v_field_type in ('single_select', 'multi_select') then
                v_str := v_value ->> 'value_option_id';
                if v_str is null then
                    perform api.fail('IX422', v_vpath || '.value_option_id', 'is_required',
                                     'value_option_id is required for a select custom field');
                end if;
                perform 1
                from custom_field_options o
                where o.organisation_id = p_org and o.custom_field_id = v_field_id
                  and o.id = v_str and o.archived_at is null;
                if not found then
                    perform api.fail('IX422', v_vpath || '.value_option_id', 'invalid_value',
                                     'No option of this custom field has this id');
                end if;
                if v_str = any (v_seen_opts) then
                    perform api.fail('IX422', v_vpath || '.value_option_id', 'invalid_value',
                                     'This option is already chosen by an earlier value');
                end if;
                v_seen_opts := v_seen_opts || v_str;
                cf_option := cf_option || v_str;
                cf_text := cf_text || null::text;
                cf_link := cf_link || null::text;
                cf_num := cf_num || null::numeric;
            elsif v_field_type = 'text' then
                v_str := v_value ->> 'value_text';
                if v_str is null then
                    perform api.fail('IX422', v_vpath || '.value_text', 'is_required',
                                     'value_text is required for a text custom field');
                end if;
                if v_str = '' or char_length(v_str) > 10000 then
                    perform api.fail('IX422', v_vpath || '.value_text', 'invalid_value',
                                     'value_text must be 1 to 10000 characters');
                end if;
                cf_option := cf_option || null::text;
                cf_text := cf_text || v_str;
                cf_link := cf_link || null::text;
                cf_num := cf_num || null::numeric;
            elsif v_field_type = 'link' then
                v_str := v_value ->> 'value_link';
                if v_str is null then
                    perform api.fail('IX422', v_vpath || '.value_link', 'is_required',
                                     'value_link is required for a link custom field');
                end if;
                if not api.is_http_url(v_str) then
                    perform api.fail('IX422', v_vpath || '.value_link', 'invalid_value',
                                     'value_link must be an absolute http or https URL');
                end if;
                cf_option := cf_option || null::text;
                cf_text := cf_text || null::text;
                cf_link := cf_link || v_str;
                cf_num := cf_num || null::numeric;
            else -- numeric
                v_str := v_value ->> 'value_numeric';
                if v_str is null then
                    perform api.fail('IX422', v_vpath || '.value_numeric', 'is_required',
                                     'value_numeric is required for a numeric custom field');
                end if;
                -- the length cap keeps the cast below numeric's limits
                if v_str !~ '^-?[0-9]+(\.[0-9]+)?$' or char_length(v_str) > 1000 then
                    perform api.fail('IX422', v_vpath || '.value_numeric', 'invalid_value',
                                     'value_numeric must be a decimal number such as 123.45');
                end if;
                cf_option := cf_option || null::text;
                cf_text := cf_text || null::text;
                cf_link := cf_link || null::text;
                cf_num := cf_num || v_str::numeric;
            end if;
            cf_field := cf_field || v_field_id;
            cf_entry := cf_entry || n_i;
            cf_pos := cf_pos || n_j;
        end loop;
    end loop;
end
$$;

comment on function api.check_custom_field_entries(text, jsonb, text) is
    'Validates custom_field_entries of a create or edit; returns the fields named and the values to store (one element per row), or raises IX422.';

-- An absolute http(s) URL with a host, no whitespace, at most 10000
-- characters: what value_link, call_url and postmortem_document_url take.
create or replace function api.is_http_url(p text) returns boolean
language sql immutable
as $$
    select p ~* '^https?://[^/?#[:space:]]+([/?#][^[:space:]]*)?$' and char_length(p) <= 10000
$$;

-- Checks incident_role_assignments the way api.check_custom_field_entries
-- checks entries. An assignment without an assignee (p_allow_unassign, an
-- edit's) stores a NULL user: "nobody holds this role now".
create or replace function api.check_role_assignments(
    p_org text, p_list jsonb, p_prefix text, p_allow_unassign boolean,
    out ra_role text[], out ra_user text[], out ra_pos integer[])
language plpgsql stable
as $$
declare
    v_item     jsonb;
    v_path     text;
    v_role_id  text;
    v_assignee jsonb;
    v_user_id  text;
begin
    ra_role := '{}'; ra_user := '{}'; ra_pos := '{}';
    if jsonb_typeof(p_list) is distinct from 'array' then
        return;
    end if;
    for n_i in 0 .. jsonb_array_length(p_list) - 1 loop
        v_item := p_list -> n_i;
        v_path := format('%sincident_role_assignments[%s]', p_prefix, n_i);
        v_role_id := v_item ->> 'incident_role_id';
        if v_role_id is null then
            perform api.fail('IX422', v_path || '.incident_role_id', 'is_required',
                             'incident_role_id is required');
        end if;
        perform 1
        from incident_roles r
        where r.organisation_id = p_org and r.id = v_role_id and r.archived_at is null;
        if not found then
            perform api.fail('IX422', v_path || '.incident_role_id', 'invalid_value',
                             'No incident role with this id exists');
        end if;
        if v_role_id = any (ra_role) then
            perform api.fail('IX422', v_path || '.incident_role_id', 'invalid_value',
                             'This role is already assigned by an earlier entry');
        end if;

        -- The assignee is found by id, else by email (case-insensitive),
        -- else by Slack user id: the first of those given that matches.
        v_assignee := v_item -> 'assignee';
        v_user_id := null;
        if p_allow_unassign and (jsonb_typeof(v_assignee) is distinct from 'object'
                                 or v_assignee = '{}'::jsonb) then
            ra_role := ra_role || v_role_id;
            ra_user := ra_user || null::text;
            ra_pos := ra_pos || n_i;
            continue;
        end if;
        if jsonb_typeof(v_assignee) is distinct from 'object'
           or (v_assignee ->> 'id' is null and v_assignee ->> 'email' is null
               and v_assignee ->> 'slack_user_id' is null) then
            perform api.fail('IX422', v_path || '.assignee', 'is_required',
                             'The assignee needs an id, email or slack_user_id');
        end if;
        if v_assignee ->> 'id' is not null then
            select u.id into v_user_id
            from users u
            where u.organisation_id = p_org and u.id = v_assignee ->> 'id';
        end if;
        if v_user_id is null and v_assignee ->> 'email' is not null then
            select u.id into v_user_id
            from users u
            where u.organisation_id = p_org and lower(u.email) = lower(v_assignee ->> 'email')
            order by (u.email = v_assignee ->> 'email') desc, u.id
            limit 1;
        end if;
        if v_user_id is null and v_assignee ->> 'slack_user_id' is not null then
            select u.id into v_user_id
            from users u
            where u.organisation_id = p_org and u.slack_user_id = v_assignee ->> 'slack_user_id';
        end if;
        if v_user_id is null then
            perform api.fail('IX422', v_path || '.assignee', 'invalid_value',
                             'No user of this organisation matches the assignee');
        end if;
        ra_role := ra_role || v_role_id;
        ra_user := ra_user || v_user_id;
        ra_pos := ra_pos || n_i;
    end loop;
end
$$;

comment on function api.check_role_assignments(text, jsonb, text, boolean) is
    'Validates incident_role_assignments of a create or edit; returns the assignments (NULL user: unassign, edits only), or raises IX422.';

-- The lifecycle's timestamps of incident i moving from a status of
-- category p_from (null: being created) to one of p_to at p_now
-- (CONTRACT, "Timestamps"): accepted when it first leaves triage (or is
-- created past it), resolved when it first enters learning or closed,
-- closed when it enters closed, declined when declined. Values already set
-- (explicitly, or by an earlier move) stay.
create or replace function api.lifecycle_timestamps(i incidents, p_from text, p_to text, p_now timestamptz)
returns incidents
language plpgsql immutable
as $$
begin
    if p_from is distinct from p_to or p_from is null then
        if p_to not in ('triage', 'declined') and coalesce(p_from, 'triage') in ('triage', 'declined') then
            i.accepted_at := coalesce(i.accepted_at, p_now);
        end if;
        if p_to in ('learning', 'closed') then
            i.resolved_at := coalesce(i.resolved_at, p_now);
        end if;
        if p_to = 'closed' then
            i.closed_at := coalesce(i.closed_at, p_now);
        end if;
        if p_to = 'declined' then
            i.declined_at := coalesce(i.declined_at, p_now);
        end if;
    end if;
    return i;
end
$$;

-- Applies incident_timestamp_values ([{incident_timestamp_id, value}]) to
-- incident i: a value sets the timestamp, a missing or null value clears
-- it (Reported at falls back to created_at). Raises IX422 naming the
-- entry for an unknown id or a value that is not an RFC 3339 time.
create or replace function api.set_timestamp_values(p_org text, i incidents, p_list jsonb, p_prefix text)
returns incidents
language plpgsql stable
as $$
declare
    v_path      text;
    v_lifecycle text;
    v_text      text;
    v_at        timestamptz;
begin
    if jsonb_typeof(p_list) is distinct from 'array' then
        return i;
    end if;
    for n_i in 0 .. jsonb_array_length(p_list) - 1 loop
        v_path := format('%sincident_timestamp_values[%s]', p_prefix, n_i);
        select t.lifecycle into v_lifecycle
        from incident_timestamps t
        where t.organisation_id = p_org and t.id = p_list -> n_i ->> 'incident_timestamp_id';
        if not found then
            perform api.fail('IX422', v_path || '.incident_timestamp_id', 'invalid_value',
                             'No incident timestamp with this id exists');
        end if;
        v_text := p_list -> n_i ->> 'value';
        v_at := null;
        if v_text is not null then
            if v_text !~ '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$' then
                perform api.fail('IX422', v_path || '.value', 'invalid_value',
                                 'value must be an RFC 3339 time such as 2021-08-17T13:28:57.801578Z');
            end if;
            begin
                v_at := v_text::timestamptz;
            exception when others then
                perform api.fail('IX422', v_path || '.value', 'invalid_value',
                                 'value must be an RFC 3339 time such as 2021-08-17T13:28:57.801578Z');
            end;
        end if;
        case v_lifecycle
            when 'reported' then i.reported_at := v_at;
            when 'accepted' then i.accepted_at := v_at;
            when 'resolved' then i.resolved_at := v_at;
            when 'closed' then i.closed_at := v_at;
            else i.declined_at := v_at;
        end case;
    end loop;
    return i;
end
$$;

comment on function api.set_timestamp_values(text, incidents, jsonb, text) is
    'Applies a create''s or edit''s incident_timestamp_values to an incident row (null value: unset), or raises IX422.';

-- The status a create asks for: Incidents V1 names a seeded status by its
-- v1 name (p_v1_status); Incidents V2 gives an id (p_status_id) or takes
-- Triage when the type says create_in_triage always, else the first live
-- status by rank. V1 keeps its rule that create_in_triage always wins.
create or replace function api.create_status(p_org text, p_v2 boolean, p_v1_status text, p_status_id text,
                                             p_type incident_types)
returns incident_statuses
language plpgsql volatile
as $$
declare
    v incident_statuses;
begin
    -- No row lock here: every create of an organisation would share-lock
    -- the same few status rows (a MultiXact each time, measured as a good
    -- part of a create's cost). A delete of the status is settled under
    -- the organisation lock instead (api.incident_write, step 5).
    if not p_v2 then
        select s.* into v from incident_statuses s
        where s.organisation_id = p_org
          and s.seeded_as = case when (p_type).create_in_triage = 'always' then 'triage' else p_v1_status end;
        if v.archived_at is not null then
            perform api.fail('IX422', 'status', 'invalid_value',
                             format('The %s status has been deleted in this organisation', v.seeded_as));
        end if;
    elsif p_status_id is not null then
        select s.* into v from incident_statuses s
        where s.organisation_id = p_org and s.id = p_status_id and s.archived_at is null;
        if not found then
            perform api.fail('IX422', 'incident_status_id', 'invalid_value', 'No incident status with this id exists');
        end if;
    elsif (p_type).create_in_triage = 'always' then
        select s.* into v from incident_statuses s
        where s.organisation_id = p_org and s.category = 'triage' and s.archived_at is null
        order by s.seeded_as is null, s.rank, s.id limit 1;
    else
        select s.* into v from incident_statuses s
        where s.organisation_id = p_org and s.category = 'live' and s.archived_at is null
        order by s.rank, s.id limit 1;
    end if;
    if v.id is null then
        perform api.fail('IX422', 'incident_status_id', 'is_required', 'The organisation has no status to create the incident in');
    end if;
    return v;
end
$$;

-- The writer. The order matters:
--   1. (the caller looked the key up already);
--   2. validate everything, raising before anything is written, and
--      without holding any lock;
--   3. write the role assignments and custom field values, still without
--      the lock: their references to the incident, deferred, are checked
--      at commit;
--   4. lock the organisation row: it serialises creates of one
--      organisation, which is what makes reference numbers gap-free, and is
--      held until commit, so as little as possible follows it;
--   5. look for the key again: VOLATILE, so this statement has a fresh
--      snapshot, and any concurrent creator with the same key committed
--      before we got the lock; if so, take back step 3 and replay;
--   6. INSERT ... ON CONFLICT (organisation_id, idempotency_key) DO NOTHING,
--      with its frames, and bump the counter only if a row was really
--      inserted.
-- p_v2 says which API's payload this is (Incidents V1's status and mode
-- real/test, or V2's incident_status_id, modes and timestamps) and which
-- frame to answer; both frames are stored.
create or replace function api.incident_write(p_org text, p_api_key_id text, p_id text, p_payload jsonb,
                                              p_v2 boolean default false)
returns table (replayed boolean, id text, frame text, config_version bigint)
language plpgsql volatile
as $$
declare
    v_key        text := p_payload ->> 'idempotency_key';
    v_visibility text := p_payload ->> 'visibility';
    v_v1_status  text := coalesce(p_payload ->> 'status', 'triage');
    v_mode       text := coalesce(p_payload ->> 'mode', case when p_v2 then 'standard' else 'real' end);
    v_name       text := coalesce(nullif(p_payload ->> 'name', ''), 'Untitled incident');
    v_type_id    text := p_payload ->> 'incident_type_id';
    v_sev_id     text := p_payload ->> 'severity_id';
    v_retro      jsonb := p_payload -> 'retrospective_incident_options';
    v_type       incident_types;
    v_status     incident_statuses;
    v_row        incidents;
    v_last       bigint;
    v_number     bigint;
    v_inserted   text;
    v_now        timestamptz;
    v_ra_frames  text;
    v_cf_frames  text;
    v_cf         record;
    v_ra         record;
begin
    -- The worker checked these; repeated here so a direct caller cannot
    -- get a 500 from a CHECK constraint instead of a 422.
    if v_key is null or v_key = '' then
        perform api.fail('IX422', 'idempotency_key', 'is_required', 'An idempotency_key is required');
    end if;
    if char_length(v_key) > 256 then
        perform api.fail('IX422', 'idempotency_key', 'invalid_value', 'idempotency_key must be at most 256 characters');
    end if;

    -- 2. validation
    if v_visibility is null then
        perform api.fail('IX422', 'visibility', 'is_required', 'visibility is required');
    elsif v_visibility not in ('public', 'private') then
        perform api.fail('IX422', 'visibility', 'invalid_value', 'visibility must be public or private');
    end if;
    if not p_v2 and v_v1_status not in ('triage', 'investigating', 'fixing', 'monitoring', 'closed', 'declined') then
        perform api.fail('IX422', 'status', 'invalid_value', 'status is not a valid incident status');
    end if;
    if not p_v2 and v_mode not in ('real', 'test') then
        perform api.fail('IX422', 'mode', 'invalid_value', 'mode must be real or test');
    elsif p_v2 and v_mode not in ('standard', 'retrospective', 'test', 'tutorial') then
        perform api.fail('IX422', 'mode', 'invalid_value', 'mode must be standard, retrospective, test or tutorial');
    end if;
    if v_retro is not null and v_mode <> 'retrospective' then
        perform api.fail('IX422', 'retrospective_incident_options', 'invalid_value',
                         'retrospective_incident_options are only for mode retrospective');
    end if;
    if v_retro ? 'external_id' then
        perform api.fail('IX422', 'retrospective_incident_options.external_id', 'invalid_value',
                         'external_id is not supported: reference numbers are given out in order');
    end if;
    if v_retro ->> 'postmortem_document_url' is not null and not api.is_http_url(v_retro ->> 'postmortem_document_url') then
        perform api.fail('IX422', 'retrospective_incident_options.postmortem_document_url', 'invalid_value',
                         'postmortem_document_url must be an absolute http or https URL');
    end if;

    -- incident type: the one given (live, of this organisation), else the
    -- organisation's live default, else none.
    if v_type_id is not null then
        select t.* into v_type
        from incident_types t
        where t.organisation_id = p_org and t.id = v_type_id and t.archived_at is null;
        if not found then
            perform api.fail('IX422', 'incident_type_id', 'invalid_value',
                             'No incident type with this id exists');
        end if;
    else
        select t.* into v_type
        from incident_types t
        where t.organisation_id = p_org and t.is_default and t.archived_at is null;
    end if;
    if v_type.private_incidents_only and v_visibility = 'public' then
        perform api.fail('IX422', 'visibility', 'invalid_value',
                         format('Incidents of type %s must be private', v_type.name));
    end if;
    v_status := api.create_status(p_org, p_v2, v_v1_status, p_payload ->> 'incident_status_id', v_type);

    -- severity: required unless the incident opens in triage or declined
    if v_sev_id is not null then
        perform 1
        from severities s
        where s.organisation_id = p_org and s.id = v_sev_id and s.archived_at is null;
        if not found then
            perform api.fail('IX422', 'severity_id', 'invalid_value', 'No severity with this id exists');
        end if;
    elsif v_status.category not in ('triage', 'declined') then
        perform api.fail('IX422', 'severity_id', 'is_required', 'A severity is required to open an incident');
    end if;

    select * into v_cf from api.check_custom_field_entries(p_org, p_payload -> 'custom_field_entries', '');
    select * into v_ra from api.check_role_assignments(p_org, p_payload -> 'incident_role_assignments', '', false);
    -- checked now, applied to the row below (V1 has none: no call)
    if p_payload ? 'incident_timestamp_values' then
        perform api.set_timestamp_values(p_org, v_row, p_payload -> 'incident_timestamp_values', '');
    end if;

    -- 3. the incident's rows that do not need its number
    set constraints incident_role_assignments_organisation_id_incident_id_fkey,
                    incident_custom_field_values_organisation_id_incident_id_fkey deferred;
    insert into incident_role_assignments (organisation_id, incident_id, incident_role_id, user_id, position)
    select p_org, p_id, a.role_id, a.user_id, a.pos
    from unnest(v_ra.ra_role, v_ra.ra_user, v_ra.ra_pos) as a(role_id, user_id, pos);

    insert into incident_custom_field_values (
        organisation_id, incident_id, custom_field_id, entry_position, value_position,
        value_option_id, value_text, value_link, value_numeric)
    select p_org, p_id, v.field_id, v.entry_pos, v.value_pos, v.option_id, v.txt, v.link, v.num
    from unnest(v_cf.cf_field, v_cf.cf_entry, v_cf.cf_pos, v_cf.cf_option, v_cf.cf_text, v_cf.cf_link, v_cf.cf_num)
         as v(field_id, entry_pos, value_pos, option_id, txt, link, num);

    -- 4. FOR NO KEY UPDATE (not FOR UPDATE): it serialises creators, and the
    -- counter update below, without blocking foreign-key checks (FOR KEY
    -- SHARE) of other writers pointing at the organisation.
    select o.last_incident_number into v_last
    from organisations o
    where o.id = p_org
    for no key update;
    if not found then
        perform api.fail('IX404', 'organisation', 'not_found', 'The organisation does not exist');
    end if;

    -- 5. fresh snapshot: a concurrent create with this key has committed,
    -- and so has a delete of the chosen status (api.incident_status_delete
    -- takes this lock before it looks for incidents in the status).
    if exists (select from incident_statuses st where st.id = v_status.id and st.archived_at is not null) then
        perform api.fail('IX422', case when p_v2 then 'incident_status_id' else 'status' end, 'invalid_value',
                         'This status has just been deleted');
    end if;
    return query select true, r.id, r.frame, r.config_version from api.incident_replay(p_org, v_key, p_v2) r;
    if found then
        perform api.forget_incident_rows(p_org, p_id);
        return;
    end if;

    -- 6. write. greatest(...) keeps numbering going even if someone loaded
    -- incidents by hand without bumping last_incident_number (cheap: one
    -- backwards step of the (organisation_id, reference_number) index).
    v_number := greatest(v_last,
                         coalesce((select max(i.reference_number) from incidents i
                                   where i.organisation_id = p_org), 0)) + 1;
    -- Taken under the lock, so created_at order matches reference order.
    v_now := clock_timestamp();

    -- Every column is set here, so the row and its frames agree.
    v_row.id := p_id;
    v_row.organisation_id := p_org;
    v_row.reference_number := v_number;
    v_row.idempotency_key := v_key;
    v_row.name := v_name;
    v_row.summary := p_payload ->> 'summary';
    v_row.incident_status_id := v_status.id;
    v_row.status := api.v1_status(v_status.category, v_status.seeded_as);
    v_row.visibility := v_visibility;
    v_row.mode := case when v_mode in ('standard', 'retrospective') then 'real' else v_mode end;
    v_row.retrospective := v_mode = 'retrospective';
    v_row.severity_id := v_sev_id;
    v_row.incident_type_id := v_type.id;
    v_row.creator_api_key_id := p_api_key_id;
    v_row.slack_team_id := coalesce(p_payload ->> 'slack_team_id', '');
    v_row.slack_channel_id := coalesce(v_retro ->> 'slack_channel_id', '');
    v_row.slack_channel_name := coalesce(p_payload ->> 'slack_channel_name_override',
                                         api.slack_channel_name(v_number, v_name));
    v_row.source_message_channel_id := p_payload ->> 'source_message_channel_id';
    v_row.source_message_timestamp := p_payload ->> 'source_message_timestamp';
    v_row.postmortem_document_url := v_retro ->> 'postmortem_document_url';
    v_row.created_at := v_now;
    v_row.updated_at := v_now;
    v_row.reported_at := v_now;
    v_row := api.lifecycle_timestamps(v_row, null, v_status.category, v_now);
    if p_payload ? 'incident_timestamp_values' then
        v_row := api.set_timestamp_values(p_org, v_row, p_payload -> 'incident_timestamp_values', '');
    end if;
    select p.assignments, p.entries into v_ra_frames, v_cf_frames
    from api.incident_parts_from(v_row, v_ra.ra_role, v_ra.ra_user, v_ra.ra_pos,
                                 v_cf.cf_field, v_cf.cf_entry, v_cf.cf_pos, v_cf.cf_option, v_cf.cf_text,
                                 v_cf.cf_link, v_cf.cf_num) p;
    v_row.frame := api.incident_frame(v_row, v_ra_frames, v_cf_frames);
    v_row.frame_v2 := api.incident_frame_v2(v_row, v_ra_frames, v_cf_frames);

    insert into incidents as i
    select v_row.*
    on conflict (organisation_id, idempotency_key) do nothing
    returning i.id into v_inserted;

    if v_inserted is null then
        -- Only possible if a row with this key was written without the
        -- organisation lock (by hand): it wins, we replay it.
        perform api.forget_incident_rows(p_org, p_id);
        return query select true, r.id, r.frame, r.config_version from api.incident_replay(p_org, v_key, p_v2) r;
        return;
    end if;

    update organisations set last_incident_number = v_number where organisations.id = p_org;

    return query select false, p_id, case when p_v2 then v_row.frame_v2 else v_row.frame end,
                        (select c.version from api.config_version(p_org) c);
end
$$;

comment on function api.incident_write(text, text, text, jsonb, boolean) is
    'The writer behind api.incident_create_by_key: validates, writes the role assignments and custom field values, locks the organisation, re-checks the key, inserts the incident. Creates an incident (or replays the one created earlier with the same idempotency key, through either API): returns replayed, its id, its V1 or V2 frame (p_v2) and the configuration version. Validation errors are IX422 raised before anything is written.';

-- The worker's create entry. It takes the idempotency key as its own
-- parameter and the payload as text, so a replay is answered without
-- parsing the payload into jsonb (tests/bench measured that cast of a ~1 KB
-- payload as the main difference between a replay's and a show's cost),
-- and by the probe: one definition of what a replay returns.
create or replace function api.incident_create_by_key(p_org text, p_api_key_id text, p_id text,
                                                      p_key text, p_payload text, p_v2 boolean default false)
returns table (replayed boolean, id text, frame text, config_version bigint)
language plpgsql volatile
security definer set search_path = public, pg_temp
as $$
declare
    v_payload jsonb;
begin
    return query select true, r.id, r.frame, r.config_version from api.incident_replay(p_org, p_key, p_v2) r;
    if found then
        return;
    end if;
    v_payload := p_payload::jsonb;
    if p_key is distinct from (v_payload ->> 'idempotency_key') then
        perform api.fail('IX422', 'idempotency_key', 'invalid_value',
                         'idempotency_key does not match the payload''s');
    end if;
    return query select * from api.incident_write(p_org, p_api_key_id, p_id, v_payload, p_v2);
end
$$;

comment on function api.incident_create_by_key(text, text, text, text, text, boolean) is
    'The worker''s idempotent create (V1, or V2 with p_v2): a known p_key is a replay answered without parsing p_payload; otherwise p_payload (which must carry the same idempotency_key) goes to api.incident_write. Returns replayed, the incident''s id and frame, and the configuration version.';

-- The jsonb entry, for SQL callers (tests/sql): a wrapper of the above.
create or replace function api.incident_create(p_org text, p_api_key_id text, p_id text, p_payload jsonb)
returns table (replayed boolean, id text, frame text, config_version bigint)
language sql volatile
as $$
    select * from api.incident_create_by_key(p_org, p_api_key_id, p_id,
                                             p_payload ->> 'idempotency_key', p_payload::text)
$$;

comment on function api.incident_create(text, text, text, jsonb) is
    'Idempotent V1 create for SQL callers: api.incident_create_by_key with the key taken from the payload.';
