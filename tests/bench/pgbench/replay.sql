SELECT api.incident_replay(:org, :key);
