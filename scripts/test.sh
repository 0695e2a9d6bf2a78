#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run):
#   1. Debian packages (installed when root)
#   2. default build (build/default, -Werror), unit tests, the installed
#      tree (tests/install: make install to a DESTDIR, man pages, systemd
#      units, uninstall), e2e tests, the
#      faults under load (tests/faults: worker kills, PostgreSQL restarts
#      and outages, signals, nginx reload, max_connections, each followed
#      by an audit of every acknowledged create; about 40 s, --quick too)
#      the upgrade test (tests/upgrade: a released database migrated
#      to this checkout renders every object as before), the read
#      replica test (tests/replica: GETs served by a streaming replica,
#      read-your-writes, the replica stopped and started; about 15 s) and
#      the nginx test (tests/nginx: incidentd added to a stock Debian
#      /etc/nginx as docs/NGINX.md says; two hosts behind one upstream, each
#      stopped and killed under load without a failed request; about 45 s)
#   3. sanitizer build (build/asan, ASan + UBSan), unit tests, e2e tests,
#      and incidentd's log checked for sanitizer reports
#   4. fuzzing: each libFuzzer target of tests/fuzz for FUZZ_SECONDS
#      (default 60) on its corpus (tests/fuzz/corpus, regression inputs
#      included); FUZZ_SECONDS=0 skips it
#   5. make distcheck
# Each e2e run gets a throwaway stack (PostgreSQL cluster, incidentd, nginx
# on free loopback ports) in a temp dir, stopped and removed afterwards
# (KEEP=1 keeps the dir and its logs).
#
# usage: scripts/test.sh [--quick] [--no-e2e] [-- PYTEST_ARG...]
#   --quick   default build only: no sanitizer build, no fuzzing, no distcheck
#   --no-e2e  no end-to-end tests (no PostgreSQL or nginx needed)
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
    cat >&2 <<'EOF'
usage: scripts/test.sh [--quick] [--no-e2e] [-- PYTEST_ARG...]
  --quick   default build only: no sanitizer build, no fuzzing, no distcheck
  --no-e2e  no end-to-end tests (no PostgreSQL or nginx needed)
EOF
    exit "$1"
}

quick=0
e2e=1
pytest_args=()
while [ $# -gt 0 ]; do
    case $1 in
    --quick) quick=1 ;;
    --no-e2e) e2e=0 ;;
    -h | --help) usage 0 ;;
    --)
        shift
        pytest_args=("$@")
        break
        ;;
    *) usage 2 ;;
    esac
    shift
done

results=()
passed=0
failed=0
step_rc=0
current_step=""
tmp=""
started=$SECONDS

# step NAME CMD...: runs CMD in a subshell with errexit in force (it would
# be ignored in a condition, so step is never called as one, not even with
# && or ||) and records PASS/FAIL; the status is left in step_rc.
step() {
    local name=$1 t0=$SECONDS
    shift
    printf '\n==> %s\n' "$name" >&2
    current_step=$name
    set +e
    (
        set -e
        "$@"
    )
    step_rc=$?
    set -e
    current_step=""
    if [ "$step_rc" = 0 ]; then
        results+=("PASS  $name ($((SECONDS - t0)) s)")
        passed=$((passed + 1))
    else
        results+=("FAIL  $name ($((SECONDS - t0)) s, exit $step_rc)")
        failed=$((failed + 1))
    fi
}

skip() { results+=("SKIP  $1 ($2)"); }

