SELECT api.incident_list(:org, :priv::boolean, NULL::text[], :after_@K@, :page_size::int);
