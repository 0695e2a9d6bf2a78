#!/usr/bin/env bash
# What reporting costs (docs/REPORTING.md, "Cost, and where to run
# reports"): loads the benchmark organisation (tests/bench/sql/load.sql,
# 1 000 000 incidents by default) into a throwaway cluster, times every
# example query of docs/REPORTING.md as the reporting role (best and median
# of 3 runs, EXPLAIN ANALYZE kept), then runs the API's load (wrk: show, and
# create) alone and with one reporting client looping over those queries,
# alternating, and prints req/s side by side with their ratio.
#
# usage: tests/bench/reporting.sh [--incidents N] [--duration S] [--connections C]
#                                 [--dir DIR] [--serial]
#   --incidents N    incidents in the organisation (1000000)
#   --duration S     seconds per wrk run (10)
#   --connections C  wrk connections (4)
#   --dir DIR        keep the cluster in DIR and reuse it next time (the
#                    load is skipped when DIR holds a loaded one); without
#                    it a temp dir, removed at exit
#   --serial         the reporting client without parallel workers
#                    (max_parallel_workers_per_gather = 0): at most one core
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"

n=1000000 duration=10 conns=4 dir="" rq_options=""
while [ $# -gt 0 ]; do
    case $1 in
    --incidents) n=$2 && shift 2 ;;
    --duration) duration=$2 && shift 2 ;;
    --connections) conns=$2 && shift 2 ;;
    --dir) dir=$2 && shift 2 ;;
    --serial) rq_options="-c max_parallel_workers_per_gather=0" && shift ;;
    *)
        sed -n '10,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
        exit 2
        ;;
    esac
done
command -v wrk >/dev/null || fail "wrk not found (package wrk)" || exit 1
bench="$INCD_ROOT/tests/bench"
build_dir="$INCD_ROOT/build/default"
ctl="$build_dir/src/incidentctl"
[ -x "$build_dir/src/incidentd" ] || build default >/dev/null

keep=1
if [ -z "$dir" ]; then
    dir=$(mktemp -d /tmp/incidentd-reporting.XXXXXX)
    keep=0
