#!/usr/bin/env bash
# The soak: a mixed workload of every endpoint held at a fraction of its
# peak for minutes, on a private stack it brings up and tears down.
#
# usage: tests/bench/soak.sh [--minutes M] [--fraction F] [--peak-seconds S]
#                            [--connections C] [--incidents N] [--workers W]
#                            [--out FILE]
#
#   --minutes M        minutes at the held rate (10)
#   --fraction F       the held rate as a fraction of the peak (0.7)
#   --peak-seconds S   length of the peak measurement (20, after 3 s of
#                      warm-up)
#   --connections C    wrk connections, for the peak and the hold (8)
#   --incidents N      incidents bulk-loaded before the start (10000)
#   --workers W        incidentd --workers (4)
#   --out FILE         the Markdown report (build/bench/soak.md)
#
# Steps: build (build/bench); PostgreSQL, incidentd and nginx on free
# loopback ports in a temp dir (scripts/lib.sh, the benchmark's PostgreSQL
# settings); an organisation as tests/bench/run.sh makes it (seed-demo,
# org.sql, N incidents by load.sql); then wrk with tests/bench/lua/soak.lua
# (20 requests a cycle: V1 and V2 shows, lists, creates, V2 edits, incident
# updates, configuration reads):
#   1. the peak: as fast as C connections go, for S seconds;
#   2. the hold: F x the peak, paced by soak.lua's delay(), in runs of one
#      minute (a row each in the report), while tests/bench/soak.py samples
#      every worker's RSS every 10 s;
#   3. the audit: every create answered 200 (soak.lua writes its key) is in
#      the database with the content sent, no key has two incidents, and
#      the incidents stored beyond the acknowledged ones are at most the
#      requests wrk left in flight (C per run).
# The report: req/s, p50/p99 and errors per minute and in all, CPU per
# request, latency per endpoint (nginx's access log), each worker's RSS
# (first, last, max, growth), the audit.
#
# Exit status 0 when the hold made no error, the workers are the ones it
# started with and their RSS is flat (at most 1 MiB more over the second
# half of the hold than at its middle), and the audit holds; 1 otherwise.
# KEEP=1 keeps the temp dir.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"

BENCH_SRC="$INCD_ROOT/tests/bench"
BENCHPY=("$INCD_PYTHON" "$BENCH_SRC/bench.py")
SOAKPY=("$INCD_PYTHON" "$BENCH_SRC/soak.py")
PSQL="$INCD_PG_BIN/psql"
BUILD="$INCD_ROOT/build/bench"

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
    exit "$1"
}

minutes=10
fraction=0.7
peak_s=20
conns=8
incidents=10000
workers=4
out="$INCD_ROOT/build/bench/soak.md"
cmdline="tests/bench/soak.sh${*:+ $*}"
while [ $# -gt 0 ]; do
    case $1 in
    --minutes) minutes=${2:?} && shift ;;
    --fraction) fraction=${2:?} && shift ;;
    --peak-seconds) peak_s=${2:?} && shift ;;
    --connections) conns=${2:?} && shift ;;
    --incidents) incidents=${2:?} && shift ;;
    --workers) workers=${2:?} && shift ;;
    --out) out=${2:?} && shift ;;
    -h | --help) usage 0 ;;
    *) usage 2 ;;
    esac
    shift
done
[[ $minutes =~ ^[0-9]+$ ]] && [ "$minutes" -ge 1 ] || fail "--minutes must be a whole number >= 1" || exit 2
[[ $fraction =~ ^0?\.[0-9]+$|^1(\.0*)?$ ]] || fail "--fraction must be in (0, 1]" || exit 2
[[ $peak_s =~ ^[0-9]+$ ]] && [ "$peak_s" -ge 2 ] || fail "--peak-seconds must be >= 2" || exit 2
[[ $conns =~ ^[0-9]+$ ]] && [ "$conns" -ge 2 ] || fail "--connections must be >= 2" || exit 2
[[ $incidents =~ ^[0-9]+$ ]] && [ "$incidents" -ge 100 ] || fail "--incidents must be >= 100" || exit 2
[[ $workers =~ ^[0-9]+$ ]] && [ "$workers" -ge 2 ] || fail "--workers must be >= 2" || exit 2

