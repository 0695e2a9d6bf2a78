#!/usr/bin/env bash
# How long schema changes hold their locks on a big incidents table: loads
# the benchmark organisation (tests/bench/sql/load.sql) into a throwaway
# cluster, then times each kind of statement a migration might run, each in
# a transaction that is rolled back, with the strongest lock it held on
# incidents; and times incidentctl migrate itself (an up-to-date re-run,
# --reapply-code, and the upgrade of a database migrated before checksums
# were kept), and a configuration write through its api function: renaming
# the severity most incidents use, and a create that uses it while the
# rename is not committed. docs/SCHEMA.md ("Long locks") and
# docs/DESIGN.md ("Read path") have the figures.
#
# usage: tests/bench/migration-locks.sh [--incidents N]   (default 1000000)
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"

n=1000000
case ${1:-} in
--incidents) n=$2 ;;
"") ;;
*)
    echo "usage: $0 [--incidents N]" >&2
    exit 2
    ;;
esac
bench="$INCD_ROOT/tests/bench"
build_dir="$INCD_ROOT/build/default"
ctl="$build_dir/src/incidentctl"
[ -x "$ctl" ] || build default >/dev/null

tmp=$(mktemp -d /tmp/incidentd-locks.XXXXXX)
chmod 755 "$tmp"
trap 'pg_stop "$tmp/pg" || true; rm -rf "$tmp"' EXIT
port=$(free_port)
pg_bench_cluster "$tmp/pg" "$port" incidentd
url="postgresql://postgres@127.0.0.1:$port/incidentd"
q() { "$INCD_PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 "$url" "$@"; }

DATABASE_URL=$url "$ctl" migrate >/dev/null
q -f "$bench/sql/helpers.sql" >/dev/null
org=$(DATABASE_URL=$url "$ctl" org create "Locks")
DATABASE_URL=$url "$ctl" seed-demo --org "$org" >/dev/null
q -v "org=$org" -f "$bench/sql/org.sql" >/dev/null
DATABASE_URL=$url "$ctl" api-key create --org "$org" --name locks --role viewer --rate-limit 0 >/dev/null 2>&1
key_id=$(q -c "select id from api_keys where organisation_id = '$org'")
t0=$SECONDS
q -v "org=$org" -v "key_id=$key_id" -v "n=$n" -v "salt=$$" -f "$bench/sql/load.sql" >/dev/null
q -c "vacuum analyze" >/dev/null
say "$n incidents loaded in $((SECONDS - t0)) s"

# timed LABEL SQL: runs SQL in a transaction that is rolled back; prints a
# table row with its time and the strongest lock it took on incidents.
timed() {
    local out
    out=$(q -F '|' <<EOF
begin;
select extract(epoch from clock_timestamp()) as t0 \gset
$2;
select round((extract(epoch from clock_timestamp()) - :t0)::numeric, 2),
       coalesce((select string_agg(mode, ', ' order by mode) from pg_locks
                 where relation = 'incidents'::regclass and pid = pg_backend_pid()
                   and mode in ('AccessExclusiveLock', 'ExclusiveLock', 'ShareRowExclusiveLock',
                                'ShareLock', 'ShareUpdateExclusiveLock')), 'none stronger than RowExclusiveLock');
rollback;
EOF
    )
    printf '| %s | `%s` | %s s | %s |\n' "$1" "$2" "${out%%|*}" "${out#*|}"
}

echo
echo "| change | statement | time ($n incidents) | locks on incidents (besides weaker ones) |"
echo "|---|---|---:|---|"
timed "add a column, no default" "alter table incidents add column x text"
timed "add a column, constant default" "alter table incidents add column x text not null default 'a'"
timed "add a column, stable default" "alter table incidents add column x timestamptz default now()"
timed "add a column, volatile default (rewrite)" "alter table incidents add column x text default incidentd_ulid()"
timed "backfill a new column" "alter table incidents add column x text; update incidents set x = status"
timed "index, built in the transaction" "create index on incidents (organisation_id, updated_at, id)"
timed "check constraint, validated" "alter table incidents add constraint x check (char_length(name) > 0)"
timed "check constraint, not valid" "alter table incidents add constraint x check (char_length(name) > 0) not valid"
q -c "alter table incidents add constraint x check (char_length(name) > 0) not valid" >/dev/null
timed "validate a not-valid constraint" "alter table incidents validate constraint x"
q -c "alter table incidents drop constraint x" >/dev/null
timed "foreign key, validated" "alter table incidents add constraint x foreign key (organisation_id, creator_api_key_id) references api_keys (organisation_id, id)"
timed "replace a trigger (code phase)" "create or replace trigger incidents_count_truncate after truncate on incidents for each statement execute function incidentd_incident_counts_truncate()"

# migrate itself, timed as a whole process.
migrate_s() {
    local t0=$EPOCHREALTIME
    DATABASE_URL=$url "$ctl" migrate "$@" >/dev/null
    awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }'
}
echo
echo "| incidentctl migrate | time ($n incidents) |"
echo "|---|---:|"
printf '| re-run on an up-to-date database | %s s |\n' "$(migrate_s)"
printf '| `--reapply-code` (every code file) | %s s |\n' "$(migrate_s --reapply-code)"
q -c "alter table schema_migrations drop column checksum; drop table schema_code" >/dev/null
printf '| upgrade from the last release (checksums recorded, code applied) | %s s |\n' "$(migrate_s)"

# A rename through the API's function, of the severity most incidents use,
# and a create with that severity while the rename's transaction is open
# (it must not wait: statement_timeout 2 s).
read -r sev uses <<<"$(q -F ' ' -c "select severity_id, count(*) from incidents where organisation_id = '$org' and severity_id is not null group by 1 order by 2 desc limit 1")"
rename_ms=$(q <<EOF
select extract(epoch from clock_timestamp()) as t0 \gset
select api.severity_update('$org', '$sev', '{"name": "Renamed severity", "description": "renamed", "rank": 9}') \g /dev/null
select round((extract(epoch from clock_timestamp()) - :t0) * 1000, 1);
EOF
)
key=$(q -c "select id from api_keys where organisation_id = '$org' limit 1")
payload='{"idempotency_key": "during-rename", "visibility": "public", "status": "fixing", "severity_id": "'$sev'"}'
( q <<EOF
begin;
update severities set name = 'Renaming' where id = '$sev';
select pg_sleep(3);
commit;
EOF
) &
sleep 0.5
create_ms=$(q <<EOF
set statement_timeout = '2s';
select extract(epoch from clock_timestamp()) as t0 \gset
select * from api.incident_create_by_key('$org', '$key', incidentd_ulid(), 'during-rename', '$payload') \g /dev/null
select round((extract(epoch from clock_timestamp()) - :t0) * 1000, 1);
EOF
)
wait
echo
echo "| configuration write ($n incidents) | time |"
echo "|---|---:|"
printf '| rename of the severity %s incidents use (`api.severity_update`) | %s ms |\n' "$uses" "$rename_ms"
printf '| a create with that severity while a rename of it is not committed | %s ms |\n' "$create_ms"
