#!/usr/bin/env bash
# The figures of docs/SCALING.md: CPU per request of incidentd's workers,
# nginx and PostgreSQL by request type, incidentd directly on PostgreSQL
# against incidentd through PgBouncer (session pooling), the cost of
# planning each statement (what transaction pooling without named prepared
# statements would pay), connections and memory per backend. On a private
# stack it brings up and tears down; a few minutes on 2 cores.
#
# usage: tests/bench/scaling.sh [--incidents N] [--duration S] [--rounds R]
#                               [--connections C] [--workers W] [--out FILE]
#
#   --incidents N    incidents bulk-loaded in the organisation (10000)
#   --duration S     seconds per wrk or pgbench run (4)
#   --rounds R       rounds; each runs every scenario against both instances
#                    (and every pgbench mode), alternating the order (3)
#   --connections C  wrk connections (4)
#   --workers W      --workers of each incidentd instance (4)
#   --orgs K         organisations for the creates spread over several (4)
#   --out FILE       the Markdown report (build/bench/scaling.md)
#
# Steps:
#   1. packages (wrk, pgbouncer) when root; build (build/bench)
#   2. a PostgreSQL cluster with run.sh's settings; an organisation as
#      run.sh makes it (seed-demo, org.sql, N incidents by load.sql)
#   3. two incidentd instances of W workers, each behind its own nginx:
#      "direct" connects to PostgreSQL's unix socket, "pooled" to PgBouncer
#      1.18 (pool_mode = session, default_pool_size = W, unix sockets)
#   4. R rounds: show, list (first page) and create through each instance
#      (wrk), instances in alternating order; CPU per request of each
#      process tree from /proc (tests/bench/bench.py run-wrk)
#   5. R rounds: pgbench of the show and list statements with -M prepared,
#      extended (what a statement costs PostgreSQL when it is
#      planned on every call)
#   6. R rounds: creates at 2 x W connections through the direct instance
#      into one organisation, and spread over K organisations (each
#      organisation's creates serialise on its counter row)
#   7. connections (pg_stat_activity, PgBouncer's SHOW POOLS) and memory of
#      the direct instance's backends (/proc/PID/smaps_rollup)
#   8. the report (tests/bench/scaling.py), `uptime` before every step
#
# KEEP=1 keeps the temp dir with every raw result.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"
# shellcheck source=tests/bench/payload.sh
. "$(dirname "${BASH_SOURCE[0]}")/payload.sh"

BENCH_SRC="$INCD_ROOT/tests/bench"
BENCHPY=("$INCD_PYTHON" "$BENCH_SRC/bench.py")
PSQL="$INCD_PG_BIN/psql"
PGBENCH="$INCD_PG_BIN/pgbench"
PGBOUNCER=/usr/sbin/pgbouncer
BUILD="$INCD_ROOT/build/bench"
NIDS=50

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
    exit "$1"
}

incidents=10000
duration=4
rounds=3
conns=4
workers=4
orgs=4
out="$INCD_ROOT/build/bench/scaling.md"
cmdline="tests/bench/scaling.sh${*:+ $*}"
while [ $# -gt 0 ]; do
    case $1 in
    --incidents | --duration | --rounds | --connections | --workers | --orgs | --out)
        [ $# -ge 2 ] || usage 2
        declare "${1#--}=$2"
        shift
        ;;
    -h | --help) usage 0 ;;
    *) usage 2 ;;
    esac
    shift
done
conns=${connections:-$conns}
for v in incidents duration rounds conns workers orgs; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || fail "--$v must be a positive whole number" || exit 2
done
[ "$incidents" -ge 100 ] || fail "--incidents must be at least 100" || exit 2

started=$SECONDS
work=""
stack=""
step() { printf '\n==> %s (%d s) load: %s\n' "$*" "$((SECONDS - started))" "$(cut -d ' ' -f 1-3 /proc/loadavg)" >&2; }

# uptime_note NAME: the load average before a step, for the report.
uptime_note() { printf '%s\t%s\n' "$1" "$(uptime)" >>"$R/uptime.tsv"; }

