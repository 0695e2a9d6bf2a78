#!/bin/sh
# Checks an installed incidentd tree: the files `make install` must put
# there, the programs run, the SQL is sql/'s, both man pages render without
# a warning and document every option and command, and systemd accepts the
# units. Called by tests/install/run.sh (on a DESTDIR) and by
# `make installcheck` (on the prefix).
#
# usage: check-tree.sh DESTDIR SBINDIR BINDIR PKGDATADIR MANDIR UNITDIR SYSCONFDIR SRCDIR
#   DESTDIR may be empty; UNITDIR is empty when configured without units.
# INCD_REQUIRE_ALL=1: fail instead of skipping when man or systemd-analyze
# is missing (CI sets it; the packages are in scripts/lib.sh).
set -eu

D=$1 sbindir=$2 bindir=$3 pkgdatadir=$4 mandir=$5 unitdir=$6 sysconfdir=$7 srcdir=$8
errors=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/incd-tree.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

bad() {
    printf 'check-tree: FAIL %s\n' "$*" >&2
    errors=$((errors + 1))
}
ok() { printf 'check-tree: ok   %s\n' "$*" >&2; }
need_tool() {
    command -v "$1" >/dev/null 2>&1 && return 0
    if [ "${INCD_REQUIRE_ALL:-0}" = 1 ]; then
        bad "$1 not found (Debian package $2)"
    else
        printf 'check-tree: skip %s (no %s; Debian package %s)\n' "$3" "$1" "$2" >&2
    fi
    return 1
}

# ----------------------------------------------------------- the files
exe() { [ -f "$D$1" ] && [ -x "$D$1" ] || bad "missing executable $1"; }
file() { [ -f "$D$1" ] && [ -s "$D$1" ] || bad "missing file $1"; }
exe "$sbindir/incidentd"
exe "$bindir/incidentctl"
[ ! -e "$D$bindir/incidentd" ] || bad "incidentd is in $bindir too (it belongs in sbin)"
file "$mandir/man8/incidentd.8"
file "$mandir/man1/incidentctl.1"
file "$pkgdatadir/incidentd.env.example"
file "$sysconfdir/default/incidentd"
for f in incidentd.conf incidentd-locations.conf errors.conf; do
    file "$pkgdatadir/nginx/$f"
    cmp -s "$srcdir/nginx/$f" "$D$pkgdatadir/nginx/$f" || bad "$pkgdatadir/nginx/$f differs from nginx/$f"
done
if [ -n "$unitdir" ]; then
    file "$unitdir/incidentd.service"
    file "$unitdir/incidentd.socket"
fi
# The environment file may hold a password.
mode=$(stat -c %a "$D$sysconfdir/default/incidentd" 2>/dev/null || echo none)
[ "$mode" = 600 ] || bad "$sysconfdir/default/incidentd has mode $mode, not 600"
for f in "$mandir/man8/incidentd.8" "$mandir/man1/incidentctl.1" "$pkgdatadir/incidentd.env.example" \
    ${unitdir:+"$unitdir/incidentd.service" "$unitdir/incidentd.socket"}; do
    if grep -n '@[A-Za-z_]*@' "$D$f" >"$tmp/subst" 2>/dev/null; then
        bad "$f has unsubstituted variables: $(head -n 3 "$tmp/subst")"
    fi
done

# The SQL: the same files as sql/, byte for byte, and no others.
for kind in migrations code; do
    (cd "$srcdir/sql/$kind" && ls -- *.sql) >"$tmp/want" 2>/dev/null || true
    (cd "$D$pkgdatadir/sql/$kind" && ls -- *.sql) >"$tmp/got" 2>/dev/null || true
    [ -s "$tmp/want" ] || bad "no sql/$kind/*.sql in $srcdir"
    cmp -s "$tmp/want" "$tmp/got" || bad "$pkgdatadir/sql/$kind holds other files than sql/$kind: $(diff "$tmp/want" "$tmp/got" | grep '^[<>]' | tr '\n' ' ')"
    while read -r f; do
        cmp -s "$srcdir/sql/$kind/$f" "$D$pkgdatadir/sql/$kind/$f" || bad "$pkgdatadir/sql/$kind/$f differs from sql/$kind/$f"
    done <"$tmp/want"
done
[ "$errors" = 0 ] && ok "files"

# ---------------------------------------------------------- the programs
version=$("$D$sbindir/incidentd" --version 2>&1) || bad "incidentd --version failed: $version"
case $version in "incidentd "[0-9]*) ok "$version" ;; *) bad "incidentd --version said: $version" ;; esac
"$D$sbindir/incidentd" --help >"$tmp/incidentd.help" 2>&1 || bad "incidentd --help failed"
"$D$bindir/incidentctl" --help >"$tmp/incidentctl.help" 2>&1 || bad "incidentctl --help failed"
grep -q '^usage: incidentctl' "$tmp/incidentctl.help" || bad "incidentctl --help printed no usage"

