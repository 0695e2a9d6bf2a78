# shellcheck shell=bash
# Shared functions of scripts/up.sh, down.sh, test.sh, pg.sh and the
# benchmarks: packages, builds, a private PostgreSQL cluster, incidentd and a
# private nginx, all tracked by pid files, never found by name.
#
# Source it from a script running with `set -euo pipefail`. Every function
# reports its own failure on stderr and returns non-zero; none exits.

INCD_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
INCD_PG_BIN=${INCD_PG_BIN:-/usr/lib/postgresql/15/bin}
# Not `python3` from PATH: that may be a pyenv shim without pytest.
INCD_PYTHON=/usr/bin/python3
INCD_JOBS=$(nproc 2>/dev/null || echo 2)

# What building, testing and running need on Debian 12. "nginx" is the
# Debian 12 package with the binary (nginx-light is a transitional name).
# clang's libFuzzer runtime (tests/fuzz) is in libclang-rt-14-dev, which
# clang only recommends. man-db, groff-base (man -l), systemd
# (systemd-analyze, systemd-socket-activate) and procps (the unit's
# /bin/kill) are for tests/install and the socket activation test.
INCD_PACKAGES=(build-essential autoconf automake libtool pkg-config
    libfcgi-dev libjson-c-dev libpq-dev libssl-dev check postgresql-15
    nginx curl python3 python3-pytest python3-jsonschema
    clang libclang-rt-14-dev
    man-db groff-base systemd procps prometheus)

say() { printf 'incidentd: %s\n' "$*" >&2; }
warn() { printf 'incidentd: warning: %s\n' "$*" >&2; }
fail() { printf 'incidentd: error: %s\n' "$*" >&2; return 1; }

is_root() { [ "$(id -u)" -eq 0 ]; }

# pid_alive PID: the process exists and is not a zombie (a detached daemon
# whose reaper has not run yet still answers kill -0).
pid_alive() {
    local pid=${1:-} state
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    state=$(sed -E 's/.*\) ([A-Za-z]).*/\1/' "/proc/$pid/stat" 2>/dev/null) || return 1
    [ "$state" != Z ]
}

# pidfile_pid FILE EXE: prints the pid recorded in FILE if that process is
# alive and runs a program named EXE, so that a stale pid file whose pid now
# belongs to someone else's process (after a reboot) is never acted on.
pidfile_pid() {
    local pid exe
    [ -s "$1" ] || return 1
    pid=$(head -n 1 "$1")
    pid_alive "$pid" || return 1
    exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
    exe=${exe% (deleted)}
    [ "${exe##*/}" = "$2" ] || return 1
    printf '%s\n' "$pid"
}

# wait_gone PID SECONDS: waits for PID to exit; fails if it is still there.
wait_gone() {
    local pid=$1 i
    for ((i = 0; i < $2 * 10; i++)); do
        pid_alive "$pid" || return 0
        sleep 0.1
    done
    ! pid_alive "$pid"
}

# ---------------------------------------------------------------- packages