fi
mkdir -p "$dir"
chmod 755 "$dir"
dir=$(cd "$dir" && pwd -P)
cleanup() {
    nginx_stop "$dir/nginx" || true
    incidentd_stop "$dir/run/incidentd.pid" || true
    [ -z "${loop_pid:-}" ] || kill "$loop_pid" 2>/dev/null || true
    pg_stop "$dir/pg" || true
    [ "$keep" = 1 ] || rm -rf "$dir"
}
trap cleanup EXIT
port=$(free_port)
http_port=$(free_port "$port")
pg_bench_cluster "$dir/pg" "$port" incidentd
url="postgresql://postgres@127.0.0.1:$port/incidentd"
reporting_url="postgresql://incidentd_reporting@/incidentd?host=$dir/pg&port=$port"
q() { "$INCD_PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 "$url" "$@"; }

if [ ! -f "$dir/loaded" ]; then
    "$ctl" --database-url "$url" roles setup >/dev/null
    DATABASE_URL=$url "$ctl" migrate >/dev/null
    q -f "$bench/sql/helpers.sql" >/dev/null
    org=$(DATABASE_URL=$url "$ctl" org create "Reporting")
    DATABASE_URL=$url "$ctl" seed-demo --org "$org" >/dev/null
    q -v "org=$org" -f "$bench/sql/org.sql" >/dev/null
    DATABASE_URL=$url "$ctl" api-key create --org "$org" --name load --role viewer \
        --role incident_creator --rate-limit 0 >"$dir/key"
    key_id=$(q -c "select id from api_keys where organisation_id = '$org'")
    t0=$SECONDS
    q -v "org=$org" -v "key_id=$key_id" -v "n=$n" -v "salt=$$" -f "$bench/sql/load.sql" >/dev/null
    q -c "vacuum analyze" >/dev/null
    say "$n incidents loaded in $((SECONDS - t0)) s"
    printf '%s\n' "$org" >"$dir/loaded"
else
    DATABASE_URL=$url "$ctl" migrate >/dev/null
fi
org=$(cat "$dir/loaded")
key=$(cat "$dir/key")
q -c "select count(*) from incidents where organisation_id = '$org'" | xargs printf 'organisation %s: %s incidents\n' "$org"

# The example queries of docs/REPORTING.md, one file each.
mkdir -p "$dir/queries"
rm -f "$dir/queries/"*.sql
"$INCD_PYTHON" - "$INCD_ROOT/docs/REPORTING.md" "$dir/queries" <<'EOF'
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
section = text.split("\n## Example queries\n", 1)[1].split("\n## ", 1)[0]
for i, sql in enumerate(re.findall(r"```sql\n(.*?)```", section, re.S), 1):
    open("%s/q%d.sql" % (sys.argv[2], i), "w").write(sql)
EOF
rq() { PGOPTIONS=$rq_options "$INCD_PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -v "org=$org" "$reporting_url" "$@"; }

printf '\n| query (docs/REPORTING.md) | rows | best of 3 | median of 3 | execution (EXPLAIN ANALYZE) |\n|---|---:|---:|---:|---:|\n'
for f in "$dir/queries"/q*.sql; do
    name=$(grep -m1 -o 'FROM reporting\.[a-z_]*' "$f" | sed 's/FROM //')
    times=()
    for _ in 1 2 3; do
        t=$(date +%s%N)
        rows=$(rq -f "$f" | wc -l)
        times+=($((($(date +%s%N) - t) / 1000000)))
    done
    mapfile -t sorted < <(printf '%s\n' "${times[@]}" | sort -n)
    { printf 'EXPLAIN (ANALYZE, BUFFERS)\n'; cat "$f"; } | rq >"$f.explain"
    exec_ms=$(sed -n 's/^Execution Time: \([0-9.]*\) ms/\1/p' "$f.explain")
    printf '| %s (%s) | %s | %s ms | %s ms | %s ms |\n' "$(basename "$f" .sql)" "$name" "$rows" \
        "${sorted[0]}" "${sorted[1]}" "$exec_ms"
done
printf '(wall time of psql as incidentd_reporting over the unix socket, connection included; plans in %s/queries/*.explain)\n' "$dir"

# The API: incidentd as the runtime role, nginx, as scripts/lib.sh's stack.
mkdir -p "$dir/run" "$dir/log"
incidentd_start "$build_dir/src/incidentd" "$dir/run/incidentd.pid" "$dir/log/incidentd.log" \
    "$dir/run/incidentd.sock" "postgresql://incidentd_app@/incidentd?host=$dir/pg&port=$port" \
    "http://127.0.0.1:$http_port" 4
nginx_render "$dir/nginx" "127.0.0.1:$http_port" "$dir/run/incidentd.sock" 1 off
nginx_start "$dir/nginx"
wait_for_url "http://127.0.0.1:$http_port/healthz" 30
q -c "select '/v1/incidents/' || id from incidents where organisation_id = '$org' and visibility = 'public' order by random() limit 50" >"$dir/show.paths"
q -c "select id from severities where organisation_id = '$org' order by rank limit 1" >"$dir/sev"
printf '{"idempotency_key":"@KEY@","visibility":"public","name":"Reporting benchmark","severity_id":"%s"}' \
    "$(cat "$dir/sev")" >"$dir/create.tpl"

# wrk_rps SCENARIO: req/s of one wrk run (non-2xx responses fail it).
wrk_rps() {
    local lua=get.lua out
    [ "$1" = create ] && lua=create.lua
    out=$(BENCH_KEY=$key BENCH_PATHS="$dir/show.paths" BENCH_BODY="$dir/create.tpl" \
        BENCH_RUN="rep-$$-$RANDOM" wrk -t2 -c"$conns" -d"${duration}s" --timeout 10s \
        -s "$bench/lua/$lua" "http://127.0.0.1:$http_port/")
    if grep -q 'Non-2xx' <<<"$out"; then
        printf '%s\n' "$out" >&2
        fail "wrk: error responses"
        return 1
    fi
    sed -n 's/^Requests\/sec: *\([0-9.]*\)/\1/p' <<<"$out"
}

# One reporting client running the example queries back to back; counts
# the queries it finished in $dir/loop.count.
reporting_loop() {
    local c=0
    while :; do
        for f in "$dir/queries"/q*.sql; do
            rq -f "$f" >/dev/null
            c=$((c + 1))
            printf '%s\n' "$c" >"$dir/loop.count"
        done
    done
}

printf '\n| API, %s connections, %s s runs | alone | with a reporting client looping | ratio | reporting queries/s meanwhile |\n|---|---:|---:|---:|---:|\n' "$conns" "$duration"
for s in show create; do
    wrk_rps "$s" >/dev/null # warm-up
    alone=() with=() qps=()
    for _ in 1 2; do
        alone+=("$(wrk_rps "$s")")
        echo 0 >"$dir/loop.count"
        reporting_loop &
        loop_pid=$!
        sleep 1
        c0=$(cat "$dir/loop.count")
        with+=("$(wrk_rps "$s")")
        c1=$(cat "$dir/loop.count")
        kill "$loop_pid" 2>/dev/null || true
        wait "$loop_pid" 2>/dev/null || true
        loop_pid=""
        qps+=("$(awk -v a="$c0" -v b="$c1" -v d="$duration" 'BEGIN { printf "%.2f", (b - a) / d }')")
    done
    awk -v s="$s" -v a="${alone[*]}" -v w="${with[*]}" -v q="${qps[*]}" 'BEGIN {
        split(a, A, " "); split(w, W, " "); split(q, Q, " ")
        ma = (A[1] + A[2]) / 2; mw = (W[1] + W[2]) / 2
        printf "| %s | %.0f req/s (%.0f, %.0f) | %.0f req/s (%.0f, %.0f) | %.2f | %.2f |\n",
            s, ma, A[1], A[2], mw, W[1], W[2], mw / ma, (Q[1] + Q[2]) / 2 }'
done
printf '(each: the mean of 2 runs, alone and with the reporting client alternating; %s cores; reporting client options: %s)\n' \
    "$(nproc)" "${rq_options:-none}"
