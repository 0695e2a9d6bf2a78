-- Users V2 (read only: users are created with incidentctl).

-- Keyset pagination on id. email matches case-insensitively, slack_user_id
-- exactly; inactive users only with p_include_inactive. The cursor may be
-- any user of the organisation.
create or replace function api.user_list(p_org text, p_email text, p_slack_user_id text,
                              p_include_inactive boolean, p_after text, p_page_size integer)
returns text
language plpgsql stable
security definer set search_path = public, pg_temp
as $$
declare
    v_size integer := least(greatest(coalesce(p_page_size, 25), 1), 10000);
    v_docs json[];
    v_ids  text[];
begin
    if p_after is not null then
        perform 1 from users u where u.organisation_id = p_org and u.id = p_after;
        if not found then
            perform api.fail('IX422', 'after', 'invalid_value', 'after must be the id of a user');
        end if;
    end if;
    select array_agg(api.user_with_roles_json(p.u) order by (p.u).id),
           array_agg((p.u).id order by (p.u).id)
    into v_docs, v_ids
    from (
        select u
        from users u
        where u.organisation_id = p_org
          and u.id > coalesce(p_after, '')
          and (p_email is null or lower(u.email) = lower(p_email))
          and (p_slack_user_id is null or u.slack_user_id = p_slack_user_id)
          and (coalesce(p_include_inactive, false) or u.is_active)
        order by u.id
        limit v_size + 1
    ) p;
    return api.page_json('users', v_docs, v_ids, v_size);
end
$$;

comment on function api.user_list(text, text, text, boolean, text, integer) is
    'UsersListResultV2: a page of the organisation''s users by id. IX422 on after.';

create or replace function api.user_show(p_org text, p_id text) returns text
language sql stable
security definer set search_path = public, pg_temp
as $$
    select coalesce(
        (select json_build_object('user', api.user_with_roles_json(u))::text
         from users u
         where u.organisation_id = p_org and u.id = p_id),
        api.not_found('user'))
$$;

comment on function api.user_show(text, text) is
    'UsersShowResultV2 of a user of the organisation (active or not), or IX404.';
