SELECT api.incident_show(:org, :id_@K@, :priv::boolean);
