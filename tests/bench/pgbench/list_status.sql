SELECT api.incident_list(:org, :priv::boolean, :statuses::text[], NULL, :page_size::int);