cleanup() {
    local rc=$?
    trap - EXIT INT TERM HUP
    if [ -n "$work" ] && [ -d "$work" ]; then
        for i in direct pooled; do
            nginx_stop "$work/$i/nginx" || true
            incidentd_stop "$work/$i/run/incidentd.pid" || true
        done
        bouncer_stop || true
        [ -z "$stack" ] || pg_stop "$STACK_PGDATA" || true
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

q() { "$PSQL" -X -q -At -v ON_ERROR_STOP=1 "$DBURL" "$@"; }
jget() { "${BENCHPY[@]}" jget "$@"; }

bouncer_pid() { pidfile_pid "$work/bouncer/pgbouncer.pid" pgbouncer; }
bouncer_stop() {
    local pid
    pid=$(bouncer_pid) || return 0
    kill -INT "$pid" 2>/dev/null # SIGINT: safe shutdown
    wait_gone "$pid" 10 || kill -KILL "$pid" 2>/dev/null || true
}

# ------------------------------------------------------------------- setup

step "packages and build (build/bench)"
# PgBouncer only for this benchmark: not in INCD_PACKAGES.
ensure_packages wrk pgbouncer
command -v wrk >/dev/null || fail "wrk not found (package wrk)" || exit 1
[ -x "$PGBOUNCER" ] || fail "$PGBOUNCER not found (package pgbouncer)" || exit 1
build bench

work=$(mktemp -d /tmp/incidentd-scaling.XXXXXX)
chmod 755 "$work"
R="$work/results"
IN="$work/in"
mkdir -p "$work/log" "$R/wrk" "$R/pgbench" "$IN" "$work/pgb"
stack="$work/stack"
mkdir -p "$stack"
pg_port=$(free_port)
bouncer_port=$(free_port "$pg_port")
port_direct=$(free_port "$pg_port" "$bouncer_port")
port_pooled=$(free_port "$pg_port" "$bouncer_port" "$port_direct")

step "PostgreSQL on 127.0.0.1:$pg_port (run.sh's settings)"
STACK_PGDATA=$(state_dir "$stack/pg" pg)
pg_bench_cluster "$STACK_PGDATA" "$pg_port" incidentd
DBURL="postgresql://postgres@/incidentd?host=$STACK_PGDATA&port=$pg_port"
CTL="$BUILD/src/incidentctl"
export DATABASE_URL=$DBURL
"$CTL" migrate >/dev/null
# pgbench plans as the workers do (src/daemon/db.c sets it per connection).
q -c "alter database incidentd set plan_cache_mode = force_generic_plan"
q -f "$BENCH_SRC/sql/helpers.sql" >/dev/null

step "organisation and $incidents incidents"
ORG=$("$CTL" org create "Scaling organisation")
"$CTL" seed-demo --org "$ORG" >>"$work/log/setup.log"
q -v "org=$ORG" -f "$BENCH_SRC/sql/org.sql" >/dev/null
KEY=$("$CTL" api-key create --org "$ORG" --name scaling-benchmark --role viewer --role incident_creator \
    --role global_access --rate-limit 0 2>>"$work/log/setup.log")
[[ $KEY =~ ^inc_[0-9a-f]{64}$ ]] || fail "api-key create printed no token" || exit 1
KEY_ID=$(q -c "select id from api_keys where organisation_id = '$ORG' and name = 'scaling-benchmark'")
salt="scaling-$(date +%s)-$$"
q -v "org=$ORG" -v "key_id=$KEY_ID" -v "n=$incidents" -v "salt=$salt" -f "$BENCH_SRC/sql/load.sql" >/dev/null
read -r count counted dangling _ <<<"$(q -F ' ' -v "org=$ORG" -f "$BENCH_SRC/sql/verify.sql")"
[ "$count" = "$incidents" ] && [ "$counted" = "$incidents" ] && [ "$dangling" = 0 ] ||
    fail "load check: $count incidents, incident_counts $counted, $dangling dangling references" || exit 1
q -c "vacuum analyze" >/dev/null

# ---------------------------------------------------------------- pgbouncer

step "PgBouncer $("$PGBOUNCER" --version | head -n 1 | cut -d ' ' -f 2) on $work/bouncer, port $bouncer_port"
mkdir -p "$work/bouncer"
# Trust on its unix socket (0700, the postgres user's), as PostgreSQL's own
# socket here; a deployment would use auth_query or scram (docs/SCALING.md).
printf '"postgres" ""\n' >"$work/bouncer/userlist.txt"
cat >"$work/bouncer/pgbouncer.ini" <<EOF
[databases]
incidentd = host=$STACK_PGDATA port=$pg_port dbname=incidentd user=postgres

[pgbouncer]
listen_addr =
listen_port = $bouncer_port
unix_socket_dir = $work/bouncer
unix_socket_mode = 0700
auth_type = trust
auth_file = $work/bouncer/userlist.txt
admin_users = postgres
pool_mode = session
default_pool_size = $workers
max_client_conn = 200
server_reset_query = DISCARD ALL
logfile = $work/bouncer/pgbouncer.log
pidfile = $work/bouncer/pgbouncer.pid
EOF
chown -R postgres:postgres "$work/bouncer" 2>/dev/null || true
as_pg_owner "$PGBOUNCER" -d "$work/bouncer/pgbouncer.ini"
for ((i = 0; i < 50; i++)); do
    [ -S "$work/bouncer/.s.PGSQL.$bouncer_port" ] && break
    sleep 0.1
done
POOLED_URL="postgresql://postgres@/incidentd?host=$work/bouncer&port=$bouncer_port"
"$PSQL" -X -At "$POOLED_URL" -c 'select 1' >/dev/null || fail "PgBouncer does not answer" || exit 1

# --------------------------------------------------------------- instances

# instance_up NAME DATABASE_URL PORT: incidentd (W workers) and its nginx.
instance_up() {
    local url=$2 port=$3 d="$work/$1"
    mkdir -p "$d/run" "$d/log"
    # --allow-owner: as the superuser, like run.sh, so that pgbench runs the
    # same statements with the same rights.
    incidentd_start "$BUILD/src/incidentd" "$d/run/incidentd.pid" "$d/log/incidentd.log" \
        "$d/run/incidentd.sock" "$url" "http://127.0.0.1:$port" "$workers" --allow-owner || return 1
    nginx_render "$d/nginx" "127.0.0.1:$port" "$d/run/incidentd.sock" 1 off || return 1
    nginx_start "$d/nginx" || return 1
    wait_for_url "http://127.0.0.1:$port/healthz" 30
}
step "incidentd direct (127.0.0.1:$port_direct) and through PgBouncer (127.0.0.1:$port_pooled), $workers workers each"
instance_up direct "$DBURL" "$port_direct"
instance_up pooled "$POOLED_URL" "$port_pooled"
declare -A PORT=([direct]=$port_direct [pooled]=$port_pooled)

# ------------------------------------------------------------------ inputs

mapfile -t SHOW_IDS < <(q -c "select id from incidents where organisation_id = '$ORG' order by random() limit $NIDS")
printf '/v1/incidents/%s\n' "${SHOW_IDS[@]}" >"$IN/show.paths"
echo "/v1/incidents?page_size=25" >"$IN/list.paths"
create_template "$ORG" >"$IN/create.tpl"
# The organisations of the creates spread over several: the benchmark's and
# K - 1 more with the same configuration (no incidents loaded), one line
# "<key> <payload file>" each (tests/bench/lua/create_orgs.lua).
echo "$KEY $IN/create.tpl" >"$IN/orgs_1"
cp "$IN/orgs_1" "$IN/orgs_k"
for ((k = 2; k <= orgs; k++)); do
    o=$("$CTL" org create "Scaling organisation $k")
    "$CTL" seed-demo --org "$o" >>"$work/log/setup.log"
    q -v "org=$o" -f "$BENCH_SRC/sql/org.sql" >/dev/null
    key=$("$CTL" api-key create --org "$o" --name scaling-benchmark --role viewer --role incident_creator \
        --role global_access --rate-limit 0 2>>"$work/log/setup.log")
    create_template "$o" >"$IN/create_$k.tpl"
    echo "$key $IN/create_$k.tpl" >>"$IN/orgs_k"
done
for i in direct pooled; do
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $KEY" \
        "http://127.0.0.1:${PORT[$i]}$(head -n 1 "$IN/show.paths")")
    [ "$code" = 200 ] || fail "$i: show answered $code" || exit 1
done

# ------------------------------------------------------------ measurements

# groups INSTANCE: the process trees a run accounts (bench.py --group).
groups() {
    printf -- '--group\n%s\n' "incidentd=$(head -n 1 "$work/$1/run/incidentd.pid")" \
        "nginx=$(head -n 1 "$work/$1/nginx/nginx.pid")" \
        "postgres=$(head -n 1 "$STACK_PGDATA/postmaster.pid")" "pgbouncer=$(bouncer_pid)"
}

# wrk_run INSTANCE SCENARIO ROUND
wrk_run() {
    local i=$1 s=$2 r=$3 c=${4:-$conns} lua env=()
    case $s in
    show | list)
        lua=get.lua
        env=("BENCH_PATHS=$IN/$s.paths")
        ;;
    create)
        lua=create.lua
        env=("BENCH_BODY=$IN/create.tpl")
        ;;
    create_1 | create_k)
        lua=create_orgs.lua
        env=("BENCH_ORGS=$IN/orgs_${s#create_}")
        ;;
    esac
    mapfile -t g < <(groups "$i")
    "${BENCHPY[@]}" run-wrk --out "$R/wrk/$i.$s.r$r.json" --label "$s $i round $r" "${g[@]}" -- \
        env "BENCH_KEY=$KEY" "BENCH_RUN=$salt-$i-$r" "${env[@]}" \
        wrk -t2 -c"$c" -d"${duration}s" --timeout 10s -s "$BENCH_SRC/lua/$lua" \
        "http://127.0.0.1:${PORT[$i]}/"
}

