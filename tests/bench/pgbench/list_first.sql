SELECT api.incident_list(:org, :priv::boolean, NULL::text[], NULL, :page_size::int);
