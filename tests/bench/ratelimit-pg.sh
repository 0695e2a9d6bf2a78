#!/usr/bin/env bash
# What a rate limit shared by every host would cost if PostgreSQL kept the
# buckets (docs/DESIGN.md, "Rate limits", "Several hosts"): the same GCRA
# bucket as src/core/ratelimit.c, one row per key, taken by one statement
# per request,
#
#   UPDATE rl_buckets SET tat = greatest(tat, now()) + T
#    WHERE key_id = $1 AND greatest(tat, now()) + T <= now() + burst
#   RETURNING tat
#
# timed with pgbench on a throwaway cluster (the benchmark's settings,
# over the unix socket as the workers connect): one client, then clients
# on one key and on a key each; the table logged with synchronous_commit
# on (what durable buckets cost), logged with it off, and unlogged (what
# a rate limiter would use: the buckets need not survive a crash). The
# limit is high enough that every request is allowed, so each one writes.
# Compare with tests/bench/ratelimit_bench.c (the shared-memory check).
#
# usage: tests/bench/ratelimit-pg.sh [--seconds S] [--clients C[,C...]]
#        (defaults: 10 s a run; clients 1,4,16)
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"

seconds=10
clients=1,4,16
while [ $# -gt 0 ]; do
    case $1 in
    --seconds) seconds=$2; shift ;;
    --clients) clients=$2; shift ;;
    *)
        echo "usage: $0 [--seconds S] [--clients C[,C...]]" >&2
        exit 2
        ;;
    esac
    shift
done
pgbench=${PGBENCH:-$INCD_PG_BIN/pgbench}

tmp=$(mktemp -d /tmp/incidentd-rlpg.XXXXXX)
chmod 755 "$tmp"
trap 'pg_stop "$tmp/pg" || true; rm -rf "$tmp"' EXIT
port=$(free_port)
pg_bench_cluster "$tmp/pg" "$port" rl
q() { "$INCD_PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$tmp/pg" -p "$port" -U postgres rl "$@"; }

# 1000 keys; the limit 60 000 000 a minute: T = 1 µs (timestamps have no
# finer unit), a 60 s burst.
for kind in logged unlogged; do
    [ "$kind" = logged ] && u="" || u="unlogged"
    q <<EOF
create $u table rl_$kind (key_id text primary key, tat timestamptz not null)
    with (fillfactor = 50);
insert into rl_$kind select 'key-' || k, now() from generate_series(1, 1000) k;
EOF
done
q -c "vacuum analyze"

script() { # script FILE TABLE KEY_EXPRESSION
    cat >"$1" <<EOF
\\set k $3
UPDATE $2 SET tat = greatest(tat, now()) + interval '1 microsecond'
 WHERE key_id = 'key-' || :k
   AND greatest(tat, now()) + interval '1 microsecond' <= now() + interval '60 seconds'
RETURNING tat;
EOF
}

run() { # run LABEL TABLE SYNC CLIENTS KEYS
    local label=$1 table=$2 sync=$3 c=$4 keys=$5 f="$tmp/s.sql" out
    if [ "$keys" = one ]; then script "$f" "$table" 1; else script "$f" "$table" "random(1, 1000)"; fi
    out=$(PGOPTIONS="-c synchronous_commit=$sync" "$pgbench" -n -M prepared -h "$tmp/pg" \
        -p "$port" -U postgres -c "$c" -j "$(((c + 1) / 2))" -T "$seconds" -f "$f" rl 2>&1)
    local tps lat
    tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$out")
    lat=$(sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' <<<"$out")
    printf '| %s | %s | %s | %s | %.0f | %.1f |\n' "$label" "$sync" "$c" "$keys" "$tps" \
        "$(awk -v l="$lat" 'BEGIN { print l * 1000 }')"
}

echo "PostgreSQL bucket per request, $seconds s a run, $(nproc) CPUs, load average $(cut -d ' ' -f 1-3 /proc/loadavg)"
echo
echo "| table | synchronous_commit | clients | keys | requests/s | latency µs |"
echo "|---|---|---:|---|---:|---:|"
IFS=, read -r -a cs <<<"$clients"
for c in "${cs[@]}"; do
    run logged rl_logged on "$c" one
    run logged rl_logged off "$c" one
    run unlogged rl_unlogged on "$c" one
    [ "$c" -gt 1 ] || continue
    run logged rl_logged on "$c" each
    run unlogged rl_unlogged on "$c" each
done
