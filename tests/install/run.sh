#!/usr/bin/env bash
# The installation, as a packager or an admin runs it: `make install` into a
# DESTDIR, the tree checked (check-tree.sh through `make installcheck`: files,
# programs, SQL, man pages, systemd units), an administrator's edited
# environment file kept by a second install and by uninstall, and
# `make uninstall` leaving nothing else behind. A few seconds.
#
# usage: tests/install/run.sh [BUILD_DIR]   (default: build/default)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
build=${1:-$root/build/default}
[ -f "$build/Makefile" ] || { echo "install: $build is not configured" >&2; exit 1; }
tmp=$(mktemp -d /tmp/incidentd-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
dest=$tmp/root

mk() { make -s --no-print-directory -C "$build" "$@"; }
# var NAME: a directory variable of the build, fully expanded.
var() { printf 'print-var:\n\t@echo $(%s)\n' "$1" | make -s --no-print-directory -C "$build" -f Makefile -f - print-var; }
files() { (cd "$dest" && find . -type f -o -type l | sort); }
fail() { echo "install: FAIL $*" >&2; exit 1; }

mk install DESTDIR="$dest" >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log" >&2; fail "make install"; }
echo "install: $(files | wc -l) files under DESTDIR" >&2
INCD_REQUIRE_ALL=1 mk installcheck DESTDIR="$dest"

envfile=$dest$(var sysconfdir)/default/incidentd
example=$dest$(var pkgdatadir)/incidentd.env.example
cmp -s "$envfile" "$example" || fail "$envfile is not the example"

# An administrator's settings survive a reinstall and an uninstall.
printf 'DATABASE_URL=postgresql:///edited\n' >>"$envfile"
cp "$envfile" "$tmp/edited"
mk install DESTDIR="$dest" >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log" >&2; fail "make install (again)"; }
grep -q 'keeping .*default/incidentd' "$tmp/install.log" || fail "the second install did not say it kept the environment file"
cmp -s "$envfile" "$tmp/edited" || fail "make install overwrote the edited $envfile"
mk uninstall DESTDIR="$dest" >"$tmp/uninstall.log" 2>&1 || { cat "$tmp/uninstall.log" >&2; fail "make uninstall"; }
left=$(files)
[ "$left" = "./${envfile#"$dest"/}" ] || fail "make uninstall left: $left"
echo "install: reinstall and uninstall kept the edited environment file, and only it" >&2

# Unedited, it goes with the rest.
rm -rf "$dest"
mk install DESTDIR="$dest" >/dev/null 2>&1 || fail "make install (fresh)"
mk uninstall DESTDIR="$dest" >/dev/null 2>&1 || fail "make uninstall (fresh)"
left=$(files)
[ -z "$left" ] || fail "make uninstall left: $left"
echo "install: uninstall of an unedited install leaves no file" >&2
