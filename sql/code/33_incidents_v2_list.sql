-- Incidents V2 list: the spec's filters, keyset pagination in either order,
-- and an exact total_record_count (docs/LIFECYCLE.md, "Listing").
--
-- The worker parses the query string into clauses, one per filter and
-- operator as sent ({"param": "severity[gte]", "filter": "severity",
-- "key": null, "op": "gte", "values": [...]}; a repeated [one_of] is one
-- clause with all its values), and checks their syntax; here each clause's
-- ids are checked against the organisation and resolved to what a row is
-- compared with: a set of status, severity or type ids, or a time range.
-- A clause is true or false for an incident; filter_mode all wants every
-- clause true, any at least one. mode (default standard + retrospective)
-- and visibility always apply.

-- Raises the 422 of p_param when some of p_asked is not in p_found (the
-- ids of them the organisation has).
create or replace function api.fail_unless_all_found(p_found text[], p_asked text[], p_param text, p_message text)
returns void
language plpgsql stable
as $$
begin
    if cardinality(p_found) < cardinality(array(select distinct unnest(p_asked))) then
        perform api.fail('IX422', p_param, 'invalid_value', p_message);
    end if;
end
$$;

-- One clause, resolved. kind: status (ids: status ids), severity, type
-- (ids), created / updated (lo <= t < hi), role / field (key: role or
-- field id; op one_of / not_in / is_blank; ids: users or options; blank).
create or replace function api.v2_filter_clauses(p_org text, p_clauses jsonb)
returns table (kind text, key text, op text, ids text[], lo timestamptz, hi timestamptz, blank boolean)
language plpgsql stable
as $$
declare
    c        jsonb;
    v_param  text;
    v_filter text;
    v_op     text;
    v_key    text;
    v_vals   text[];
    v_ids    text[];
    v_rank   bigint;
    v_days   date[];
begin
    for c in select * from jsonb_array_elements(coalesce(p_clauses, '[]'::jsonb)) loop
        v_param := c ->> 'param';
        v_filter := c ->> 'filter';
        v_op := c ->> 'op';
        v_key := c ->> 'key';
        v_vals := array(select jsonb_array_elements_text(c -> 'values'));
        kind := null; key := null; op := v_op; ids := null; lo := null; hi := null; blank := null;
        if v_filter in ('status', 'status_category') then
            if v_filter = 'status' then
                v_ids := array(select s.id from incident_statuses s
                               where s.organisation_id = p_org and s.id = any (v_vals));
                perform api.fail_unless_all_found(v_ids, v_vals, v_param, 'No incident status with this id exists');
            else
                v_ids := array(select s.id from incident_statuses s
                               where s.organisation_id = p_org and s.category = any (v_vals));
            end if;
            kind := 'status';
            ids := v_ids;
        elsif v_filter = 'severity' then
            if v_op in ('gte', 'lte') then
                select s.rank into v_rank from severities s where s.organisation_id = p_org and s.id = v_vals[1];
                if not found then
                    perform api.fail('IX422', v_param, 'invalid_value', 'No severity with this id exists');
                end if;
                ids := array(select s.id from severities s
                             where s.organisation_id = p_org
                               and case when v_op = 'gte' then s.rank >= v_rank else s.rank <= v_rank end);
                op := 'one_of';
            else
                ids := array(select s.id from severities s where s.organisation_id = p_org and s.id = any (v_vals));
                perform api.fail_unless_all_found(ids, v_vals, v_param, 'No severity with this id exists');
            end if;
            kind := 'severity';
        elsif v_filter = 'incident_type' then
            ids := array(select t.id from incident_types t where t.organisation_id = p_org and t.id = any (v_vals));
            perform api.fail_unless_all_found(ids, v_vals, v_param, 'No incident type with this id exists');
            kind := 'type';
        elsif v_filter in ('created_at', 'updated_at') then
            -- whole UTC days; the worker checked the YYYY-MM-DD syntax
            begin
                v_days := array(select d::date from unnest(v_vals) d);
            exception when others then
                perform api.fail('IX422', v_param, 'invalid_value', 'dates must be real days as YYYY-MM-DD');
            end;
            kind := case v_filter when 'created_at' then 'created' else 'updated' end;
            if v_op = 'gte' then
                lo := v_days[1]::timestamp at time zone 'UTC';
            elsif v_op = 'lte' then
                hi := (v_days[1] + 1)::timestamp at time zone 'UTC';
            else
                lo := v_days[1]::timestamp at time zone 'UTC';
                hi := (v_days[2] + 1)::timestamp at time zone 'UTC';
            end if;
        elsif v_filter = 'incident_role' then
            perform 1 from incident_roles r where r.organisation_id = p_org and r.id = v_key;
            if not found then
                perform api.fail('IX422', v_param, 'invalid_value', 'No incident role with this id exists');
            end if;
            kind := 'role';
            key := v_key;
            if v_op = 'is_blank' then
                blank := v_vals[1] = 'true';
            else
                ids := array(select u.id from users u where u.organisation_id = p_org and u.id = any (v_vals));
                perform api.fail_unless_all_found(ids, v_vals, v_param, 'No user with this id exists');
            end if;
        elsif v_filter = 'custom_field' then
            perform 1 from custom_fields f where f.organisation_id = p_org and f.id = v_key;
            if not found then
                perform api.fail('IX422', v_param, 'invalid_value', 'No custom field with this id exists');
            end if;
            kind := 'field';
            key := v_key;
            if v_op = 'is_blank' then
                blank := v_vals[1] = 'true';
            else
                ids := array(select o.id from custom_field_options o
                             where o.organisation_id = p_org and o.custom_field_id = v_key and o.id = any (v_vals));
                perform api.fail_unless_all_found(ids, v_vals, v_param, 'No option of this custom field has this id');
            end if;
        else
            perform api.fail('IX422', v_param, 'invalid_value', 'Unknown filter');
        end if;
        return next;
    end loop;
