SELECT id, frame, total, config_version, after_ok FROM api.incident_page(:org, :priv::boolean, NULL, :page_size::int);
