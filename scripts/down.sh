#!/usr/bin/env bash
# Stops what scripts/up.sh started: nginx, incidentd and the local cluster,
# by the pid files under var/. Data and var/stack.env stay, so up.sh starts
# the same stack again; --purge also deletes them.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

purge=0
case ${1:-} in
"") ;;
--purge) purge=1 ;;
*)
    echo "usage: $0 [--purge]" >&2
    exit 2
    ;;
esac

var="$INCD_ROOT/var"
[ -d "$var" ] || {
    say "nothing to stop (no var/)"
    exit 0
}
stack_stop "$var"
say "stopped"

if [ "$purge" = 1 ]; then
    # var/pg and var/run may point into /tmp (state_dir): remove the targets too.
    for d in "$var/pg" "$var/run"; do
        if [ -L "$d" ]; then
            rm -rf "$(readlink "$d")"
        fi
    done
    rm -rf "$var"
    say "removed var/"
fi
