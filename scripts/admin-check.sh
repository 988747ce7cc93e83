#!/usr/bin/env bash
# admin-check.sh — runs the commands of docs/admin.md against the dev
# cluster, as the guide's reader would on a real one, and fails on the
# first that does not give what the guide says. scripts/admin_test.go runs
# it (make test) and checks that every command of the guide is here or is
# marked there as one this machine cannot run.
#
#   scripts/admin-check.sh path/to/kqi-portal
#
# Needs root and the dev cluster's environment ($KQI_DEV_DIR/env). It uses a
# scratch database (dropped at the end) and two portals of its own on free
# ports; it changes nothing of the cluster. (No `| grep -q` here: with
# pipefail, a writer cut off by grep -q fails the pipe.)
set -euo pipefail
portal=${1:?usage: admin-check.sh path/to/kqi-portal}
: "${KQI_DEV_DIR:?needs the dev cluster environment}"
export SLURM_CONF KQI_SLURM_USER KQI_SHARED_ROOT KQI_SLURM_JWT_KEY_FILE KQI_SLURM_REST_URL

say() { printf 'admin-check: %s\n' "$*" >&2; }
fail() { say "FAILED: $*"; exit 1; }

work=$(mktemp -d)
pids=()
scratch_db=kqi_admin_check_$$
main_db=$KQI_DATABASE_URL # the scratch databases are made and dropped from here
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	psql -X -q "$main_db" -c "DROP DATABASE IF EXISTS $scratch_db" >/dev/null 2>&1 || true
	psql -X -q "$main_db" -c "DROP DATABASE IF EXISTS ${scratch_db}_restored" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

# --- Slurm: JWT for slurmrestd, memory limits, the nodes -------------------
say "slurm.conf settings"
scontrol show config | grep -E '^(AuthAltTypes|AuthAltParameters|TaskPlugin|SelectTypeParameters) ' >"$work/config"
grep -Eq '^AuthAltTypes += auth/jwt' "$work/config" || fail "AuthAltTypes is not auth/jwt"
grep -Eq '^AuthAltParameters += jwt_key=' "$work/config" || fail "AuthAltParameters has no jwt_key"
grep -Eq '^TaskPlugin += .*task/cgroup' "$work/config" || fail "TaskPlugin lacks task/cgroup: memory limits are not enforced"
grep -Eiq '^SelectTypeParameters += CR_.*MEMORY' "$work/config" || fail "memory is not a consumable resource"
stat -c '%U %a' "$KQI_SLURM_JWT_KEY_FILE" | grep -E '^slurm 600$' >/dev/null || fail "the JWT key is not slurm's and 0600"
grep -q ConstrainRAMSpace=yes "$(dirname "$SLURM_CONF")/cgroup.conf" || fail "cgroup.conf does not constrain RAM"
sinfo -N -o '%N %P %G %m' >"$work/nodes"
[[ $(awk 'NR > 1 { print $1 }' "$work/nodes" | sort -u | wc -l) -ge 2 ]] || fail "fewer than two nodes: $(cat "$work/nodes")"
for node in "${KQI_DEV_NODE:?}" "${KQI_DEV_NODE2:?}"; do
	scontrol show node "$node" | grep -o 'NodeAddr=[^ ]*' >>"$work/addrs"
done
grep -q "NodeAddr=${KQI_DEV_NODE2_ADDR:?}" "$work/addrs" || fail "node 2 is not at its own address: $(cat "$work/addrs")"

say "slurmrestd: its account, and a token for the cluster account"
[[ $(ps -o user= -C slurmrestd | sort -u) == slurmrest ]] || fail "slurmrestd does not run as its own account"
curl -fsS -H "X-SLURM-USER-NAME: $KQI_SLURM_USER" -H "X-SLURM-USER-TOKEN: $(scontrol token username=$KQI_SLURM_USER lifespan=60 | cut -d= -f2)" "$KQI_SLURM_REST_URL/slurm/v0.0.38/ping" >"$work/ping"
grep -q '"pings"' "$work/ping" || fail "slurmrestd ping: $(cat "$work/ping")"

