SELECT id, frame, total, config_version, after_ok FROM api.incident_page_by_status(:org, :priv::boolean, :statuses::text[], NULL, :page_size::int);
