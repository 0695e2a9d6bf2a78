#!/usr/bin/env bash
# The upgrade test (README.md here; scripts/test.sh runs it): restores the
# fixture database, made by a released incidentd, into a throwaway cluster;
# migrates it with BUILD_DIR's incidentctl; serves it with BUILD_DIR's
# incidentd as the runtime role, the way docs/SCHEMA.md ("Roles and
# privileges") moves an existing install to two roles (migrate as the
# superuser, then incidentctl roles setup); and checks that
#   1. every recorded answer is the same, byte for byte (fixture.py compare);
#   2. migrate --status calls the upgraded database up to date;
#   3. its schema (pg_dump --schema-only) is exactly a fresh database's;
#   4. the lifecycle (migration 007) holds for the old data: seeded
#      statuses and timestamps, incidents in the status of their v1 status,
#      V2 reads and lists, and an edit (fixture.py lifecycle; it writes, so
#      it runs after 1-3);
#   5. the release's keys have the default rate limit (migration 008),
#      1200 a minute, and their responses say so.
#
# usage: tests/upgrade/run.sh BUILD_DIR [FIXTURE_DIR]
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"

[ $# -ge 1 ] && [ $# -le 2 ] || {
    echo "usage: $0 BUILD_DIR [FIXTURE_DIR]" >&2
    exit 2
}
build_dir=$(cd "$1" && pwd -P)
here="$INCD_ROOT/tests/upgrade"
fixture=${2:-$here/fixture}
ctl="$build_dir/src/incidentctl"
psql=("$INCD_PG_BIN/psql" -X -q -v ON_ERROR_STOP=1)

tmp=$(mktemp -d /tmp/incidentd-upgrade.XXXXXX)
chmod 755 "$tmp"
cleanup() {
    stack_stop "$tmp/stack" || true
    [ "${KEEP:-0}" = 1 ] && say "kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT

pg_port=$(free_port)
http_port=$(free_port "$pg_port")
mkdir -p "$tmp/stack"
pgdata=$(state_dir "$tmp/stack/pg" pg)
pg_init "$pgdata" "$pg_port"
pg_start "$pgdata"
base="postgresql://postgres@127.0.0.1:$pg_port"
pg_create_db "$pg_port" incidentd
pg_create_db "$pg_port" fresh
say "restoring the fixture of $(head -n 1 "$fixture/SOURCE")"
"${psql[@]}" -d "$base/incidentd" -f "$fixture/dump.sql" >/dev/null

# The upgrade of an install whose objects the superuser owns, then its
# move to two roles; the fresh database below gets the same.
"$ctl" --database-url "$base/incidentd" migrate
"$ctl" --database-url "$base/incidentd" roles setup
# stack_start sets the roles up and migrates again (nothing left to do) and
# serves it as the runtime role.
STACK_DATABASE_URL=""
STACK_PUBLIC_URL=$(cat "$here/public-url")
stack_start "$tmp/stack" "$build_dir" "$pg_port" "$http_port" 2 >/dev/null

rc=0
others=$("${psql[@]}" -At -d "$base/incidentd" <<'EOF'
select string_agg(x, ', ') from (
    select c.oid::regclass::text || ' (' || pg_get_userbyid(c.relowner) || ')' as x
    from pg_class c where c.relnamespace in ('api'::regnamespace, 'public'::regnamespace)
      and c.relkind in ('r', 'v', 'S') and pg_get_userbyid(c.relowner) <> 'incidentd_owner'
    union all
    select p.oid::regprocedure::text || ' (' || pg_get_userbyid(p.proowner) || ')'
    from pg_proc p where p.pronamespace in ('api'::regnamespace, 'public'::regnamespace)
      and pg_get_userbyid(p.proowner) <> 'incidentd_owner') o
EOF
)
[ -z "$others" ] || { fail "roles setup left objects to others: $others"; rc=1; }
"$INCD_PYTHON" "$here/fixture.py" compare --url "$STACK_URL" --state "$fixture/state.json" \
    --renders "$fixture/renders.jsonl" || rc=1

keys=$("${psql[@]}" -At -d "$base/incidentd" <<<"select count(*) filter (where rate_limit = 1200) || ' of ' || count(*) from api_keys")
if [ "${keys%% *}" = "${keys##* }" ] && [ "${keys##* }" -gt 0 ]; then
    say "rate limits: $keys keys have the default, 1200"
else
    fail "rate limits: only $keys keys have the default, 1200" || rc=1
fi
"$INCD_PYTHON" - "$STACK_URL" "$fixture/state.json" <<'EOF' || rc=1
import json, sys, urllib.request
url, state = sys.argv[1], json.load(open(sys.argv[2]))
req = urllib.request.Request(url + "/v1/identity",
                             headers={"Authorization": "Bearer " + state["keys"]["viewer"]["token"]})
with urllib.request.urlopen(req) as r:
    got = r.headers.get("X-RateLimit-Limit")
if got != "1200, 1200;window=60":
    sys.exit("rate limits: a released key's X-RateLimit-Limit is %r" % got)
EOF

"$ctl" --database-url "$base/incidentd" migrate --status >"$tmp/status" ||
    { cat "$tmp/status" >&2; fail "migrate --status: the upgraded database is not up to date"; rc=1; }

# pg_dump's \restrict lines carry a random key.
"$ctl" --database-url "$base/fresh" migrate >/dev/null
"$ctl" --database-url "$base/fresh" roles setup >/dev/null
for db in incidentd fresh; do
    "$INCD_PG_BIN/pg_dump" --schema-only -d "$base/$db" | grep -v '^\\\(un\)\?restrict ' >"$tmp/$db.schema"
done
if diff -u "$tmp/fresh.schema" "$tmp/incidentd.schema" >"$tmp/schema.diff"; then
    say "schema: the upgraded database's equals a fresh one's ($(grep -c '^CREATE' "$tmp/fresh.schema") CREATE statements)"
else
    head -n 60 "$tmp/schema.diff" >&2
    fail "schema: the upgraded database differs from a fresh one"
    rc=1
fi
# An editor key for the lifecycle check: the fixture's keys predate the role.
admin_id=$("$INCD_PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["keys"]["admin"]["id"])' \
    "$fixture/state.json")
org=$("${psql[@]}" -At -d "$base/incidentd" -v k="$admin_id" <<<"select organisation_id from api_keys where id = :'k'")
editor=$("$ctl" --database-url "$base/incidentd" api-key create --org "$org" --name upgrade-editor \
    --role viewer --role incident_editor --role global_access 2>/dev/null)
"$INCD_PYTHON" "$here/fixture.py" lifecycle --url "$STACK_URL" --state "$fixture/state.json" \
    --editor-token "$editor" || rc=1
exit "$rc"
