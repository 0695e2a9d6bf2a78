#!/usr/bin/env bash
# Makes the upgrade test's fixture from a released commit (README.md here):
# builds REF in a temporary worktree, brings up a throwaway stack with REF's
# incidentctl and incidentd (this checkout's scripts and nginx), fills it
# through REF's API (fixture.py populate), records the answers to the
# read-only requests (fixture.py capture) and dumps the database.
#
# usage: tests/upgrade/make-fixture.sh REF [OUTDIR]
#   OUTDIR defaults to tests/upgrade/fixture; its files are replaced.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"

[ $# -ge 1 ] && [ $# -le 2 ] || {
    echo "usage: $0 REF [OUTDIR]" >&2
    exit 2
}
ref=$(git -C "$INCD_ROOT" rev-parse --verify "$1^{commit}")
out=${2:-$INCD_ROOT/tests/upgrade/fixture}
here="$INCD_ROOT/tests/upgrade"
public_url=$(cat "$here/public-url")

ensure_packages
tmp=$(mktemp -d /tmp/incidentd-fixture.XXXXXX)
chmod 755 "$tmp"
cleanup() {
    stack_stop "$tmp/stack" || true
    git -C "$INCD_ROOT" worktree remove --force "$tmp/src" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

say "building $ref"
git -C "$INCD_ROOT" worktree add --detach "$tmp/src" "$ref" >/dev/null
(cd "$tmp/src" && ./autogen.sh >/dev/null 2>&1 && mkdir -p build &&
    cd build && ../configure >/dev/null && make -j"$INCD_JOBS" >/dev/null)

pg_port=$(free_port)
http_port=$(free_port "$pg_port")
STACK_DATABASE_URL=""
# REF predates the roles (incidentctl roles setup): postgres migrates and serves.
STACK_SINGLE_ROLE=1
STACK_PUBLIC_URL=$public_url
stack_start "$tmp/stack" "$tmp/src/build" "$pg_port" "$http_port" 2 >/dev/null

DATABASE_URL=$STACK_DATABASE_URL "$INCD_PYTHON" "$here/fixture.py" populate \
    --url "$STACK_URL" --ctl "$tmp/src/build/src/incidentctl" --out "$tmp/state.json"
"$INCD_PYTHON" "$here/fixture.py" capture --url "$STACK_URL" --state "$tmp/state.json" \
    --out "$tmp/renders.jsonl"
# Plain SQL without owners or grants: it restores into any empty database.
"$INCD_PG_BIN/pg_dump" --no-owner --no-privileges -d "$STACK_DATABASE_URL" -f "$tmp/dump.sql"

mkdir -p "$out"
mv "$tmp/state.json" "$tmp/renders.jsonl" "$tmp/dump.sql" "$out/"
printf 'commit %s\nmade %s by tests/upgrade/make-fixture.sh\n' "$ref" \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$out/SOURCE"
say "fixture of $ref written to $out"
