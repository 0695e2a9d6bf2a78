-- 001_schema: the core tables of incidentd.
--
-- A migration: it runs once, in order, inside the one transaction of
-- `incidentctl migrate` (so: no CREATE INDEX CONCURRENTLY, no COMMIT here),
-- and its text never changes once released (migrate compares checksums).
-- The functions and triggers that work on these tables are code, in
-- sql/code/ (docs/SCHEMA.md, "Layout"); the one function here,
-- incidentd_ulid(), is the tables' column default, so it must exist before
-- they do.
--
-- Conventions (see docs/SCHEMA.md for the reader's guide):
--   * every id is text holding a ULID (26 Crockford base32 characters),
--     checked on the primary key; incidentd_ulid() makes one, and is the
--     default, for people inserting rows by hand;
--   * every row that belongs to an organisation carries organisation_id,
--     and references to other rows go through composite foreign keys
--     (organisation_id, x_id) -> x (organisation_id, id), so no row can ever
--     point at another organisation's row;
--   * configuration rows (severities, types, roles, fields, options) are
--     never deleted once an incident may point at them: archived_at is set
--     instead, and "live" means archived_at IS NULL;
--   * timestamps are timestamptz.

-- ---------------------------------------------------------------------------
-- ULIDs
-- ---------------------------------------------------------------------------

-- 48 bits of Unix time in milliseconds followed by 80 random bits, written
-- as 26 Crockford base32 characters, most significant first (the first
-- character carries only 3 bits). The random bits come from
-- gen_random_uuid() (core since PostgreSQL 13), taking only bytes 0-4 and
-- 10-14, which hold no UUID version/variant bits. Same format as the
-- service's src/ulid.c, so hand-made and service-made ids sort together.
-- One plpgsql expression rather than a set-based SQL query: about 3x
-- faster, which matters when it is the default of a bulk load.
create function incidentd_ulid() returns text
language plpgsql volatile parallel safe
as $$
declare
    a  constant text := '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
    t  bigint := floor(extract(epoch from clock_timestamp()) * 1000)::bigint;
    u  bytea := uuid_send(gen_random_uuid());
    r1 bigint;
    r2 bigint;
begin
    r1 := (get_byte(u, 0)::bigint << 32) | (get_byte(u, 1)::bigint << 24) | (get_byte(u, 2)::bigint << 16)
          | (get_byte(u, 3)::bigint << 8) | get_byte(u, 4)::bigint;
    r2 := (get_byte(u, 10)::bigint << 32) | (get_byte(u, 11)::bigint << 24) | (get_byte(u, 12)::bigint << 16)
          | (get_byte(u, 13)::bigint << 8) | get_byte(u, 14)::bigint;
    return
        substr(a, ((t >> 45) & 31)::int + 1, 1) || substr(a, ((t >> 40) & 31)::int + 1, 1) ||
        substr(a, ((t >> 35) & 31)::int + 1, 1) || substr(a, ((t >> 30) & 31)::int + 1, 1) ||
        substr(a, ((t >> 25) & 31)::int + 1, 1) || substr(a, ((t >> 20) & 31)::int + 1, 1) ||
        substr(a, ((t >> 15) & 31)::int + 1, 1) || substr(a, ((t >> 10) & 31)::int + 1, 1) ||
        substr(a, ((t >> 5) & 31)::int + 1, 1) || substr(a, (t & 31)::int + 1, 1) ||
        substr(a, ((r1 >> 35) & 31)::int + 1, 1) || substr(a, ((r1 >> 30) & 31)::int + 1, 1) ||
        substr(a, ((r1 >> 25) & 31)::int + 1, 1) || substr(a, ((r1 >> 20) & 31)::int + 1, 1) ||
        substr(a, ((r1 >> 15) & 31)::int + 1, 1) || substr(a, ((r1 >> 10) & 31)::int + 1, 1) ||
        substr(a, ((r1 >> 5) & 31)::int + 1, 1) || substr(a, (r1 & 31)::int + 1, 1) ||
        substr(a, ((r2 >> 35) & 31)::int + 1, 1) || substr(a, ((r2 >> 30) & 31)::int + 1, 1) ||
        substr(a, ((r2 >> 25) & 31)::int + 1, 1) || substr(a, ((r2 >> 20) & 31)::int + 1, 1) ||
        substr(a, ((r2 >> 15) & 31)::int + 1, 1) || substr(a, ((r2 >> 10) & 31)::int + 1, 1) ||
        substr(a, ((r2 >> 5) & 31)::int + 1, 1) || substr(a, (r2 & 31)::int + 1, 1);
end
$$;

comment on function incidentd_ulid() is
    'A new ULID (time-ordered 26-character id) as text. Column default for every id column; the service itself supplies ids it generated in C.';

-- ---------------------------------------------------------------------------
-- Organisations and API keys
-- ---------------------------------------------------------------------------

create table organisations (
    id                   text        primary key default incidentd_ulid()
                                     check (id ~ '^[0-9A-HJKMNP-TV-Z]{26}$'),
    name                 text        not null check (name <> ''),
    last_incident_number bigint      not null default 0 check (last_incident_number >= 0),
    created_at           timestamptz not null default now(),
    updated_at           timestamptz not null default now()
);

comment on table organisations is
    'One customer account. Everything else belongs to exactly one organisation; API keys only ever see their own organisation''s rows.';
comment on column organisations.last_incident_number is
    'The highest incident reference number handed out so far (INC-<n>). Bumped only when an incident is really inserted, under this row''s lock, so numbers have no gaps and idempotent replays consume none.';

create table api_keys (
    id              text        primary key default incidentd_ulid()
                                check (id ~ '^[0-9A-HJKMNP-TV-Z]{26}$'),
    organisation_id text        not null references organisations (id),
    name            text        not null check (name <> ''),
    token_sha256    bytea       not null unique check (octet_length(token_sha256) = 32),
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    revoked_at      timestamptz,
    unique (organisation_id, id)
);

comment on table api_keys is
    'API keys. The token itself (inc_ + 64 hex characters) is shown once at creation and never stored: only its SHA-256. Keys are revoked, not deleted, because incidents record the key that created them.';
comment on column api_keys.token_sha256 is 'SHA-256 of the bearer token (32 bytes).';
comment on column api_keys.revoked_at is 'Set when the key is revoked; a revoked key no longer authenticates.';

create table api_key_roles (
    api_key_id text not null references api_keys (id) on delete cascade,
    role       text not null check (role in (
        'viewer', 'incident_creator', 'incident_editor', 'manage_settings',
        'global_access', 'catalog_viewer', 'catalog_editor',
        'incident_memberships_editor', 'schedules_editor', 'schedules_reader',
        'schedule_overrides_editor', 'workflows_editor', 'workflows_viewer',
        'private_workflows_editor', 'private_escalation_workflows_editor',
        'on_call_editor', 'on_call_viewer', 'escalation_creator',
        'post_incident_flow_opt_out', 'security_settings_editor',
        'investigation_download', 'team_memberships_manage',
        'status_page_publisher', 'postmortems_manage', 'api_keys_manage',
        'notification_methods_manage', 'notification_methods_unredacted_viewer',
        'incident_workload_viewer', 'incident_workload_private_viewer',
        'act_on_behalf_of_users', 'secrets_manage', 'secrets_use',
        'call_transcripts_viewer', 'heartbeats_ping')),
    created_at timestamptz not null default now(),
    primary key (api_key_id, role)
);

comment on table api_key_roles is
    'Roles granted to an API key (names from the incident.io API''s role enum). viewer: read public incidents and configuration; incident_creator: create incidents; global_access: also see private incidents; manage_settings: change configuration.';

-- ---------------------------------------------------------------------------
-- Users
-- ---------------------------------------------------------------------------

create table users (
    id              text        primary key default incidentd_ulid()
                                check (id ~ '^[0-9A-HJKMNP-TV-Z]{26}$'),
    organisation_id text        not null references organisations (id),
    name            text        not null check (name <> ''),
    email           text        check (email <> ''),
    slack_user_id   text        check (slack_user_id <> ''),
    role            text        not null default 'viewer'
                                check (role in ('viewer', 'responder', 'administrator', 'owner', 'unset')),
    is_active       boolean     not null default true,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    unique (organisation_id, id),
    unique (organisation_id, email),
    unique (organisation_id, slack_user_id)
);

-- Assignees given by email are matched case-insensitively.
create index users_org_lower_email on users (organisation_id, lower(email));

comment on table users is
    'People of an organisation (from its directory; created with incidentctl). They can be assigned incident roles.';
comment on column users.role is 'Base role in the organisation (viewer, responder, administrator, owner, unset).';
comment on column users.email is 'Optional; unique within the organisation.';
comment on column users.slack_user_id is 'Optional; unique within the organisation.';
comment on column users.is_active is 'False for people who left the directory; rendered as is_active by the users API.';

-- ---------------------------------------------------------------------------
-- Configuration: severities, incident types, incident roles, custom fields
-- ---------------------------------------------------------------------------

create table severities (
    id              text        primary key default incidentd_ulid()
                                check (id ~ '^[0-9A-HJKMNP-TV-Z]{26}$'),
    organisation_id text        not null references organisations (id),
    name            text        not null check (char_length(name) between 1 and 50),
    description     text        not null default '',
    rank            bigint      not null default 0,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    archived_at     timestamptz,
    unique (organisation_id, id)
);

comment on table severities is
    'Severity levels of an organisation. Deleting one through the API archives it (archived_at): incidents keep showing the severity they had.';
comment on column severities.rank is 'Sort order; higher is more severe.';
comment on column severities.archived_at is 'Set when deleted through the API; archived rows cannot be chosen for new incidents.';

create table incident_types (
    id                     text        primary key default incidentd_ulid()
                                       check (id ~ '^[0-9A-HJKMNP-TV-Z]{26}$'),
    organisation_id        text        not null references organisations (id),
    name                   text        not null check (name <> ''),
    description            text        not null default '',
    is_default             boolean     not null default false,
    private_incidents_only boolean     not null default false,
    create_in_triage       text        not null default 'optional'
                                       check (create_in_triage in ('always', 'optional')),
    created_at             timestamptz not null default now(),
    updated_at             timestamptz not null default now(),
    archived_at            timestamptz,
    unique (organisation_id, id)
);

-- At most one live default type per organisation.
create unique index incident_types_one_default
    on incident_types (organisation_id) where is_default and archived_at is null;

comment on table incident_types is
    'Incident types. The live is_default type is used when a create request names none.';
comment on column incident_types.private_incidents_only is 'Incidents of this type must be private.';
comment on column incident_types.create_in_triage is 'always: incidents of this type are always created in status triage, whatever was asked.';

create table incident_roles (
    id              text        primary key default incidentd_ulid()
                                check (id ~ '^[0-9A-HJKMNP-TV-Z]{26}$'),
    organisation_id text        not null references organisations (id),
    name            text        not null check (name <> ''),
    -- The API schema requires a non-empty description.
    description     text        not null check (description <> ''),
    instructions    text        not null default '',
    shortform       text        not null default '',
    role_type       text        not null default 'custom'
                                check (role_type in ('lead', 'reporter', 'custom')),
    required        boolean     not null default false,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    archived_at     timestamptz,
    unique (organisation_id, id)
);

-- Every organisation has exactly one live lead role (created with the
-- organisation; the API refuses to delete it). This index makes "at most".
create unique index incident_roles_one_lead
    on incident_roles (organisation_id) where role_type = 'lead' and archived_at is null;

comment on table incident_roles is
    'Roles people can hold on an incident (Incident Lead, Reporter, custom roles).';
comment on column incident_roles.role_type is 'lead (exactly one live per organisation), reporter, or custom.';

create table custom_fields (
    id              text        primary key default incidentd_ulid()
                                check (id ~ '^[0-9A-HJKMNP-TV-Z]{26}$'),
    organisation_id text        not null references organisations (id),
    name            text        not null check (char_length(name) between 1 and 50),
    description     text        not null default '',
    field_type      text        not null
                                check (field_type in ('single_select', 'multi_select', 'text', 'link', 'numeric')),
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    archived_at     timestamptz,
    unique (organisation_id, id)
);

comment on table custom_fields is
    'Custom fields incidents can carry. Values live in incident_custom_field_values; options of select fields in custom_field_options.';
comment on column custom_fields.field_type is 'single_select (at most one option), multi_select, text, link (http/https URL) or numeric (decimal).';

create table custom_field_options (
    id              text        primary key default incidentd_ulid()
                                check (id ~ '^[0-9A-HJKMNP-TV-Z]{26}$'),
    organisation_id text        not null,
    custom_field_id text        not null,
    value           text        not null check (value <> ''),
    sort_key        bigint      not null default 1000,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    archived_at     timestamptz,
    foreign key (organisation_id, custom_field_id) references custom_fields (organisation_id, id),
    unique (organisation_id, id),
    -- Target of incident_custom_field_values' option reference: an option
    -- value can only be stored against the field it belongs to. Also serves
    -- "options of this field".
    unique (organisation_id, custom_field_id, id)
);

comment on table custom_field_options is
    'The choices of single_select / multi_select custom fields, shown ordered by sort_key then value.';
comment on column custom_field_options.sort_key is 'Display order (ascending); default 1000.';

-- ---------------------------------------------------------------------------
-- Incidents
-- ---------------------------------------------------------------------------

create table incidents (
    id                        text        primary key default incidentd_ulid()
                                          check (id ~ '^[0-9A-HJKMNP-TV-Z]{26}$'),
    organisation_id           text        not null references organisations (id),
    reference_number          bigint      not null check (reference_number > 0),
    idempotency_key           text        not null check (char_length(idempotency_key) between 1 and 256),
    name                      text        not null check (char_length(name) between 1 and 500),
    summary                   text        check (char_length(summary) <= 50000),
    status                    text        not null default 'triage'
                                          check (status in ('triage', 'investigating', 'fixing', 'monitoring', 'closed', 'declined')),
    visibility                text        not null check (visibility in ('public', 'private')),
    mode                      text        not null default 'real' check (mode in ('real', 'test', 'tutorial')),
    severity_id               text,
    incident_type_id          text,
    creator_api_key_id        text        not null,
    slack_team_id             text        not null default '',
    slack_channel_id          text        not null default '',
    slack_channel_name        text        not null default '' check (char_length(slack_channel_name) <= 80),
    source_message_channel_id text,
    source_message_timestamp  text,
    created_at                timestamptz not null default clock_timestamp(),
    updated_at                timestamptz not null default clock_timestamp(),
    unique (organisation_id, id),
    unique (organisation_id, reference_number),
    -- The idempotency index: INSERT ... ON CONFLICT (organisation_id,
    -- idempotency_key) DO NOTHING relies on it.
    unique (organisation_id, idempotency_key),
    foreign key (organisation_id, severity_id) references severities (organisation_id, id),
    foreign key (organisation_id, incident_type_id) references incident_types (organisation_id, id),
    foreign key (organisation_id, creator_api_key_id) references api_keys (organisation_id, id)
);

-- Serves the list order: WHERE organisation_id = $1 ORDER BY created_at DESC,
-- id DESC with the keyset condition (created_at, id) < ($x, $y) (scanned
-- backwards).
create index incidents_org_created on incidents (organisation_id, created_at, id);
-- Serves the same order for one status (the list's status filter).
create index incidents_org_status_created on incidents (organisation_id, status, created_at, id);

comment on table incidents is
    'Incidents. reference_number is the per-organisation number shown as INC-<n>; idempotency_key is the client''s de-duplication key (unique per organisation).';
comment on column incidents.reference_number is 'Shown as INC-<n>. Per organisation, increasing, no gaps (see organisations.last_incident_number).';
comment on column incidents.idempotency_key is 'The create request''s idempotency_key. A second create with the same key returns this incident instead of making a new one.';
comment on column incidents.status is 'triage, investigating, fixing, monitoring, closed or declined.';
comment on column incidents.visibility is 'public, or private (only keys with global_access see private incidents).';
comment on column incidents.mode is 'real, test or tutorial. Exclude test/tutorial incidents from reporting.';
comment on column incidents.severity_id is 'May be null for incidents opened in triage or declined. May point at an archived severity.';
comment on column incidents.incident_type_id is 'May be null when the organisation had no default type. May point at an archived type.';
comment on column incidents.creator_api_key_id is 'The API key that created the incident.';
comment on column incidents.slack_channel_name is 'inc-<n>-<slug of the name>, at most 80 characters, fixed at creation.';
comment on column incidents.created_at is 'When the incident was created (taken under the organisation lock, so it increases with reference_number).';

create table incident_role_assignments (
    organisation_id  text        not null,
    incident_id      text        not null,
    incident_role_id text        not null,
    user_id          text        not null,
    position         integer     not null check (position >= 0),
    created_at       timestamptz not null default now(),
    primary key (incident_id, incident_role_id),
    foreign key (organisation_id, incident_id) references incidents (organisation_id, id) on delete cascade,
    foreign key (organisation_id, incident_role_id) references incident_roles (organisation_id, id),
    foreign key (organisation_id, user_id) references users (organisation_id, id)
);

comment on table incident_role_assignments is
    'Who holds which role on an incident: one row per (incident, role).';
comment on column incident_role_assignments.position is 'Index of the assignment in the create request; the API renders assignments in this order.';

create table incident_custom_field_values (
    organisation_id text    not null,
    incident_id     text    not null,
    custom_field_id text    not null,
    entry_position  integer not null check (entry_position >= 0),
    value_position  integer not null check (value_position >= 0),
    value_option_id text,
    value_text      text    check (char_length(value_text) <= 10000),
    value_link      text,
    value_numeric   numeric,
    primary key (incident_id, custom_field_id, value_position),
    -- exactly one kind of value per row
    check (num_nonnulls(value_option_id, value_text, value_link, value_numeric) = 1),
    foreign key (organisation_id, incident_id) references incidents (organisation_id, id) on delete cascade,
    foreign key (organisation_id, custom_field_id) references custom_fields (organisation_id, id),
    foreign key (organisation_id, custom_field_id, value_option_id)
        references custom_field_options (organisation_id, custom_field_id, id)
);

create index incident_custom_field_values_field on incident_custom_field_values (organisation_id, custom_field_id);

comment on table incident_custom_field_values is
    'Custom field values of incidents: one row per value (a multi_select field with three options chosen has three rows). Exactly one of value_option_id / value_text / value_link / value_numeric is set, matching the field''s type.';
comment on column incident_custom_field_values.entry_position is 'Index of the entry in the create request''s custom_field_entries; entries render in this order.';
comment on column incident_custom_field_values.value_position is 'Index of the value within its entry.';
comment on column incident_custom_field_values.value_option_id is 'For select fields: the chosen option (always an option of custom_field_id).';
comment on column incident_custom_field_values.value_numeric is 'For numeric fields; the API returns it as a string with the scale it was given.';

-- ---------------------------------------------------------------------------
-- incident_counts: exact totals without count(*)
-- ---------------------------------------------------------------------------

create table incident_counts (
    organisation_id text   not null references organisations (id) on delete cascade,
    status          text   not null
                           check (status in ('triage', 'investigating', 'fixing', 'monitoring', 'closed', 'declined')),
    visibility      text   not null check (visibility in ('public', 'private')),
    incident_count  bigint not null default 0,
    primary key (organisation_id, status, visibility)
);

comment on table incident_counts is
    'Number of incidents per (organisation, status, visibility), kept exact by triggers on incidents. The list endpoint sums these rows for total_record_count. If triggers were bypassed (session_replication_role = replica), run SELECT incidentd_rebuild_incident_counts().';
