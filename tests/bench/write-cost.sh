#!/usr/bin/env bash
# PostgreSQL's time per write, this checkout's SQL against REF's, side by
# side: one throwaway cluster migrated by this checkout, then rounds that
# apply REF's sql/code files and this checkout's in turn and run pgbench
# (one client, prepared) on the worker's own calls:
#   create  api.incident_create_by_key with the benchmark's V1 payload
#           (tests/bench/payload.sh: severity, type, three custom field
#           values, the lead role)
#   edit    api.incident_edit (V2) of a random incident to another status
#           and severity (one update appended)
# and prints each call's mean execution time from pg_stat_statements (the
# statement's whole time in PostgreSQL, triggers included), and the ratio.
# Time in PostgreSQL, not req/s: a shared machine's noise moves it far
# less. REF must have the same tables (migrations) as this checkout.
#
# usage: tests/bench/write-cost.sh REF [--rounds N] [--calls N]
#   (defaults: 3 rounds, 1500 calls of each kind per round and side)
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"
# shellcheck source=tests/bench/payload.sh
. "$(dirname "${BASH_SOURCE[0]}")/payload.sh"

[ $# -ge 1 ] || {
    echo "usage: $0 REF [--rounds N] [--calls N]" >&2
    exit 2
}
ref=$(git -C "$INCD_ROOT" rev-parse --verify "$1^{commit}")
shift
rounds=3 calls=1500
while [ $# -gt 0 ]; do
    case $1 in
    --rounds) rounds=$2 && shift ;;
    --calls) calls=$2 && shift ;;
    *) fail "unknown argument $1" || exit 2 ;;
    esac
    shift
done
ctl="$INCD_ROOT/build/default/src/incidentctl"
[ -x "$ctl" ] || build default >/dev/null
pgbench="$INCD_PG_BIN/pgbench"

tmp=$(mktemp -d /tmp/incidentd-write-cost.XXXXXX)
chmod 755 "$tmp"
cleanup() {
    pg_stop "$tmp/pg" || true
    rm -rf "$tmp"
}
trap cleanup EXIT

port=$(free_port)
pg_bench_cluster "$tmp/pg" "$port" incidentd
printf '%s\n' "shared_preload_libraries = 'pg_stat_statements'" |
    as_pg_owner tee -a "$tmp/pg/postgresql.conf" >/dev/null
pg_restart "$tmp/pg"
DBURL="postgresql://postgres@127.0.0.1:$port/incidentd"
q() { "$INCD_PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 "$DBURL" "$@"; }

DATABASE_URL=$DBURL "$ctl" migrate >/dev/null
q -c "create extension pg_stat_statements" >/dev/null
org=$(DATABASE_URL=$DBURL "$ctl" org create "Write cost")
DATABASE_URL=$DBURL "$ctl" seed-demo --org "$org" >/dev/null
DATABASE_URL=$DBURL "$ctl" api-key create --org "$org" --name write-cost --role incident_creator \
    --role incident_editor --rate-limit 0 >/dev/null 2>&1
key_id=$(q -v org="$org" <<<"select id from api_keys where organisation_id = :'org'")
tpl=$(create_template "$org")

# The edit moves an incident among three live statuses, each with its own
# severity, so nearly every edit changes both and appends an update.
IFS='|' read -r s1 s2 s3 v1 v2 v3 <<<"$(q -v org="$org" <<<"
    select string_agg(s.id, '|' order by s.rank) || '|' ||
           (select string_agg(v.id, '|' order by v.rank) from severities v where v.organisation_id = :'org')
    from incident_statuses s
    where s.organisation_id = :'org' and s.category = 'live'")"
[ -n "$v3" ] || fail "seed-demo gave fewer than three live statuses or severities" || exit 1
cat >"$tmp/create.sql" <<'EOF'
\set u random(100000000000000000, 999999999999999999)
SELECT replayed, frame, config_version FROM api.incident_create_by_key(:org, :key_id, '0WRTCST0' || :u, :kp || :u, :p1 || :u || :p2);
EOF
# pgbench substitutes :name even inside string literals, so no JSON text here.
cat >"$tmp/edit.sql" <<EOF
\\set n random(1, :max)
\\set s random(1, 3)
\\set u random(100000000000000000, 999999999999999999)
SELECT e.frame FROM (SELECT CAST(:s AS int) AS s) v,
  LATERAL api.incident_edit(:org, :key_id, true, null, CAST(:n AS bigint), '0WRTCSTE' || :u,
    jsonb_build_object('incident', jsonb_build_object(
      'incident_status_id', case v.s when 1 then '$s1' when 2 then '$s2' else '$s3' end,
      'severity_id', case v.s when 1 then '$v1' when 2 then '$v2' else '$v3' end),
      'notify_incident_channel', false)) e;
EOF

# apply_code DIR_OR_REF: every sql/code file of a checkout dir or a commit.
apply_code() {
    local f
    if [ -d "$1" ]; then
        for f in "$1"/sql/code/*.sql; do q -f "$f" >/dev/null; done
    else
        for f in $(git -C "$INCD_ROOT" ls-tree --name-only "$1" sql/code/ | sort); do
            git -C "$INCD_ROOT" show "$1:$f" | q >/dev/null
        done
    fi
}

# run KIND TAG: KIND's pgbench; prints the call's mean time in ms.
run() {
    local max
    max=$(q -c "select coalesce(max(reference_number), 0) from incidents")
    q -c "select pg_stat_statements_reset()" >/dev/null
    "$pgbench" -n -M prepared -c 1 -t "$calls" -f "$tmp/$1.sql" -D org="$org" -D key_id="$key_id" \
        -D kp="wc-$2-" -D p1="${tpl%%@KEY@*}wc-$2-" -D p2="${tpl#*@KEY@}" -D max="$max" \
        "$DBURL" >"$tmp/pgbench.out" 2>&1 || {
        cat "$tmp/pgbench.out" >&2
        fail "pgbench $1 failed"
        return 1
    }
    q -c "select round(mean_exec_time::numeric, 3) from pg_stat_statements
          where query like 'SELECT replayed, frame%' or query like 'SELECT e.frame FROM%'"
}

# A warm-up: the edits need incidents, the caches need filling.
apply_code "$INCD_ROOT"
run create warm >/dev/null
declare -A sum
printf '%-7s %-6s %14s %14s %8s  %s\n' round kind "${ref:0:7} ms" "checkout ms" ratio load
for ((r = 1; r <= rounds; r++)); do
    for kind in create edit; do
        apply_code "$ref"
        a=$(run "$kind" "r$r-a")
        apply_code "$INCD_ROOT"
        b=$(run "$kind" "r$r-b")
        printf '%-7s %-6s %14s %14s %8s  %s\n' "$r" "$kind" "$a" "$b" \
            "$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", b / a }')" "$(cut -d' ' -f1 /proc/loadavg)"
    done
done