started=$SECONDS
step() { printf '\n==> %s (%d s)\n' "$*" "$((SECONDS - started))" >&2; }
work=""
stack=""
sampler=""
cleanup() {
    local rc=$?
    trap - EXIT INT TERM HUP
    [ -z "$sampler" ] || kill "$sampler" 2>/dev/null || true
    if [ -n "$work" ] && [ -d "$work" ]; then
        [ -z "$stack" ] || stack_stop "$stack" || true
        if [ "${KEEP:-0}" = 1 ] || [ "$rc" != 0 ]; then
            say "kept $work (logs, results)"
        else
            rm -rf "$work"
        fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

step "packages and build (build/bench)"
ensure_packages wrk
command -v wrk >/dev/null || fail "wrk not found (package wrk)" || exit 1
build bench

work=$(mktemp -d /tmp/incidentd-soak.XXXXXX)
chmod 755 "$work"
mkdir -p "$work/log" "$work/in" "$work/out" "$work/runs"
stack="$work/stack"
mkdir -p "$stack"
pg_port=$(free_port)
http_port=$(free_port "$pg_port")

step "PostgreSQL, incidentd ($workers workers) and nginx on 127.0.0.1:$http_port"
stack_paths "$stack"
STACK_PGDATA=$(state_dir "$stack/pg" pg)
pg_init "$STACK_PGDATA" "$pg_port"
# Of the benchmark's settings (tests/bench/run.sh) only the memory: a soak
# should meet checkpoints, not avoid them.
printf '%s\n' "# tests/bench/soak.sh" "shared_buffers = 512MB" |
    as_pg_owner tee "$STACK_PGDATA/bench.conf" >/dev/null
grep -q "^include = 'bench.conf'" "$STACK_PGDATA/postgresql.conf" ||
    printf '%s\n' "include = 'bench.conf'" | as_pg_owner tee -a "$STACK_PGDATA/postgresql.conf" >/dev/null
STACK_DATABASE_URL="postgresql://postgres@/incidentd?host=$STACK_PGDATA&port=$pg_port"
pg_start "$STACK_PGDATA"
pg_create_db "$pg_port" incidentd
DBURL=$STACK_DATABASE_URL
q() { "$PSQL" -X -q -At -v ON_ERROR_STOP=1 "$DBURL" "$@"; }
stack_start "$stack" "$BUILD" "$pg_port" "$http_port" "$workers"
CTL="$BUILD/src/incidentctl"
export DATABASE_URL=$DBURL

step "organisation and $incidents incidents"
q -f "$BENCH_SRC/sql/helpers.sql" >/dev/null
ORG=$("$CTL" org create "Soak organisation")
"$CTL" seed-demo --org "$ORG" >>"$work/log/setup.log"
q -v "org=$ORG" -f "$BENCH_SRC/sql/org.sql" >/dev/null
key_args=(api-key create --org "$ORG" --name soak-benchmark --role viewer --role incident_creator
    --role incident_editor --role global_access --rate-limit 0) # unlimited: the default would throttle the load
KEY=$("$CTL" "${key_args[@]}" 2>>"$work/log/setup.log")
[[ $KEY =~ ^inc_[0-9a-f]{64}$ ]] || fail "api-key create printed no token" || exit 1
KEY_ID=$(q -c "select id from api_keys where organisation_id = '$ORG' and name = 'soak-benchmark'")
q -v "org=$ORG" -v "key_id=$KEY_ID" -v "n=$incidents" -v "salt=soak-load-$$" -f "$BENCH_SRC/sql/load.sql" >/dev/null
read -r count counted dangling <<<"$(q -F ' ' -v "org=$ORG" -f "$BENCH_SRC/sql/verify.sql")"
[ "$count" = "$incidents" ] && [ "$counted" = "$incidents" ] && [ "$dangling" = 0 ] ||
    fail "load check: $count incidents, incident_counts $counted, $dangling dangling references" || exit 1
q -c "vacuum analyze" >/dev/null

# ------------------------------------------------------------------ inputs

step "request inputs"
IN="$work/in"
q -c "select id from incidents where organisation_id = '$ORG' order by random() limit 200" >"$IN/ids"
q -c "select id from severities where organisation_id = '$ORG' and archived_at is null order by rank limit 2" >"$IN/sevs"
IFS='|' read -r sev type f_single o1 f_text r_lead st_inv <<<"$(q -c "
    select (select id from severities where organisation_id = '$ORG' order by rank desc limit 1 offset 1),
           (select id from incident_types where organisation_id = '$ORG' and is_default),
           f1.id, (select id from custom_field_options where custom_field_id = f1.id order by sort_key, value limit 1),
           (select id from custom_fields where organisation_id = '$ORG' and field_type = 'text' limit 1),
           (select id from incident_roles where organisation_id = '$ORG' and role_type = 'lead' and archived_at is null),
           (select id from incident_statuses where organisation_id = '$ORG' and seeded_as = 'investigating')
    from custom_fields f1
    where f1.organisation_id = '$ORG' and f1.field_type = 'single_select'
    limit 1")"
[ -n "$st_inv" ] && [ -n "$r_lead" ] || fail "the organisation lacks seed-demo's configuration" || exit 1
# @KEY@ twice: the idempotency key, and the name soak.lua reads it back from.
entries='"custom_field_entries":[{"custom_field_id":"'$f_single'","values":[{"value_option_id":"'$o1'"}]},{"custom_field_id":"'$f_text'","values":[{"value_text":"Soak"}]}]'
printf '%s' '{"idempotency_key":"@KEY@","visibility":"public","status":"investigating","name":"soak @KEY@","summary":"Created by the soak (tests/bench/soak.sh).","severity_id":"'"$sev"'","incident_type_id":"'"$type"'",'"$entries"',"incident_role_assignments":[{"incident_role_id":"'"$r_lead"'","assignee":{"email":"lisa@example.com"}}]}' >"$IN/create_v1.json"
printf '%s' '{"idempotency_key":"@KEY@","visibility":"public","mode":"standard","incident_status_id":"'"$st_inv"'","name":"soak @KEY@","summary":"Created by the soak (tests/bench/soak.sh).","severity_id":"'"$sev"'","incident_type_id":"'"$type"'",'"$entries"'}' >"$IN/create_v2.json"
cat >"$IN/config.paths" <<EOF
/v1/severities
/v1/incident_types
/v2/incident_roles
/v2/custom_fields
/v1/custom_field_options?custom_field_id=$f_single
/v2/users?page_size=25
/v1/incident_statuses
/v2/incident_timestamps
/v1/identity
EOF
cat >"$IN/v1list.paths" <<EOF
/v1/incidents?page_size=25
/v1/incidents?page_size=25&status=investigating&status=fixing&status=monitoring
EOF
cat >"$IN/v2list.paths" <<EOF
/v2/incidents?page_size=25&status_category[one_of]=live
/v2/incidents?page_size=25&severity[one_of]=$sev
/v2/incidents?page_size=25&status_category[one_of]=live&severity[one_of]=$sev&filter_mode=any
EOF

# ---------------------------------------------------------------- the runs

master=$(head -n 1 "$STACK_PIDFILE")
groups=(--group "incidentd=$master" --group "nginx=$(head -n 1 "$STACK_NGINX/nginx.pid")"
    --group "postgres=$(head -n 1 "$STACK_PGDATA/postmaster.pid")")
salt="soak-$(date +%s)"

# soak_run NAME SECONDS RATE: one wrk run of soak.lua (RATE 0: unpaced),
# its results in runs/NAME.json (bench.py run-wrk).
soak_run() {
    "${BENCHPY[@]}" run-wrk --out "$work/runs/$1.json" --label "$1" "${groups[@]}" -- \
        env "BENCH_KEY=$KEY" "SOAK_IN=$IN" "SOAK_RUN=$salt-$1" "SOAK_RATE=$3" SOAK_THREADS=2 \
        "SOAK_OUT=$work/out" wrk -t2 -c"$conns" -d"$2s" --timeout 10s \
        -s "$BENCH_SRC/lua/soak.lua" "$STACK_URL/"
}
jget() { "${BENCHPY[@]}" jget "$@"; }

step "peak: $conns connections, unpaced, ${peak_s} s after 3 s of warm-up"
soak_run warmup 3 0
soak_run peak "$peak_s" 0
peak=$(jget "$work/runs/peak.json" rps)
target=$("$INCD_PYTHON" -c 'import sys; print(max(1, round(float(sys.argv[1]) * float(sys.argv[2]))))' "$peak" "$fraction")
say "peak $(printf '%.0f' "$peak") req/s ($(jget "$work/runs/peak.json" errors) errors); holding $target req/s"

step "hold: $target req/s for $minutes minutes, worker RSS every 10 s"
"${SOAKPY[@]}" sample --master "$master" --interval 10 --out "$work/rss.jsonl" &
sampler=$!
hold_start=$(date +%s)
for ((m = 1; m <= minutes; m++)); do
    name=$(printf 'hold-%02d' "$m")
    soak_run "$name" 60 "$target"
    say "minute $m: $(jget "$work/runs/$name.json" rps | xargs printf '%.0f') req/s, p99 $(jget "$work/runs/$name.json" p99_ms) ms, $(jget "$work/runs/$name.json" errors) errors"
done
hold_end=$(date +%s)
kill "$sampler" 2>/dev/null || true
wait "$sampler" 2>/dev/null || true
sampler=""
"${SOAKPY[@]}" sample --master "$master" --once --out "$work/rss.jsonl"

# ---------------------------------------------------------------- the audit

step "audit of the acknowledged creates"
cat "$work"/out/acked-*.keys >"$work/acked.keys" 2>/dev/null || : >"$work/acked.keys"
runs=$(find "$work/runs" -name '*.json' | wc -l)
# The keys come on stdin (\copy takes no psql variables), the SQL from a file.
cat >"$work/audit.sql" <<'SQL'
create temp table acked (key text);
\copy acked from pstdin
select (select count(*) from acked),
       (select count(distinct key) from acked),
       (select count(*) from acked a where not exists
            (select from incidents i where i.organisation_id = :'org' and i.idempotency_key = a.key)),
       (select count(*) from acked a join incidents i on i.organisation_id = :'org' and i.idempotency_key = a.key
         where i.name <> 'soak ' || a.key or i.severity_id is distinct from :'sev' or i.visibility <> 'public'
            or i.status <> 'investigating' or i.mode <> 'real'
            or (select count(*) from incident_custom_field_values v where v.incident_id = i.id) <> 2),
       (select count(*) from incidents where organisation_id = :'org' and idempotency_key like 'soak-%'),
       (select count(*) from (select from incidents where organisation_id = :'org'
                              group by idempotency_key having count(*) > 1) d);
SQL
q -F ' ' -v "org=$ORG" -v "sev=$sev" -f "$work/audit.sql" <"$work/acked.keys" >"$work/audit.txt"
read -r acked acked_distinct missing differ stored dups <"$work/audit.txt"
cat >"$work/audit.json" <<EOF
{"acked": $acked, "acked_distinct": $acked_distinct, "missing": $missing, "differ": $differ,
 "stored": $stored, "duplicate_keys": $dups, "in_flight_bound": $((runs * conns)), "runs": $runs}
EOF
say "audit: $acked acknowledged, $missing missing, $differ differing, $stored stored, $dups keys twice"

# --------------------------------------------------------------- the report

step "report"
mkdir -p "$(dirname "$out")"
rc=0
"${SOAKPY[@]}" report --runs "$work/runs" --rss "$work/rss.jsonl" --audit "$work/audit.json" \
    --errors "$work/out" --fraction "$fraction" --connections "$conns" --workers "$workers" \
    --incidents "$incidents" --cmdline "$cmdline" --access-log "$STACK_NGINX/logs/access.log" \
    --hold-start "$hold_start" --hold-end "$hold_end" --out "$out" || rc=$?
# The raw results next to the report, for a look after the temp dir is gone.
rm -rf "$INCD_ROOT/build/bench/soak-last"
mkdir -p "$INCD_ROOT/build/bench/soak-last"
cp -r "$work/runs" "$work/rss.jsonl" "$work/audit.json" "$INCD_ROOT/build/bench/soak-last/"
cat "$out"
say "report: $out ($((SECONDS - started)) s)"
exit "$rc"
