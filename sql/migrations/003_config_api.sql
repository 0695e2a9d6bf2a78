-- 003_config_api: the indexes the configuration resources (docs/CONFIG.md)
-- need. Their functions are code, in sql/code/4*.sql.

-- Live names are unique per organisation, ignoring case (lower() of the
-- database's locale). The write functions turn a violation into a 422
-- (api.fail_duplicate), so concurrent writers cannot slip a duplicate past a
-- check.
create unique index severities_live_name
    on severities (organisation_id, lower(name)) where archived_at is null;
create unique index incident_roles_live_name
    on incident_roles (organisation_id, lower(name)) where archived_at is null;
create unique index custom_fields_live_name
    on custom_fields (organisation_id, lower(name)) where archived_at is null;
create unique index custom_field_options_live_value
    on custom_field_options (organisation_id, custom_field_id, lower(value)) where archived_at is null;

-- Serves the options list: one field's live options in (sort_key, id)
-- order, from a keyset cursor.
create index custom_field_options_page
    on custom_field_options (organisation_id, custom_field_id, sort_key, id) where archived_at is null;
