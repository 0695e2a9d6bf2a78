#!/usr/bin/env bash
# incidentd behind an existing nginx, then two incidentd hosts behind one
# nginx upstream (docs/NGINX.md; scripts/test.sh runs it after the e2e
# step). About 40 s.
#
#   1. A copy of the nginx-common package's pristine /etc/nginx, with an
#      unrelated static site added, gets incidentd the way docs/NGINX.md
#      says: its configuration blocks are read from that file. The static
#      site, Debian's default site and the API must all answer as they
#      should (the API's JSON errors stay in the API's server).
#   2. conf.d/incidentd.conf becomes the "several hosts" upstream of
#      docs/NGINX.md with two incidentd instances (unix sockets standing in
#      for the two addresses), and tests/nginx/hosts.py stops one host
#      after the other under the load of tests/faults: zero failed
#      requests, every acknowledged create stored once.
#
# The copy runs without root and without the machine's ports: every
# absolute path of the configuration (/etc/nginx, /usr/share/incidentd,
# /run, /var/log/nginx) is moved under ROOT (TMP/root), `listen 80` becomes
# a free loopback port (Debian's `listen [::]:80` is dropped), the API
# site's server_name becomes 127.0.0.1, and the several hosts' addresses
# become the two sockets. One file of the test's own,
# conf.d/00-test-temp-paths.conf, keeps nginx's temp files out of
# /var/lib/nginx. The `user www-data` line stays: as root the sockets get
# group www-data, as the docs say; as another user nginx ignores it.
#
# usage: tests/nginx/run.sh BUILD_DIR
# KEEP=1 keeps the temp dir (configuration and logs).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"

[ $# = 1 ] || {
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
}
build_dir=$(cd "$1" && pwd -P)
workers=2
docs="$INCD_ROOT/docs/NGINX.md"
# nginx's workers (www-data when root) read the copy and the static site.
umask 022

tmp=$(mktemp -d /tmp/incidentd-nginx.XXXXXX)
chmod 755 "$tmp"
root="$tmp/root"
etc="$root/etc/nginx"
nginx_pidfile="$root/run/nginx.pid"
nginx_errors="$root/var/log/nginx/error.log"

# The two hosts: A on the socket path of the shipped incidentd.conf.
sock_a="$root/run/incidentd/incidentd.sock"
sock_b="$root/run/incidentd/host-b.sock"
pid_a="$tmp/host-a/incidentd.pid"
pid_b="$tmp/host-b/incidentd.pid"
log_a="$tmp/host-a/incidentd.log"
log_b="$tmp/host-b/incidentd.log"

nginx_test_stop() {
    local pid
    pid=$(pidfile_pid "$nginx_pidfile" nginx) || return 0
    kill -QUIT "$pid" 2>/dev/null
    wait_gone "$pid" 10 && return 0
    kill -KILL "$pid" 2>/dev/null
    wait_gone "$pid" 5
}

