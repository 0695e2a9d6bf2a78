SELECT doc FROM bench_docs WHERE organisation_id = :org AND idempotency_key = :key;
