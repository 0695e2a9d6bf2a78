SELECT replayed, body FROM api.incident_create(:org, :key_id, :new_id, :payload::jsonb);
