#!/usr/bin/env bash
# Controls one PostgreSQL cluster of the scripts; it is what the e2e tests
# get as INCIDENTD_PG_CTL ("scripts/pg.sh DATADIR"):
#     scripts/pg.sh DATADIR start|stop|restart|status [PG_CTL_ARG...]
# Run as root it acts as the postgres user. Extra arguments go to pg_ctl,
# e.g. `stop -m immediate` to crash the server instead of a fast shutdown.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
    echo "usage: $0 DATADIR start|stop|restart|status [PG_CTL_ARG...]" >&2
    exit 2
}

[ $# -ge 2 ] || usage
[ -f "$1/PG_VERSION" ] || fail "$1 is not a PostgreSQL data directory" || exit 1
dir=$(cd "$1" && pwd -P)
cmd=$2
shift 2
case $cmd in
start) pg_start "$dir" "$@" ;;
stop) pg_stop "$dir" "$@" ;;
restart) pg_restart "$dir" "$@" ;;
status) pg_ctl_owner "$dir" status "$@" ;;
*) usage ;;
esac
