-- 007_lifecycle: the incident lifecycle of Incidents V2 (docs/LIFECYCLE.md):
-- statuses, lifecycle timestamps, incident updates, and what v2 edits.
--
-- Locks (docs/SCHEMA.md, "Long locks"): the one scan of incidents, the
-- fill of the new counters, runs first, under SHARE mode (reads go on,
-- writes wait), so that no write slips between a count and the trigger
-- that keeps it. The ALTERs of incidents come last: each is a catalog
-- change (columns without a default or with a constant one; a foreign key
-- added NOT VALID, since every existing row holds NULL there), and the
-- AccessExclusiveLock they take, held to the commit, then covers only
-- them and the code that migrate applies after this file. Existing
-- incidents are not updated: a NULL incident_status_id means the seeded
-- status named by the incident's v1 status, and a NULL reported_at means
-- created_at (the columns' comments say so).

-- ---------------------------------------------------------------------------
-- Statuses
-- ---------------------------------------------------------------------------

create table incident_statuses (
    id              text        primary key default incidentd_ulid()
                                check (id ~ '^[0-9A-HJKMNP-TV-Z]{26}$'),
    organisation_id text        not null references organisations (id),
    name            text        not null check (char_length(name) between 1 and 50),
    description     text        not null default '',
    rank            bigint      not null default 0,
    category        text        not null check (category in (
        'triage', 'declined', 'merged', 'canceled', 'live', 'learning', 'closed', 'paused')),
    seeded_as       text        check (seeded_as in (
        'triage', 'investigating', 'fixing', 'monitoring', 'closed', 'declined')),
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    archived_at     timestamptz,
    unique (organisation_id, id)
);

create unique index incident_statuses_seeded on incident_statuses (organisation_id, seeded_as)
    where seeded_as is not null;
create unique index incident_statuses_live_name on incident_statuses (organisation_id, lower(name))
    where archived_at is null;

comment on table incident_statuses is
    'The statuses an incident moves through (Incident Statuses V1). Every organisation has the six seeded ones (seeded_as); more can be created in categories live, learning and closed. Deleting one archives it.';
comment on column incident_statuses.category is
    'triage, live, learning, closed, declined (also merged, canceled, paused in the API''s enum; not created here). Never changes.';
comment on column incident_statuses.seeded_as is
    'For the six statuses every organisation starts with: the Incidents V1 status they are (triage, investigating, fixing, monitoring, closed, declined). NULL for created statuses.';
comment on column incident_statuses.rank is 'Display order, ascending.';

-- ---------------------------------------------------------------------------
-- Lifecycle timestamps
-- ---------------------------------------------------------------------------

create table incident_timestamps (
    id              text        primary key default incidentd_ulid()
                                check (id ~ '^[0-9A-HJKMNP-TV-Z]{26}$'),
    organisation_id text        not null references organisations (id),
    name            text        not null check (name <> ''),
    rank            bigint      not null,
    lifecycle       text        not null check (lifecycle in ('reported', 'accepted', 'resolved', 'closed', 'declined')),
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    unique (organisation_id, id),
    unique (organisation_id, lifecycle)
);

comment on table incident_timestamps is
    'The lifecycle timestamps of an organisation (Incident Timestamps V2): Reported at, Accepted at, Resolved at, Closed at, Declined at. Their values live in the incidents columns named by lifecycle (reported_at, accepted_at, ...).';
comment on column incident_timestamps.lifecycle is
    'Which incidents column holds this timestamp''s value: reported -> reported_at, accepted -> accepted_at, resolved -> resolved_at, closed -> closed_at, declined -> declined_at.';

-- ---------------------------------------------------------------------------
-- Incident updates
-- ---------------------------------------------------------------------------

create table incident_updates (
    id                     text        primary key check (id ~ '^[0-9A-HJKMNP-TV-Z]{26}$'),
    organisation_id        text        not null,
    incident_id            text        not null,
    new_incident_status_id text        not null,
    new_severity_id        text,
    updater_api_key_id     text        not null,
    message                text,
    frame                  text        not null,
    created_at             timestamptz not null default clock_timestamp(),
    unique (organisation_id, id),
    foreign key (organisation_id, incident_id) references incidents (organisation_id, id) on delete cascade,
    foreign key (organisation_id, new_incident_status_id) references incident_statuses (organisation_id, id),
    foreign key (organisation_id, new_severity_id) references severities (organisation_id, id),
    foreign key (organisation_id, updater_api_key_id) references api_keys (organisation_id, id)
);

create index incident_updates_org_created on incident_updates (organisation_id, created_at, id);
create index incident_updates_incident_created on incident_updates (organisation_id, incident_id, created_at, id);

comment on table incident_updates is
    'One row per edit that changed an incident''s status or severity (Incident Updates V2), in commit order: an edit holds the incident''s row lock when it takes created_at.';
comment on column incident_updates.new_incident_status_id is 'The incident''s status after the edit (changed or not).';
comment on column incident_updates.new_severity_id is 'The incident''s severity after the edit; NULL when it has none.';
comment on column incident_updates.frame is 'The update''s API rendering with configuration objects named by reference (sql/code/20_frames.sql).';

-- ---------------------------------------------------------------------------
-- incident_facet_counts: exact v2 totals without count(*)
-- ---------------------------------------------------------------------------

create table incident_facet_counts (
    organisation_id    text   not null references organisations (id) on delete cascade,
    visibility         text   not null check (visibility in ('public', 'private')),
    mode               text   not null check (mode in ('standard', 'retrospective', 'test', 'tutorial')),
    incident_status_id text   not null,
    severity_id        text,
    incident_type_id   text,
    incident_count     bigint not null default 0
);

create unique index incident_facet_counts_key on incident_facet_counts
    (organisation_id, visibility, mode, incident_status_id, severity_id, incident_type_id) nulls not distinct;

comment on table incident_facet_counts is
    'Number of incidents per (organisation, visibility, v2 mode, status, severity, type), kept exact by the triggers on incidents: the v2 list sums it for total_record_count when its filters are on these columns only. SELECT incidentd_rebuild_incident_counts() recomputes it.';

create table incident_day_counts (
    organisation_id text   not null references organisations (id) on delete cascade,
    visibility      text   not null check (visibility in ('public', 'private')),
    mode            text   not null check (mode in ('standard', 'retrospective', 'test', 'tutorial')),
    created_on      date   not null,
    incident_count  bigint not null default 0,
    primary key (organisation_id, visibility, mode, created_on)
);

comment on table incident_day_counts is
    'Number of incidents per (organisation, visibility, v2 mode, UTC day of created_at), kept by the triggers on incidents: totals of the v2 list''s created_at filters.';

create table incident_option_counts (
    organisation_id text   not null references organisations (id) on delete cascade,
    visibility      text   not null check (visibility in ('public', 'private')),
    mode            text   not null check (mode in ('standard', 'retrospective', 'test', 'tutorial')),
    option_id       text   not null,
    incident_count  bigint not null default 0,
    primary key (organisation_id, visibility, mode, option_id)
);

comment on table incident_option_counts is
    'Number of incidents per (organisation, visibility, v2 mode, custom field option chosen), kept by the triggers on incident_custom_field_values: totals of the v2 list''s custom_field one_of filter.';

-- Existing organisations get what sql/code/15_lifecycle.sql gives new ones.
insert into incident_statuses (organisation_id, name, description, rank, category, seeded_as)
select o.id, s.name, s.description, s.rank, s.category, s.seeded_as
from organisations o
cross join (values
    ('Triage', 'Incidents that have been reported but not yet accepted or declined.', 10, 'triage', 'triage'),
    ('Investigating', 'We''re investigating the cause of the incident.', 20, 'live', 'investigating'),
    ('Fixing', 'We know what''s wrong and are fixing it.', 30, 'live', 'fixing'),
    ('Monitoring', 'A fix is in place; we''re watching that it holds.', 40, 'live', 'monitoring'),
    ('Closed', 'The incident is over.', 50, 'closed', 'closed'),
    ('Declined', 'The report was not an incident.', 60, 'declined', 'declined')
) as s(name, description, rank, category, seeded_as);

insert into incident_timestamps (organisation_id, name, rank, lifecycle)
select o.id, t.name, t.rank, t.lifecycle
from organisations o
cross join (values
    ('Reported at', 1, 'reported'),
    ('Accepted at', 2, 'accepted'),
    ('Resolved at', 3, 'resolved'),
    ('Closed at', 4, 'closed'),
    ('Declined at', 5, 'declined')
) as t(name, rank, lifecycle);

lock table incidents in share mode;

insert into incident_facet_counts (organisation_id, visibility, mode, incident_status_id, severity_id,
                                   incident_type_id, incident_count)
select i.organisation_id, i.visibility, case when i.mode = 'real' then 'standard' else i.mode end,
       st.id, i.severity_id, i.incident_type_id, count(*)
from incidents i
join incident_statuses st on st.organisation_id = i.organisation_id and st.seeded_as = i.status
group by 1, 2, 3, 4, 5, 6;

insert into incident_day_counts (organisation_id, visibility, mode, created_on, incident_count)
select i.organisation_id, i.visibility, case when i.mode = 'real' then 'standard' else i.mode end,
       (i.created_at at time zone 'UTC')::date, count(*)
from incidents i
group by 1, 2, 3, 4;

insert into incident_option_counts (organisation_id, visibility, mode, option_id, incident_count)
select i.organisation_id, i.visibility, case when i.mode = 'real' then 'standard' else i.mode end,
       v.value_option_id, count(distinct i.id)
from incident_custom_field_values v
join incidents i on i.id = v.incident_id
where v.value_option_id is not null
group by 1, 2, 3, 4;

-- ---------------------------------------------------------------------------
-- Incidents: status, v2 fields, timestamp values, the v2 frame
-- ---------------------------------------------------------------------------

alter table incidents
    add column incident_status_id      text,
    add column retrospective           boolean not null default false,
    add column call_url                text check (char_length(call_url) <= 10000),
    add column postmortem_document_url text check (char_length(postmortem_document_url) <= 10000),
    add column reported_at             timestamptz,
    add column accepted_at             timestamptz,
    add column resolved_at             timestamptz,
    add column closed_at               timestamptz,
    add column declined_at             timestamptz,
    add column frame_v2                text;

alter table incidents
    add constraint incidents_incident_status_fkey
    foreign key (organisation_id, incident_status_id) references incident_statuses (organisation_id, id)
    not valid;

comment on column incidents.status is
    'The Incidents V1 status, derived from incident_status_id: the seeded status''s seeded_as, else by category (triage -> triage, live/paused -> investigating, learning/closed -> closed, declined/merged/canceled -> declined). Written with every change of status.';
comment on column incidents.incident_status_id is
    'The incident''s status. NULL only for incidents created before statuses existed and never edited since: their status is the seeded status whose seeded_as is incidents.status.';
comment on column incidents.retrospective is
    'True for incidents created in mode retrospective (Incidents V2); mode is then real. V2 renders mode standard (real, not retrospective), retrospective, test or tutorial.';
comment on column incidents.reported_at is
    'Value of the Reported at timestamp; NULL means created_at (incidents from before lifecycle timestamps).';
comment on column incidents.accepted_at is 'Value of Accepted at: set when the incident first leaves triage (or explicitly).';
comment on column incidents.resolved_at is 'Value of Resolved at: set when the incident first enters a learning or closed status (or explicitly).';
comment on column incidents.closed_at is 'Value of Closed at: set when the incident enters a closed status (or explicitly).';
comment on column incidents.declined_at is 'Value of Declined at: set when the incident is declined (or explicitly).';
comment on column incidents.frame_v2 is
    'The incident''s Incidents V2 rendering with configuration objects named by reference (sql/code/20_frames.sql), as frame is for V1. Derived data: NULL means not built yet.';

-- Replaced by api.incident_parts_from (sql/code/20_frames.sql).
drop function if exists api.incident_frame_from(incidents, text[], text[], integer[], text[], integer[], integer[],
                                                text[], text[], text[], numeric[]);
-- Their successors take p_v2 (sql/code/30_incidents.sql).
drop function if exists api.incident_replay(text, text);
drop function if exists api.incident_write(text, text, text, jsonb);
drop function if exists api.incident_create_by_key(text, text, text, text, text);