# --- The shared root and the job account ------------------------------------
say "shared root"
stat -c '%U %a' "$KQI_SHARED_ROOT" | grep -E "^$KQI_SLURM_USER 7[05]0$" >/dev/null || fail "shared root not the job account's and 0700/0750: $(stat -c '%U %a' "$KQI_SHARED_ROOT")"
runuser -u "$KQI_SLURM_USER" -- test -w "$KQI_SHARED_ROOT" || fail "the job account cannot write the shared root"

# --- Apptainer facts: reported, the dev cluster has no Apptainer ------------
say "/dev/fuse is mode $(stat -c '%a' /dev/fuse) (0666 lets the job account mount SIFs)"

# --- Database: migrations, the administrator, backup and restore ------------
say "migrations on a scratch database"
psql -X -q "$KQI_DATABASE_URL" -c "CREATE DATABASE $scratch_db" >/dev/null
scratch_url=${KQI_DATABASE_URL%/*}/$scratch_db?sslmode=disable
export KQI_DATABASE_URL=$scratch_url
"$portal" migrate
"$portal" migrate # a second run has nothing to do
KQI_ADMIN_USER=admin KQI_ADMIN_TENANT=ops "$portal" create-admin >"$work/admin"
grep -q '^password:' "$work/admin" || fail "create-admin printed no password line"

say "backup and restore"
pg_dump --format=custom --file="$work/kqi.dump" "$KQI_DATABASE_URL"
pg_restore --list "$work/kqi.dump" | grep 'TABLE public jobs' >/dev/null || fail "the dump has no jobs table"
psql -X -q "$main_db" -c "CREATE DATABASE ${scratch_db}_restored" >/dev/null
pg_restore --no-owner --dbname="${KQI_DATABASE_URL%/*}/${scratch_db}_restored?sslmode=disable" "$work/kqi.dump"
[[ $(psql -X -A -t "${KQI_DATABASE_URL%/*}/${scratch_db}_restored?sslmode=disable" -c "SELECT username FROM users") == admin ]] ||
	fail "the restored database lacks the administrator"

# --- Two replicas: one poller, both serve, /metrics from the host -----------
say "two portals on one database"
export KQI_POLL_INTERVAL=1s KQI_SECRET_KEY_FILE=$work/secret.key KQI_RUNTIME=bubblewrap KQI_IMAGE_ROOT=${KQI_DEV_IMAGE_ROOT:?}
(umask 077 && head -c 32 /dev/urandom >"$KQI_SECRET_KEY_FILE")
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
ports=()
for i in 1 2; do
	port=$(free_port)
	ports+=("$port")
	# Shells on the first replica only (docs/admin.md §9).
	shell=off
	((i == 1)) && shell=127.0.0.1:$(free_port)
	KQI_LISTEN=127.0.0.1:$port KQI_SHELL_LISTEN=$shell "$portal" serve >"$work/portal-$i.log" 2>&1 &
	pids+=($!)
done
for port in "${ports[@]}"; do
	for ((i = 0; i < 100; i++)); do
		curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
		sleep 0.2
	done
	curl -fsS "http://127.0.0.1:$port/readyz" | grep '"slurm":"ok"' >/dev/null || fail "portal on $port not ready: $(tail -n 5 "$work"/portal-*.log)"
done
pollers() { psql -X -A -t "$KQI_DATABASE_URL" -c "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE l.locktype = 'advisory' AND a.datname = current_database()"; }
for ((i = 0; i < 50; i++)); do
	[[ $(pollers) == 0 ]] || break
	sleep 0.2
done
sleep 2 # both have tried by now (KQI_POLL_INTERVAL=1s)
[[ $(pollers) == 1 ]] || fail "not exactly one poller holds the advisory lock: $(pollers)"
curl -fsS "http://127.0.0.1:${ports[0]}/metrics" | grep '^kqi_poll_duration_seconds_count' >/dev/null || fail "/metrics lacks the poll series"
[[ $(curl -s -o /dev/null -w '%{http_code}' -H 'X-Forwarded-For: 203.0.113.9' "http://127.0.0.1:${ports[0]}/metrics") == 404 ]] ||
	fail "/metrics answers through a proxy"
say "all checks passed"
