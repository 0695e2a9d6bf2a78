-- Demo data for tests/sql/smoke.sql. Ids are fixed, readable ULIDs:
-- '01H' + zeros + a 4-character tag.
insert into organisations (id, name) values
    ('01H0000000000000000000RGA1', 'Org A'),
    ('01H0000000000000000000RGB1', 'Org B');

insert into api_keys (id, organisation_id, name, token_sha256, revoked_at) values
    ('01H0000000000000000000KEYA', '01H0000000000000000000RGA1', 'Key A', sha256('token-a'), null),
    ('01H0000000000000000000KEYB', '01H0000000000000000000RGB1', 'Key B', sha256('token-b'), null),
    ('01H0000000000000000000KEYR', '01H0000000000000000000RGA1', 'Revoked', sha256('token-r'), now());
insert into api_key_roles (api_key_id, role) values
    ('01H0000000000000000000KEYA', 'viewer'),
    ('01H0000000000000000000KEYA', 'incident_creator'),
    ('01H0000000000000000000KEYA', 'global_access'),
    ('01H0000000000000000000KEYB', 'viewer');

insert into severities (id, organisation_id, name, description, rank, archived_at) values
    ('01H0000000000000000000SEV1', '01H0000000000000000000RGA1', 'Minor', 'Low impact', 1, null),
    ('01H0000000000000000000SEV2', '01H0000000000000000000RGA1', 'Major', 'High impact', 2, null),
    ('01H0000000000000000000SEVX', '01H0000000000000000000RGA1', 'Old', 'Archived', 3, now()),
    ('01H0000000000000000000SEVB', '01H0000000000000000000RGB1', 'B minor', 'Other org', 1, null);

insert into incident_types (id, organisation_id, name, description, is_default, private_incidents_only, create_in_triage, archived_at) values
    ('01H0000000000000000000TYP1', '01H0000000000000000000RGA1', 'Default', 'Default type', true, false, 'optional', null),
    ('01H0000000000000000000TYP2', '01H0000000000000000000RGA1', 'Triage', 'Always triage', false, false, 'always', null),
    ('01H0000000000000000000TYP3', '01H0000000000000000000RGA1', 'Security', 'Private only', false, true, 'optional', null),
    ('01H0000000000000000000TYPX', '01H0000000000000000000RGA1', 'Old type', 'Archived', false, false, 'optional', now()),
    ('01H0000000000000000000TYPB', '01H0000000000000000000RGB1', 'B type', 'Other org', false, false, 'optional', null);

insert into incident_roles (id, organisation_id, name, description, instructions, shortform, role_type, archived_at) values
    ('01H0000000000000000000R0E1', '01H0000000000000000000RGA1', 'Incident Lead', 'The person currently coordinating the incident', 'Take point', 'lead', 'lead', null),
    ('01H0000000000000000000R0E2', '01H0000000000000000000RGA1', 'Reporter', 'Reported it', 'Tell us', 'reporter', 'reporter', null),
    ('01H0000000000000000000R0EX', '01H0000000000000000000RGA1', 'Old role', 'Archived', '', 'old', 'custom', now()),
    ('01H0000000000000000000R0EB', '01H0000000000000000000RGB1', 'Incident Lead', 'Lead of B', '', 'lead', 'lead', null);

insert into custom_fields (id, organisation_id, name, description, field_type, archived_at) values
    ('01H0000000000000000000FSS1', '01H0000000000000000000RGA1', 'Affected Team', 'Team', 'single_select', null),
    ('01H0000000000000000000FMS1', '01H0000000000000000000RGA1', 'Services', 'Services', 'multi_select', null),
    ('01H0000000000000000000FTX1', '01H0000000000000000000RGA1', 'Notes', 'Notes', 'text', null),
    ('01H0000000000000000000FWW1', '01H0000000000000000000RGA1', 'Runbook', 'Link', 'link', null),
    ('01H0000000000000000000FNM1', '01H0000000000000000000RGA1', 'Customers', 'How many', 'numeric', null),
    ('01H0000000000000000000FXX1', '01H0000000000000000000RGA1', 'Old field', 'Archived', 'text', now()),
    ('01H0000000000000000000FB01', '01H0000000000000000000RGB1', 'B field', 'Other org', 'single_select', null);

insert into custom_field_options (id, organisation_id, custom_field_id, value, sort_key, archived_at) values
    ('01H0000000000000000000PSS1', '01H0000000000000000000RGA1', '01H0000000000000000000FSS1', 'Product', 20, null),
    ('01H0000000000000000000PSS2', '01H0000000000000000000RGA1', '01H0000000000000000000FSS1', 'Platform', 10, null),
    ('01H0000000000000000000PSSX', '01H0000000000000000000RGA1', '01H0000000000000000000FSS1', 'Gone', 5, now()),
    ('01H0000000000000000000PMS1', '01H0000000000000000000RGA1', '01H0000000000000000000FMS1', 'API', 10, null),
    ('01H0000000000000000000PMS2', '01H0000000000000000000RGA1', '01H0000000000000000000FMS1', 'Web', 10, null),
    ('01H0000000000000000000PB01', '01H0000000000000000000RGB1', '01H0000000000000000000FB01', 'B opt', 10, null);

insert into users (id, organisation_id, name, email, slack_user_id, role) values
    ('01H0000000000000000000VSR1', '01H0000000000000000000RGA1', 'Lisa', 'Lisa@Example.com', 'U001', 'viewer'),
    ('01H0000000000000000000VSR2', '01H0000000000000000000RGA1', 'Bob', null, 'U002', 'responder'),
    ('01H0000000000000000000VSRB', '01H0000000000000000000RGB1', 'Bea', 'bea@example.com', 'U003', 'viewer');
