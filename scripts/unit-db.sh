#!/usr/bin/env bash
# unit-db.sh COMMAND [ARGS...] — runs COMMAND with KQI_DATABASE_URL set to a
# private, throw-away PostgreSQL 15 server, then stops the server and removes
# its files, also when COMMAND fails or is interrupted. `make test-unit` uses
# it so the tests that need only a database run without the dev cluster
# (whose PostgreSQL is one of its services).
#
# The server listens on a Unix socket in its own temporary directory, never on
# TCP: no port to find free, nothing another process could reach. Its one
# role, kqi, is a superuser with trust authentication on that socket. As root
# the server runs as the postgres user (initdb refuses root); otherwise as
# the calling user. Durability is off and the files are in memory where
# possible: the data dies with the run. Shared memory segments are files in
# the data directory too (mmap), so removing it leaves nothing behind.
set -euo pipefail

PG_VERSION=15
PG_BIN=/usr/lib/postgresql/$PG_VERSION/bin
# runuser lives there, and a minimal PATH (env -i) lacks it.
PATH=$PATH:/usr/sbin:/sbin

die() {
	echo "unit-db: $*" >&2
	exit 1
}

(($#)) || die "usage: scripts/unit-db.sh COMMAND [ARGS...]"

# install_postgres installs Debian's postgresql-15 without letting its
# maintainer scripts start Debian's own cluster (as dev-cluster.sh does).
install_postgres() {
	local policy=/usr/sbin/policy-rc.d ours=0 rc=0
	if [[ ! -e $policy ]]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod 0755 "$policy"
		ours=1
	fi
	{ apt-get update -q && apt-get install -y -q --no-install-recommends postgresql-$PG_VERSION; } >&2 || rc=$?
	((ours)) && rm -f "$policy"
	return "$rc"
}

if [[ ! -x $PG_BIN/initdb ]]; then
	if ((EUID == 0)) && command -v apt-get >/dev/null; then
		echo "unit-db: PostgreSQL $PG_VERSION is not installed ($PG_BIN/initdb is missing); installing postgresql-$PG_VERSION" >&2
		install_postgres || die "apt-get install postgresql-$PG_VERSION failed"
	else
		die "PostgreSQL $PG_VERSION is not installed ($PG_BIN/initdb is missing): install Debian's postgresql-$PG_VERSION (apt-get install postgresql-$PG_VERSION, as root)"
	fi
fi

# as_pg runs a PostgreSQL binary as the server's owner.
if ((EUID == 0)); then
	id -u postgres >/dev/null 2>&1 || die "no postgres user to run the server as (initdb refuses root)"
	as_pg() { (cd / && runuser -u postgres -- "$@"); }
else
	as_pg() { "$@"; }
fi

# In memory when there is a tmpfs: on disk, even with fsync off, each test's
# CREATE DATABASE takes ten times longer.
base=${TMPDIR:-/tmp}
[[ -d /dev/shm && -w /dev/shm ]] && base=/dev/shm
dir=$(mktemp -d "$base/kqi-unit-db.XXXXXX")
data=$dir/data
cleanup() {
	if [[ -e $data/postmaster.pid ]]; then
		as_pg "$PG_BIN/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true
	fi
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
((EUID == 0)) && chown postgres: "$dir"

as_pg "$PG_BIN/initdb" -D "$data" -U kqi --auth=trust -E UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 ||
	die "initdb failed: $(cat "$dir/initdb.log")"
as_pg "$PG_BIN/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 30 \
	-o "-c listen_addresses= -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c dynamic_shared_memory_type=mmap" \
	start >/dev/null || die "PostgreSQL did not start: $(cat "$dir/server.log")"

export KQI_DATABASE_URL="postgres://kqi@/postgres?host=$dir&sslmode=disable"
"$@"