end
$$;

comment on function api.v2_filter_clauses(text, jsonb) is
    'Checks and resolves the clauses of an Incidents V2 list (sql/code/33_incidents_v2_list.sql); raises IX422 naming the query parameter.';

-- Is clause (kind, op, ids, lo, hi) true of an incident with these
-- columns? Role and field clauses look at the incident's rows.
create or replace function api.v2_clause_holds(p_kind text, p_key text, p_op text, p_ids text[],
                                               p_lo timestamptz, p_hi timestamptz, p_blank boolean,
                                               p_id text, p_status_id text, p_severity_id text,
                                               p_type_id text, p_created timestamptz, p_updated timestamptz)
returns boolean
language sql stable
as $$
    select case p_kind
        when 'status' then (p_status_id = any (p_ids)) = (p_op = 'one_of')
        when 'severity' then coalesce(p_severity_id = any (p_ids), false) = (p_op = 'one_of')
        when 'type' then coalesce(p_type_id = any (p_ids), false) = (p_op = 'one_of')
        when 'created' then p_created >= coalesce(p_lo, '-infinity') and p_created < coalesce(p_hi, 'infinity')
        when 'updated' then p_updated >= coalesce(p_lo, '-infinity') and p_updated < coalesce(p_hi, 'infinity')
        when 'role' then
            case when p_op = 'is_blank'
                 then not exists (select from incident_role_assignments a
                                  where a.incident_id = p_id and a.incident_role_id = p_key) = p_blank
                 else exists (select from incident_role_assignments a
                              where a.incident_id = p_id and a.incident_role_id = p_key and a.user_id = any (p_ids))
            end
        else -- field
            case when p_op = 'is_blank'
                 then not exists (select from incident_custom_field_values v
                                  where v.incident_id = p_id and v.custom_field_id = p_key) = p_blank
                 else exists (select from incident_custom_field_values v
                              where v.incident_id = p_id and v.custom_field_id = p_key
                                and v.value_option_id = any (p_ids)) = (p_op = 'one_of')
            end
    end
$$;

