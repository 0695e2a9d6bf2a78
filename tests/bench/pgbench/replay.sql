SELECT replayed, body FROM api.incident_create_by_key(:org, :key_id, :new_id, :key, :payload);
