#!/usr/bin/env bash
# Reads from a streaming replica (docs/REPLICAS.md; scripts/test.sh runs it
# after the default e2e step): a throwaway stack (PostgreSQL, incidentd with
# 4 workers, nginx), a streaming replica of its cluster made with
# pg_basebackup -R (pg_replica_init), incidentd restarted with
# --read-database-url pointing at the replica as the runtime role, and
# tests/replica/replica.py against it: GETs are served by the replica
# (replay paused: another key does not see a new incident), the writer
# reads its own write, writes never reach the replica, the primary runs no
# statement for a replica-served read, the replica stopped (reads go on,
# on the primary) and started again (reads return to it). About 15 s.
#
# usage: tests/replica/run.sh BUILD_DIR
# KEEP=1 keeps the temp dir (logs of incidentd, nginx and both clusters).
# MEASURE=1 then prints docs/REPLICAS.md's figures (tests/replica/measure.py,
# about 30 s more).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"

[ $# = 1 ] || {
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
}
build_dir=$(cd "$1" && pwd -P)
workers=4

tmp=$(mktemp -d /tmp/incidentd-replica.XXXXXX)
chmod 755 "$tmp"
cleanup() {
    local st=$?
    stack_stop "$tmp/stack" || true
    pg_stop "$tmp/replica" || true
    if [ "${KEEP:-0}" = 1 ] || [ "$st" != 0 ]; then
        say "kept $tmp (logs: stack/log/incidentd.log, stack/pg/server.log, replica/server.log)"
    else
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT

pg_port=$(free_port)
http_port=$(free_port "$pg_port")
replica_port=$(free_port "$pg_port" "$http_port")
mkdir -p "$tmp/stack"
STACK_DATABASE_URL=""
stack_start "$tmp/stack" "$build_dir" "$pg_port" "$http_port" "$workers"

pg_replica_init "$tmp/replica" "$replica_port" "$pg_port"
pg_start "$tmp/replica"

# incidentd again, now with the replica: both as the runtime role, through
# each cluster's unix socket (as stack_start connects to the primary).
# HOST:PORT of the metrics URL stack_start chose, kept for the restart.
metrics_hostport() {
    local hp=${STACK_METRICS_URL#http://}
    printf '%s\n' "${hp%%/*}"
}
worker_db="postgresql://$INCD_APP_ROLE@/incidentd?host=$STACK_PGDATA&port=$pg_port"
read_db="postgresql://$INCD_APP_ROLE@/incidentd?host=$tmp/replica&port=$replica_port"
incidentd_stop "$STACK_PIDFILE"
incidentd_start "$build_dir/src/incidentd" "$STACK_PIDFILE" "$STACK_LOG" "$STACK_SOCK" \
    "$worker_db" "$STACK_URL" "$workers" --read-database-url "$read_db" \
    --metrics-listen "$(metrics_hostport)"
wait_for_url "$STACK_URL/healthz" 30

export INCIDENTD_URL="$STACK_URL"
export INCIDENTD_PUBLIC_URL="$STACK_URL"
export DATABASE_URL="$STACK_SUPERUSER_URL"
export REPLICA_DATABASE_URL="postgresql://postgres@127.0.0.1:$replica_port/incidentd"
export INCIDENTCTL="$build_dir/src/incidentctl"
export INCIDENTD_LOG="$STACK_LOG"
export INCIDENTD_METRICS_URL="$STACK_METRICS_URL"
export INCIDENTD_SPEC="${INCIDENTD_SPEC:-$INCD_ROOT/tests/e2e/spec/incidentio-openapi.json}"
REPLICA_PG_CTL=$(printf '%q %q' "$INCD_ROOT/scripts/pg.sh" "$tmp/replica")
export REPLICA_PG_CTL
say "stack: $STACK_URL, primary :$pg_port, replica :$replica_port"

"$INCD_PYTHON" "$INCD_ROOT/tests/replica/replica.py"
if [ "${MEASURE:-0}" = 1 ]; then
    export PRIMARY_LOG="$STACK_PGDATA/server.log"
    export PRIMARY_APP_URL="$worker_db" REPLICA_APP_URL="$read_db"
    "$INCD_PYTHON" "$INCD_ROOT/tests/replica/measure.py"
fi
