SELECT string_agg(doc, ', ') FROM (SELECT doc FROM bench_docs WHERE organisation_id = :org ORDER BY created_at DESC, id DESC LIMIT 26) p;