step "warm-up: every scenario once through each instance, 1 s"
saved=$duration
duration=1
for i in direct pooled; do for s in show list create; do wrk_run "$i" "$s" 0; done; done
wrk_run direct create_k 0 $((2 * workers))
duration=$saved
rm -f "$R"/wrk/*.r0.json

for ((r = 1; r <= rounds; r++)); do
    order=(direct pooled)
    [ $((r % 2)) = 1 ] || order=(pooled direct)
    step "round $r of $rounds: show, list, create; ${order[*]}"
    uptime_note "wrk round $r"
    for s in show list create; do
        for i in "${order[@]}"; do wrk_run "$i" "$s" "$r"; done
    done
done

# pgbench: the workers' own statements with each query mode. "prepared" is
# what incidentd does (named statements, prepared once per connection);
# "extended" sends each as an unnamed statement, parsed and planned on
# every call (what incidentd would do behind a transaction pooler that does
# not track prepared statements). (Not "simple": pgbench pastes the
# variables into the query text unquoted.)
show_args=()
for ((k = 1; k <= NIDS; k++)); do
    sed "s/@K@/$k/g" "$BENCH_SRC/pgbench/show.sql.in" >"$work/pgb/show_$k.sql"
    show_args+=(-f "$work/pgb/show_$k.sql@1" -D "id_$k=${SHOW_IDS[k - 1]}")
done
pgbench_run() {
    local s=$1 mode=$2 r=$3 args=(-D "org=$ORG" -D priv=true -D page_size=25)
    if [ "$s" = show ]; then args+=("${show_args[@]}"); else args+=(-f "$BENCH_SRC/pgbench/list_first.sql"); fi
    mkdir -p "$work/pgblog"
    "${BENCHPY[@]}" run-pgbench --out "$R/pgbench/$s.$mode.r$r.json" --label "$s $mode round $r" \
        --log-prefix "$work/pgblog/log" --group "postgres=$(head -n 1 "$STACK_PGDATA/postmaster.pid")" -- \
        "$PGBENCH" -n -M "$mode" -c 2 -j 2 -T "$duration" -l --log-prefix "$work/pgblog/log" \
        -h "$STACK_PGDATA" -p "$pg_port" -U postgres "${args[@]}" incidentd
}
modes=(prepared extended)
for ((r = 1; r <= rounds; r++)); do
    step "pgbench round $r of $rounds: show and list statements, -M ${modes[*]}"
    uptime_note "pgbench round $r"
    for s in show list; do
        for mode in "${modes[@]}"; do pgbench_run "$s" "$mode" "$r"; done
    done
    modes=("${modes[1]}" "${modes[0]}")
done

# ------------------------------------------------ creates over organisations

for ((r = 1; r <= rounds; r++)); do
    order=(create_1 create_k)
    [ $((r % 2)) = 1 ] || order=(create_k create_1)
    step "round $r of $rounds: creates into 1 and into $orgs organisations, $((2 * workers)) connections"
    uptime_note "creates over organisations, round $r"
    for s in "${order[@]}"; do wrk_run direct "$s" "$r" $((2 * workers)); done
done

# ------------------------------------------------- connections and memory

step "connections and backend memory"
uptime_note "connections"
q -F $'\t' -c "select coalesce(nullif(application_name, ''), backend_type), count(*)
               from pg_stat_activity where datname = 'incidentd' or backend_type = 'client backend'
               group by 1 order by 1" >"$R/activity.tsv"
"$PSQL" -X -At -F $'\t' "postgresql://postgres@/pgbouncer?host=$work/bouncer&port=$bouncer_port" \
    -c 'show pools' >"$R/pools.tsv" 2>>"$work/log/setup.log" || true
q -F $'\t' -c "select name, setting from pg_settings where name in
               ('max_connections', 'superuser_reserved_connections', 'shared_buffers', 'work_mem')
               order by name" >"$R/settings.tsv"
# Memory of every incidentd backend after the workload, told apart by
# PgBouncer's server connections (SHOW SERVERS: remote_pid).
bouncer_backends=$("$PSQL" -X -A -F '|' "postgresql://postgres@/pgbouncer?host=$work/bouncer&port=$bouncer_port" \
    -c 'show servers' 2>/dev/null |
    awk -F'|' 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "remote_pid") c = i; next } c && $c ~ /^[0-9]+$/ { print $c }' |
    tr '\n' ' ' || true)
smaps() { awk '/^(Rss|Pss|Pss_Anon|Pss_Shmem|Private_Clean|Private_Dirty|Anonymous):/ {printf "%s=%s ", $1, $2}' "/proc/$1/smaps_rollup"; }
mapfile -t BACKENDS < <(q -c "select pid from pg_stat_activity where application_name = 'incidentd' and datname = 'incidentd'")
: >"$R/backend_mem.tsv"
for pid in "${BACKENDS[@]}"; do
    [ -r "/proc/$pid/smaps_rollup" ] || continue
    kind=direct
    case " $bouncer_backends " in *" $pid "*) kind=pooled ;; esac
    printf '%s\t%s\t%s\n' "$pid" "$kind" "$(smaps "$pid")" >>"$R/backend_mem.tsv"
done
# A backend that has just connected and run nothing but a sleep, for
# comparison.
PGAPPNAME=scaling-fresh q -c "select pg_sleep(1)" >/dev/null &
sleeper=$!
sleep 0.5
fresh=$(q -c "select pid from pg_stat_activity where application_name = 'scaling-fresh' limit 1")
[ -z "$fresh" ] || smaps "$fresh" >"$R/fresh_backend.txt" || true
wait "$sleeper" || true

# SIGHUP replaces a host's workers by a new set before the old one drains
# (src/daemon/master.c): sample the direct instance's backends meanwhile.
step "connections while SIGHUP replaces the direct instance's workers"
uptime_note "SIGHUP"
# One session samples every millisecond for 2 s (pg_stat_clear_snapshot:
# a fresh view of pg_stat_activity each time) and reports each change.
excl=${bouncer_backends% }
q -c "do \$\$
declare c int; last int := -1; t0 timestamptz := clock_timestamp(); trace text := '';
begin
    while clock_timestamp() < t0 + interval '2 s' loop
        perform pg_stat_clear_snapshot();
        select count(*) into c from pg_stat_activity
        where application_name = 'incidentd'
          and pid <> all (select unnest(string_to_array('$excl', ' '))::int);
        if c <> last then
            trace := trace || format('%s ms: %s; ', round(extract(epoch from clock_timestamp() - t0) * 1000), c);
            last := c;
        end if;
        perform pg_sleep(0.001);
    end loop;
    raise notice '%', trace;
end \$\$" 2>"$R/sighup_trace.txt" &
sampler=$!
sleep 0.3
kill -HUP "$(head -n 1 "$work/direct/run/incidentd.pid")"
wait "$sampler" || true

# ------------------------------------------------------- undersized pool

# A session pool smaller than the workers that use it: one worker gets no
# server connection; its statements wait in PgBouncer until
# query_wait_timeout (2 s here; 120 s by default) and it answers 503.
step "undersized pool: default_pool_size $((workers - 1)) for $workers workers, query_wait_timeout 2 s"
uptime_note "undersized pool"
incidentd_stop "$work/pooled/run/incidentd.pid"
log_from=$(($(stat -c %s "$work/pooled/log/incidentd.log") + 1))
sed -i -e "s/^default_pool_size = .*/default_pool_size = $((workers - 1))/" "$work/bouncer/pgbouncer.ini"
printf 'query_wait_timeout = 2\n' >>"$work/bouncer/pgbouncer.ini"
kill -HUP "$(bouncer_pid)"
sleep 0.5
d="$work/pooled"
incidentd_start "$BUILD/src/incidentd" "$d/run/incidentd.pid" "$d/log/incidentd.log" \
    "$d/run/incidentd.sock" "$POOLED_URL" "http://127.0.0.1:$port_pooled" "$workers" --allow-owner
