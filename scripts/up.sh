#!/usr/bin/env bash
# Brings the local stack up: packages (as root), build, a PostgreSQL cluster
# under var/ (unless DATABASE_URL names an existing server), migrations, a
# demo organisation and API key, incidentd, nginx on 127.0.0.1:8080. Prints
# the URL and key and writes them to var/stack.env. scripts/down.sh stops it.
#
# Environment: INCIDENTD_PORT (nginx, 8080), INCIDENTD_PG_PORT (local
# cluster, 54329), INCIDENTD_WORKERS (4), DATABASE_URL (use that server:
# it migrates, and incidentd connects with INCIDENTD_APP_DATABASE_URL, or
# with DATABASE_URL and --allow-owner when that is not set).
#
# The local cluster has two roles (docs/SCHEMA.md, "Roles and privileges"):
# incidentd_owner owns the schema and migrates (DATABASE_URL of
# var/stack.env: psql and incidentctl use it), incidentd_app is what
# incidentd connects as (INCIDENTD_APP_DATABASE_URL).
# Running it again while up only reports; after down.sh it starts the same
# cluster again and keeps the key of var/stack.env while the database
# still accepts it.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

port=${INCIDENTD_PORT:-8080}
pg_port=${INCIDENTD_PG_PORT:-54329}
workers=${INCIDENTD_WORKERS:-4}
var="$INCD_ROOT/var"
env_file="$var/stack.env"
build_dir="$INCD_ROOT/build/default"
ctl="$build_dir/src/incidentctl"

# stack_env_get NAME: the value of NAME in var/stack.env (read, not sourced).
stack_env_get() {
    local line
    [ -f "$env_file" ] || return 1
    while IFS= read -r line; do
        case $line in "$1="*) printf '%s\n' "${line#*=}" && return 0 ;; esac
    done <"$env_file"
    return 1
}

# key_works URL KEY: the key authenticates against the running stack.
key_works() {
    [ -n "$2" ] || return 1
    [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
        -H "Authorization: Bearer $2" "$1/v1/identity")" = 200 ]
}

report() {
    cat <<EOF
incidentd is up at $1
API key: $2
Database: $3 (owner: psql, incidentctl)
incidentd connects as: $4
Metrics (Prometheus, loopback only): $5
Reporting (read-only, docs/REPORTING.md): ${6:-none (set REPORTING_DATABASE_URL)}
Settings are in var/stack.env (INCIDENTD_URL, INCIDENTD_API_KEY, DATABASE_URL,
INCIDENTD_APP_DATABASE_URL, INCIDENTD_METRICS_URL, REPORTING_DATABASE_URL):
  set -a; . var/stack.env; set +a
  curl -H "Authorization: Bearer \$INCIDENTD_API_KEY" \$INCIDENTD_URL/v1/identity
Logs: var/log/incidentd.log, var/nginx/logs/. Stop it with scripts/down.sh
EOF
}

ensure_packages
mkdir -p "$var"

# Already up: nginx and incidentd alive, /healthz answering, key accepted.
url="http://127.0.0.1:$port"
if [ -f "$env_file" ]; then
    old_url=$(stack_env_get INCIDENTD_URL || true)
    old_key=$(stack_env_get INCIDENTD_API_KEY || true)
    old_db=$(stack_env_get DATABASE_URL || true)
    old_app_db=$(stack_env_get INCIDENTD_APP_DATABASE_URL || true)
    old_reporting_db=$(stack_env_get REPORTING_DATABASE_URL || true)
    if [ -n "$old_url" ] &&
        pidfile_pid "$var/nginx/nginx.pid" nginx >/dev/null &&
        pidfile_pid "$var/run/incidentd.pid" incidentd >/dev/null &&
        key_works "$old_url" "$old_key"; then
        report "$old_url" "$old_key" "$old_db" "${old_app_db:-$old_db (--allow-owner)}" \
            "$(stack_env_get INCIDENTD_METRICS_URL || true)" "$old_reporting_db"
        exit 0
    fi
fi

build default --enable-werror

# DATABASE_URL names an existing server, unless it is the local cluster's own
# URL (a shell that sourced var/stack.env has exported it; before the roles
# it was the superuser's).
STACK_DATABASE_URL=${DATABASE_URL:-}
STACK_APP_DATABASE_URL=${INCIDENTD_APP_DATABASE_URL:-}
STACK_REPORTING_DATABASE_URL=${REPORTING_DATABASE_URL:-}
case $STACK_DATABASE_URL in
"postgresql://$INCD_OWNER_ROLE@127.0.0.1:$pg_port/incidentd" | "postgresql://postgres@127.0.0.1:$pg_port/incidentd")
    STACK_DATABASE_URL=""
    STACK_APP_DATABASE_URL=""
    STACK_REPORTING_DATABASE_URL=""
    ;;
esac
[ -z "$STACK_DATABASE_URL" ] || say "using the database at DATABASE_URL"
stack_start "$var" "$build_dir" "$pg_port" "$port" "$workers"

key=$(stack_env_get INCIDENTD_API_KEY || true)
if key_works "$STACK_URL" "$key"; then
    say "reusing the API key of var/stack.env"
else
    export DATABASE_URL=$STACK_DATABASE_URL
    org=$("$ctl" org create "Demo organisation")
    [[ $org =~ ^[0-9A-Z]{26}$ ]] || fail "incidentctl org create printed '$org', not an id" || exit 1
    "$ctl" seed-demo --org "$org" >"$var/log/seed-demo.log"
    # The demo key keeps the default rate limit, 1200 a minute, as a key of
    # incident.io would: what a client tries here behaves as it will there.
    # Load tests want a key of their own with --rate-limit 0 (README.md).
    key=$("$ctl" api-key create --org "$org" --name "demo (scripts/up.sh)" \
        --role viewer --role incident_creator --role incident_editor --role global_access --role manage_settings)
    [[ $key =~ ^inc_[0-9a-f]+$ ]] || fail "incidentctl api-key create printed no token" || exit 1
    key_works "$STACK_URL" "$key" || fail "the new API key is refused by $STACK_URL/v1/identity" || exit 1
    say "created organisation $org and an API key"
fi

# The key is a secret: the file is for its owner only.
(
    umask 077
    printf '%s\n' "INCIDENTD_URL=$STACK_URL" "INCIDENTD_API_KEY=$key" \
        "DATABASE_URL=$STACK_DATABASE_URL" "INCIDENTD_APP_DATABASE_URL=$STACK_APP_DATABASE_URL" \
        "INCIDENTD_METRICS_URL=$STACK_METRICS_URL" \
        "REPORTING_DATABASE_URL=$STACK_REPORTING_DATABASE_URL" >"$env_file.tmp"
)
mv "$env_file.tmp" "$env_file"
report "$STACK_URL" "$key" "$STACK_DATABASE_URL" "${STACK_APP_DATABASE_URL:-$STACK_DATABASE_URL (--allow-owner)}" \
    "$STACK_METRICS_URL" "$STACK_REPORTING_DATABASE_URL"
