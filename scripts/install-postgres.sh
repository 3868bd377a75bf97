#!/usr/bin/env bash
# install-postgres.sh: make sure PostgreSQL's server programs (initdb,
# pg_ctl, postgres) are installed for the dualwrite module's end-to-end
# tests, installing Debian's `postgresql` package with apt-get when they are
# missing. Idempotent: with them present it prints where they are and does
# nothing else. Exits non-zero, saying why, when it cannot install them (not
# Debian/Ubuntu, not root and no sudo, apt-get failed).
#
# Debian keeps the server programs off PATH, in
# /usr/lib/postgresql/<major>/bin; the tests look there themselves (or in
# $DUALRUN_PG_BIN, or on PATH). They start their own throw-away cluster as
# the `postgres` system user the package creates: this script does not start
# or configure any server.
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1; }

# pg_bindir prints the directory holding initdb and pg_ctl, newest major
# first, or nothing.
pg_bindir() {
	local d
	if [ -n "${DUALRUN_PG_BIN:-}" ] && [ -x "$DUALRUN_PG_BIN/initdb" ] && [ -x "$DUALRUN_PG_BIN/pg_ctl" ]; then
		echo "$DUALRUN_PG_BIN"
		return
	fi
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -n -r); do
		if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ]; then
			echo "$d"
			return
		fi
	done
	if have initdb && have pg_ctl && have postgres; then
		dirname "$(command -v initdb)"
	fi
}

# ready: the programs are there, and so is an unprivileged user to run them
# (postgres refuses to run as root).
ready() {
	[ -n "$(pg_bindir)" ] && { [ "$(id -u)" -ne 0 ] || id postgres >/dev/null 2>&1; }
}

if ready; then
	echo "install-postgres: $("$(pg_bindir)/postgres" --version) in $(pg_bindir)"
	exit 0
fi

fail() {
	echo "install-postgres: $*" >&2
	echo "install-postgres: install PostgreSQL by hand (Debian: apt-get install postgresql) or set DUALRUN_PG_BIN to the directory holding initdb and pg_ctl" >&2
	exit 1
}

have apt-get || fail "initdb/pg_ctl are missing and apt-get is not available (not Debian or Ubuntu)"

sudo=()
if [ "$(id -u)" -ne 0 ]; then
	have sudo || fail "initdb/pg_ctl are missing; installing them needs root (or sudo)"
	sudo=(sudo -n)
fi

echo "install-postgres: installing Debian's postgresql package (apt-get)"
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! "${sudo[@]}" apt-get update -qq >"$log" 2>&1; then
	cat "$log" >&2
	fail "apt-get update failed"
fi
# The package creates the `postgres` system user and, where an init system
# runs, starts a default cluster on port 5432; the tests do not use it.
if ! "${sudo[@]}" apt-get install -y -qq --no-install-recommends postgresql >"$log" 2>&1; then
	cat "$log" >&2
	fail "apt-get install postgresql failed"
fi

ready || fail "the postgresql package installed, but initdb/pg_ctl/postgres or the postgres user are missing"
echo "install-postgres: $("$(pg_bindir)/postgres" --version) in $(pg_bindir)"