wait_for_url "http://127.0.0.1:$port_pooled/healthz" 30
sleep 2.5 # the starved worker's start-up statement times out in PgBouncer
wrk_run pooled show undersized
mv "$R/wrk/pooled.show.rundersized.json" "$R/undersized.json"
"$PSQL" -X -At -F $'\t' "postgresql://postgres@/pgbouncer?host=$work/bouncer&port=$bouncer_port" \
    -c 'show pools' >"$R/pools_undersized.tsv" 2>>"$work/log/setup.log" || true
grep -c 'query_wait_timeout' "$work/bouncer/pgbouncer.log" >"$R/undersized_timeouts.txt" || true
# What the workers logged meanwhile (warnings and errors, one of each).
tail -c "+$log_from" "$work/pooled/log/incidentd.log" | grep -E '\] (warn|error): ' |
    sed -E 's/^.*\] (warn|error): /\1: /' | sort | uniq -c >"$R/undersized_log.txt" || true

# ------------------------------------------------------------------ report

step "report"
git_commit=$(git -C "$INCD_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -z "$(git -C "$INCD_ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ] ||
    git_commit="$git_commit (with uncommitted changes)"
cat >"$R/meta.json" <<EOF
{"command": "$cmdline", "commit": "$git_commit", "date": "$(date -u '+%Y-%m-%d %H:%M UTC')",
 "nproc": $(nproc), "incidents": $incidents, "workers": $workers, "connections": $conns,
 "duration": $duration, "rounds": $rounds, "orgs": $orgs, "total_s": $((SECONDS - started)),
 "pg": "$(q -c 'show server_version')", "pgbouncer": "$("$PGBOUNCER" --version | head -n 1)"}
EOF
"$INCD_PYTHON" "$BENCH_SRC/scaling.py" --results "$R" --out "$out"
cat "$out"
rm -rf "$BUILD/scaling-last"
mkdir -p "$BUILD/scaling-last"
cp -r "$R/." "$BUILD/scaling-last/"
say "report: $out; raw results: $BUILD/scaling-last; total $((SECONDS - started)) s"
