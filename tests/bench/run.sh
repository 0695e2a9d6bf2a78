#!/usr/bin/env bash
# The benchmark suite: incidentd's throughput and latency per endpoint,
# measured against the ceilings of the database (D) and of nginx + libfcgi
# (H) in the same run, on a private stack it brings up and tears down.
#
# usage: tests/bench/run.sh [--incidents N | --million] [--duration S]
#                           [--rounds R] [--connections C[,C...]] [--workers W]
#                           [--keepalive K|off] [--quick] [--out FILE]
#                           [--scenarios LIST] [--strict]
#
#   --incidents N     incidents in the benchmark organisation (10000)
#   --million         --incidents 1000000; a second organisation of 10 000
#                     incidents in the same database gives the comparison
#   --duration S      seconds per run (4; --quick: 2)
#   --rounds R        rounds per measured point (3; --quick: 2): each runs
#                     incidentd, H and D once, alternating the order
#   --connections L   comma-separated client concurrency levels (4,16;
#                     --quick: 4)
#   --workers W       incidentd --workers (4)
#   --keepalive K     nginx upstream keepalive: off (the default, as in
#                     scripts/lib.sh's stack) or a number of connections
#   --quick           a smoke run of about four minutes
#   --out FILE        the Markdown report (BENCHMARKS.md in the checkout;
#                     with --scenarios, build/bench/BENCHMARKS-focused.md)
#   --scenarios LIST  a focused run for working on one endpoint: only these
#                     of show,list_first,list_deep,list_status,create,replay
#                     (replay also runs the replay-against-show step) and of
#                     the Incidents V2 list's v2_list_first,v2_live,
#                     v2_sev_gte,v2_created_range,v2_cf_one_of,v2_type_one_of
#                     ("v2" names all six); the memory, scale, sweep and v1
#                     EXPLAIN steps are skipped (the V2 list's EXPLAIN runs
#                     whenever one of its scenarios does)
#   --strict          exit 2 when a target is missed
#
# Steps (docs/BENCHMARKS-HOWTO.md explains each):
#   1. packages (wrk; pgbench comes with postgresql-15) when root; build
#      (build/bench) and tests/bench/fcgi_static.c
#   2. a PostgreSQL cluster, incidentd and nginx on free loopback ports in a
#      temp dir (scripts/lib.sh); an organisation (incidentctl org create,
#      seed-demo, more users and options), N incidents bulk-loaded in SQL
#      (tests/bench/sql/load.sql), checked (verify.sql), VACUUM ANALYZE
#   3. per concurrency level and endpoint: wrk through nginx to incidentd;
#      the same wrk script through the same nginx config to fcgi_static
#      replaying the endpoint's captured response (H); pgbench running the
#      endpoint's statement (D); fcgi_static passing each request to that
#      statement (P, not for create); CPU per request of every process group;
#      the V2 list's first page unfiltered and with each common filter,
#      incidentd only, all of them in the same interleaved rounds
#   4. worker RSS before/after 100 000 requests; totals against count(*);
#      with a second organisation, the same endpoints at both sizes;
#      a sweep of --workers 1, 2, 4, 8 x upstream keepalive
#   5. EXPLAIN (ANALYZE, BUFFERS) of each endpoint's statements
#      (auto_explain, nested statements), the V2 list's too; the report,
#      printed
#
# Exit status: 0 when every measurement ran and the report was written
# (missed targets are findings, listed in it), 1 when the harness failed,
# 2 with --strict when a target was missed. KEEP=1 keeps the temp dir.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"
# shellcheck source=tests/bench/payload.sh
. "$(dirname "${BASH_SOURCE[0]}")/payload.sh"

BENCH_SRC="$INCD_ROOT/tests/bench"
BENCHPY=("$INCD_PYTHON" "$BENCH_SRC/bench.py")
PGBENCH="$INCD_PG_BIN/pgbench"
PSQL="$INCD_PG_BIN/psql"
BUILD="$INCD_ROOT/build/bench"
RESPONDER="$BUILD/fcgi_static"
NIDS=50 # ids per GET scenario that cycles through ids (show, deep page)
STATUSES=(investigating fixing monitoring)

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
    exit "$1"
}

incidents=10000
duration=""
rounds=""
levels=""
workers=4
keepalive=""
quick=0
strict=0
out=""
only=""
cmdline="tests/bench/run.sh${*:+ $*}"
while [ $# -gt 0 ]; do
    case $1 in
    --incidents)
        incidents=${2:?}
        shift
        ;;
    --million) incidents=1000000 ;;
    --duration)
        duration=${2:?}
        shift
        ;;
    --rounds)
        rounds=${2:?}
        shift
        ;;
    --connections)
        levels=${2:?}
        shift
        ;;
    --workers)
        workers=${2:?}
        shift
        ;;
    --keepalive)
        keepalive=${2:?}
        shift
        ;;
    --quick) quick=1 ;;
    --strict) strict=1 ;;
    --out)
        out=${2:?}
        shift
        ;;
    --scenarios)
        only=${2:?}
        shift
        ;;
    -h | --help) usage 0 ;;
    *) usage 2 ;;
    esac
    shift
done
[[ $incidents =~ ^[0-9]+$ ]] && [ "$incidents" -ge 100 ] || fail "--incidents must be at least 100" || exit 2
[[ $workers =~ ^[0-9]+$ ]] && [ "$workers" -ge 1 ] && [ "$workers" -le 64 ] || fail "--workers must be 1..64" || exit 2
if [ "$quick" = 1 ]; then
    duration=${duration:-2}
    rounds=${rounds:-2}
    levels=${levels:-4}
    sweep_duration=2
    rss_target=10000
    rss_chunk=3
    mem_orgs=200
    warmup=1
else
    duration=${duration:-4}
    rounds=${rounds:-3}
    levels=${levels:-4,16}
    sweep_duration=3
    rss_target=100000
    rss_chunk=10
    mem_orgs=1000
    warmup=1
fi
[[ $duration =~ ^[0-9]+$ ]] && [ "$duration" -ge 1 ] || fail "--duration must be a whole number of seconds" || exit 2
[[ $rounds =~ ^[0-9]+$ ]] && [ "$rounds" -ge 1 ] && [ "$rounds" -le 20 ] || fail "--rounds must be 1..20" || exit 2
IFS=, read -r -a LEVELS <<<"$levels"
for c in "${LEVELS[@]}"; do
    [[ $c =~ ^[0-9]+$ ]] && [ "$c" -ge 1 ] || fail "bad --connections: $levels" || exit 2
done
keepalive=${keepalive:-off}
# The Incidents V2 list's first page, unfiltered and with each common
# filter (the values are picked from the loaded data: "inputs" below).
ALL_V2_SCENARIOS=(v2_list_first v2_live v2_sev_gte v2_created_range v2_cf_one_of v2_type_one_of)
ALL_SCENARIOS=(show list_first list_deep list_status create replay "${ALL_V2_SCENARIOS[@]}")
SCENARIOS=("${ALL_SCENARIOS[@]}")
if [ -n "$only" ]; then
    IFS=, read -r -a listed <<<"$only"
    SCENARIOS=()
    for s in "${listed[@]}"; do
        if [ "$s" = v2 ]; then SCENARIOS+=("${ALL_V2_SCENARIOS[@]}"); else SCENARIOS+=("$s"); fi
    done
    for s in "${SCENARIOS[@]}"; do
        [[ " ${ALL_SCENARIOS[*]} " == *" $s "* ]] || fail "unknown scenario in --scenarios: $s" || exit 2
    done
    out=${out:-$INCD_ROOT/build/bench/BENCHMARKS-focused.md}
fi
# The V2 scenarios selected (in the order of ALL_V2_SCENARIOS), and whether
# any of the v1 reads is (they need D0's stored documents).
V2_SCENARIOS=()
for s in "${ALL_V2_SCENARIOS[@]}"; do
    [[ " ${SCENARIOS[*]} " != *" $s "* ]] || V2_SCENARIOS+=("$s")
done
V1_READS=0
for s in show list_first list_deep list_status replay; do
    [[ " ${SCENARIOS[*]} " != *" $s "* ]] || V1_READS=1