pkg_installed() {
    [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

# ensure_packages [PKG...]: installs the missing ones of INCD_PACKAGES (and
# PKG...) with apt-get when root; otherwise names them and fails.
# shellcheck disable=SC2120 # PKG... is for callers needing more (benchmarks)
ensure_packages() {
    local p missing=()
    if ! command -v dpkg-query >/dev/null; then
        warn "dpkg-query not found: not Debian, not checking packages"
        return 0
    fi
    for p in "${INCD_PACKAGES[@]}" "$@"; do
        # Any nginx flavour will do.
        if [ "$p" = nginx ] && [ -x /usr/sbin/nginx ]; then continue; fi
        pkg_installed "$p" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if ! is_root; then
        fail "missing Debian packages: ${missing[*]}
    install them with: sudo apt-get install ${missing[*]}"
        return 1
    fi
    say "installing ${missing[*]}"
    # Installing nginx or postgresql-15 would start the distribution's own
    # services (nginx on :80, the "main" cluster on :5432). A policy-rc.d
    # that answers 101 keeps them stopped; the scripts run private ones.
    local policy=/usr/sbin/policy-rc.d added_policy=0 rc=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && added_policy=1
    fi
    {
        DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=300 update &&
            DEBIAN_FRONTEND=noninteractive apt-get -q -y -o DPkg::Lock::Timeout=300 \
                install --no-install-recommends "${missing[@]}"
    } </dev/null || rc=$?
    [ "$added_policy" = 1 ] && rm -f "$policy"
    [ "$rc" = 0 ] || fail "apt-get failed (exit $rc)"
}

# ------------------------------------------------------------------- build

# build NAME [CONFIGURE_ARG...]: out-of-tree build in build/NAME, configured
# again only when the arguments change. Runs autogen.sh on a fresh clone
# (or after a failed one, or when configure.ac is newer); later changes to configure.ac or Makefile.am are
# picked up by the rebuild rules of the generated Makefile.
build() {
    local name=$1
    shift
    local dir="$INCD_ROOT/build/$name" args="$*"
    if [ ! -x "$INCD_ROOT/configure" ] || [ ! -f "$INCD_ROOT/Makefile.in" ] ||
        [ "$INCD_ROOT/configure.ac" -nt "$INCD_ROOT/configure" ]; then
        (cd "$INCD_ROOT" && ./autogen.sh) || return 1
    fi
    mkdir -p "$dir" || return 1
    if [ ! -f "$dir/Makefile" ] || [ "$(cat "$dir/.configure-args" 2>/dev/null)" != "$args" ]; then
        (cd "$dir" && "$INCD_ROOT/configure" "$@") || return 1
        printf '%s\n' "$args" >"$dir/.configure-args"
    fi
    make -C "$dir" -j"$INCD_JOBS"
}

# ------------------------------------------------------------- directories

# A unix socket path must fit sockaddr_un.sun_path (108 bytes with the NUL);
# PostgreSQL adds "/.s.PGSQL.NNNNN", incidentd "/incidentd.sock".
INCD_MAX_DIR_LEN=88

# dir_fits DIR [pg]: DIR is short enough for sockets and, with "pg" when
# root, its parent can be entered by the postgres user.
dir_fits() {
    [ ${#1} -le $INCD_MAX_DIR_LEN ] || return 1
    if [ "${2:-}" = pg ] && is_root; then
        runuser -u postgres -- test -x "$(dirname "$1")" 2>/dev/null || return 1
    fi
}

# state_dir PATH [pg]: makes PATH a directory, or, when PATH does not fit
# (dir_fits), a symlink to one under /tmp named after the checkout. Prints
# the real directory. An existing directory or symlink is kept as it is.
state_dir() {
    local path=$1 need=${2:-} base target
    if [ -L "$path" ]; then
        target=$(readlink "$path")
    elif [ -d "$path" ] || dir_fits "$path" "$need"; then
        mkdir -p "$path" || return 1
        (cd "$path" && pwd -P)
        return
    else
        base="/tmp/incidentd-$(id -u)-$(printf '%s' "$INCD_ROOT" | cksum | cut -d ' ' -f 1)"
        target="$base/$(basename "$path")"
        ln -s "$target" "$path" || return 1
    fi
    base=$(dirname "$target")
    if [ ! -d "$base" ]; then
        mkdir -p "$base" || return 1
        # The postgres user must be able to enter it (umask may say 077).
        chmod 755 "$base" || return 1
    fi
    [ -O "$base" ] || fail "$base belongs to someone else" || return 1
    mkdir -p "$target" || return 1
    printf '%s\n' "$target"
}

# -------------------------------------------------------------- PostgreSQL
#
# A cluster of the scripts: initdb'd with superuser "postgres", trust
# authentication (a loopback-only dev/test server: any local user may
# connect, so never keep anything there that matters), listening on
# 127.0.0.1:PORT and on a unix socket in its data directory. PostgreSQL
# refuses to run as root, so as root everything runs as the postgres user.

# as_pg_owner CMD...: runs CMD as the cluster's owner, from / (the caller's
# directory may be closed to postgres).
as_pg_owner() {
    if is_root; then
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

# pg_ctl_owner DATADIR PG_CTL_ARGS...: pg_ctl for that cluster.
pg_ctl_owner() {
    local dir=$1
    shift
    as_pg_owner "$INCD_PG_BIN/pg_ctl" -D "$dir" "$@"
}

pg_running() { pg_ctl_owner "$1" status >/dev/null 2>&1; }

# pg_configure DATADIR PORT: (re)writes the settings the scripts own.
pg_configure() {
    local dir=$1 port=$2
    printf '%s\n' \
        "# Written by scripts/lib.sh (pg_configure): loopback-only dev/test cluster." \
        "listen_addresses = '127.0.0.1'" \
        "port = $port" \
        "unix_socket_directories = '${dir//\'/\'\'}'" \
        "unix_socket_permissions = 0700" \
        "# The change feed (docs/REPORTING.md) needs logical decoding." \
        "wal_level = logical" |
        as_pg_owner tee "$dir/incidentd.conf" >/dev/null
}

# pg_init DATADIR PORT: creates the cluster unless DATADIR holds one; either
# way it will listen on PORT at the next start.
pg_init() {
    local dir=$1 port=$2 out
    [ -x "$INCD_PG_BIN/initdb" ] || fail "$INCD_PG_BIN/initdb not found (package postgresql-15)" || return 1
    if [ ! -f "$dir/PG_VERSION" ]; then
        mkdir -p "$dir" && chmod 700 "$dir" || return 1
        if is_root; then
            id postgres >/dev/null 2>&1 || fail "no postgres user (package postgresql-15)" || return 1
            chown postgres:postgres "$dir" || return 1
        fi
        out=$(as_pg_owner "$INCD_PG_BIN/initdb" -D "$dir" -U postgres -A trust \
            -E UTF8 --no-locale --no-instructions 2>&1) || {
            printf '%s\n' "$out" >&2
            fail "initdb failed for $dir"
            return 1
        }
        printf '%s\n' "include = 'incidentd.conf'" |
            as_pg_owner tee -a "$dir/postgresql.conf" >/dev/null || return 1
    fi
    pg_configure "$dir" "$port"
}

# pg_start DATADIR [PG_CTL_ARG...]: starts the cluster unless it runs; waits
# until it accepts connections. Its log is DATADIR/server.log.
pg_start() {
    local dir=$1
    shift
    pg_running "$dir" && return 0
    pg_ctl_owner "$dir" -l "$dir/server.log" -w -t 60 -s "$@" start || {
        tail -n 20 "$dir/server.log" >&2 2>/dev/null
        fail "PostgreSQL in $dir did not start"
    }
}

# pg_stop DATADIR [PG_CTL_ARG...]: fast shutdown (pass "-m immediate" to
# crash it); a no-op when it is not running.
pg_stop() {
    local dir=$1
    shift
    [ -f "$dir/PG_VERSION" ] || return 0
    pg_running "$dir" || return 0
    pg_ctl_owner "$dir" -w -t 60 -s -m fast "$@" stop
}

# pg_restart DATADIR [PG_CTL_ARG...]
pg_restart() {
    local dir=$1
    shift
    pg_ctl_owner "$dir" -l "$dir/server.log" -w -t 60 -s -m fast "$@" restart
}

# pg_create_db PORT NAME: creates database NAME on the local cluster unless
# it exists.
pg_create_db() {
    local port=$1 name=$2
    [[ $name =~ ^[a-z_][a-z0-9_]*$ ]] || fail "bad database name: $name" || return 1
    printf '%s\n' "SELECT 'CREATE DATABASE $name' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$name')\\gexec" |
        "$INCD_PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 \
            "postgresql://postgres@127.0.0.1:$port/postgres" >/dev/null
}

# pg_replica_init DATADIR PORT PRIMARY_PORT: a streaming replica of the
# scripts' cluster on 127.0.0.1:PRIMARY_PORT in DATADIR (pg_basebackup -R as
# postgres: initdb's pg_hba already trusts local replication connections,
# and roles come with the copy), to listen on PORT at its next start
# (pg_start). DATADIR must not hold a cluster yet.
pg_replica_init() {
    local dir=$1 port=$2 primary_port=$3 out
    [ ! -f "$dir/PG_VERSION" ] || fail "$dir already holds a cluster" || return 1
    mkdir -p "$dir" && chmod 700 "$dir" || return 1
    if is_root; then
        chown postgres:postgres "$dir" || return 1
    fi
    out=$(as_pg_owner "$INCD_PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$primary_port" -U postgres \
        -D "$dir" -R -X stream -c fast 2>&1) || {
        printf '%s\n' "$out" >&2
        fail "pg_basebackup from port $primary_port failed"
        return 1
    }
    # The copy has the primary's log and its port and socket directory.
    as_pg_owner rm -f "$dir/server.log" "$dir/postmaster.opts" || return 1
    pg_configure "$dir" "$port"
}

# pg_bench_cluster DIR PORT DB: a cluster in DIR on PORT with the
# benchmark's settings (no checkpoint in a run; tests/bench/run.sh), started,
# with database DB. For the benchmark scripts that need no incidentd.
pg_bench_cluster() {
    pg_init "$1" "$2" || return 1
    printf '%s\n' "shared_buffers = 512MB" "max_wal_size = 8GB" "checkpoint_timeout = 30min" |
        as_pg_owner tee "$1/bench.conf" >/dev/null || return 1
    printf '%s\n' "include = 'bench.conf'" | as_pg_owner tee -a "$1/postgresql.conf" >/dev/null || return 1
    pg_start "$1" && pg_create_db "$2" "$3"
}

# --------------------------------------------------------------- incidentd

# incidentd_start BIN PIDFILE LOG SOCKET DATABASE_URL PUBLIC_URL WORKERS
# [ARG...]: starts incidentd detached (own session, stdin closed, output
# appended to LOG) with ARG... as further flags (--allow-owner), waits for
# its socket and pid file, and leaves the master's pid in PIDFILE (written
# by incidentd itself).
incidentd_start() {
    local bin=$1 pidfile=$2 log=$3 sock=$4 db=$5 public=$6 workers=$7 pid i
    shift 7
    [ -x "$bin" ] || fail "$bin not built" || return 1
    mkdir -p "$(dirname "$pidfile")" "$(dirname "$log")" "$(dirname "$sock")" || return 1
    rm -f "$pidfile"
    [ -S "$sock" ] && rm -f "$sock"
    # The command substitution's subshell exits at once, so incidentd is
    # nobody's child here: it outlives up.sh. setsid makes it a process
    # group leader, so a stuck master and its workers can be killed as one
    # group (by that pid). $! is incidentd itself: setsid only forks when
    # it is already a group leader, and a background job here is not.
    pid=$(setsid "$bin" --database-url "$db" --listen "$sock" --workers "$workers" \
        --public-url "$public" --log-level info --pid-file "$pidfile" \
        --socket-mode 0660 "$@" </dev/null >>"$log" 2>&1 &
        echo $!)
    for ((i = 0; i < 300; i++)); do
        if [ -S "$sock" ] && pidfile_pid "$pidfile" incidentd >/dev/null; then
            [ "$(head -n 1 "$pidfile")" = "$pid" ] ||
                warn "incidentd pid file says $(head -n 1 "$pidfile"), started $pid"
            return 0
        fi
        pid_alive "$pid" || break
        sleep 0.1
    done
    tail -n 30 "$log" >&2 2>/dev/null
    if pid_alive "$pid"; then
        kill -KILL -- "-$pid" 2>/dev/null
        fail "incidentd (pid $pid) did not create $sock and $pidfile within 30 s; killed"
    else
        fail "incidentd exited during start-up (log: $log)"
    fi
}

# incidentd_stop PIDFILE [SECONDS]: SIGTERM to the master (it drains its
# workers); after SECONDS (default 20) SIGKILL to its process group.
incidentd_stop() {
    local pidfile=$1 secs=${2:-20} pid
    pid=$(pidfile_pid "$pidfile" incidentd) || {
        rm -f "$pidfile"
        return 0
    }
    kill -TERM "$pid" 2>/dev/null
    if ! wait_gone "$pid" "$secs"; then
        warn "incidentd (pid $pid) still running after ${secs}s: SIGKILL to its group"
        kill -KILL -- "-$pid" 2>/dev/null
        wait_gone "$pid" 5 || fail "could not stop incidentd (pid $pid)" || return 1
    fi
    # Workers the master left behind (its group outlives it while they run):
    # give them a moment to finish (sanitizer reports come at exit), then
    # SIGKILL, so that nothing still writes the log once this returns.
    local i
    for ((i = 0; i < 50; i++)); do
        kill -0 -- "-$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 -- "-$pid" 2>/dev/null; then
        warn "incidentd workers of group $pid outlived the master: SIGKILL"
        kill -KILL -- "-$pid" 2>/dev/null
    fi
    rm -f "$pidfile"
}

# ------------------------------------------------------------------- nginx

# nginx_render PREFIX LISTEN SOCKET [WORKER_PROCESSES [KEEPALIVE]]: writes
# PREFIX/nginx.conf from nginx/standalone.conf.in and checks it. KEEPALIVE
# is off (the default: a new FastCGI connection per request) or a number of
# kept upstream connections (with fastcgi_keep_conn on).
nginx_render() {
    local prefix=$1 listen=$2 sock=$3 workers=${4:-1} keepalive=${5:-off} conf user_line
    local ka_line="# no upstream keepalive" kc_line="fastcgi_keep_conn off;"
    if [ "$keepalive" != off ]; then
        ka_line="keepalive $keepalive;"
        kc_line="fastcgi_keep_conn on;"
    fi
    mkdir -p "$prefix/logs" "$prefix/tmp" || return 1
    conf=$(<"$INCD_ROOT/nginx/standalone.conf.in") || return 1
    if is_root; then
        user_line="user root;"
    else
        user_line="# (not root: the workers run as $(id -un))"
    fi
    # Quoted replacements: bash 5.2 would expand & in them otherwise.
    conf=${conf//@USER_LINE@/"$user_line"}
    conf=${conf//@WORKER_PROCESSES@/"$workers"}
    conf=${conf//@KEEPALIVE_LINE@/"$ka_line"}
    conf=${conf//@KEEP_CONN_LINE@/"$kc_line"}
    conf=${conf//@PREFIX@/"$prefix"}
    conf=${conf//@LISTEN@/"$listen"}
    conf=${conf//@SOCKET@/"$sock"}
    conf=${conf//@NGINX_CONF_DIR@/"$INCD_ROOT/nginx"}
    printf '%s\n' "$conf" >"$prefix/nginx.conf" || return 1
    nginx_cmd "$prefix" -t -q
}

# nginx_cmd PREFIX ARG...: nginx with that prefix, config and error log.
nginx_cmd() {
    local prefix=$1
    shift
    /usr/sbin/nginx -p "$prefix/" -c "$prefix/nginx.conf" -e "$prefix/logs/error.log" "$@"
}

# nginx_start PREFIX: starts the rendered config (the master daemonizes and
# writes PREFIX/nginx.pid); reloads it when that nginx already runs.
nginx_start() {
    local prefix=$1 pid i
    if pid=$(pidfile_pid "$prefix/nginx.pid" nginx); then
        kill -HUP "$pid"
        return 0
    fi
    rm -f "$prefix/nginx.pid"
    nginx_cmd "$prefix" </dev/null || {
        tail -n 5 "$prefix/logs/error.log" >&2 2>/dev/null
        fail "nginx did not start (config $prefix/nginx.conf)"
        return 1
    }
    for ((i = 0; i < 100; i++)); do
        pidfile_pid "$prefix/nginx.pid" nginx >/dev/null && return 0
        sleep 0.1
    done
    fail "nginx wrote no pid file in $prefix"
}

# nginx_stop PREFIX: graceful stop (QUIT), then TERM, then KILL.
nginx_stop() {
    local prefix=$1 pid
    pid=$(pidfile_pid "$prefix/nginx.pid" nginx) || return 0
    kill -QUIT "$pid" 2>/dev/null
    wait_gone "$pid" 10 && return 0
    kill -TERM "$pid" 2>/dev/null
    wait_gone "$pid" 5 && return 0
    warn "nginx (pid $pid) ignored QUIT and TERM: SIGKILL"
    kill -KILL "$pid" 2>/dev/null
    wait_gone "$pid" 5
}

# ------------------------------------------------------------------ probes

# wait_for_url URL [SECONDS [STATUS]]: polls until URL answers STATUS
# (default 200).
wait_for_url() {
    local url=$1 secs=${2:-30} want=${3:-200} code i
    for ((i = 0; i < secs * 5; i++)); do
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url" 2>/dev/null) || true
        [ "$code" = "$want" ] && return 0
        sleep 0.2
    done
    fail "$url did not answer $want within ${secs}s (last: ${code:-none})"
}

# free_port [TAKEN...]: prints a TCP port free on 127.0.0.1, below Linux's
# ephemeral range (so outgoing connections will not grab it meanwhile) and
# not among TAKEN.
free_port() {
    "$INCD_PYTHON" - "$@" <<'EOF'
import random, socket, sys
taken = {int(a) for a in sys.argv[1:]}
for _ in range(500):
    port = random.randint(20000, 32000)
    if port in taken:
        continue
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        continue
    finally:
        s.close()
    print(port)
    sys.exit(0)
sys.exit("incidentd: error: no free port found")
EOF
}

# ------------------------------------------------------------------- stack
#
# One stack lives in one directory DIR:
#   DIR/pg                the cluster (absent with an external DATABASE_URL)
#   DIR/run               incidentd.sock, incidentd.pid
#   DIR/log/incidentd.log incidentd's stderr
#   DIR/nginx             nginx prefix: nginx.conf, nginx.pid, logs/, tmp/
# DIR/pg and DIR/run may be symlinks to /tmp (state_dir).

# stack_paths DIR: sets STACK_RUN STACK_SOCK STACK_PIDFILE STACK_LOG
# STACK_NGINX for DIR, creating DIR/run.
stack_paths() {
    local dir=$1
    STACK_RUN=$(state_dir "$dir/run") || return 1
    STACK_SOCK="$STACK_RUN/incidentd.sock"
    STACK_PIDFILE="$STACK_RUN/incidentd.pid"
    STACK_LOG="$dir/log/incidentd.log"
    STACK_NGINX="$dir/nginx"
}

# The roles of a stack (docs/SCHEMA.md, "Roles and privileges"): in its own
# cluster, the superuser postgres runs incidentctl roles setup, which
# creates INCD_OWNER_ROLE (owns the schema, runs migrate) and INCD_APP_ROLE
# (incidentd connects as it and can do only what the API needs).
INCD_OWNER_ROLE=incidentd_owner
INCD_APP_ROLE=incidentd_app
INCD_REPORTING_ROLE=incidentd_reporting

# stack_start DIR BUILD_DIR PG_PORT HTTP_PORT [WORKERS]: brings up (or
# completes) the stack in DIR with the binaries of BUILD_DIR: cluster
# (unless STACK_DATABASE_URL is set: an existing server), database
# "incidentd", roles, migrations, incidentd, nginx on 127.0.0.1:HTTP_PORT.
# Parts already running are kept. incidentd's public URL (permalinks) is
# STACK_PUBLIC_URL when set, else the stack's own URL.
#
# In its own cluster: roles setup as postgres, migrate as the owner,
# incidentd as the runtime role. With STACK_DATABASE_URL, that URL
# migrates, and incidentd connects with STACK_APP_DATABASE_URL when set,
# else with STACK_DATABASE_URL itself and --allow-owner (with a warning):
# roles on someone else's server are theirs to make.
#
# STACK_SINGLE_ROLE=1 runs everything as postgres, as releases before the
# roles did (tests/upgrade/make-fixture.sh builds one of those).
#
# Sets STACK_URL, STACK_METRICS_URL (incidentd's GET /metrics; empty for an
# incidentd started without it), STACK_DATABASE_URL (the owner's URL: migrate, incidentctl,
# psql), STACK_APP_DATABASE_URL (the runtime role's; empty when incidentd
# runs as the owner), STACK_REPORTING_DATABASE_URL (the read-only
# reporting role's, docs/REPORTING.md; with STACK_DATABASE_URL, as given,
# maybe empty), STACK_SUPERUSER_URL and STACK_PGDATA (own cluster
# only; else empty) and the stack_paths variables.
stack_start() {
    local dir=$1 build_dir=$2 pg_port=$3 http_port=$4 workers=${5:-4}
    local extra=()
    [ "$workers" -ge 2 ] 2>/dev/null || fail "incidentd needs at least 2 workers here (got $workers)" || return 1
    stack_paths "$dir" || return 1
    STACK_URL="http://127.0.0.1:$http_port"
    STACK_SUPERUSER_URL=""
    local worker_db
    if [ -z "${STACK_DATABASE_URL:-}" ]; then
        STACK_PGDATA=$(state_dir "$dir/pg" pg) || return 1
        pg_init "$STACK_PGDATA" "$pg_port" || return 1
        pg_start "$STACK_PGDATA" || return 1
        pg_create_db "$pg_port" incidentd || return 1
        STACK_SUPERUSER_URL="postgresql://postgres@127.0.0.1:$pg_port/incidentd"
        local owner=$INCD_OWNER_ROLE app=$INCD_APP_ROLE
        if [ "${STACK_SINGLE_ROLE:-0}" = 1 ]; then
            owner=postgres app=postgres
        else
            "$build_dir/src/incidentctl" --database-url "$STACK_SUPERUSER_URL" roles setup \
                --owner-role "$owner" --app-role "$app" --reporting-role "$INCD_REPORTING_ROLE" ||
                fail "incidentctl roles setup failed" || return 1
        fi
        STACK_DATABASE_URL="postgresql://$owner@127.0.0.1:$pg_port/incidentd"
        STACK_APP_DATABASE_URL="postgresql://$app@127.0.0.1:$pg_port/incidentd"
        STACK_REPORTING_DATABASE_URL=""
        [ "${STACK_SINGLE_ROLE:-0}" = 1 ] ||
            STACK_REPORTING_DATABASE_URL="postgresql://$INCD_REPORTING_ROLE@127.0.0.1:$pg_port/incidentd"
        # The workers use the cluster's unix socket: cheaper per query than
        # loopback TCP for both sides (docs/BENCHMARKS-HOWTO.md).
        worker_db="postgresql://$app@/incidentd?host=$STACK_PGDATA&port=$pg_port"
    else
        STACK_PGDATA=""
        STACK_APP_DATABASE_URL=${STACK_APP_DATABASE_URL:-}
        STACK_REPORTING_DATABASE_URL=${STACK_REPORTING_DATABASE_URL:-}
        worker_db=${STACK_APP_DATABASE_URL:-$STACK_DATABASE_URL}
        if [ -z "$STACK_APP_DATABASE_URL" ]; then
            warn "incidentd connects with DATABASE_URL, as the schema's owner (--allow-owner);" \
                "set INCIDENTD_APP_DATABASE_URL to a runtime role's URL (incidentctl roles setup)"
            extra=(--allow-owner)
        fi
    fi
    DATABASE_URL=$STACK_DATABASE_URL "$build_dir/src/incidentctl" migrate || fail "incidentctl migrate failed" || return 1
    # Metrics (docs/METRICS.md) on a loopback port of their own, never
    # through nginx; the URL is kept beside the pid file for a restart of
    # the stack that finds incidentd running.
    if ! pidfile_pid "$STACK_PIDFILE" incidentd >/dev/null; then
        local metrics_port
        metrics_port=$(free_port "$pg_port" "$http_port") || return 1
        extra+=(--metrics-listen "127.0.0.1:$metrics_port")
        printf '%s\n' "http://127.0.0.1:$metrics_port/metrics" >"$STACK_RUN/metrics-url"
        incidentd_start "$build_dir/src/incidentd" "$STACK_PIDFILE" "$STACK_LOG" "$STACK_SOCK" \
            "$worker_db" "${STACK_PUBLIC_URL:-$STACK_URL}" "$workers" "${extra[@]}" || return 1
    fi
    STACK_METRICS_URL=$(cat "$STACK_RUN/metrics-url" 2>/dev/null) || STACK_METRICS_URL=""
    # No upstream keepalive: nginx/incidentd.conf says why.
    nginx_render "$STACK_NGINX" "127.0.0.1:$http_port" "$STACK_SOCK" 1 off || return 1
    nginx_start "$STACK_NGINX" || return 1
    wait_for_url "$STACK_URL/healthz" 30
}

# stack_stop DIR: stops nginx, incidentd and the cluster of DIR by their pid
# files; what is not running is skipped.
stack_stop() {
    local dir=$1 rc=0
    nginx_stop "$dir/nginx" || rc=1
    if [ -e "$dir/run" ]; then
        incidentd_stop "$(readlink -f "$dir/run")/incidentd.pid" || rc=1
    fi
    if [ -e "$dir/pg" ]; then
        pg_stop "$(readlink -f "$dir/pg")" || rc=1
    fi
    return "$rc"
}
