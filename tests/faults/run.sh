#!/usr/bin/env bash
# Faults under load (scripts/test.sh runs it after the default e2e step):
# a throwaway stack of BUILD_DIR's incidentd (4 workers), its own
# PostgreSQL cluster and nginx, and tests/faults/faults.py against it: kill
# -9 of a worker (twice), PostgreSQL restarts (fast, immediate),
# pg_terminate_backend, SIGHUP, SIGTERM drain and restart, nginx reload,
# PostgreSQL down for 10 s and max_connections taken by another client,
# each under a load of retried creates and reads, each followed by an audit
# of every acknowledged create. About a minute and a half on 2 cores.
#
# usage: tests/faults/run.sh BUILD_DIR
# KEEP=1 keeps the temp dir (logs of incidentd, nginx and PostgreSQL).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"

[ $# = 1 ] || {
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
}
build_dir=$(cd "$1" && pwd -P)
workers=4

tmp=$(mktemp -d /tmp/incidentd-faults.XXXXXX)
chmod 755 "$tmp"
rc=0
cleanup() {
    local st=$?
    stack_stop "$tmp/stack" || true
    if [ "${KEEP:-0}" = 1 ] || [ "$st" != 0 ]; then
        say "kept $tmp (logs: stack/log/incidentd.log, stack/nginx/logs/, stack/pg/server.log)"
    else
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT

pg_port=$(free_port)
http_port=$(free_port "$pg_port")
mkdir -p "$tmp/stack"
STACK_DATABASE_URL=""
stack_start "$tmp/stack" "$build_dir" "$pg_port" "$http_port" "$workers"

# The same worker connection string stack_start gave incidentd (the
# cluster's unix socket), for starting it again after the SIGTERM fault.
worker_db="postgresql://$INCD_APP_ROLE@/incidentd?host=$STACK_PGDATA&port=$pg_port"
export INCIDENTD_URL="$STACK_URL"
# The superuser's: the faults terminate incidentd's backends and audit
# every table.
export DATABASE_URL="$STACK_SUPERUSER_URL"
export INCIDENTCTL="$build_dir/src/incidentctl"
export INCIDENTD_PIDFILE="$STACK_PIDFILE"
export INCIDENTD_LOG="$STACK_LOG"
export NGINX_PIDFILE="$STACK_NGINX/nginx.pid"
export PG_SOCKET="$STACK_PGDATA/.s.PGSQL.$pg_port"
export FAULTS_WORKERS=$workers
INCIDENTD_PG_CTL=$(printf '%q %q' "$INCD_ROOT/scripts/pg.sh" "$STACK_PGDATA")
export INCIDENTD_PG_CTL
# shellcheck disable=SC2016 # expanded by the inner bash
INCIDENTD_START=$(printf '%q ' bash -c '. "$1" && shift && incidentd_start "$@"' incidentd-start \
    "$INCD_ROOT/scripts/lib.sh" "$build_dir/src/incidentd" "$STACK_PIDFILE" "$STACK_LOG" \
    "$STACK_SOCK" "$worker_db" "$STACK_URL" "$workers")
export INCIDENTD_START
say "stack: $STACK_URL, $STACK_DATABASE_URL, incidentd pid $(head -n 1 "$STACK_PIDFILE")"

"$INCD_PYTHON" "$INCD_ROOT/tests/faults/faults.py" || rc=$?

# Crashes the faults did not cause themselves: the kill -9 victims are the
# only workers that may die by a signal.
kills=$(grep -c 'killed by signal 9' "$STACK_LOG" || true)
others=$(grep -E 'killed by signal|exited with status [1-9]' "$STACK_LOG" | grep -vc 'killed by signal 9' || true)
if [ "$kills" != 2 ] || [ "$others" != 0 ]; then
    grep -E 'killed by signal|exited with status' "$STACK_LOG" >&2 || true
    fail "incidentd's log: $kills workers killed by SIGKILL (want the 2 of the test), $others other deaths"
    rc=1
fi
exit "$rc"
