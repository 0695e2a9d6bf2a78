#!/usr/bin/env bash
# What upgrading a big database costs its clients: builds REF (a released
# commit) in a temporary worktree, migrates a throwaway cluster with REF's
# incidentctl, loads N incidents with REF's tests/bench/sql/load.sql, then
# runs this checkout's `incidentctl migrate` while two pgbench clients keep
# working on incidents: one reading an incident by id, one updating one.
# Prints migrate's time and, for each client, its longest wait (the time
# the migration's locks held it) and how many of its statements failed.
# docs/SCHEMA.md ("Long locks") has the figures.
#
# usage: tests/bench/upgrade-locks.sh REF [--incidents N]   (default 1000000)
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"

[ $# -ge 1 ] || {
    echo "usage: $0 REF [--incidents N]" >&2
    exit 2
}
ref=$(git -C "$INCD_ROOT" rev-parse --verify "$1^{commit}")
n=1000000
[ "${2:-}" = --incidents ] && n=$3
ctl="$INCD_ROOT/build/default/src/incidentctl"
[ -x "$ctl" ] || build default >/dev/null
pgbench="$INCD_PG_BIN/pgbench"

tmp=$(mktemp -d /tmp/incidentd-upgrade-locks.XXXXXX)
chmod 755 "$tmp"
cleanup() {
    pg_stop "$tmp/pg" || true
    git -C "$INCD_ROOT" worktree remove --force "$tmp/src" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

say "building $ref"
git -C "$INCD_ROOT" worktree add --detach "$tmp/src" "$ref" >/dev/null
(cd "$tmp/src" && ./autogen.sh >/dev/null 2>&1 && mkdir -p build &&
    cd build && ../configure >/dev/null && make -j"$INCD_JOBS" >/dev/null)
old_ctl=$(find "$tmp/src/build/src" -name incidentctl -type f | head -n 1)

port=$(free_port)
pg_bench_cluster "$tmp/pg" "$port" incidentd
url="postgresql://postgres@127.0.0.1:$port/incidentd"
q() { "$INCD_PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 "$url" "$@"; }

bench="$tmp/src/tests/bench"
DATABASE_URL=$url "$old_ctl" migrate >/dev/null
q -f "$bench/sql/helpers.sql" >/dev/null
org=$(DATABASE_URL=$url "$old_ctl" org create "Upgrade")
DATABASE_URL=$url "$old_ctl" seed-demo --org "$org" >/dev/null
q -v "org=$org" -f "$bench/sql/org.sql" >/dev/null
# The released incidentctl may predate --rate-limit; this key only owns the
# loaded incidents, it makes no request.
DATABASE_URL=$url "$old_ctl" api-key create --org "$org" --name locks --role viewer >/dev/null 2>&1
key_id=$(q -v org="$org" <<<"select id from api_keys where organisation_id = :'org'")
t0=$SECONDS
q -v "org=$org" -v "key_id=$key_id" -v "n=$n" -v "salt=$$" -f "$bench/sql/load.sql" >/dev/null
q -c "vacuum analyze" >/dev/null
say "$n incidents loaded with $ref's schema in $((SECONDS - t0)) s"

id=$(q -v org="$org" <<<"select id from incidents where organisation_id = :'org' order by created_at desc limit 1")
printf '%s\n' "select name from incidents where id = '$id';" >"$tmp/read.sql"
printf '%s\n' "update incidents set summary = 'probe' where id = '$id';" >"$tmp/write.sql"
for c in read write; do
    (cd "$tmp" && PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres PGDATABASE=incidentd \
        "$pgbench" -n -c 1 -T 600 -f "$tmp/$c.sql" -l --log-prefix="log_$c" >"$tmp/$c.out" 2>&1) &
    echo $! >"$tmp/$c.pid"
done
sleep 3
start=$(date +%s.%N)
DATABASE_URL=$url "$ctl" migrate >"$tmp/migrate.out"
end=$(date +%s.%N)
sleep 3
for c in read write; do kill -INT "$(cat "$tmp/$c.pid")" 2>/dev/null || true; done
wait || true

echo
echo "| upgrade from ${ref:0:7}, $n incidents | |"
echo "|---|---|"
printf '| incidentctl migrate | %s s |\n' "$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')"
for c in read write; do
    # pgbench's log: client, transaction, latency (us), script, epoch s, us
    max=$(cat "$tmp/log_$c".* 2>/dev/null | awk '{ if ($3 > m) m = $3 } END { printf "%.3f", m / 1e6 }')
    failed=$(grep -c 'ERROR' "$tmp/$c.out" || true)
    printf '| %s of one incident during it: longest wait | %s s (%s errors) |\n' "$c" "$max" "$failed"
done