done
out=${out:-$INCD_ROOT/BENCHMARKS.md}
if [ "$keepalive" != off ]; then
    [[ $keepalive =~ ^[0-9]+$ ]] && [ "$keepalive" -ge 1 ] || fail "--keepalive must be a number or off" || exit 2
    # One nginx worker: every kept connection pins an incidentd worker.
    [ "$keepalive" -lt "$workers" ] ||
        warn "keepalive $keepalive >= workers $workers: new FastCGI connections can starve (PITFALLS.md)"
fi

started=$SECONDS
WRK_CONN_SUM=0
LOAD_START=$(cut -d ' ' -f 1-3 /proc/loadavg)
work=""
salt="$(date +%s)$$"

# ------------------------------------------------------------------ cleanup

stack=""

# The two fcgi_static instances, each behind its own nginx: "static" for
# the HTTP ceiling H, "pass" (pass-through mode) for the chain ceiling P.
# Files: $work/NAME.sock, $work/NAME.pid, $work/NAME-nginx/.
RESPONDERS=(static pass)
declare -A RESP_PORT

# responder_stop NAME
responder_stop() {
    local pid
    pid=$(pidfile_pid "$work/$1.pid" fcgi_static) || return 0
    kill -TERM "$pid" 2>/dev/null
    wait_gone "$pid" 5 || kill -KILL -- "-$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM HUP
    if [ -n "$work" ] && [ -d "$work" ]; then
        for name in "${RESPONDERS[@]}"; do
            responder_stop "$name" || true
            nginx_stop "$work/$name-nginx" || true
        done
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

# ------------------------------------------------------------------ helpers

step() { printf '\n==> %s (%d s)\n' "$*" "$((SECONDS - started))" >&2; }

q() { "$PSQL" -X -q -At -v ON_ERROR_STOP=1 "$DBURL" "$@"; }

postmaster_pid() { head -n 1 "$STACK_PGDATA/postmaster.pid"; }

# nginx_render_ka PREFIX LISTEN SOCKET KEEPALIVE: nginx_render with one
# nginx worker; KEEPALIVE is off (no upstream keepalive, fastcgi_keep_conn
# off: a new FastCGI connection per request) or a number of kept
# connections (fastcgi_keep_conn on).
nginx_render_ka() {
    nginx_render "$1" "$2" "$3" 1 "$4"
}

# incidentd_up WORKERS KEEPALIVE: (re)starts incidentd and its nginx fresh.
incidentd_up() {
    nginx_stop "$STACK_NGINX"
    incidentd_stop "$STACK_PIDFILE"
    # As the superuser, like pgbench's D and the pass-through responder P,
    # so that the three run the same statements with the same rights
    # (--allow-owner); a runtime role reads the same way (docs/SCHEMA.md,
    # "Roles and privileges", measured there).
    incidentd_start "$BUILD/src/incidentd" "$STACK_PIDFILE" "$STACK_LOG" "$STACK_SOCK" \
        "$DBURL" "$STACK_URL" "$1" --allow-owner || return 1
    nginx_render_ka "$STACK_NGINX" "127.0.0.1:$http_port" "$STACK_SOCK" "$2" || return 1
    nginx_start "$STACK_NGINX" || return 1
    wait_for_url "$STACK_URL/healthz" 30
}

# responder_up NAME ARG...: fcgi_static NAME with these arguments and the
# same worker count and keepalive as incidentd, behind its own nginx from
# the same template on port RESP_PORT[NAME].
responder_up() {
    local name=$1 i pid
    shift
    responder_down "$name"
    rm -f "$work/$name.pid"
    pid=$(setsid "$RESPONDER" --listen "$work/$name.sock" --workers "$workers" "$@" \
        --pid-file "$work/$name.pid" </dev/null >>"$work/log/fcgi_$name.log" 2>&1 &
        echo $!)
    for ((i = 0; i < 100; i++)); do
        [ -S "$work/$name.sock" ] && pidfile_pid "$work/$name.pid" fcgi_static >/dev/null && break
        pid_alive "$pid" || break
        sleep 0.1
    done
    pidfile_pid "$work/$name.pid" fcgi_static >/dev/null ||
        fail "fcgi_static $name did not start (log: $work/log/fcgi_$name.log)" || return 1
    nginx_render_ka "$work/$name-nginx" "127.0.0.1:${RESP_PORT[$name]}" "$work/$name.sock" "$keepalive" ||
        return 1
    nginx_start "$work/$name-nginx"
}

# responder_down NAME
responder_down() {
    nginx_stop "$work/$1-nginx"
    responder_stop "$1"
}

# groups_incidentd / groups_responder: the process trees whose CPU time a run
# accounts (name=pid of the tree's root).
groups_incidentd() {
    printf '%s\n' "incidentd=$(head -n 1 "$STACK_PIDFILE")" \
        "nginx=$(head -n 1 "$STACK_NGINX/nginx.pid")" "postgres=$(postmaster_pid)"
}
# groups_responder NAME
groups_responder() {
    printf '%s\n' "responder=$(head -n 1 "$work/$1.pid")" \
        "nginx=$(head -n 1 "$work/$1-nginx/nginx.pid")" "postgres=$(postmaster_pid)"
}

# wrk_run OUT LABEL URL CONNS SECONDS SCENARIO [GROUP...]: one wrk run of a
# scenario (the Lua script and its environment) with CPU accounting.
wrk_run() {
    local out=$1 label=$2 url=$3 conns=$4 secs=$5 g threads
    shift 6 # $6, the scenario, is in SCEN_LUA / SCEN_ENV already
    local args=()
    for g in "$@"; do args+=(--group "$g"); done
    threads=$((conns < 2 ? 1 : 2))
    # Requests in flight when wrk stops are logged by nginx as 499.
    WRK_CONN_SUM=$((WRK_CONN_SUM + conns))
    "${BENCHPY[@]}" run-wrk --out "$out" --label "$label" "${args[@]}" -- \
        env "BENCH_KEY=$WRK_KEY" "${SCEN_ENV[@]}" \
        wrk -t"$threads" -c"$conns" -d"${secs}s" --timeout 10s \
        -s "$BENCH_SRC/lua/${SCEN_LUA}" "$url/"
}

# scenario NAME [KEY_PATHS_PREFIX]: sets SCEN_LUA and SCEN_ENV (wrk) and
# SCEN_PGB (pgbench arguments) for an endpoint scenario.
scenario() {
    local s=$1 k
    SCEN_ENV=("BENCH_RUN=wrk-$salt-$RUN_TAG")
    SCEN_PGB=(-D "org=$ORG" -D priv=true -D page_size=25)
    SCEN_PGB0=()
    case $s in
    show)
        SCEN_LUA=get.lua
        SCEN_ENV+=("BENCH_PATHS=$IN/show.paths")
        for ((k = 1; k <= NIDS; k++)); do
            SCEN_PGB+=(-f "$PGB/show_$k.sql@1" -D "id_$k=${SHOW_IDS[k - 1]}")
            SCEN_PGB0+=(-f "$PGB/d0/show_$k.sql@1" -D "id_$k=${SHOW_IDS[k - 1]}")
        done
        ;;
    show_replayed)
        SCEN_LUA=get.lua
        SCEN_ENV+=("BENCH_PATHS=$IN/show_replayed.paths")
        ;;
    list_first)
        SCEN_LUA=get.lua
        SCEN_ENV+=("BENCH_PATHS=$IN/list_first.paths")
        SCEN_PGB+=(-f "$PGB/list_first.sql")
        SCEN_PGB0+=(-f "$PGB/d0/list_first.sql")
        ;;
    list_deep)
        SCEN_LUA=get.lua
        SCEN_ENV+=("BENCH_PATHS=$IN/list_deep.paths")
        for ((k = 1; k <= NIDS; k++)); do
            SCEN_PGB+=(-f "$PGB/list_deep_$k.sql@1" -D "after_$k=${AFTER_IDS[k - 1]}")
            SCEN_PGB0+=(-f "$PGB/d0/list_deep_$k.sql@1" -D "after_$k=${AFTER_IDS[k - 1]}")
        done
        ;;
    list_status)
        SCEN_LUA=get.lua
        SCEN_ENV+=("BENCH_PATHS=$IN/list_status.paths")
        SCEN_PGB+=(-D "statuses={$(
            IFS=,
            echo "${STATUSES[*]}"
        )}")
        SCEN_PGB0+=(-f "$PGB/d0/list_status.sql")
        SCEN_PGB+=(-f "$PGB/list_status.sql")
        ;;
    create)
        SCEN_LUA=create.lua
        SCEN_ENV+=("BENCH_BODY=$IN/create.tpl")
        SCEN_PGB+=(-f "$PGB/create.sql" -D "key_id=$KEY_ID" -D "kp=pgb-$salt-$RUN_TAG-"
            -D "p1=${CREATE_TPL%%@KEY@*}pgb-$salt-$RUN_TAG-" -D "p2=${CREATE_TPL#*@KEY@}")
        ;;
    replay)
        SCEN_LUA=replay.lua
        SCEN_ENV+=("BENCH_BODY=$IN/replay.json")
        SCEN_PGB+=(-f "$PGB/replay.sql" -D "key=bench-replay-$salt")
        SCEN_PGB0+=(-f "$PGB/d0/replay.sql")
        ;;
    v2_*)
        # The V2 list: incidentd only (measure_v2).
        SCEN_LUA=get.lua
        SCEN_ENV+=("BENCH_PATHS=$IN/$s.paths")
        ;;
    *) fail "unknown scenario $s" ;;
    esac
}