-- Does an incident match the clauses (every one, or with p_any one)?
create or replace function api.v2_row_matches(p_any boolean, c_kind text[], c_key text[], c_op text[],
                                              c_ids text[], c_lo timestamptz[], c_hi timestamptz[],
                                              c_blank boolean[], p_id text, p_status_id text,
                                              p_severity_id text, p_type_id text, p_created timestamptz,
                                              p_updated timestamptz)
returns boolean
language sql stable
as $$
    select case
        when cardinality(c_kind) = 0 then true
        when p_any then exists (
            select from unnest(c_kind, c_key, c_op, c_ids, c_lo, c_hi, c_blank) c(kind, key, op, ids, lo, hi, blank)
            where api.v2_clause_holds(c.kind, c.key, c.op, string_to_array(c.ids, ','), c.lo, c.hi, c.blank,
                                      p_id, p_status_id, p_severity_id, p_type_id, p_created, p_updated))
        else not exists (
            select from unnest(c_kind, c_key, c_op, c_ids, c_lo, c_hi, c_blank) c(kind, key, op, ids, lo, hi, blank)
            where not api.v2_clause_holds(c.kind, c.key, c.op, string_to_array(c.ids, ','), c.lo, c.hi, c.blank,
                                          p_id, p_status_id, p_severity_id, p_type_id, p_created, p_updated))
    end
$$;

-- The clauses of a list as plain predicates on an incident's columns, for
-- filter_mode all (or a single clause, where any and all agree): the
-- status, severity and type ids an incident must have (*_in, NULL = any)
-- and must not have (*_out), the created_at range [c_lo, c_hi) and the
-- updated_at range [u_lo, u_hi) (NULL = open), one custom field one_of
-- clause as a field id and its options (f_key, f_ids); the role and field
-- clauses left over (r_*, as api.v2_row_matches takes them; r_any is
-- false). With p_any (two clauses or more in filter_mode any) every
-- clause is left over, r_any is true and the rest is NULL. Several
-- clauses of one kind intersect (all must hold). So that the page's
-- query, with the predicates as parameters of one generic plan, reads the
-- index of (organisation_id, created_at, id) from the first row that can
-- match and calls no function per row for the common filters
-- (docs/BENCHMARKS-HOWTO.md, "Incidents V2 list").
create or replace function api.v2_direct(
    p_any boolean, c_kind text[], c_key text[], c_op text[], c_ids text[],
    c_lo timestamptz[], c_hi timestamptz[], c_blank boolean[],
    out st_in text[], out st_out text[], out sev_in text[], out sev_out text[],
    out type_in text[], out type_out text[], out cr_lo timestamptz, out cr_hi timestamptz,
    out up_lo timestamptz, out up_hi timestamptz, out f_key text, out f_ids text[],
    out r_any boolean, out r_kind text[], out r_key text[], out r_op text[], out r_ids text[],
    out r_lo timestamptz[], out r_hi timestamptz[], out r_blank boolean[])
language plpgsql immutable
as $$
declare
    v_ids text[];