cleanup() {
    local st=$?
    nginx_test_stop || true
    incidentd_stop "$pid_a" || true
    incidentd_stop "$pid_b" || true
    stack_stop "$tmp/stack" || true
    if [ "${KEEP:-0}" = 1 ] || [ "$st" != 0 ]; then
        say "kept $tmp (logs: root/var/log/nginx/, host-a/, host-b/, stack/pg/server.log)"
    else
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT

check() {
    local what=$1
    shift
    if "$@"; then
        say "ok: $what"
    else
        fail "$what"
    fi
}

# ------------------------------------------------------- the pristine copy

# debian_etc_nginx DEST: the nginx-common package's /etc/nginx as shipped:
# its files and directories, taken from /etc/nginx when every conffile
# there still has the package's checksum, else from the package itself
# (the apt cache, or apt-get download), plus the sites-enabled/default link
# its postinst makes.
debian_etc_nginx() {
    local dest=$1 src=/etc/nginx f sum rest ver deb
    pkg_installed nginx-common || fail "package nginx-common is not installed" || return 1
    while read -r f sum rest; do
        case $f in /etc/nginx/*) ;; *) continue ;; esac
        [ "$rest" = obsolete ] && continue
        if [ ! -f "$f" ] || [ "$(md5sum <"$f" | cut -d ' ' -f 1)" != "$sum" ]; then
            src=""
            break
        fi
    done < <(dpkg-query -W -f='${Conffiles}\n' nginx-common)
    if [ -z "$src" ]; then
        ver=$(dpkg-query -W -f='${Version}' nginx-common)
        deb="/var/cache/apt/archives/nginx-common_${ver//:/%3a}_all.deb"
        if [ ! -f "$deb" ]; then
            (cd "$tmp" && apt-get -q download "nginx-common=$ver" >/dev/null) ||
                fail "/etc/nginx has local changes and nginx-common $ver could not be downloaded" || return 1
            deb=$(echo "$tmp"/nginx-common_*.deb)
        fi
        dpkg-deb -x "$deb" "$tmp/deb" || return 1
        src="$tmp/deb/etc/nginx"
        say "/etc/nginx has local changes: the copy comes from $deb"
    fi
    while read -r f; do
        case $f in /etc/nginx | /etc/nginx/*) ;; *) continue ;; esac
        if [ -d "$src${f#/etc/nginx}" ]; then
            mkdir -p "$dest${f#/etc/nginx}"
        else
            cp "$src${f#/etc/nginx}" "$dest${f#/etc/nginx}"
        fi
    done < <(dpkg -L nginx-common)
    ln -s /etc/nginx/sites-available/default "$dest/sites-enabled/default"
}

# docs_block MARKER: the fenced block after "<!-- tests/nginx/run.sh: MARKER -->"
# in docs/NGINX.md.
docs_block() {
    local out
    out=$(awk -v m="<!-- tests/nginx/run.sh: $1 -->" '
        $0 == m { found = 1; next }
        found && /^```/ { if (inside) exit; inside = 1; next }
        inside { print }' "$docs")
    [ -n "$out" ] || fail "no block \"$1\" in $docs" || return 1
    printf '%s\n' "$out"
}

# relocate FILE: the test's only changes to a configuration file (see the
# header): absolute paths under ROOT, port 80 to the test's port.
relocate() {
    sed -i -E \
        -e "s#(^|[^A-Za-z0-9_.-])/(etc/nginx|usr/share/incidentd|run|var/log/nginx)/#\\1$root/\\2/#g" \
        -e "s#^([[:space:]]*)listen 80( default_server)?;#\\1listen 127.0.0.1:$port\\2;#" \
        -e '/^[[:space:]]*listen \[::\]:80/d' \
        -e "s#^([[:space:]]*)server_name incidentd\\.example\\.com;#\\1server_name 127.0.0.1;#" \
        "$1"
}

# The symlinks too: sites-enabled/default -> /etc/nginx/sites-available/default.
relocate_links() {
    local l
    for l in "$etc"/sites-enabled/*; do
        [ -L "$l" ] || continue
        case $(readlink "$l") in
        /etc/nginx/*) ln -sfn "$root$(readlink "$l")" "$l" ;;
        esac
    done
}

nginx_test() { /usr/sbin/nginx -p "$etc/" -c "$etc/nginx.conf" -e "$nginx_errors" "$@"; }

nginx_test_start() {
    local i
    nginx_test -t -q || return 1
    nginx_test </dev/null || fail "nginx did not start (error log: $nginx_errors)" || return 1
    for ((i = 0; i < 100; i++)); do
        pidfile_pid "$nginx_pidfile" nginx >/dev/null && return 0
        sleep 0.1
    done
    fail "nginx wrote no pid file $nginx_pidfile"
}

# ------------------------------------------------------------ the database

# stack_start for the database (cluster, roles, migrations); its own
# incidentd and nginx are stopped at once: the hosts here are started on
# the socket paths the nginx configuration names.
pg_port=$(free_port)
stack_http_port=$(free_port "$pg_port")
port=$(free_port "$pg_port" "$stack_http_port")
mkdir -p "$tmp/stack"
STACK_DATABASE_URL=""
stack_start "$tmp/stack" "$build_dir" "$pg_port" "$stack_http_port" "$workers"
nginx_stop "$STACK_NGINX"
incidentd_stop "$STACK_PIDFILE"
worker_db="postgresql://$INCD_APP_ROLE@/incidentd?host=$STACK_PGDATA&port=$pg_port"
ctl="$build_dir/src/incidentctl"
export DATABASE_URL="$STACK_DATABASE_URL"

# TMP/host-start PIDFILE LOG SOCKET: starts an incidentd "host" on the
# stack's database; as root its socket gets the group of nginx's workers.
# A script, so that hosts.py restarts the hosts the same way.
cat >"$tmp/host-start" <<EOF
#!/usr/bin/env bash
set -euo pipefail
. $(printf '%q' "$INCD_ROOT/scripts/lib.sh")
incidentd_start $(printf '%q' "$build_dir/src/incidentd") "\$1" "\$2" "\$3" \\
    $(printf '%q %q %q' "$worker_db" "http://127.0.0.1:$port" "$workers")
if is_root; then chgrp www-data "\$3"; fi
EOF
chmod 755 "$tmp/host-start"

# ------------------------------------------------- 1. behind your nginx

say "1. behind an existing nginx: $etc, port $port"
mkdir -p "$root/run/incidentd" "$root/var/log/nginx" "$root/usr/share/incidentd/nginx" \
    "$root/var/www/static" "$root/var/lib/nginx"
debian_etc_nginx "$etc"
cp "$INCD_ROOT"/nginx/{incidentd.conf,incidentd-locations.conf,errors.conf} "$root/usr/share/incidentd/nginx/"

# The unrelated site, already there before incidentd.
echo "static site $$" >"$root/var/www/static/index.html"
cat >"$etc/sites-available/static-site" <<EOF
server {
    listen 80;
    server_name static.example.com;
    root $root/var/www/static;
    location / {
        try_files \$uri \$uri/ =404;
    }
}
EOF
ln -s /etc/nginx/sites-available/static-site "$etc/sites-enabled/static-site"
{
    echo "# tests/nginx/run.sh: nginx's temp files under the test's root."
    for d in client_body fastcgi proxy scgi uwsgi; do
        echo "${d}_temp_path $root/var/lib/nginx/$d;"
    done
} >"$etc/conf.d/00-test-temp-paths.conf"

# incidentd, as docs/NGINX.md says.
docs_block "conf.d/incidentd.conf" >"$etc/conf.d/incidentd.conf"
docs_block "sites-enabled/incidentd" >"$etc/sites-enabled/incidentd"
say "added, from docs/NGINX.md: conf.d/incidentd.conf ($(wc -l <"$etc/conf.d/incidentd.conf") line)," \
    "sites-enabled/incidentd ($(wc -l <"$etc/sites-enabled/incidentd") lines)"

while read -r f; do relocate "$f"; done < <(find "$etc" "$root/usr/share/incidentd" -type f)
relocate_links

"$tmp/host-start" "$pid_a" "$log_a" "$sock_a"
nginx_test_start

org=$("$ctl" org create "nginx test")
key=$("$ctl" api-key create --org "$org" --name "nginx test" --role viewer --role incident_creator)
[[ $key =~ ^inc_[0-9a-f]+$ ]] || fail "incidentctl api-key create printed no token" || exit 1

# http [CURL_ARG...]: "STATUS CONTENT_TYPE" on the first line, the body
# after it.
http() {
    curl -s --max-time 10 -o "$tmp/body" -D "$tmp/head" -w '%{http_code} %{content_type}\n' "$@" || true
    cat "$tmp/body"
}
api="http://127.0.0.1:$port"
# json_get PATH < response: a field of the body ("a.b"), or nothing.
json_get() {
    "$INCD_PYTHON" -c '
import json, sys
sys.stdin.readline()
try:
    v = json.load(sys.stdin)
    for k in sys.argv[1].split("."):
        v = v[int(k)] if isinstance(v, list) else v[k]
    print(v)
except Exception:
    pass' "$1"
}
is_json_404() {
    local r=$1
    [[ $(head -n 1 <<<"$r") == "404 application/json"* ]] &&
        [ "$(json_get type <<<"$r")" = not_found ] &&
        grep -qi '^x-request-id: [0-9a-f]' "$tmp/head"
}
is_html_404() {
    [[ $(head -n 1 <<<"$1") == "404 text/html"* ]] && grep -q '<center>nginx' <<<"$1"
}

r=$(http -H 'Host: static.example.com' "$api/")
check "static site: GET / answers its file" test "$r" = "200 text/html
static site $$"
r=$(http -H 'Host: static.example.com' "$api/missing")
check "static site: its 404 is nginx's own HTML page" is_html_404 "$r"
r=$(http -H 'Host: static.example.com' -H "Authorization: Bearer $key" "$api/v1/identity")
check "static site: /v1/identity is not the API (nginx's HTML 404)" is_html_404 "$r"
r=$(http -H 'Host: other.example.com' "$api/v1/identity")
check "Debian's default site: /v1/identity is not the API (nginx's HTML 404)" is_html_404 "$r"
r=$(http "$api/healthz")
check "API: /healthz answers 200" test "$(head -n 1 <<<"$r")" = "200 application/json; charset=utf-8"
r=$(http -H "Authorization: Bearer $key" "$api/v1/identity")
check "API: authenticated GET /v1/identity answers the key's name" \
    test "$(head -n 1 <<<"$r") $(json_get identity.name <<<"$r")" = "200 application/json; charset=utf-8 nginx test"
r=$(http -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
    -d '{"idempotency_key": "nginx-existing-1", "visibility": "public", "name": "Behind your nginx"}' \
    "$api/v1/incidents")
check "API: POST /v1/incidents creates the incident" \
    test "$(head -n 1 <<<"$r") $(json_get incident.name <<<"$r")" = "200 application/json; charset=utf-8 Behind your nginx"
r=$(http -H "Authorization: Bearer $key" "$api/v1/no-such-route")
check "API: unknown API route answers incidentd's JSON 404" is_json_404 "$r"
r=$(http "$api/no-such-page")
check "API: a path outside the API answers errors.conf's JSON 404" is_json_404 "$r"
r=$(http "$api/")
check "API: / answers errors.conf's JSON 404 (no welcome page)" is_json_404 "$r"
if grep -E '\[(emerg|alert|crit|error)\]' "$nginx_errors" >&2; then
    fail "nginx's error log has errors"
    exit 1
fi

# --------------------------------------------------- 2. several hosts

say "2. several hosts: two incidentd behind one upstream"
docs_block "conf.d/incidentd.conf (several hosts)" >"$etc/conf.d/incidentd.conf"
# The docs' two addresses become the two sockets, in order.
sed -i -E -e "0,/server 10\\.0\\.0\\.11:9000/s##server unix:$sock_a#" \
    -e "0,/server 10\\.0\\.0\\.12:9000/s##server unix:$sock_b#" "$etc/conf.d/incidentd.conf"
grep -q "unix:$sock_b" "$etc/conf.d/incidentd.conf" || fail "the several hosts' block changed: no second server" || exit 1
"$tmp/host-start" "$pid_b" "$log_b" "$sock_b"
nginx_test -t -q
kill -HUP "$(pidfile_pid "$nginx_pidfile" nginx)"
wait_for_url "$api/healthz" 10

export INCIDENTD_URL="$api"
export DATABASE_URL="$STACK_SUPERUSER_URL"
export INCIDENTCTL="$ctl"
export FAULTS_WORKERS=$workers
export NGINX_ERROR_LOG="$nginx_errors"
export NGINX_PIDFILE="$nginx_pidfile"
export PG_SOCKET="$STACK_PGDATA/.s.PGSQL.$pg_port"
export HOST_A_PIDFILE="$pid_a" HOST_A_LOG="$log_a" HOST_A_SOCKET="$sock_a"
export HOST_B_PIDFILE="$pid_b" HOST_B_LOG="$log_b" HOST_B_SOCKET="$sock_b"
HOST_A_START=$(printf '%q ' "$tmp/host-start" "$pid_a" "$log_a" "$sock_a")
HOST_B_START=$(printf '%q ' "$tmp/host-start" "$pid_b" "$log_b" "$sock_b")
export HOST_A_START HOST_B_START
# faults.py's own: the pid file of a host that stays up, and its restart.
export INCIDENTD_PIDFILE="$pid_b" INCIDENTD_START="$HOST_B_START"

"$INCD_PYTHON" "$INCD_ROOT/tests/nginx/hosts.py"
