#!/usr/bin/env bash
# What wal_level = logical (the change feed, docs/REPORTING.md) costs in WAL:
# bytes per create (api.incident_create) and per edit of the name
# (api.incident_edit), 2000 of each, at wal_level replica and logical in
# turn, twice, on a throwaway cluster (a checkpoint before each round).
#
# usage: tests/bench/wal-level.sh
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"
ctl="$INCD_ROOT/build/default/src/incidentctl"
[ -x "$ctl" ] || build default >/dev/null
tmp=$(mktemp -d /tmp/incidentd-wal.XXXXXX); chmod 755 "$tmp"
trap 'pg_stop "$tmp/pg" || true; rm -rf "$tmp"' EXIT
port=$(free_port)
pg_init "$tmp/pg" "$port"; pg_start "$tmp/pg"; pg_create_db "$port" incidentd
url="postgresql://postgres@127.0.0.1:$port/incidentd"
q() { "$INCD_PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 "$url" "$@"; }
DATABASE_URL=$url $ctl migrate >/dev/null
org=$(DATABASE_URL=$url $ctl org create W); DATABASE_URL=$url $ctl seed-demo --org "$org" >/dev/null
DATABASE_URL=$url $ctl api-key create --org "$org" --name w --role viewer >/dev/null
key=$(q -c "select id from api_keys limit 1")
sev=$(q -c "select id from severities where organisation_id='$org' order by rank limit 1")
# Each round: wal_level set and the cluster restarted, then the creates and the edits.
for level in replica logical replica logical; do
  sed -i "s/^wal_level = .*/wal_level = $level/" "$tmp/pg/incidentd.conf"
  pg_restart "$tmp/pg"
  q -c "checkpoint" >/dev/null
  q -v org="$org" -v key="$key" -v sev="$sev" <<'SQL'
select pg_current_wal_lsn() as l0 \gset
select count(*) from generate_series(1, 2000) g, lateral api.incident_create(:'org', :'key', incidentd_ulid(), jsonb_build_object('idempotency_key', 'w' || g || random(), 'visibility', 'public', 'name', 'wal test ' || g, 'severity_id', :'sev')) c \g /dev/null
select pg_current_wal_lsn() as l1 \gset
select count(*) from (select id from incidents order by created_at desc limit 2000) i, lateral api.incident_edit(:'org', :'key', true, i.id, null, incidentd_ulid(), jsonb_build_object('incident', jsonb_build_object('name', 'wal edited ' || i.id))) e \g /dev/null
select pg_current_wal_lsn() as l2 \gset
select current_setting('wal_level') || ': create ' || round(pg_wal_lsn_diff(:'l1', :'l0') / 2000) || ' B, edit ' || round(pg_wal_lsn_diff(:'l2', :'l1') / 2000) || ' B';
SQL
done