# ------------------------------------------------------------ man pages
if need_tool man man-db "the man pages' rendering"; then
    # 80 columns, or more where the install paths (named in FILES) would
    # not fit in one line (distcheck's prefix is long).
    width=80
    for p in "$pkgdatadir" "$unitdir" "$sysconfdir"; do
        [ $((${#p} + 40)) -le "$width" ] || width=$((${#p} + 40))
    done
    for page in "$mandir/man8/incidentd.8" "$mandir/man1/incidentctl.1"; do
        name=$(basename "$page")
        if ! MANWIDTH=$width man --warnings -l "$D$page" >"$tmp/$name.txt" 2>"$tmp/$name.err"; then
            bad "man -l $page failed: $(cat "$tmp/$name.err")"
        elif [ -s "$tmp/$name.err" ]; then
            bad "man -l $page warned: $(head -n 5 "$tmp/$name.err")"
        else
            ok "man -l $page: $(wc -l <"$tmp/$name.txt") lines at $width columns, no warnings"
        fi
    done
    # The pages' text with roff's escapes for '-' and fonts undone (the
    # rendered text would break words across lines).
    for page in "$mandir/man8/incidentd.8" "$mandir/man1/incidentctl.1"; do
        sed 's/\\-/-/g; s/\\f[BIRP]//g' "$D$page" >"$tmp/$(basename "$page").txt"
    done
    # Every option incidentd --help lists, with its variable, is in incidentd(8).
    n=0
    for opt in $(grep -oE '^  --[a-z-]+' "$tmp/incidentd.help"); do
        n=$((n + 1))
        grep -q -- "$opt" "$tmp/incidentd.8.txt" || bad "incidentd(8) does not document $opt"
    done
    for var in $(grep -oE '\(env [A-Z_]+' "$tmp/incidentd.help" | cut -c6-); do
        grep -q -- "$var" "$tmp/incidentd.8.txt" || bad "incidentd(8) does not name $var"
    done
    [ "$n" -ge 10 ] || bad "incidentd --help listed only $n options"
    # Every command incidentctl --help lists is in incidentctl(1).
    sed -n '/^Commands:/,/^$/p' "$tmp/incidentctl.help" | sed -n 's/^  \([a-z][a-z-]*\( [a-z][a-z-]*\)\{0,1\}\).*/\1/p' |
        sed 's/ [A-Z].*//; s/ *$//' >"$tmp/commands"
    [ "$(wc -l <"$tmp/commands")" -ge 5 ] || bad "incidentctl --help listed only $(wc -l <"$tmp/commands") commands"
    while read -r c; do
        grep -q -- "$c" "$tmp/incidentctl.1.txt" || bad "incidentctl(1) does not document '$c'"
    done <"$tmp/commands"
    ok "man pages document $n incidentd options and $(wc -l <"$tmp/commands") incidentctl commands"
fi

# ---------------------------------------------------------- systemd units
if [ -n "$unitdir" ] && need_tool systemd-analyze systemd "systemd-analyze verify"; then
    # verify resolves ExecStart= and Documentation=man: on this system:
    # point them at the tree under DESTDIR.
    mkdir -p "$tmp/units"
    sed "s|^ExecStart=$sbindir/|ExecStart=$D$sbindir/|" "$D$unitdir/incidentd.service" >"$tmp/units/incidentd.service"
    cp "$D$unitdir/incidentd.socket" "$tmp/units/"
    if ! (cd "$tmp/units" && MANPATH="$D$mandir" systemd-analyze verify ./incidentd.socket ./incidentd.service) >"$tmp/verify" 2>&1; then
        bad "systemd-analyze verify: $(cat "$tmp/verify")"
    elif [ -s "$tmp/verify" ]; then
        bad "systemd-analyze verify warned: $(cat "$tmp/verify")"
    else
        ok "systemd-analyze verify incidentd.service incidentd.socket"
    fi
    # The hardening's score ("OK" and better is below 2.0 of 10).
    if (cd "$tmp/units" && systemd-analyze security --offline=yes --threshold=20 ./incidentd.service) >"$tmp/security" 2>&1; then
        ok "$(tail -n 1 "$tmp/security" | sed 's/^[^A-Za-z]*//')"
    else
        bad "systemd-analyze security: $(grep -E 'exposure|rror' "$tmp/security")"
    fi
fi

[ "$errors" = 0 ] || { printf 'check-tree: %d failures\n' "$errors" >&2; exit 1; }
printf 'check-tree: installed tree OK\n' >&2
