#!/bin/sh
# Concurrency check of api.incident_create with pgbench: one idempotency key
# hammered by 8 clients yields exactly one incident; a mix of shared and
# unique keys keeps reference numbers gap-free (1..n, counter = n) and
# incident_counts exact.
#
# Run against a database migrated with incidentctl migrate (it adds its own
# organisation, so any such database will do):
#
#   PGHOST=/tmp/sqlh PGPORT=55501 PGUSER=postgres PGDATABASE=smoke \
#       sh tests/sql/concurrency.sh
#
# Needs psql and pgbench (PGBENCH=/usr/lib/postgresql/15/bin/pgbench by
# default). Exits non-zero if an invariant fails.
set -eu

PGBENCH=${PGBENCH:-/usr/lib/postgresql/15/bin/pgbench}
PSQL="psql -X -q -At -v ON_ERROR_STOP=1"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

org=$($PSQL -c "insert into organisations (name) values ('concurrency test') returning id")
key=$($PSQL -c "insert into api_keys (organisation_id, name, token_sha256)
               values ('$org', 'bench', sha256(convert_to('$org', 'UTF8'))) returning id")

cat >"$tmp/fixed.sql" <<EOF
select replayed from api.incident_create('$org', '$key', incidentd_ulid(),
    '{"idempotency_key": "fixed", "visibility": "public"}');
EOF
cat >"$tmp/pool.sql" <<EOF
\set k random(1, 40)
select replayed from api.incident_create('$org', '$key', incidentd_ulid(),
    ('{"idempotency_key": "pool-' || :k || '", "visibility": "public"}')::jsonb);
EOF
cat >"$tmp/unique.sql" <<EOF
select replayed from api.incident_create('$org', '$key', incidentd_ulid(),
    ('{"idempotency_key": "u-' || gen_random_uuid() || '", "visibility": "private"}')::jsonb);
EOF

"$PGBENCH" -n -M prepared -c 8 -j 2 -t 50 -f "$tmp/fixed.sql" >"$tmp/out1" 2>&1 || { cat "$tmp/out1"; exit 1; }
"$PGBENCH" -n -M prepared -c 8 -j 2 -t 200 -f "$tmp/pool.sql" -f "$tmp/unique.sql" >"$tmp/out2" 2>&1 || { cat "$tmp/out2"; exit 1; }

result=$($PSQL <<EOF
select
    (select count(*) from incidents where organisation_id = '$org' and idempotency_key = 'fixed') = 1,
    (select count(*) from incidents where organisation_id = '$org' and idempotency_key like 'pool-%')
        = (select count(distinct idempotency_key) from incidents where organisation_id = '$org' and idempotency_key like 'pool-%'),
    (select count(*) = max(reference_number) and min(reference_number) = 1
            and count(distinct reference_number) = count(*)
     from incidents where organisation_id = '$org'),
    (select last_incident_number from organisations where id = '$org')
        = (select count(*) from incidents where organisation_id = '$org'),
    (select sum(incident_count) from incident_counts where organisation_id = '$org')
        = (select count(*) from incidents where organisation_id = '$org'),
    (select count(*) from incidents where organisation_id = '$org');
EOF
)
echo "one incident per key | pool keys unique | references 1..n | counter = n | counts exact | incidents"
echo "$result"
case $result in
t\|t\|t\|t\|t\|*) echo "concurrency: all checks passed" ;;
*) echo "concurrency: FAILED" >&2; exit 1 ;;
esac
