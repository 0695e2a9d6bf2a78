SELECT frame, config_version FROM api.incident_replay(:org, :key);