begin
    r_any := coalesce(p_any, false) and cardinality(c_kind) > 1;
    r_kind := '{}'; r_key := '{}'; r_op := '{}'; r_ids := '{}'; r_lo := '{}'; r_hi := '{}'; r_blank := '{}';
    for n in 1 .. coalesce(cardinality(c_kind), 0) loop
        v_ids := string_to_array(c_ids[n], ',');
        if not r_any and c_kind[n] in ('status', 'severity', 'type') then
            if c_op[n] = 'one_of' then
                v_ids := coalesce(v_ids, '{}');
                case c_kind[n]
                    when 'status' then
                        st_in := case when st_in is null then v_ids
                                      else array(select unnest(st_in) intersect select unnest(v_ids)) end;
                    when 'severity' then
                        sev_in := case when sev_in is null then v_ids
                                       else array(select unnest(sev_in) intersect select unnest(v_ids)) end;
                    else
                        type_in := case when type_in is null then v_ids
                                        else array(select unnest(type_in) intersect select unnest(v_ids)) end;
                end case;
            elsif cardinality(v_ids) > 0 then -- not_in
                case c_kind[n]
                    when 'status' then st_out := coalesce(st_out, '{}') || v_ids;
                    when 'severity' then sev_out := coalesce(sev_out, '{}') || v_ids;
                    else type_out := coalesce(type_out, '{}') || v_ids;
                end case;
            end if;
        elsif not r_any and c_kind[n] = 'created' then
            cr_lo := greatest(cr_lo, c_lo[n]);
            cr_hi := least(cr_hi, c_hi[n]);
        elsif not r_any and c_kind[n] = 'updated' then
            up_lo := greatest(up_lo, c_lo[n]);
            up_hi := least(up_hi, c_hi[n]);
        elsif not r_any and c_kind[n] = 'field' and c_op[n] = 'one_of' and f_key is null then
            f_key := c_key[n];
            f_ids := coalesce(v_ids, '{}');
        else
            r_kind := r_kind || c_kind[n];
            r_key := r_key || c_key[n];
            r_op := r_op || c_op[n];
            r_ids := r_ids || c_ids[n];
            r_lo := r_lo || c_lo[n];
            r_hi := r_hi || c_hi[n];
            r_blank := r_blank || c_blank[n];
        end if;
    end loop;
end
$$;

comment on function api.v2_direct(boolean, text[], text[], text[], text[], timestamptz[], timestamptz[], boolean[]) is
    'The clauses of an Incidents V2 list as plain predicates on an incident''s columns (sets of ids in and out, time ranges, one custom field option set), and the clauses left to api.v2_row_matches.';

-- total_record_count of a V2 list, exact. From the counters the triggers
-- keep when the clauses allow it: status / severity / type clauses only
-- (incident_facet_counts, any combination), created_at clauses only
-- (incident_day_counts, with all), one custom field [one_of] clause on a
-- single-select field or with one option (incident_option_counts);
-- otherwise by counting the matching incidents. With filter_mode all (or
-- one clause) the counters and the count read the clauses as plain
-- predicates (api.v2_direct); with any, through api.v2_row_matches.
create or replace function api.incident_total_v2(p_org text, p_private boolean, p_modes text[], p_any boolean,
                                                 c_kind text[], c_key text[], c_op text[], c_ids text[],
                                                 c_lo timestamptz[], c_hi timestamptz[], c_blank boolean[],
                                                 p_seeded jsonb)
returns bigint
language plpgsql stable
set enable_bitmapscan = off
set enable_seqscan = off
set jit = off
as $$
declare
    v_kinds text[] := array(select distinct k from unnest(c_kind) k);
    v_vis   text[] := case when p_private then '{public,private}'::text[] else '{public}'::text[] end;
    d       record;
