-- The stored-document ceiling D0's table (docs/BENCHMARKS-HOWTO.md): every
-- incident of organisation :org with its IncidentV1 JSON stored ready-made,
-- exactly the bytes the API sends for it (rendered by the test oracle,
-- tests/sql/oracle.sql, which the e2e suite holds byte-identical to the
-- API), and the indexes the API's reads use. D0's statements fetch from it
-- what each endpoint would send if its documents were stored: the cheapest
-- the database can serve them.
-- psql variables: org.
\set ON_ERROR_STOP on
\ir ../../sql/oracle.sql

create table if not exists bench_docs (
    organisation_id text        not null,
    id              text        primary key,
    created_at      timestamptz not null,
    status          text        not null,
    visibility      text        not null,
    idempotency_key text        not null,
    doc             text        not null
);
delete from bench_docs where organisation_id = :'org';

-- 500 incidents per call of the set-based oracle.
with b as (
    select i.id, (row_number() over (order by i.id) - 1) / 500 as batch
    from incidents i
    where i.organisation_id = :'org'
), arr as (
    select batch, array_agg(id order by id) as ids from b group by batch
)
insert into bench_docs (organisation_id, id, created_at, status, visibility, idempotency_key, doc)
select i.organisation_id, i.id, i.created_at, i.status, i.visibility, i.idempotency_key, e.doc::text
from arr
cross join lateral json_array_elements(oracle.incidents_json(:'org', arr.ids)) with ordinality as e(doc, n)
join incidents i on i.id = arr.ids[e.n];

create index if not exists bench_docs_org_created on bench_docs (organisation_id, created_at, id);
create index if not exists bench_docs_org_status_created on bench_docs (organisation_id, status, created_at, id);
create index if not exists bench_docs_org_key on bench_docs (organisation_id, idempotency_key);
vacuum analyze bench_docs;