finish() {
    local rc=$? d
    trap - EXIT INT TERM HUP
    if [ -n "$current_step" ]; then
        results+=("FAIL  $current_step (interrupted)")
        failed=$((failed + 1))
    fi
    if [ -n "$tmp" ] && [ -d "$tmp" ]; then
        for d in "$tmp"/*/; do
            [ -d "$d" ] && { stack_stop "${d%/}" || true; }
        done
        if [ "${KEEP:-0}" = 1 ]; then
            say "kept $tmp"
        else
            rm -rf "$tmp"
        fi
    fi
    printf '\n==> summary (%d s)\n' "$((SECONDS - started))"
    [ ${#results[@]} -eq 0 ] || printf '%s\n' "${results[@]}"
    printf '%d passed, %d failed\n' "$passed" "$failed"
    [ "$rc" = 0 ] && [ "$failed" -gt 0 ] && rc=1
    exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT TERM HUP

with_sanitizers() {
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    "$@"
}

unit() { make -C "$INCD_ROOT/build/$1" -j"$INCD_JOBS" check VERBOSE=1; }

# e2e VARIANT: the pytest suite against a throwaway stack built from
# build/VARIANT, with the environment docs/DESIGN.md lists.
e2e() {
    local dir="$tmp/$1" build_dir="$INCD_ROOT/build/$1" pg_port http_port rc=0 spec
    mkdir -p "$dir"
    pg_port=$(free_port)
    http_port=$(free_port "$pg_port")
    STACK_DATABASE_URL=""
    stack_start "$dir" "$build_dir" "$pg_port" "$http_port" 4 || {
        stack_stop "$dir"
        return 1
    }
    export INCIDENTD_URL="$STACK_URL"
    export INCIDENTD_METRICS_URL="$STACK_METRICS_URL"
    export INCIDENTD_PUBLIC_URL="$STACK_URL"
    # The tests inspect and change the database as its superuser; incidentd
    # serves as the runtime role (test_privileges.py checks what it can do).
    export DATABASE_URL="$STACK_SUPERUSER_URL"
    export INCIDENTD_OWNER_DATABASE_URL="$STACK_DATABASE_URL"
    export INCIDENTD_APP_DATABASE_URL="$STACK_APP_DATABASE_URL"
    export REPORTING_DATABASE_URL="$STACK_REPORTING_DATABASE_URL"
    export INCIDENTCTL="$build_dir/src/incidentctl"
    INCIDENTD_MASTER_PID=$(head -n 1 "$STACK_PIDFILE")
    export INCIDENTD_MASTER_PID
    export INCIDENTD_LOG="$STACK_LOG"
    # A command prefix the tests run through a shell: quoted for one.
    INCIDENTD_PG_CTL=$(printf '%q %q' "$INCD_ROOT/scripts/pg.sh" "$STACK_PGDATA")
    export INCIDENTD_PG_CTL
    # incident.io's published spec (CONTRACT.md names its commit), vendored so
    # a clone alone can validate every response against it.
    export INCIDENTD_SPEC="${INCIDENTD_SPEC:-$INCD_ROOT/tests/e2e/spec/incidentio-openapi.json}"
    export INCIDENTD_BIN="$build_dir/src/incidentd"
    say "stack: $INCIDENTD_URL, $DATABASE_URL, incidentd ($INCIDENTD_APP_DATABASE_URL) pid $INCIDENTD_MASTER_PID"
    (cd "$INCD_ROOT" && "$INCD_PYTHON" -m pytest -q -p no:cacheprovider tests/e2e "${pytest_args[@]}") || rc=$?
    if [ "$1" = default ] && [ ${#pytest_args[@]} -eq 0 ]; then
        sql_tests "$pg_port" "$build_dir" || rc=1
    fi
    # Stopped before the log is read: leak reports come at exit.
    stack_stop "$dir" || rc=1
    if [ -n "${ASAN_OPTIONS:-}" ] &&
        grep -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$STACK_LOG" >&2; then
        fail "sanitizer reports in $STACK_LOG"
        rc=1
    fi
    return "$rc"
}

# sql_tests PORT BUILD_DIR: the api.* functions tested in SQL on a database
# of their own in the stack's cluster (tests/sql: checks every validation
# error, pagination and counts; pgbench hammers one idempotency key).
sql_tests() {
    local url="postgresql://postgres@127.0.0.1:$1/sqltests"
    pg_create_db "$1" sqltests &&
        DATABASE_URL=$url "$2/src/incidentctl" migrate >/dev/null &&
        "$INCD_PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$url" -f "$INCD_ROOT/tests/sql/smoke.sql" &&
        PGBENCH="$INCD_PG_BIN/pgbench" PGHOST=127.0.0.1 PGPORT=$1 PGUSER=postgres PGDATABASE=sqltests \
            sh "$INCD_ROOT/tests/sql/concurrency.sh"
}

distcheck() { make -C "$INCD_ROOT/build/default" -j"$INCD_JOBS" distcheck; }

step "packages" ensure_packages
[ "$step_rc" = 0 ] || exit 1

if [ "$e2e" = 1 ]; then
    tmp=$(mktemp -d /tmp/incidentd-test.XXXXXX)
    # As root the clusters run as postgres, who must be able to enter it.
    chmod 755 "$tmp"
fi

variants=(default)
[ "$quick" = 1 ] || variants+=(asan)
for v in "${variants[@]}"; do
    run=()
    configure=(--enable-werror)
    if [ "$v" = asan ]; then
        run=(with_sanitizers)
        configure=(--enable-sanitizers --enable-werror)
    fi
    step "build ($v)" build "$v" "${configure[@]}"
    if [ "$step_rc" != 0 ]; then
        skip "unit ($v)" "build failed"
        [ "$e2e" = 0 ] || skip "e2e ($v)" "build failed"
        continue
    fi
    step "unit ($v)" "${run[@]}" unit "$v"
    if [ "$v" = default ]; then
        step "install ($v)" "$INCD_ROOT/tests/install/run.sh" "$INCD_ROOT/build/$v"
    fi
    if [ "$e2e" = 1 ]; then
        step "e2e ($v)" "${run[@]}" e2e "$v"
    fi
    if [ "$e2e" = 1 ] && [ "$v" = default ] && [ ${#pytest_args[@]} -eq 0 ]; then
        step "faults ($v)" "$INCD_ROOT/tests/faults/run.sh" "$INCD_ROOT/build/$v"
        step "upgrade ($v)" "$INCD_ROOT/tests/upgrade/run.sh" "$INCD_ROOT/build/$v"
        step "replica ($v)" "$INCD_ROOT/tests/replica/run.sh" "$INCD_ROOT/build/$v"
        step "nginx ($v)" "$INCD_ROOT/tests/nginx/run.sh" "$INCD_ROOT/build/$v"
    fi
done

fuzz_seconds=${FUZZ_SECONDS:-60}
if [ "$quick" = 1 ]; then
    skip "fuzz" "--quick"
elif [ "$fuzz_seconds" = 0 ]; then
    skip "fuzz" "FUZZ_SECONDS=0"
else
    step "fuzz ($fuzz_seconds s per target)" "$INCD_ROOT/tests/fuzz/run.sh" "$fuzz_seconds"
fi

if [ "$quick" = 0 ]; then
    if [ -f "$INCD_ROOT/build/default/Makefile" ]; then
        step "distcheck" distcheck
    else
        skip "distcheck" "build/default not configured"
    fi
fi