begin
    d := api.v2_direct(p_any, c_kind, c_key, c_op, c_ids, c_lo, c_hi, c_blank);
    if v_kinds <@ array['status', 'severity', 'type'] then
        if d.r_any then
            return (select coalesce(sum(f.incident_count), 0)
                    from incident_facet_counts f
                    where f.organisation_id = p_org
                      and f.visibility = any (v_vis)
                      and f.mode = any (p_modes)
                      and api.v2_row_matches(true, c_kind, c_key, c_op, c_ids, c_lo, c_hi, c_blank, null,
                                             f.incident_status_id, f.severity_id, f.incident_type_id, null, null));
        end if;
        return (select coalesce(sum(f.incident_count), 0)
                from incident_facet_counts f
                where f.organisation_id = p_org
                  and f.visibility = any (v_vis)
                  and f.mode = any (p_modes)
                  and (d.st_in is null or f.incident_status_id = any (d.st_in))
                  and (d.st_out is null or not f.incident_status_id = any (d.st_out))
                  and (d.sev_in is null or f.severity_id = any (d.sev_in))
                  and (d.sev_out is null or f.severity_id is null or not f.severity_id = any (d.sev_out))
                  and (d.type_in is null or f.incident_type_id = any (d.type_in))
                  and (d.type_out is null or f.incident_type_id is null or not f.incident_type_id = any (d.type_out)));
    end if;
    if v_kinds = array['created'] and not d.r_any then
        -- whole UTC days: the day of created_at is in [lo, hi) as days
        return (select coalesce(sum(c.incident_count), 0)
                from incident_day_counts c
                where c.organisation_id = p_org
                  and c.visibility = any (v_vis)
                  and c.mode = any (p_modes)
                  and c.created_on >= coalesce((d.cr_lo at time zone 'UTC')::date, '-infinity'::date)
                  and c.created_on < coalesce((d.cr_hi at time zone 'UTC')::date, 'infinity'::date));
    end if;
    if cardinality(c_kind) = 1 and c_kind[1] = 'field' and c_op[1] = 'one_of'
       and (cardinality(string_to_array(c_ids[1], ',')) <= 1
            or (select f.field_type from custom_fields f where f.id = c_key[1]) = 'single_select') then
        return (select coalesce(sum(o.incident_count), 0)
                from incident_option_counts o
                where o.organisation_id = p_org
                  and o.visibility = any (v_vis)
                  and o.mode = any (p_modes)
                  and o.option_id = any (string_to_array(c_ids[1], ',')));
    end if;
    return (select count(*)
            from incidents i
            where i.organisation_id = p_org
              and i.created_at >= coalesce(d.cr_lo, '-infinity')
              and i.created_at < coalesce(d.cr_hi, 'infinity')
              and (p_private or i.visibility = 'public')
              and api.mode_v2(i) = any (p_modes)
              and (d.st_in is null or coalesce(i.incident_status_id, p_seeded ->> i.status) = any (d.st_in))
              and (d.st_out is null or not coalesce(i.incident_status_id, p_seeded ->> i.status) = any (d.st_out))
              and (d.sev_in is null or i.severity_id = any (d.sev_in))
              and (d.sev_out is null or i.severity_id is null or not i.severity_id = any (d.sev_out))
              and (d.type_in is null or i.incident_type_id = any (d.type_in))
              and (d.type_out is null or i.incident_type_id is null or not i.incident_type_id = any (d.type_out))
              and (d.up_lo is null or i.updated_at >= d.up_lo)
              and (d.up_hi is null or i.updated_at < d.up_hi)
              and (d.f_key is null or exists (
                       select from incident_custom_field_values v
                       where v.incident_id = i.id and v.custom_field_id = d.f_key
                         and v.value_option_id = any (d.f_ids)))
              and (cardinality(d.r_kind) = 0
                   or api.v2_row_matches(d.r_any, d.r_kind, d.r_key, d.r_op, d.r_ids, d.r_lo, d.r_hi, d.r_blank,
                                         i.id, coalesce(i.incident_status_id, p_seeded ->> i.status),
                                         i.severity_id, i.incident_type_id, i.created_at, i.updated_at)));
end
$$;

comment on function api.incident_total_v2(text, boolean, text[], boolean, text[], text[], text[], text[], timestamptz[], timestamptz[], boolean[], jsonb) is
    'The exact total_record_count of an Incidents V2 list, from the counters where the filters allow.';

