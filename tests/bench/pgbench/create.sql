\set u random(100000000000000000, 999999999999999999)
SELECT frame, config_version FROM api.incident_replay(:org, :kp || :u::text);
SELECT replayed, frame, config_version FROM api.incident_create_by_key(:org, :key_id, '0PGBENCH' || :u::text, :kp || :u::text, :p1 || :u::text || :p2);