# pgbench_run OUT LABEL CLIENTS SECONDS [d0]: the current scenario's
# pgbench: D, or with "d0" D0, the stored-document ceiling (its scripts take
# D's -D values).
pgbench_run() {
    local out=$1 label=$2 clients=$3 secs=$4 args=("${SCEN_PGB[@]}") i
    if [ "${5:-}" = d0 ]; then
        args=("${SCEN_PGB0[@]}")
        for ((i = 0; i < ${#SCEN_PGB[@]}; i += 2)); do
            [ "${SCEN_PGB[i]}" = -f ] || args+=("${SCEN_PGB[i]}" "${SCEN_PGB[i + 1]}")
        done
    fi
    mkdir -p "$work/pgblog"
    "${BENCHPY[@]}" run-pgbench --out "$out" --label "$label" --log-prefix "$work/pgblog/log" \
        --group "postgres=$(postmaster_pid)" -- \
        "$PGBENCH" -n -M prepared -c "$clients" -j "$((clients < 2 ? 1 : 2))" -T "$secs" \
        -l --log-prefix "$work/pgblog/log" -h "$PGHOST_BENCH" -p "$pg_port" -U postgres \
        "${args[@]}" incidentd
}

# capture NAME METHOD PATH [BODY_FILE]: the real endpoint's response, as
# the CGI bytes fcgi_static replays; the status must be 200.
capture() {
    local name=$1 method=$2 path=$3 body=${4:-} code args=()
    [ -z "$body" ] || args=(-H "Content-Type: application/json" --data-binary "@$body")
    code=$(curl -s -X "$method" -H "Authorization: Bearer $WRK_KEY" "${args[@]}" \
        -D "$IN/$name.hdr" -o "$IN/$name.body" -w '%{http_code}' "$STACK_URL$path")
    [ "$code" = 200 ] || fail "$method $path answered $code: $(head -c 300 "$IN/$name.body")" || return 1
    "${BENCHPY[@]}" cgi --headers "$IN/$name.hdr" --body "$IN/$name.body" --out "$IN/$name.cgi"
}

jget() { "${BENCHPY[@]}" jget "$@"; }

# list_total KEY QUERY: total_record_count of GET /v1/incidents?QUERY.
list_total() {
    curl -s -H "Authorization: Bearer $1" "$STACK_URL/v1/incidents?$2" |
        "$INCD_PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["pagination_meta"]["total_record_count"])'
}

json_str() { "$INCD_PYTHON" -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$1"; }

# ------------------------------------------------------------------- setup

step "packages"
ensure_packages wrk
[ -x "$PGBENCH" ] || fail "$PGBENCH not found (package postgresql-15)" || exit 1
command -v wrk >/dev/null || fail "wrk not found (package wrk)" || exit 1

step "build (build/bench) and the FastCGI responder"
build bench
# shellcheck disable=SC2046 # pkg-config prints several words
gcc -std=c11 -O2 -Wall -Wextra -Werror $(pkg-config --cflags fcgi libpq) \
    -I"$INCD_ROOT/src/daemon" -o "$RESPONDER" "$BENCH_SRC/fcgi_static.c" "$INCD_ROOT/src/daemon/fcgi_out.c" \
    $(pkg-config --libs fcgi libpq)

work=$(mktemp -d /tmp/incidentd-bench.XXXXXX)
chmod 755 "$work"
mkdir -p "$work/log" "$work/results/checks" "$work/in" "$work/pgb"
R="$work/results"
IN="$work/in"
PGB="$work/pgb"
stack="$work/stack"
mkdir -p "$stack"

pg_port=$(free_port)
http_port=$(free_port "$pg_port")
RESP_PORT[static]=$(free_port "$pg_port" "$http_port")
RESP_PORT[pass]=$(free_port "$pg_port" "$http_port" "${RESP_PORT[static]}")

step "PostgreSQL cluster on 127.0.0.1:$pg_port"
stack_paths "$stack"
STACK_URL="http://127.0.0.1:$http_port"
STACK_PGDATA=$(state_dir "$stack/pg" pg)
pg_init "$STACK_PGDATA" "$pg_port"
# Benchmark settings, on top of the scripts' own (incidentd.conf): room in
# shared_buffers for the million-incident data set, and no checkpoint in
# the middle of a run. synchronous_commit and fsync keep their defaults (on).
printf '%s\n' "# tests/bench/run.sh" "shared_buffers = 512MB" "max_wal_size = 8GB" \
    "checkpoint_timeout = 30min" "checkpoint_completion_target = 0.9" |
    as_pg_owner tee "$STACK_PGDATA/bench.conf" >/dev/null
grep -q "^include = 'bench.conf'" "$STACK_PGDATA/postgresql.conf" ||
    printf '%s\n' "include = 'bench.conf'" | as_pg_owner tee -a "$STACK_PGDATA/postgresql.conf" >/dev/null
pg_start "$STACK_PGDATA"
pg_create_db "$pg_port" incidentd
# incidentd and pgbench reach PostgreSQL the same way: over its unix
# socket by default (how a worker on the database's host connects), over
# loopback TCP with BENCH_PG_TCP=1.
if [ "${BENCH_PG_TCP:-0}" = 1 ]; then
    PGHOST_BENCH=127.0.0.1
    DBURL="postgresql://postgres@127.0.0.1:$pg_port/incidentd"
else
    PGHOST_BENCH=$STACK_PGDATA
    DBURL="postgresql://postgres@/incidentd?host=$STACK_PGDATA&port=$pg_port"
fi
CTL="$BUILD/src/incidentctl"
DATABASE_URL=$DBURL "$CTL" migrate >/dev/null
# Every session, pgbench's (D) and the pass-through responder's (P) too,
# renders permalinks as incidentd's workers do (they set this per
# connection), so that D and P build the very bytes incidentd sends.
q -c "alter database incidentd set incidentd.public_url = '$STACK_URL'"
# ... and plan as they plan: generic plans (src/daemon/db.c says why).
q -c "alter database incidentd set plan_cache_mode = force_generic_plan"
q -f "$BENCH_SRC/sql/helpers.sql"

# new_org NAME N: an organisation with the demo configuration and more,
# an API key (viewer, incident_creator, global_access; unlimited, so that
# the rate limit never throttles the benchmark) and N incidents.
# Sets ORG_ID, ORG_KEY, ORG_KEY_ID, ORG_LOAD_S.
new_org() {
    local name=$1 n=$2 t0
    export DATABASE_URL=$DBURL
    ORG_ID=$("$CTL" org create "$name")
    [[ $ORG_ID =~ ^[0-9A-Z]{26}$ ]] || fail "org create printed '$ORG_ID'" || return 1
    "$CTL" seed-demo --org "$ORG_ID" >>"$work/log/seed-demo.log"
    q -v "org=$ORG_ID" -f "$BENCH_SRC/sql/org.sql"
    ORG_KEY=$("$CTL" api-key create --org "$ORG_ID" --name "benchmark (tests/bench)" \
        --role viewer --role incident_creator --role global_access --rate-limit 0 \
        2>>"$work/log/seed-demo.log")
    [[ $ORG_KEY =~ ^inc_[0-9a-f]+$ ]] || fail "api-key create printed no token" || return 1
    ORG_KEY_ID=$(q -c "select id from api_keys where organisation_id = '$ORG_ID' order by created_at desc limit 1")
    t0=$SECONDS
    q -v "org=$ORG_ID" -v "key_id=$ORG_KEY_ID" -v "n=$n" -v "salt=$salt" -f "$BENCH_SRC/sql/load.sql" >/dev/null
    ORG_LOAD_S=$((SECONDS - t0))
    local v
    v=$(q -F ' ' -v "org=$ORG_ID" -f "$BENCH_SRC/sql/verify.sql")
    read -r count counted dangling off frames_off <<<"$v"
    [ "$count" = "$n" ] && [ "$counted" = "$n" ] && [ "$dangling" = 0 ] && [ "$off" = 0 ] && [ "$frames_off" = 0 ] ||
        fail "load check of $name: $count incidents, incident_counts $counted, $dangling dangling references, $off counter rows off a recount, $frames_off sampled frames off" ||
        return 1
    say "$name: $n incidents loaded in ${ORG_LOAD_S} s (checked: every counter equals a recount, no dangling references, frames as built from the rows)"
}

step "organisation and $incidents incidents"
new_org "Benchmark organisation" "$incidents"
ORG=$ORG_ID WRK_KEY=$ORG_KEY KEY_ID=$ORG_KEY_ID load_s=$ORG_LOAD_S
REF_ORG=""
if [ "$incidents" != 10000 ]; then
    step "reference organisation of 10000 incidents"
    new_org "Reference organisation (10 000)" 10000
    REF_ORG=$ORG_ID REF_KEY=$ORG_KEY
    load_s=$((load_s + ORG_LOAD_S))
fi
t0=$SECONDS
q -c "vacuum analyze"
say "vacuum analyze: $((SECONDS - t0)) s"
read -r n_assign n_cfv <<<"$(q -F ' ' -c "select (select count(*) from incident_role_assignments where organisation_id = '$ORG'), (select count(*) from incident_custom_field_values where organisation_id = '$ORG')")"

step "incidentd ($workers workers) and nginx (keepalive $keepalive) on 127.0.0.1:$http_port"
incidentd_up "$workers" "$keepalive"

# ------------------------------------------------------------------ inputs

step "request inputs and captured responses"
mapfile -t SHOW_IDS < <(q -c "select id from incidents where organisation_id = '$ORG' order by random() limit $NIDS")
# Deep pages: cursors in the older half of the list.
mapfile -t AFTER_IDS < <(q -c "select id from incidents where organisation_id = '$ORG' and reference_number <= $((incidents / 2)) order by random() limit $NIDS")
[ ${#SHOW_IDS[@]} = "$NIDS" ] && [ ${#AFTER_IDS[@]} = "$NIDS" ] || fail "could not pick $NIDS ids" || exit 1
printf '/v1/incidents/%s\n' "${SHOW_IDS[@]}" >"$IN/show.paths"
printf '/v1/incidents?page_size=25&after=%s\n' "${AFTER_IDS[@]}" >"$IN/list_deep.paths"
echo "/v1/incidents?page_size=25" >"$IN/list_first.paths"
status_q=$(printf '&status=%s' "${STATUSES[@]}")
echo "/v1/incidents?page_size=25$status_q" >"$IN/list_status.paths"
mkdir -p "$PGB/d0"
for d in "" d0/; do
    for f in show list_deep; do
        for ((k = 1; k <= NIDS; k++)); do
            sed "s/@K@/$k/g" "$BENCH_SRC/pgbench/$d$f.sql.in" >"$PGB/$d${f}_$k.sql"
        done
    done
    cp "$BENCH_SRC/pgbench/${d}list_first.sql" "$BENCH_SRC/pgbench/${d}list_status.sql" \
        "$BENCH_SRC/pgbench/${d}replay.sql" "$PGB/$d"
done
cp "$BENCH_SRC/pgbench/create.sql" "$PGB/"

CREATE_TPL=$(create_template "$ORG")
printf '%s' "$CREATE_TPL" >"$IN/create.tpl"
printf '%s' "${CREATE_TPL/@KEY@/bench-replay-$salt}" >"$IN/replay.json"
printf '%s' "${CREATE_TPL/@KEY@/bench-capture-$salt}" >"$IN/create.json"

# The replay key's incident, then every scenario's response.
capture replay_first POST /v1/incidents "$IN/replay.json"
grep -qi '^Idempotent-Replayed' "$IN/replay_first.hdr" && fail "the replay key existed already" && exit 1
capture show GET "$(head -n 1 "$IN/show.paths")"
capture list_first GET "$(head -n 1 "$IN/list_first.paths")"
capture list_deep GET "$(head -n 1 "$IN/list_deep.paths")"
capture list_status GET "$(head -n 1 "$IN/list_status.paths")"
capture create POST /v1/incidents "$IN/create.json"
capture replay POST /v1/incidents "$IN/replay.json"
grep -qi '^Idempotent-Replayed: true' "$IN/replay.hdr" || fail "the replay capture is not a replay" || exit 1
for s in show list_first list_deep list_status create replay; do
    say "$s: response $(wc -c <"$IN/$s.body") bytes"
done
# The incident the replays return, for a show of the very same incident.
echo "/v1/incidents/$(jget "$IN/replay_first.body" incident.id)" >"$IN/show_replayed.paths"

# The V2 list's filters, with values a user would pick in this
# organisation: live statuses, severity at least the middle rank, the week
# four weeks before the newest loaded incident, the most used option of the
# single-select field, the incident type that is neither the default nor
# private-only (Customer impact, tests/bench/sql/org.sql). For each:
# V2_QUERY (the query string after page_size=25, brackets percent-encoded
# as clients send them), V2_CLAUSES (the clauses the worker makes of it,
# src/api/incidents_v2_list.c: for EXPLAIN) and V2_PRED (the same filter as
# an SQL predicate on incidents i, written without the list's functions:
# the count(*) that total_record_count must equal).
declare -A V2_QUERY V2_CLAUSES V2_PRED V2_TITLE
# v2_inputs ORG: sets the arrays for organisation ORG.
v2_inputs() {
    local org=$1 sev_mid sev_name type_id type_name field_id opt_id opt_name day_lo day_hi
    IFS='|' read -r sev_mid sev_name <<<"$(q -c "
        select id, name from severities where organisation_id = '$org' and archived_at is null
        order by rank, id offset (select (count(*) - 1) / 2 from severities
                                  where organisation_id = '$org' and archived_at is null) limit 1")"
    IFS='|' read -r type_id type_name <<<"$(q -c "
        select id, name from incident_types where organisation_id = '$org' and archived_at is null
        order by not is_default and not private_incidents_only desc, is_default desc, name, id limit 1")"
    IFS='|' read -r field_id opt_id opt_name <<<"$(q -c "
        select f.id, o.id, o.value
        from custom_fields f
        join custom_field_options o on o.custom_field_id = f.id and o.archived_at is null
        left join incident_option_counts c on c.organisation_id = '$org' and c.option_id = o.id
        where f.organisation_id = '$org' and f.field_type = 'single_select' and f.archived_at is null
        group by f.name, f.id, o.id, o.value
        order by f.name, f.id, coalesce(sum(c.incident_count), 0) desc, o.id limit 1")"
    IFS='|' read -r day_lo day_hi <<<"$(q -c "
        select d - 34, d - 28 from (select (max(created_at) at time zone 'UTC')::date as d
                                    from incidents where organisation_id = '$org'
                                      and idempotency_key like 'bulk-%') x")"
    [ -n "$sev_mid" ] && [ -n "$type_id" ] && [ -n "$opt_id" ] && [ -n "$day_lo" ] ||
        fail "organisation $org lacks the configuration or data of the V2 list's filters" || return 1
    V2_QUERY=([v2_list_first]=""
        [v2_live]="&status_category%5Bone_of%5D=live"
        [v2_sev_gte]="&severity%5Bgte%5D=$sev_mid"
        [v2_created_range]="&created_at%5Bdate_range%5D=$day_lo~$day_hi"
        [v2_cf_one_of]="&custom_field%5B$field_id%5D%5Bone_of%5D=$opt_id"
        [v2_type_one_of]="&incident_type%5Bone_of%5D=$type_id")
    V2_TITLE=([v2_list_first]="no filter"
        [v2_live]="\`status_category[one_of]=live\`"
        [v2_sev_gte]="\`severity[gte]=\` $sev_name (the middle rank)"
        [v2_created_range]="\`created_at[date_range]=$day_lo~$day_hi\` (a week, four weeks back)"
        [v2_cf_one_of]="\`custom_field[…][one_of]=\` $opt_name (the single-select field's most used option)"
        [v2_type_one_of]="\`incident_type[one_of]=\` $type_name")
    V2_CLAUSES=([v2_list_first]='[]'
        [v2_live]='[{"param":"status_category[one_of]","filter":"status_category","key":null,"op":"one_of","values":["live"]}]'
        [v2_sev_gte]='[{"param":"severity[gte]","filter":"severity","key":null,"op":"gte","values":["'"$sev_mid"'"]}]'
        [v2_created_range]='[{"param":"created_at[date_range]","filter":"created_at","key":null,"op":"date_range","values":["'"$day_lo"'","'"$day_hi"'"]}]'
        [v2_cf_one_of]='[{"param":"custom_field['"$field_id"'][one_of]","filter":"custom_field","key":"'"$field_id"'","op":"one_of","values":["'"$opt_id"'"]}]'
        [v2_type_one_of]='[{"param":"incident_type[one_of]","filter":"incident_type","key":null,"op":"one_of","values":["'"$type_id"'"]}]')
    V2_PRED=([v2_list_first]="true"
        [v2_live]="exists (select from incident_statuses s where s.organisation_id = i.organisation_id
                           and s.id = coalesce(i.incident_status_id, (select x.id from incident_statuses x
                               where x.organisation_id = i.organisation_id and x.seeded_as = i.status))
                           and s.category = 'live')"
        [v2_sev_gte]="i.severity_id in (select s.id from severities s where s.organisation_id = i.organisation_id
                          and s.rank >= (select rank from severities where id = '$sev_mid'))"
        [v2_created_range]="i.created_at >= '$day_lo'::timestamp at time zone 'UTC'
                            and i.created_at < ('$day_hi'::date + 1)::timestamp at time zone 'UTC'"
        [v2_cf_one_of]="exists (select from incident_custom_field_values v where v.incident_id = i.id
                                and v.custom_field_id = '$field_id' and v.value_option_id = '$opt_id')"
        [v2_type_one_of]="i.incident_type_id = '$type_id'")
}
if [ ${#V2_SCENARIOS[@]} -gt 0 ]; then
    v2_inputs "$ORG" || exit 1
    for s in "${V2_SCENARIOS[@]}"; do
        echo "/v2/incidents?page_size=25${V2_QUERY[$s]}" >"$IN/$s.paths"
        capture "$s" GET "$(head -n 1 "$IN/$s.paths")"
        say "$s: response $(wc -c <"$IN/$s.body") bytes, total_record_count $(jget "$IN/$s.body" pagination_meta.total_record_count)"
    done
fi

# D0's stored documents: every incident of the organisation as the API
# renders it, the replay key's included (tests/bench/sql/docs.sql). Only
# the v1 reads have a D0 (a create's is its D; the V2 list has none).
if [ "$V1_READS" = 1 ]; then
step "stored documents of the stored-document ceiling D0"
t0=$SECONDS
q -v "org=$ORG" -f "$BENCH_SRC/sql/docs.sql" >/dev/null
docs_s=$((SECONDS - t0))
# They are the API's bytes: a stored document is the body of a show less
# its envelope.
for x in "show:${SHOW_IDS[0]}" "replay_first:$(jget "$IN/replay_first.body" incident.id)"; do
    printf '{"incident" : %s}' "$(q -v id="${x#*:}" <<<"select doc from bench_docs where id = :'id'")" |
        cmp -s - "$IN/${x%%:*}.body" || fail "D0's document of ${x#*:} is not the API's ${x%%:*} body" || exit 1
done
say "D0's documents stored in ${docs_s} s"
fi

# ------------------------------------------------------------ measurements

creates_json=()

# The acknowledged creates of a wrk run against the rows stored with its
# key prefix: stored - acknowledged is between 0 and the requests still in
# flight when wrk stopped (at most one per connection).
check_creates() {
    local file=$1 prefix=$2 conns=$3 acked stored ok=false
    acked=$(($(jget "$file" requests) - $(jget "$file" non2xx)))
    stored=$(q -c "select count(*) from incidents where organisation_id = '$ORG' and idempotency_key ~ '^$prefix-[0-9]+-[0-9]{6}-[0-9]+\$'")
    [ "$stored" -ge "$acked" ] && [ "$stored" -le $((acked + conns)) ] && ok=true
    creates_json+=("{\"ok\": $ok, \"text\": \"$prefix: $acked acknowledged, $stored stored\"}")
}

# round_order R ITEM...: the items in order for odd rounds R, reversed for
# even ones, so that interleaved runs also cancel a steady drift.
round_order() {
    local r=$1 i
    shift
    if [ $((r % 2)) = 1 ]; then
        echo "$*"
    else
        for ((i = $#; i >= 1; i--)); do printf '%s ' "${!i}"; done
    fi
}

# pass_inputs S: the pass-through responder's statement and parameter sets
# for scenario S, from its pgbench arguments (bench.py pass-params); false
# for a scenario whose D is more than one statement (create).
pass_inputs() {
    [ "$1" != create ] || return 1
    [ -f "$IN/$1.pass.sql" ] && return 0
    RUN_TAG=pass-inputs
    scenario "$1"
    "${BENCHPY[@]}" pass-params --sql-out "$IN/$1.pass.sql" --params-out "$IN/$1.pass.params" \
        -- "${SCEN_PGB[@]}" || { fail "no pass-through inputs for $1"; exit 1; }
}

# wrk_kind K OUT LABEL LVL SECONDS S: wrk_run of scenario S against
# incidentd, H (http) or P (pass), with that contender's process groups.
wrk_kind() {
    local k=$1 out=$2 label=$3 lvl=$4 secs=$5 s=$6
    case $k in
    incidentd) wrk_run "$out" "$label" "$STACK_URL" "$lvl" "$secs" "$s" "${GI[@]}" ;;
    http) wrk_run "$out" "$label" "http://127.0.0.1:${RESP_PORT[static]}" "$lvl" "$secs" "$s" "${GS[@]}" ;;
    pass) wrk_run "$out" "$label" "http://127.0.0.1:${RESP_PORT[pass]}" "$lvl" "$secs" "$s" "${GP[@]}" ;;
    esac
}

# measure_point LVL S: rounds of incidentd, H, D and P runs of one endpoint
# at one concurrency, interleaved (odd rounds in that order, even rounds in
# reverse) so that a slow spell of a shared machine falls on all of them
# alike; bench.py merge adds the rounds up into $s.{incidentd,http,db,pass}.json.
measure_point() {
    local lvl=$1 s=$2 r k dbw_needed=0 kinds=(incidentd http db) what
    # D at the worker count runs in this point's own rounds, even where the
    # worker count's point measured it already: a copy from minutes earlier
    # misses the slow spell that this point's incidentd and H runs share
    # (one --million run had show at 16 connections 0.61 × C that way, its
    # incidentd and H 30 % slower than at 4 connections, its D not).
    [ "$lvl" -le "$workers" ] || dbw_needed=1
    what="incidentd, HTTP ceiling (fcgi_static), database ceiling (pgbench -c $lvl)"
    # D0, the stored-document ceiling; a create's D0 is its D.
    if [ "$s" != create ]; then
        kinds+=(db0)
        what+=", stored-document ceiling"
    fi
    responder_up static --response "$IN/$s.cgi"
    mapfile -t GI < <(groups_incidentd)
    mapfile -t GS < <(groups_responder static)
    if pass_inputs "$s"; then
        responder_up pass --response "$IN/$s.cgi" --database "$DBURL" \
            --statement "$(cat "$IN/$s.pass.sql")" --params "$IN/$s.pass.params"
        mapfile -t GP < <(groups_responder pass)
        kinds+=(pass)
        what+=", chain ceiling (fcgi_static pass-through)"
    fi
    step "$s at $lvl connections: $rounds rounds of $what"
    for k in "${kinds[@]}"; do
        [ "$k" != db ] && [ "$k" != db0 ] || continue
        RUN_TAG="c$lvl-$s-$k-warm"
        scenario "$s"
        wrk_kind "$k" "$work/warm.json" warm "$lvl" "$warmup" "$s" || true
    done
    for ((r = 1; r <= rounds; r++)); do
        for k in $(round_order "$r" "${kinds[@]}"); do
            RUN_TAG="c$lvl-$s-$k-r$r"
            scenario "$s"
            if [ "$k" = db ] || [ "$k" = db0 ]; then
                local mode=""
                [ "$k" = db ] || mode=d0
                pgbench_run "$R/c$lvl/$s.$k.r$r.json" "$s $k c$lvl round $r" "$lvl" "$duration" $mode
                [ "$dbw_needed" = 0 ] ||
                    pgbench_run "$R/c$lvl/$s.${k}_w.r$r.json" "$s $k c$workers round $r" "$workers" "$duration" $mode
                continue
            fi
            wrk_kind "$k" "$R/c$lvl/$s.$k.r$r.json" "$s $k c$lvl round $r" "$lvl" "$duration" "$s"
            [ "$k" != incidentd ] || [ "$s" != create ] || check_creates "$R/c$lvl/$s.incidentd.r$r.json" "wrk-$salt-$RUN_TAG" "$lvl"
        done
    done
    responder_down static
    responder_down pass
    for k in "${kinds[@]}"; do
        "${BENCHPY[@]}" merge --out "$R/c$lvl/$s.$k.json" "$R/c$lvl/$s.$k".r*.json
    done
    if [ "$dbw_needed" = 1 ]; then
        for k in db db0; do
            [ "$k" = db ] || [ "$s" != create ] || continue
            "${BENCHPY[@]}" merge --out "$R/c$lvl/$s.${k}_w.json" "$R/c$lvl/$s.${k}_w".r*.json
        done
    fi
}

# measure_v2 LVL: the selected scenarios of the V2 list at one concurrency
# level, incidentd alone (no ceilings: the target compares the filters with
# the unfiltered first page), all of them in each round, odd rounds in
# order and even rounds in reverse, so that each filter's p50 is set
# against v2_list_first's from the same minutes; bench.py merge adds the
# rounds up into v2/c$lvl/$s.json.
measure_v2() {
    local lvl=$1 r s
    mkdir -p "$R/v2/c$lvl"
    mapfile -t GI < <(groups_incidentd)
    step "V2 list at $lvl connections: $rounds rounds of ${V2_SCENARIOS[*]}"
    for s in "${V2_SCENARIOS[@]}"; do
        RUN_TAG="c$lvl-$s-warm"
        scenario "$s"
        wrk_run "$work/warm.json" warm "$STACK_URL" "$lvl" "$warmup" "$s" "${GI[@]}" || true
    done
    for ((r = 1; r <= rounds; r++)); do
        for s in $(round_order "$r" "${V2_SCENARIOS[@]}"); do
            RUN_TAG="c$lvl-$s-r$r"
            scenario "$s"
            wrk_run "$R/v2/c$lvl/$s.r$r.json" "$s c$lvl round $r" "$STACK_URL" "$lvl" "$duration" "$s" "${GI[@]}"
        done
    done
    for s in "${V2_SCENARIOS[@]}"; do
        "${BENCHPY[@]}" merge --out "$R/v2/c$lvl/$s.json" "$R/v2/c$lvl/$s".r*.json
    done
}

# Reads first at every level (the v1 endpoints, then the V2 list), then the
# creates: every list run sees the same first page (creates put new
# incidents on it) and the same data.
for phase in read v2 write; do
    for lvl in "${LEVELS[@]}"; do
        mkdir -p "$R/c$lvl"
        if [ "$phase" = v2 ]; then
            [ ${#V2_SCENARIOS[@]} = 0 ] || measure_v2 "$lvl"
            continue
        fi
        for s in "${SCENARIOS[@]}"; do
            [[ $s != v2_* ]] || continue
            if [ "$phase" = read ] && [ "$s" = create ]; then continue; fi
            if [ "$phase" = write ] && [ "$s" != create ]; then continue; fi
            measure_point "$lvl" "$s"
        done
    done
done

# Creates at 32 connections as well: the level of the comparison with a
# Node.js implementation in docs/BENCHMARKS-HOWTO.md (creates of one
# organisation serialise on its counter row until they commit).
if [[ " ${SCENARIOS[*]} " == *" create "* ]] && [[ ",$levels," != *",32,"* ]] && [ "$quick" = 0 ]; then
    mkdir -p "$R/c32"
    measure_point 32 create
fi

# ------------------------------------------------- replay against a show

# "A replay costs no more than a show" compares like with like: replays of
# the replay key against shows of the incident they return (the show
# scenario's incidents are bulk-loaded ones, with fewer custom field values
# and roles to render), in interleaved rounds at the first level.
if [[ " ${SCENARIOS[*]} " == *" replay "* ]]; then
same_lvl=${LEVELS[0]}
step "replay against a show of the same incident: $rounds rounds at $same_lvl connections"
mkdir -p "$R/same"
mapfile -t GI < <(groups_incidentd)
for k in show_replayed replay; do
    RUN_TAG="same-$k-warm"
    scenario "$k"
    wrk_run "$work/warm.json" warm "$STACK_URL" "$same_lvl" "$warmup" "$k" "${GI[@]}" || true
done
for ((r = 1; r <= rounds; r++)); do
    for k in $(round_order "$r" show_replayed replay); do
        RUN_TAG="same-$k-r$r"
        scenario "$k"
        wrk_run "$R/same/$k.r$r.json" "$k c$same_lvl round $r" "$STACK_URL" "$same_lvl" "$duration" "$k" "${GI[@]}"
    done
done
for k in show_replayed replay; do
    "${BENCHPY[@]}" merge --out "$R/same/$k.json" "$R/same/$k".r*.json
done
fi

# ---------------------------------------------------------------- memory
if [ -z "$only" ]; then

rss_conns=${LEVELS[0]}
step "worker memory: $rss_target requests at $rss_conns connections"
incidentd_up "$workers" "$keepalive"
master=$(head -n 1 "$STACK_PIDFILE")
rss_fresh=$("${BENCHPY[@]}" rss --master "$master")
mix_env() {
    SCEN_LUA=mix.lua
    SCEN_ENV=("BENCH_RUN=mix-$salt-$1" "BENCH_BODY=$IN/create.tpl" "BENCH_REPLAY=$IN/replay.json"
        "BENCH_PATHS=$IN/show.paths:$IN/list_first.paths:$IN/list_deep.paths:$IN/list_status.paths")
}
mapfile -t G < <(groups_incidentd)
mix_env warm
# The warm-up lets every worker meet every kind of response (prepared
# statements, buffers and malloc's thresholds at their working size).
wrk_run "$R/rss-warmup.json" "mix warm-up" "$STACK_URL" "$rss_conns" "$((rss_chunk / 2 + 1))" mix "${G[@]}"
rss_before=$("${BENCHPY[@]}" rss --master "$master")
log_offset=$(($(stat -c %s "$STACK_LOG") + 1))
rss_requests=0
rss_errors=0
chunk=0
samples=()
while [ "$rss_requests" -lt "$rss_target" ]; do
    chunk=$((chunk + 1))
    mix_env "$chunk"
    wrk_run "$R/rss-$chunk.json" "mix $chunk" "$STACK_URL" "$rss_conns" "$rss_chunk" mix "${G[@]}"
    rss_requests=$((rss_requests + $(jget "$R/rss-$chunk.json" requests)))
    rss_errors=$((rss_errors + $(jget "$R/rss-$chunk.json" errors)))
    samples+=("{\"requests\": $rss_requests, \"rss\": $("${BENCHPY[@]}" rss --master "$master")}")
    [ "$chunk" -lt 200 ] || fail "the memory run does not progress" || exit 1
done
rss_after=$("${BENCHPY[@]}" rss --master "$master")
# Requests each worker served, from its access lines in incidentd's log.
served=$(tail -c "+$log_offset" "$STACK_LOG" | "$INCD_PYTHON" -c '
import collections, json, re, sys
c = collections.Counter(m.group(1) for m in (re.search(r" \[(\d+)\] info: \S+ \S+ \d{3} .* rid=", l) for l in sys.stdin) if m)
print(json.dumps(c))')
cat >"$R/rss.json" <<EOF
{"fresh": $rss_fresh, "before": $rss_before, "after": $rss_after,
 "samples": [$(
    IFS=,
    echo "${samples[*]}"
)],
 "requests": $rss_requests, "errors": $rss_errors, "target": $rss_target,
 "connections": $rss_conns, "warmup_requests": $(jget "$R/rss-warmup.json" requests),
 "served": $served}
EOF
say "memory run: $rss_requests requests, $rss_errors errors"

# The same workers with many organisations' objects in their caches: one
# incident of each of $mem_orgs more organisations, shown 2 x workers times
# over (tests/bench/sql/orgs.sql; docs/BENCHMARKS-HOWTO.md).
step "worker memory with $mem_orgs organisations' configuration objects cached"
q -v "org=$ORG" -v "n=$mem_orgs" -f "$BENCH_SRC/sql/orgs.sql" >"$IN/orgs.pairs"
touched=$("${BENCHPY[@]}" touch --url "$STACK_URL" --pairs "$IN/orgs.pairs" --rounds $((2 * workers)))
cat >"$R/rss_orgs.json" <<EOF
{"touch": $touched, "rss": $("${BENCHPY[@]}" rss --master "$master"), "cache_mib": 8}
EOF
say "organisations: $touched"

# ----------------------------------------------------------------- scale

if [ -n "$REF_ORG" ]; then
    lvl=${LEVELS[0]}
    step "scale: list at $incidents vs 10000 incidents, $lvl connections, $rounds rounds"
    mkdir -p "$R/scale"
    rows=()
    # Rounds in alternating order, like the ceilings: a single back-to-back
    # pair once measured the large organisation in a slow spell of the
    # machine (p50 15.4 ms, against 9.5 ms for the same endpoint and
    # organisation minutes earlier).
    pairs=("benchmark:$ORG:$WRK_KEY:$incidents" "reference:$REF_ORG:$REF_KEY:10000")
    for ((r = 1; r <= rounds; r++)); do
        for pair in $(round_order "$r" "${pairs[@]}"); do
            IFS=: read -r label org key n <<<"$pair"
            for s in list_first list_status; do
                scenario "$s"
                saved_key=$WRK_KEY
                WRK_KEY=$key
                wrk_run "$R/scale/$label.$s.r$r.json" "$s $label round $r" "$STACK_URL" "$lvl" "$duration" "$s" "${G[@]}"
                WRK_KEY=$saved_key
            done
        done
    done
    for pair in "${pairs[@]}"; do
        IFS=: read -r label org key n <<<"$pair"
        for s in list_first list_status; do
            "${BENCHPY[@]}" merge --out "$R/scale/$label.$s.json" "$R/scale/$label.$s".r*.json
            rows+=("{\"tag\": \"$label.$s\", \"org\": \"$label\", \"incidents\": $n, \"scenario\": \"$s\"}")
        done
    done
    (
        IFS=,
        printf '{"connections": %s, "duration": %s, "rounds": %s, "large_incidents": %s, "small_incidents": 10000, "rows": [%s]}\n' \
            "$lvl" "$duration" "$rounds" "$incidents" "${rows[*]}"
    ) >"$R/scale/index.json"
fi
fi

# ---------------------------------------------------------------- totals

step "total_record_count against count(*)"
statuses_sql=$(printf ",'%s'" "${STATUSES[@]}")
statuses_sql=${statuses_sql:1}
totals=()
for pair in "benchmark:$ORG:$WRK_KEY" ${REF_ORG:+"reference:$REF_ORG:$REF_KEY"}; do
    IFS=: read -r label org key <<<"$pair"
    api=$(list_total "$key" "page_size=1")
    sql=$(q -c "select count(*) from incidents where organisation_id = '$org'")
    totals+=("{\"org\": \"$label\", \"filter\": \"none\", \"api_total\": $api, \"sql_count\": $sql}")
    api=$(list_total "$key" "page_size=1$status_q")
    sql=$(q -c "select count(*) from incidents where organisation_id = '$org' and status in ($statuses_sql)")
    totals+=("{\"org\": \"$label\", \"filter\": \"status in ($(
        IFS=,
        echo "${STATUSES[*]}"
    ))\", \"api_total\": $api, \"sql_count\": $sql}")
done
(
    IFS=,
    printf '[%s]\n' "${totals[*]}"
) >"$R/checks/totals.json"

# The V2 list: each scenario's total_record_count against count(*) of the
# incidents in the default modes (standard, retrospective) that its
# filter's SQL predicate (V2_PRED) selects; then the index of the V2
# results for the report.
if [ ${#V2_SCENARIOS[@]} -gt 0 ]; then
    v2_rows=()
    for s in "${V2_SCENARIOS[@]}"; do
        api=$(curl -s -H "Authorization: Bearer $WRK_KEY" "$STACK_URL/v2/incidents?page_size=1${V2_QUERY[$s]}" |
            "$INCD_PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["pagination_meta"]["total_record_count"])') ||
            api=null
        sql=$(q -c "select count(*) from incidents i where i.organisation_id = '$ORG'
                      and (case when i.retrospective then 'retrospective' when i.mode = 'real' then 'standard'
                                else i.mode end) in ('standard', 'retrospective')
                      and (${V2_PRED[$s]})")
        v2_rows+=("{\"scenario\": \"$s\", \"query\": $(json_str "page_size=25${V2_QUERY[$s]}"), \"title\": $(json_str "${V2_TITLE[$s]}"), \"api_total\": ${api:-null}, \"sql_count\": $sql}")
    done
    (
        IFS=,
        printf '{"levels": [%s], "rounds": %s, "duration": %s, "incidents": %s, "scenarios": [%s]}\n' \
            "$levels" "$rounds" "$duration" "$incidents" "${v2_rows[*]}"
    ) >"$R/v2/index.json"
fi
(
    IFS=,
    printf '[%s]\n' "${creates_json[*]}"
) >"$R/checks/creates.json"
printf '{"synchronous_commit": "%s", "fsync": "%s"}\n' \
    "$(q -c 'show synchronous_commit')" "$(q -c 'show fsync')" >"$R/checks/durability.json"

# ----------------------------------------------------------------- sweep
explain_list="[]"
explain_v2=""
if [ ${#V2_SCENARIOS[@]} -gt 0 ]; then
    step "EXPLAIN (ANALYZE, BUFFERS) of the V2 list's first page, unfiltered and filtered"
    args=()
    for s in "${ALL_V2_SCENARIOS[@]}"; do args+=(-v "c_$s=${V2_CLAUSES[$s]}"); done
    if "$PSQL" -X -v ON_ERROR_STOP=1 "$DBURL" -v "org=$ORG" -v "public_url=$STACK_URL" "${args[@]}" \
        -f "$BENCH_SRC/sql/explain_v2.sql" >/dev/null 2>"$R/explain-v2.txt"; then
        explain_v2="explain-v2.txt"
    else
        warn "EXPLAIN of the V2 list failed: $(grep -m 1 ERROR "$R/explain-v2.txt")"
    fi
fi
if [ -z "$only" ]; then

sweep_conns=${LEVELS[-1]}
mkdir -p "$R/sweep"
points=()
for w in 1 2 4 8; do
    # keepalive: off (the default), 1, and half the workers (keepalive x 1
    # nginx worker stays below --workers); --quick: off, and half with 4.
    if [ "$quick" = 1 ]; then
        kas=(off)
        [ "$w" != 4 ] || kas+=(2)
    else
        kas=(off 1 $((w / 2)))
    fi
    for ka in "${kas[@]}"; do
        [ "$ka" != 0 ] || ka=off
        [ "$ka" = off ] || [ "$ka" -lt "$w" ] || continue
        tag="w${w}_ka$ka"
        [[ " ${points[*]} " != *"\"$tag\""* ]] || continue
        step "sweep: $w workers, keepalive $ka, $sweep_conns connections"
        incidentd_up "$w" "$ka"
        mapfile -t G < <(groups_incidentd)
        scenario show
        [ "$quick" = 1 ] || wrk_run "$work/warm.json" warm "$STACK_URL" "$sweep_conns" 1 show "${G[@]}" || true
        for s in show list_first; do
            scenario "$s"
            wrk_run "$R/sweep/$tag.$s.json" "$s $tag" "$STACK_URL" "$sweep_conns" "$sweep_duration" "$s" "${G[@]}"
        done
        points+=("{\"tag\": \"$tag\", \"workers\": $w, \"keepalive\": \"$ka\"}")
    done
done
(
    IFS=,
    printf '{"connections": %s, "duration": %s, "points": [%s]}\n' "$sweep_conns" "$sweep_duration" "${points[*]}"
) >"$R/sweep/index.json"

# --------------------------------------------------------------- explain

step "EXPLAIN (ANALYZE, BUFFERS) of the endpoints' statements"
explain_org() {
    local org=$1 key_id=$2 out=$3 show_id after_id tpl
    local n
    n=$(q -c "select last_incident_number from organisations where id = '$org'")
    show_id=$(q -c "select id from incidents where organisation_id = '$org' and reference_number = $((n / 2))")
    after_id=$(q -c "select id from incidents where organisation_id = '$org' and reference_number = $((n / 4))")
    tpl=$(create_template "$org")
    "$PSQL" -X -v ON_ERROR_STOP=1 "$DBURL" -v "org=$org" -v "key_id=$key_id" \
        -v "public_url=$STACK_URL" -v "show_id=$show_id" -v "after_id=$after_id" \
        -v "statuses={$(
            IFS=,
            echo "${STATUSES[*]}"
        )}" -v "create_payload=$tpl" -v "replay_payload=${tpl/@KEY@/bench-replay-$salt}" \
        -f "$BENCH_SRC/sql/explain.sql" >/dev/null 2>"$out" || {
        warn "EXPLAIN for organisation $org failed: $(grep -m 1 ERROR "$out")"
        return 0
    }
}
explain_org "$ORG" "$KEY_ID" "$R/explain-main.txt"
explain_list="[[\"benchmark organisation, $incidents incidents\", \"explain-main.txt\"]"
if [ -n "$REF_ORG" ]; then
    ref_key_id=$(q -c "select id from api_keys where organisation_id = '$REF_ORG' limit 1")
    explain_org "$REF_ORG" "$ref_key_id" "$R/explain-ref.txt"
    explain_list+=", [\"reference organisation, 10000 incidents\", \"explain-ref.txt\"]"
fi
explain_list+="]"
fi

# ---------------------------------------------------------------- report

step "access logs and the report"
# Stopping nginx flushes its buffered access log.
nginx_stop "$STACK_NGINX"
logs=("$STACK_NGINX/logs/access.log")
for name in "${RESPONDERS[@]}"; do
    nginx_stop "$work/$name-nginx"
    logs+=("$work/$name-nginx/logs/access.log")
done
# (A focused run may have started no pass-through responder: no log.)
{ cat "${logs[@]}" 2>/dev/null || true; } |
    "$INCD_PYTHON" -c '
import collections, json, re, sys
c = collections.Counter()
for line in sys.stdin:
    m = re.search(r"\" (\d{3}) ", line)
    if m:
        c[m.group(1)] += 1
bound = int(sys.argv[1])
aborted = c.get("499", 0)
bad = sum(v for k, v in c.items() if not k.startswith("2") and k != "499")
bad += max(0, aborted - bound)
print(json.dumps({"total": sum(c.values()), "non2xx": bad, "aborted": aborted,
                  "aborted_bound": bound,
                  "statuses": ", ".join(f"{k}: {v}" for k, v in sorted(c.items()))}))
' "$WRK_CONN_SUM" >"$R/checks/access_log.json"

# Warnings and errors incidentd logged during the whole benchmark, but the
# one each start logs for --allow-owner (incidentd_up says why).
{ grep -E '\] (warn|error): ' "$STACK_LOG" | grep -vF -- '--allow-owner permits it' || true; } |
    "$INCD_PYTHON" -c '
import json, sys
lines = sys.stdin.read().splitlines()
print(json.dumps({"count": len(lines), "errors": sum(1 for l in lines if "] error: " in l),
                  "first": lines[:5]}))' >"$R/checks/incidentd_log.json"

git_commit=$(git -C "$INCD_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -z "$(git -C "$INCD_ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ] || git_commit="$git_commit (with uncommitted changes)"
pg_version=$(q -c 'show server_version')
pg_settings=$(q -c "select string_agg(name || '=' || setting || coalesce(unit, ''), ', ' order by name) from pg_settings where name in ('shared_buffers', 'synchronous_commit', 'fsync', 'max_wal_size', 'checkpoint_timeout', 'work_mem', 'max_connections')")
load_end=$(cut -d ' ' -f 1-3 /proc/loadavg)
export M_COMMAND="$cmdline" M_COMMIT="$git_commit" M_INCIDENTS="$incidents" M_WORKERS="$workers" \
    M_KEEPALIVE="$keepalive" M_DURATION="$duration" M_ROUNDS="$rounds" M_LEVELS="$levels" M_LOAD_S="$load_s" \
    M_ASSIGN="$n_assign" M_CFV="$n_cfv" M_TOTAL_S="$((SECONDS - started))" M_EXPLAIN="$explain_list" \
    M_PG="$pg_version" M_PGSET="$pg_settings" M_LOAD_START="$LOAD_START" M_LOAD_END="$load_end" \
    M_EXPLAIN_V2="$explain_v2"
"$INCD_PYTHON" - "$R/meta.json" <<'EOF'
import json, os, platform, subprocess, sys, time
e = os.environ
cpu = "?"
with open("/proc/cpuinfo") as f:
    for line in f:
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
mem = "?"
with open("/proc/meminfo") as f:
    for line in f:
        if line.startswith("MemTotal"):
            mem = f"{int(line.split()[1]) / 1048576:.1f} GiB"
def ver(cmd):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True)
        return (p.stdout + p.stderr).strip().splitlines()[0]
    except Exception:
        return "?"
meta = {
    "command": e["M_COMMAND"], "commit": e["M_COMMIT"],
    "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    "cpu_model": cpu, "nproc": os.cpu_count(), "mem": mem, "kernel": platform.release(),
    "software": f"PostgreSQL {e['M_PG']}, {ver(['nginx', '-v']).replace('nginx version: ', '')}, "
                f"{ver(['wrk', '-v']).split(' [')[0]}, libfcgi {ver(['dpkg-query', '-W', '-f=${Version}', 'libfcgi0ldbl'])}",
    "pg_settings": e["M_PGSET"],
    "incidents": int(e["M_INCIDENTS"]), "workers": int(e["M_WORKERS"]),
    "keepalive_text": e["M_KEEPALIVE"],
    "nginx_workers": 1, "duration": int(e["M_DURATION"]), "rounds": int(e["M_ROUNDS"]),
    "levels": [int(x) for x in e["M_LEVELS"].split(",")],
    "load_s": float(e["M_LOAD_S"]), "assignments": int(e["M_ASSIGN"]), "cf_values": int(e["M_CFV"]),
    "config_desc": "3 severities, 3 incident types, 7 statuses, 3 roles, 5 custom fields (10 + 8 options), 50 users",
    "explain_v2": e["M_EXPLAIN_V2"],
    "total_s": int(e["M_TOTAL_S"]), "explain": json.loads(e["M_EXPLAIN"]),
    "load_start": e["M_LOAD_START"], "load_end": e["M_LOAD_END"],
    "noisy_note": "The machine may be shared: the *other* column of the CPU table is CPU time "
                  "used during each run by processes outside the benchmark.",
    "wrk_threads": 2,
}
with open(sys.argv[1], "w") as f:
    json.dump(meta, f, indent=1)
EOF
summary=$("${BENCHPY[@]}" report --results "$R" --meta "$R/meta.json" --out "$out")
cat "$out"
# The raw results stay next to the build for a look afterwards.
rm -rf "$BUILD/last-run"
mkdir -p "$BUILD/last-run"
cp -r "$R/." "$BUILD/last-run/"
say "report: $out; raw results: $BUILD/last-run; total $((SECONDS - started)) s"
say "$summary"
if [ "$strict" = 1 ] && [[ $summary != *'"targets_failed": []'* ]]; then
    exit 2
fi