-- A page of incidents as V2 frames (rows as api.incident_page's), newest
-- or oldest first, matching p_clauses (all, or any with p_any) in one of
-- p_modes. The incident_status_id of an incident from before statuses is
-- resolved through p_seeded (v1 status -> seeded status id). Bitmap and
-- sequential scans off, for the reason api.incident_page gives; JIT off:
-- the generic plan of the page's query, its clauses all parameters,
-- estimates that the LIMIT reads the whole organisation (cost above
-- jit_above_cost) and JIT compiled it on every call (385 ms, for 0.09 ms
-- of execution, at 1 000 000 incidents).
--
-- The page reads incidents_org_created from the cursor, or from the end
-- of a created_at range where that comes first, and stops at the range's
-- other end; every other clause is a plain predicate on the row
-- (api.v2_direct) except the few that api.v2_row_matches checks (filter
-- mode any with two clauses or more, roles, custom fields beyond one
-- one_of clause, their is_blank and not_in). A page of a filter that k
-- incidents in n match reads about (page size + 1) * n / k index entries
-- and rows; a created_at range costs what the unfiltered page costs.
create or replace function api.incident_page_v2(p_org text, p_can_see_private boolean, p_clauses jsonb,
                                                p_any boolean, p_modes text[], p_oldest_first boolean,
                                                p_after text, p_page_size integer)
returns table (id text, frame text, total bigint, config_version bigint, after_ok boolean)
language plpgsql stable
security definer set search_path = public, pg_temp
set enable_bitmapscan = off
set enable_seqscan = off
set jit = off
as $$
declare
    v_c       record;
    d         record;
    c_kind    text[] := '{}';
    c_key     text[] := '{}';
    c_op      text[] := '{}';
    c_ids     text[] := '{}';   -- each element a comma-joined id list
    c_lo      timestamptz[] := '{}';
    c_hi      timestamptz[] := '{}';
    c_blank   boolean[] := '{}';
    v_any     boolean;
    v_seeded  jsonb;
    v_modes   text[] := coalesce(p_modes, '{standard,retrospective}');
    v_private boolean := coalesce(p_can_see_private, false);
    v_limit   integer := least(greatest(coalesce(p_page_size, 25), 1), 250) + 1;
    v_total   bigint;
    v_cur_at  timestamptz;
    v_cur_id  text;
    v_at      timestamptz;      -- the keyset bound the scan starts from
    v_id      text;
    v_end     timestamptz;      -- the created_at where it stops
    v_after_ok boolean := true;
    v_version bigint := (select c.version from api.config_version(p_org) c);
begin
    for v_c in select * from api.v2_filter_clauses(p_org, p_clauses) loop
        c_kind := c_kind || v_c.kind;
        c_key := c_key || v_c.key;
        c_op := c_op || v_c.op;
        c_ids := c_ids || array_to_string(v_c.ids, ',');
        c_lo := c_lo || v_c.lo;
        c_hi := c_hi || v_c.hi;
        c_blank := c_blank || v_c.blank;
    end loop;
    v_any := coalesce(p_any, false) and cardinality(c_kind) > 0;
    v_seeded := (select jsonb_object_agg(s.seeded_as, s.id) from incident_statuses s
                 where s.organisation_id = p_org and s.seeded_as is not null);

    v_total := api.incident_total_v2(p_org, v_private, v_modes, v_any, c_kind, c_key, c_op, c_ids, c_lo, c_hi,
                                     c_blank, v_seeded);

    if p_after is not null then
        select i.created_at, i.id into v_cur_at, v_cur_id from incidents i
        where i.organisation_id = p_org and i.id = p_after and (v_private or i.visibility = 'public');
        v_after_ok := found;
    end if;

    if not v_after_ok then
        return query select null::text, null::text, v_total, v_version, false;
        return;
    end if;

    d := api.v2_direct(v_any, c_kind, c_key, c_op, c_ids, c_lo, c_hi, c_blank);

    if not coalesce(p_oldest_first, false) then
        -- (created_at, id) < (cursor) and created_at < cr_hi, which is
        -- (created_at, id) < (cr_hi, ''): the lower of the two bounds
        v_at := coalesce(v_cur_at, 'infinity');
        v_id := coalesce(v_cur_id, '');
        if d.cr_hi is not null and (d.cr_hi, '') < (v_at, v_id) then
            v_at := d.cr_hi;
            v_id := '';
        end if;
        v_end := coalesce(d.cr_lo, '-infinity');
        return query
            select p.id, p.frame, v_total, v_version, true
            from (select 1) m
            left join lateral (
                select i.id, coalesce(i.frame_v2, api.incident_frame_v2_of(i)) as frame
                from incidents i
                where i.organisation_id = p_org
                  and (i.created_at, i.id) < (v_at, v_id)
                  and i.created_at >= v_end
                  and (v_private or i.visibility = 'public')
                  and api.mode_v2(i) = any (v_modes)
                  and (d.st_in is null or coalesce(i.incident_status_id, v_seeded ->> i.status) = any (d.st_in))
                  and (d.st_out is null or not coalesce(i.incident_status_id, v_seeded ->> i.status) = any (d.st_out))
                  and (d.sev_in is null or i.severity_id = any (d.sev_in))
                  and (d.sev_out is null or i.severity_id is null or not i.severity_id = any (d.sev_out))
                  and (d.type_in is null or i.incident_type_id = any (d.type_in))
                  and (d.type_out is null or i.incident_type_id is null or not i.incident_type_id = any (d.type_out))
                  and (d.up_lo is null or i.updated_at >= d.up_lo)
                  and (d.up_hi is null or i.updated_at < d.up_hi)
                  and (d.f_key is null or exists (
                           select from incident_custom_field_values v
                           where v.incident_id = i.id and v.custom_field_id = d.f_key
                             and v.value_option_id = any (d.f_ids)))
                  and (cardinality(d.r_kind) = 0
                       or api.v2_row_matches(d.r_any, d.r_kind, d.r_key, d.r_op, d.r_ids, d.r_lo, d.r_hi,
                                             d.r_blank, i.id, coalesce(i.incident_status_id, v_seeded ->> i.status),
                                             i.severity_id, i.incident_type_id, i.created_at, i.updated_at))
                order by i.created_at desc, i.id desc
                limit v_limit
            ) p on true;
    else
        -- (created_at, id) > (cursor) and created_at >= cr_lo, which is
        -- (created_at, id) > (cr_lo, ''): the higher of the two bounds
        v_at := coalesce(v_cur_at, '-infinity');
        v_id := coalesce(v_cur_id, '');
        if d.cr_lo is not null and (d.cr_lo, '') > (v_at, v_id) then
            v_at := d.cr_lo;
            v_id := '';
        end if;
        v_end := coalesce(d.cr_hi, 'infinity');
        return query
            select p.id, p.frame, v_total, v_version, true
            from (select 1) m
            left join lateral (
                select i.id, coalesce(i.frame_v2, api.incident_frame_v2_of(i)) as frame
                from incidents i
                where i.organisation_id = p_org
                  and (i.created_at, i.id) > (v_at, v_id)
                  and i.created_at < v_end
                  and (v_private or i.visibility = 'public')
                  and api.mode_v2(i) = any (v_modes)
                  and (d.st_in is null or coalesce(i.incident_status_id, v_seeded ->> i.status) = any (d.st_in))
                  and (d.st_out is null or not coalesce(i.incident_status_id, v_seeded ->> i.status) = any (d.st_out))
                  and (d.sev_in is null or i.severity_id = any (d.sev_in))
                  and (d.sev_out is null or i.severity_id is null or not i.severity_id = any (d.sev_out))
                  and (d.type_in is null or i.incident_type_id = any (d.type_in))
                  and (d.type_out is null or i.incident_type_id is null or not i.incident_type_id = any (d.type_out))
                  and (d.up_lo is null or i.updated_at >= d.up_lo)
                  and (d.up_hi is null or i.updated_at < d.up_hi)
                  and (d.f_key is null or exists (
                           select from incident_custom_field_values v
                           where v.incident_id = i.id and v.custom_field_id = d.f_key
                             and v.value_option_id = any (d.f_ids)))
                  and (cardinality(d.r_kind) = 0
                       or api.v2_row_matches(d.r_any, d.r_kind, d.r_key, d.r_op, d.r_ids, d.r_lo, d.r_hi,
                                             d.r_blank, i.id, coalesce(i.incident_status_id, v_seeded ->> i.status),
                                             i.severity_id, i.incident_type_id, i.created_at, i.updated_at))
                order by i.created_at, i.id
                limit v_limit
            ) p on true;
    end if;
end
$$;

comment on function api.incident_page_v2(text, boolean, jsonb, boolean, text[], boolean, text, integer) is
    'A page of incidents as V2 frames matching the list''s filter clauses, with total_record_count, the configuration version and whether the cursor was found (sql/code/33_incidents_v2_list.sql).';
