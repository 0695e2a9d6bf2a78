-- The incident lifecycle's rules that more than one endpoint needs
-- (docs/LIFECYCLE.md): what every organisation starts with, the v1 status
-- a status stands for, and which moves between statuses an edit may make.

-- Every new organisation gets the six seeded statuses and the five
-- lifecycle timestamps (migration 007 gave them to the organisations that
-- existed then). A trigger rather than a step of `incidentctl org create`,
-- so that organisations inserted by hand have them too.
create or replace function incidentd_seed_organisation() returns trigger
language plpgsql
as $$
begin
    insert into incident_statuses (organisation_id, name, description, rank, category, seeded_as)
    select new.id, s.name, s.description, s.rank, s.category, s.seeded_as
    from (values
        ('Triage', 'Incidents that have been reported but not yet accepted or declined.', 10, 'triage', 'triage'),
        ('Investigating', 'We''re investigating the cause of the incident.', 20, 'live', 'investigating'),
        ('Fixing', 'We know what''s wrong and are fixing it.', 30, 'live', 'fixing'),
        ('Monitoring', 'A fix is in place; we''re watching that it holds.', 40, 'live', 'monitoring'),
        ('Closed', 'The incident is over.', 50, 'closed', 'closed'),
        ('Declined', 'The report was not an incident.', 60, 'declined', 'declined')
    ) as s(name, description, rank, category, seeded_as);
    insert into incident_timestamps (organisation_id, name, rank, lifecycle)
    select new.id, t.name, t.rank, t.lifecycle
    from (values
        ('Reported at', 1, 'reported'),
        ('Accepted at', 2, 'accepted'),
        ('Resolved at', 3, 'resolved'),
        ('Closed at', 4, 'closed'),
        ('Declined at', 5, 'declined')
    ) as t(name, rank, lifecycle);
    return null;
end
$$;

comment on function incidentd_seed_organisation() is
    'Trigger: gives a new organisation the seeded incident statuses and lifecycle timestamps.';

create or replace trigger organisations_seed
    after insert on organisations
    for each row execute function incidentd_seed_organisation();

-- The Incidents V1 status of a status (CONTRACT, "The incident lifecycle").
create or replace function api.v1_status(p_category text, p_seeded_as text) returns text
language sql immutable
as $$
    select coalesce(p_seeded_as,
                    case p_category
                        when 'triage' then 'triage'
                        when 'live' then 'investigating'
                        when 'paused' then 'investigating'
                        when 'learning' then 'closed'
                        when 'closed' then 'closed'
                        else 'declined'
                    end)
$$;

comment on function api.v1_status(text, text) is
    'The Incidents V1 status that a status of this category and seeded_as shows as.';

-- The status of incident i: its incident_status_id, or for incidents from
-- before statuses (NULL there) the seeded status its v1 status names.
-- PL/pgSQL, not SQL: a SQL function with a sub-select is never inlined,
-- and PostgreSQL 15 then plans its body on every call from PL/pgSQL (the
-- create and the edit call it once each: 0.10 ms of planning per call,
-- against 0.02 ms with the plan PL/pgSQL keeps for the session).
create or replace function api.incident_status_id_of(i incidents) returns text
language plpgsql stable
as $$
begin
    return coalesce(i.incident_status_id,
                    (select s.id from incident_statuses s
                     where s.organisation_id = i.organisation_id and s.seeded_as = i.status));
end
$$;

comment on function api.incident_status_id_of(incidents) is
    'The id of an incident''s status (incidents.incident_status_id, or the seeded status of its v1 status when that is NULL).';

-- Incidents V2's mode of incident i.
create or replace function api.mode_v2(i incidents) returns text
language sql immutable
as $$
    select case when (i).retrospective then 'retrospective'
                when (i).mode = 'real' then 'standard'
                else (i).mode end
$$;

-- May an edit move an incident from a status of category p_from to one of
-- p_to? Within a category; triage or live to learning or closed; learning
-- to closed (the spec's text); triage to live (accept) and triage to
-- declined (decline), the moves the spec leaves to the app.
create or replace function api.transition_allowed(p_from text, p_to text) returns boolean
language sql immutable
as $$
    select p_from = p_to
        or (p_from in ('triage', 'live') and p_to in ('learning', 'closed'))
        or (p_from = 'learning' and p_to = 'closed')
        or (p_from = 'triage' and p_to in ('live', 'declined'))
$$;

comment on function api.transition_allowed(text, text) is
    'Whether an edit may move an incident between statuses of these categories.';
