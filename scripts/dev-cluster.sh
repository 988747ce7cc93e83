#!/usr/bin/env bash
# dev-cluster.sh — a real two-node cluster for KQI development and tests:
# munge, slurmctld, two slurmd (the second a node of its own: its own host
# name, address, port, spool and run directories), slurmrestd (Slurm 22.05,
# REST v0.0.38, JWT), memory limits enforced by cgroups,
# PostgreSQL 15, an sshd on 127.0.0.1:2222, a shared filesystem root, a Git
# server with the sample model repositories (cmd/kqi-devgit on
# 127.0.0.1:8790) and a bubblewrap image with python3 (and PIL) and git.
#
#   scripts/dev-cluster.sh up       install what is missing, start, wait, write $DIR/env
#   scripts/dev-cluster.sh status   one line per service; non-zero exit if any is down
#   scripts/dev-cluster.sh down     stop what `up` started (by pid files); keep the state
#
# All state (configs, keys, logs, spool, pid files) lives under one directory,
# ${KQI_DEV_DIR:-/var/lib/kqi-dev}; the exceptions are Debian's PostgreSQL
# cluster 15/main, munge's socket in /run/munge and the /etc/slurm/slurm.conf
# symlink that lets plain `sinfo`/`sbatch` find our config.
# The first `up` on a machine builds the dev image with debootstrap, about a
# minute (KQI_DEV_DEBIAN_MIRROR overrides the mirror, http_proxy is honoured);
# later ones take a second or two.
# Must run as root. The Makefile reads the environment with `set -a; . $DIR/env`.
set -euo pipefail

DIR=${KQI_DEV_DIR:-/var/lib/kqi-dev}
NODE=$(hostname -s)
CLUSTER=kqi-dev
SERVICE_USER=kqi
REST_HOST=127.0.0.1
REST_PORT=6820
SSH_HOST=127.0.0.1
SSH_PORT=2222
PG_VERSION=15
PG_CLUSTER=main
PG_PORT=5432
GPU_TYPE=a100
GPUS=4
CPU_PARTITION=cpu
GPU_PARTITION=gpu-a100
# The second compute node: a slurmd in its own UTS and mount namespaces,
# so it has its own host name (what jobs on it see), its own address and
# port, and its own spool and run directories, as a separate machine would;
# the shared filesystem, munge and the network are the machine's. It is in
# both partitions, without GPUs (the GPU tests count one node's four).
NODE2=kqi-node2
NODE2_ADDR=127.0.0.2
NODE2_PORT=6828

SLURM_DIR=$DIR/slurm
SLURM_CONF_FILE=$SLURM_DIR/slurm.conf
JWT_KEY=$SLURM_DIR/jwt_hs256.key
CTLD_PID=$SLURM_DIR/run/slurmctld.pid
SLURMD_PID=$SLURM_DIR/run/slurmd.pid
CTLD_LOG=$SLURM_DIR/log/slurmctld.log
SLURMD_LOG=$SLURM_DIR/log/slurmd-$NODE.log
# Node 2's own directories, bound over $SLURM_DIR/run and spool in its namespace.
NODE2_DIR=$SLURM_DIR/$NODE2
SLURMD2_PID=$NODE2_DIR/run/slurmd.pid
SLURMD2_LOG=$SLURM_DIR/log/slurmd-$NODE2.log
REST_DIR=$DIR/slurmrestd
REST_PID=$REST_DIR/slurmrestd.pid
REST_LOG=$REST_DIR/slurmrestd.log
MUNGE_DIR=$DIR/munge
MUNGE_PID=$MUNGE_DIR/munged.pid
MUNGE_LOG=$MUNGE_DIR/munged.log
SSH_DIR=$DIR/ssh
SSHD_CONFIG=$SSH_DIR/sshd_config
SSHD_PID=$SSH_DIR/sshd.pid
SSHD_LOG=$SSH_DIR/sshd.log
PG_DIR=$DIR/postgres
PG_PASSWORD_FILE=$PG_DIR/password
PG_STARTED_MARK=$PG_DIR/started-by-dev-cluster
SHARED=$DIR/shared
ENV_FILE=$DIR/env
BIN_DIR=$DIR/bin
# The Git server: bare repositories under $DEVGIT_REPOS/{public,private},
# served read-only by kqi-devgit running as its own unprivileged user.
DEVGIT_USER=kqigit
DEVGIT_HOST=127.0.0.1
DEVGIT_PORT=8790
DEVGIT_URL=http://$DEVGIT_HOST:$DEVGIT_PORT
DEVGIT_DIR=$DIR/git
DEVGIT_BIN=$BIN_DIR/kqi-devgit
DEVGIT_REPOS=$DEVGIT_DIR/repos
DEVGIT_TOKEN=$DEVGIT_DIR/token
DEVGIT_PID=$DEVGIT_DIR/kqi-devgit.pid
DEVGIT_LOG=$DEVGIT_DIR/kqi-devgit.log
SAMPLE_REPO=mnist
SAMPLE_SUM=$DEVGIT_DIR/$SAMPLE_REPO.sha256
# The mail server: kqi-devsmtp takes the portal's notification mails and
# writes each as a file under $DEVSMTP_MAIL for the tests to read.
DEVSMTP_HOST=127.0.0.1
DEVSMTP_PORT=2525
DEVSMTP_DIR=$DIR/smtp
DEVSMTP_MAIL=$DEVSMTP_DIR/mail
DEVSMTP_BIN=$BIN_DIR/kqi-devsmtp
DEVSMTP_PID=$DEVSMTP_DIR/kqi-devsmtp.pid
DEVSMTP_LOG=$DEVSMTP_DIR/kqi-devsmtp.log
# The dev image. slurm.Bubblewrap maps a reference name:tag to the directory
# ImageRoot/name/tag, so local/python:3 is $IMAGE_ROOT/local/python/3: a
# Debian root filesystem (usr, etc, var…) that bwrap binds read-only.
IMAGE_ROOT=$DIR/images
IMAGE_REF=local/python:3
IMAGE_DIR=$IMAGE_ROOT/local/python/3
# What the image was built from; a different recipe rebuilds it. The name
# starts with a dot, which no image tag may, so it is never taken for one.
IMAGE_STAMP=$IMAGE_ROOT/local/python/.3.recipe
# python3-pil: preprocessing scripts written for KAMONOHASHI resize images
# with PIL (SPEC §3).
IMAGE_PACKAGES=python3,python3-pil,git,ca-certificates
IMAGE_LOG=$IMAGE_ROOT/debootstrap.log
# The repository this script belongs to: kqi-devgit and the sample model come from it.
SRC=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)

# Every Slurm command this script runs uses our config, whatever /etc/slurm holds.
export SLURM_CONF=$SLURM_CONF_FILE
export DEBIAN_FRONTEND=noninteractive

log() { printf 'dev-cluster: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# fail_service NAME LOGFILE: the one way `up` gives up on a service.
fail_service() {
	log "error: $1 did not come up; last lines of $2:"
	if [[ -r $2 ]]; then tail -n 25 "$2" >&2; else log "($2 does not exist)"; fi
	exit 1
}

# wait_for NAME SECONDS LOGFILE CMD...: poll CMD until it succeeds or time runs out.
wait_for() {
	local name=$1 secs=$2 logfile=$3
	shift 3
	local deadline=$((SECONDS + secs))
	until "$@" >/dev/null 2>&1; do
		((SECONDS < deadline)) || fail_service "$name" "$logfile"
		sleep 0.2
	done
}

# proc_is PID COMM: is PID alive (not a zombie waiting for init) and called COMM?
proc_is() {
	local comm state
	comm=$(cat "/proc/$1/comm" 2>/dev/null) && [[ $comm == "$2" ]] || return 1
	state=$(awk '$1 == "State:" { print $2; exit }' "/proc/$1/status" 2>/dev/null) && [[ $state != Z ]]
}

# pid_of PIDFILE COMM: print the pid if the file names a live process called COMM.
# The name check matters: the machine is reused with old pid files, and
# slurmctld/slurmd would SIGTERM whatever process a stale pid file names.
pid_of() {
	local file=$1 comm=$2 pid
	[[ -s $file ]] || return 1
	read -r pid <"$file" || true
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	proc_is "$pid" "$comm" || return 1
	printf '%s\n' "$pid"
}

# drop_stale_pidfile PIDFILE COMM
drop_stale_pidfile() {
	if [[ -e $1 ]] && ! pid_of "$1" "$2" >/dev/null; then rm -f "$1"; fi
}

# stop_pidfile NAME PIDFILE COMM: TERM, wait up to 15 s, then KILL.
stop_pidfile() {
	local name=$1 file=$2 comm=$3 pid i
	if ! pid=$(pid_of "$file" "$comm"); then
		rm -f "$file"
		return 0
	fi
	log "stopping $name (pid $pid)"
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 75; i++)); do
		proc_is "$pid" "$comm" || break
		sleep 0.2
	done
	if proc_is "$pid" "$comm"; then
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$file"
}

# put_file DEST MODE OWNER[:GROUP] < content: write only when the content
# differs (so a warm `up` changes nothing); sets CHANGED=1 when it wrote.
CHANGED=0
put_file() {
	local dest=$1 mode=$2 owner=$3 tmp
	tmp=$(mktemp "$dest.XXXXXX")
	cat >"$tmp"
	if [[ -f $dest ]] && cmp -s "$tmp" "$dest"; then
		rm -f "$tmp"
	else
		mv -f "$tmp" "$dest"
		CHANGED=1
	fi
	chown "$owner" "$dest"
	chmod "$mode" "$dest"
}

# mkdir_owned DIR MODE OWNER[:GROUP]
mkdir_owned() {
	mkdir -p "$1"
	chown "$3" "$1"
	chmod "$2" "$1"
}

# random_token BYTES: URL- and shell-safe random text.
random_token() {
	head -c "$1" /dev/urandom | base64 -w0 | tr '+/' '-_' | tr -d '='
}

# ---------------------------------------------------------------- packages

# fonts-noto-cjk: Chromium draws the Japanese pages of the browser tests
# (and the README's pictures) with real glyphs, not empty boxes.
PACKAGES=(munge slurmctld slurmd slurm-client slurmrestd slurm-wlm-basic-plugins
	slurm-wlm-jwt-plugin openssh-server openssh-client bubblewrap chromium fonts-noto-cjk
	postgresql-15 postgresql-client-15 git debootstrap curl bc socat python3-protobuf zip)

ensure_packages() {
	local missing=() pkg status
	for pkg in "${PACKAGES[@]}"; do
		status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
		[[ $status == "install ok installed" ]] || missing+=("$pkg")
	done
	((${#missing[@]} == 0)) && return 0
	log "installing ${missing[*]}"
	# Keep maintainer scripts from starting system daemons (munge, slurmctld,
	# postgres…) with Debian's configs; this script starts its own.
	local policy=/usr/sbin/policy-rc.d ours=0
	if [[ ! -e $policy ]]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod 0755 "$policy"
		ours=1
	fi
	local rc=0
	{ apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; } || rc=$?
	((ours)) && rm -f "$policy"
	((rc == 0)) || die "apt-get install ${missing[*]} failed"
}

# ---------------------------------------------------------------- users and dirs

ensure_users() {
	if ! id -u slurm >/dev/null 2>&1; then
		useradd --system --user-group --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin slurm
	fi
	# slurmrestd refuses to run as root or SlurmUser.
	if ! id -u slurmrest >/dev/null 2>&1; then
		useradd --system --user-group --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin slurmrest
	fi
	# kqi-devgit gets its own account: it can read the repositories and its
	# token and nothing of the portal's or the jobs'.
	if ! id -u "$DEVGIT_USER" >/dev/null 2>&1; then
		useradd --system --user-group --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin "$DEVGIT_USER"
	fi
	if ! id -u "$SERVICE_USER" >/dev/null 2>&1; then
		useradd --system --user-group --create-home --home-dir "/home/$SERVICE_USER" --shell /bin/bash "$SERVICE_USER"
	fi
	local home
	home=$(getent passwd "$SERVICE_USER" | cut -d: -f6)
	if [[ ! -d $home ]]; then
		mkdir_owned "$home" 0755 "$SERVICE_USER:$SERVICE_USER"
	fi
	# A '!' password marks the account locked and sshd (UsePAM no) would refuse
	# even key logins; '*' means "no password" without locking.
	if [[ $(getent shadow "$SERVICE_USER" | cut -d: -f2) == '!'* ]]; then
		usermod -p '*' "$SERVICE_USER"
	fi
}

ensure_dirs() {
	mkdir_owned "$DIR" 0755 root:root
	mkdir_owned "$SLURM_DIR" 0755 root:root
	mkdir_owned "$SLURM_DIR/state" 0700 slurm:slurm
	mkdir_owned "$SLURM_DIR/spool" 0755 root:root
	mkdir_owned "$SLURM_DIR/log" 0755 slurm:slurm
	mkdir_owned "$SLURM_DIR/run" 0755 slurm:slurm
	mkdir_owned "$NODE2_DIR" 0755 root:root
	mkdir_owned "$NODE2_DIR/run" 0755 slurm:slurm
	mkdir_owned "$NODE2_DIR/spool" 0755 root:root
	mkdir_owned "$REST_DIR" 0755 slurmrest:slurmrest
	mkdir_owned "$MUNGE_DIR" 0700 munge:munge
	mkdir_owned "$SSH_DIR" 0755 root:root
	mkdir_owned "$SSH_DIR/authorized_keys" 0755 root:root
	mkdir_owned "$PG_DIR" 0700 root:root
	mkdir_owned "$DIR/dev" 0755 root:root
	# Every tenant's data is in here: readable by the service account only.
	mkdir_owned "$SHARED" 0750 "$SERVICE_USER:$SERVICE_USER"
	mkdir_owned "$BIN_DIR" 0755 root:root
	mkdir_owned "$DEVGIT_DIR" 0755 root:root
	mkdir_owned "$DEVGIT_REPOS" 0755 root:root
	mkdir_owned "$IMAGE_ROOT" 0755 root:root
	mkdir_owned /run/munge 0755 munge:munge
	mkdir_owned /run/sshd 0755 root:root
	local d
	for d in /var/log/munge /var/lib/munge; do
		[[ -d $d ]] && chown munge:munge "$d"
	done
	# Fake GPUs: Slurm only needs device files to schedule and number them.
	local i
	for ((i = 0; i < GPUS; i++)); do
		[[ -c $DIR/dev/nvidia$i ]] || { rm -f "$DIR/dev/nvidia$i"; mknod -m 0666 "$DIR/dev/nvidia$i" c 1 3; }
	done
}

# ensure_hosts: the second node's name resolves to its address, as node
# names do on a cluster (the shell and TensorBoard reach a job's node by it).
ensure_hosts() {
	if ! grep -qE "^[[:space:]]*${NODE2_ADDR//./\\.}[[:space:]]+([^#]*[[:space:]])?$NODE2([[:space:]]|\$)" /etc/hosts; then
		printf '%s %s # scripts/dev-cluster.sh: the second compute node\n' "$NODE2_ADDR" "$NODE2" >>/etc/hosts
	fi
}

# lock: serialize `up`/`down`; several test runs may start the cluster at once.
# Daemons are started with `9>&-`: one that inherited fd 9 would hold the lock forever.
lock() {
	mkdir -p "$DIR"
	exec 9>"$DIR/.lock"
	flock -w 600 9 || die "another dev-cluster.sh holds $DIR/.lock for too long"
}

# ---------------------------------------------------------------- munge

MUNGE_KEY=
munge_answers() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }

start_munge() {
	if [[ -f /etc/munge/munge.key ]]; then
		MUNGE_KEY=/etc/munge/munge.key
	else
		MUNGE_KEY=$MUNGE_DIR/munge.key
		[[ -s $MUNGE_KEY ]] || head -c 1024 /dev/urandom >"$MUNGE_KEY"
		chown munge:munge "$MUNGE_KEY"
		chmod 0400 "$MUNGE_KEY"
	fi
	if pid_of "$MUNGE_PID" munged >/dev/null; then
		wait_for munge 10 "$MUNGE_LOG" munge_answers
		return
	fi
	rm -f "$MUNGE_PID"
	if munge_answers; then
		log "munge: using the munged already running on /run/munge"
		return
	fi
	log "starting munged"
	runuser -u munge -- /usr/sbin/munged --force --key-file="$MUNGE_KEY" \
		--log-file="$MUNGE_LOG" --pid-file="$MUNGE_PID" --seed-file="$MUNGE_DIR/munged.seed" 9>&- ||
		fail_service munge "$MUNGE_LOG"
	wait_for munge 15 "$MUNGE_LOG" munge_answers
}

# ---------------------------------------------------------------- slurm

write_slurm_config() {
	CHANGED=0
	if [[ ! -s $JWT_KEY ]]; then
		# Printable and without a newline: the portal signs with the file's exact bytes.
		# The key mints tokens for any user, root included: never readable
		# by others, not even between creating and chmod-ing it.
		(umask 077 && random_token 48 >"$JWT_KEY")
	fi
	chown slurm:slurm "$JWT_KEY"
	chmod 0600 "$JWT_KEY"
	put_file "$SLURM_CONF_FILE" 0644 root:root <<EOF
# Written by scripts/dev-cluster.sh; edits are overwritten.
ClusterName=$CLUSTER
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=slurm
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthAltTypes=auth/jwt
AuthAltParameters=jwt_key=$JWT_KEY
StateSaveLocation=$SLURM_DIR/state
SlurmdSpoolDir=$SLURM_DIR/spool
SlurmctldPidFile=$CTLD_PID
SlurmdPidFile=$SLURMD_PID
SlurmctldLogFile=$CTLD_LOG
SlurmdLogFile=$SLURM_DIR/log/slurmd-%n.log
SlurmctldDebug=info
SlurmdDebug=info
# Plain process tracking; task/cgroup (cgroup v1, see cgroup.conf) holds
# each job to its --mem, so a job using more is killed and ends
# OUT_OF_MEMORY, as on a production cluster.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/cgroup
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
GresTypes=gpu
# The node declares more CPUs than the machine has so tests run jobs side by side.
SlurmdParameters=config_overrides
ReturnToService=2
KillWait=5
InactiveLimit=0
MinJobAge=300
# make bench holds 5,000 jobs and submits about 900 more; cancelled ones
# stay for MinJobAge, so two runs back to back need more than the default
# 10,000 (past it every submit is refused with EAGAIN).
MaxJobCount=30000
DefMemPerCPU=256
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=16 RealMemory=16000 Gres=gpu:$GPU_TYPE:$GPUS State=UNKNOWN
NodeName=$NODE2 NodeHostname=$NODE2 NodeAddr=$NODE2_ADDR Port=$NODE2_PORT CPUs=16 RealMemory=16000 State=UNKNOWN
PartitionName=$CPU_PARTITION Nodes=$NODE,$NODE2 Default=YES MaxTime=1-00:00:00 State=UP
PartitionName=$GPU_PARTITION Nodes=$NODE,$NODE2 MaxTime=1-00:00:00 State=UP
EOF
	put_file "$SLURM_DIR/cgroup.conf" 0644 root:root <<EOF
# Written by scripts/dev-cluster.sh. Memory limits only: the machine's
# cgroup v1 memory controller at /sys/fs/cgroup/memory.
CgroupPlugin=cgroup/v1
CgroupMountpoint=/sys/fs/cgroup
ConstrainRAMSpace=yes
ConstrainSwapSpace=no
EOF
	put_file "$SLURM_DIR/gres.conf" 0644 root:root <<EOF
# Written by scripts/dev-cluster.sh. Fake GPUs: character devices (mknod c 1 3).
AutoDetect=off
NodeName=$NODE Name=gpu Type=$GPU_TYPE File=$DIR/dev/nvidia[0-$((GPUS - 1))]
EOF
	SLURM_CONF_CHANGED=$CHANGED

	# Debian's commands read /etc/slurm/slurm.conf; point it at ours unless
	# something else owns that path.
	mkdir -p /etc/slurm
	local etc=/etc/slurm/slurm.conf
	if [[ ! -e $etc && ! -L $etc ]]; then
		ln -s "$SLURM_CONF_FILE" "$etc"
	elif [[ -L $etc && $(readlink "$etc") == "$SLURM_CONF_FILE" ]]; then
		:
	elif [[ -L $etc && ! -e $etc ]]; then
		ln -sfn "$SLURM_CONF_FILE" "$etc" # dangling link, e.g. an old KQI_DEV_DIR
	else
		log "warning: $etc is not ours; plain Slurm commands need SLURM_CONF=$SLURM_CONF_FILE"
	fi
	runuser -u "$SERVICE_USER" -- test -r "$SLURM_CONF_FILE" ||
		die "$SERVICE_USER cannot read $SLURM_CONF_FILE; KQI_DEV_DIR must be reachable by all users"
}

ctld_answers() { timeout 10 scontrol ping 2>/dev/null | grep -q 'is UP'; }

# node_state [NODE]
node_state() { timeout 10 sinfo -h -n "${1:-$NODE}" -o %t 2>/dev/null | head -n 1; }

# node_ready [NODE]
node_ready() {
	case $(node_state "${1:-}") in
	idle | mix | alloc | comp) return 0 ;;
	*) return 1 ;;
	esac
}

# start_slurmd2: node 2's slurmd, in new UTS and mount namespaces where
# the host name is $NODE2 and its own run and spool directories replace
# $SLURM_DIR/run and spool (same paths in slurm.conf, as on another
# machine). slurmd daemonizes; the namespaces live as long as it does.
# share_root makes the shared root a mount point of its own that propagates:
# a filesystem mounted below it later (a test's small tmpfs) reaches the
# second node too, as on a real shared filesystem.
share_root() {
	if ! mountpoint -q "$SHARED"; then
		mount --bind "$SHARED" "$SHARED"
	fi
	mount --make-shared "$SHARED"
}

# node2_sees_shared_mounts: the running second slurmd receives mounts made
# under the shared root (it was started after share_root, as a slave).
node2_sees_shared_mounts() {
	local pid
	pid=$(pid_of "$SLURMD2_PID" slurmd) || return 1
	awk -v root="$SHARED" '$5 == root && / master:/ { found = 1 } END { exit !found }' "/proc/$pid/mountinfo"
}

start_slurmd2() {
	share_root
	# slave: the node's own binds stay its own; mounts under the shared
	# root come in from the host.
	# shellcheck disable=SC2016 # $1… expand in the inner shell
	unshare --uts --mount --propagation slave --fork sh -c '
		mount --bind "$1/run" "$3/run" && mount --bind "$1/spool" "$3/spool" &&
			hostname "$2" && exec /usr/sbin/slurmd -N "$2" -f "$4"' \
		sh "$NODE2_DIR" "$NODE2" "$SLURM_DIR" "$SLURM_CONF_FILE" 9>&-
}

# wait_node NODE LOG: wait until NODE answers, resuming it once if it was
# set aside (e.g. an unexpected reboot from a killed run).
wait_node() {
	local node=$1 log=$2 deadline=$((SECONDS + 45)) resumed=0 state
	until node_ready "$node"; do
		state=$(node_state "$node")
		# down/drain without '*' means slurmd answers but the node was set aside.
		if ((!resumed)) && [[ $state =~ ^(down|drain|drng|fail|failg)$ ]]; then
			log "node $node is $state; resuming it"
			scontrol update nodename="$node" state=resume || true
			resumed=1
		fi
		((SECONDS < deadline)) || {
			log "node $node state: ${state:-unknown}"
			fail_service "slurmd ($node)" "$log"
		}
		sleep 0.3
	done
}

start_slurm() {
	local keep_state=0
	if ((SLURM_CONF_CHANGED)); then
		# A new config: restart rather than trust `scontrol reconfigure` with
		# node changes. slurmctld comes back with its state (no -c), so jobs
		# running meanwhile survive: their slurmstepd outlive slurmd.
		stop_pidfile slurmrestd "$REST_PID" slurmrestd
		stop_pidfile slurmd "$SLURMD_PID" slurmd
		stop_pidfile "slurmd ($NODE2)" "$SLURMD2_PID" slurmd
		if pid_of "$CTLD_PID" slurmctld >/dev/null; then keep_state=1; fi
		stop_pidfile slurmctld "$CTLD_PID" slurmctld
	fi
	drop_stale_pidfile "$CTLD_PID" slurmctld
	if ! pid_of "$CTLD_PID" slurmctld >/dev/null; then
		if ((keep_state)); then
			log "starting slurmctld with its saved state"
			/usr/sbin/slurmctld -f "$SLURM_CONF_FILE" 9>&- || fail_service slurmctld "$CTLD_LOG"
		else
			log "starting slurmctld"
			# -c: a dev cluster starts empty. Jobs left by a killed session or
			# test run would otherwise come back, hold the fake GPUs and skew
			# the next run; the portal reports such jobs as vanished.
			/usr/sbin/slurmctld -c -f "$SLURM_CONF_FILE" 9>&- || fail_service slurmctld "$CTLD_LOG"
		fi
	fi
	wait_for slurmctld 30 "$CTLD_LOG" ctld_answers

	drop_stale_pidfile "$SLURMD_PID" slurmd
	if ! pid_of "$SLURMD_PID" slurmd >/dev/null; then
		log "starting slurmd ($NODE)"
		/usr/sbin/slurmd -f "$SLURM_CONF_FILE" 9>&- || fail_service slurmd "$SLURMD_LOG"
	fi
	drop_stale_pidfile "$SLURMD2_PID" slurmd
	if pid_of "$SLURMD2_PID" slurmd >/dev/null && ! node2_sees_shared_mounts; then
		# Started by an older version of this script: running jobs keep
		# running (slurmstepd), only the daemon restarts.
		stop_pidfile "slurmd ($NODE2)" "$SLURMD2_PID" slurmd
	fi
	if ! pid_of "$SLURMD2_PID" slurmd >/dev/null; then
		log "starting slurmd ($NODE2 at $NODE2_ADDR:$NODE2_PORT, own host name and spool)"
		start_slurmd2 || fail_service "slurmd ($NODE2)" "$SLURMD2_LOG"
	fi
	wait_node "$NODE" "$SLURMD_LOG"
	wait_node "$NODE2" "$SLURMD2_LOG"
}

rest_answers() {
	# An HTTP status line back from slurmrestd (401 without a token is fine).
	# shellcheck disable=SC2016 # $0/$1 expand in the inner shell
	timeout 5 bash -c 'exec 3<>"/dev/tcp/$0/$1" && printf "GET /openapi HTTP/1.0\r\n\r\n" >&3 && IFS= read -r line <&3 && [[ $line == HTTP/* ]]' \
		"$REST_HOST" "$REST_PORT"
}

start_slurmrestd() {
	drop_stale_pidfile "$REST_PID" slurmrestd
	if ! pid_of "$REST_PID" slurmrestd >/dev/null; then
		log "starting slurmrestd on $REST_HOST:$REST_PORT"
		# SLURM_JWT=daemon: each request carries its own token, slurmrestd has none.
		# openapi/dbv0.0.38 is left out: without slurmdbd slurmrestd exits with
		# "fatal: slurm_openapi_p_init: slurm not configured with slurmdbd".
		SLURM_JWT=daemon start-stop-daemon --start --quiet --background --make-pidfile \
			--pidfile "$REST_PID" --chuid slurmrest:slurmrest --chdir "$REST_DIR" \
			--output "$REST_LOG" --exec /usr/sbin/slurmrestd -- \
			-f "$SLURM_CONF_FILE" -a rest_auth/jwt -s openapi/v0.0.38 "$REST_HOST:$REST_PORT" 9>&- ||
			fail_service slurmrestd "$REST_LOG"
	fi
	wait_for slurmrestd 20 "$REST_LOG" rest_answers
}

# ---------------------------------------------------------------- postgres

pg_datadir() { pg_lsclusters -h 2>/dev/null | awk -v v="$PG_VERSION" -v c="$PG_CLUSTER" '$1 == v && $2 == c { print $6 }'; }
pg_logfile() { pg_lsclusters -h 2>/dev/null | awk -v v="$PG_VERSION" -v c="$PG_CLUSTER" '$1 == v && $2 == c { print $7 }'; }

pg_running() {
	local datadir
	datadir=$(pg_datadir)
	[[ -n $datadir ]] && pid_of "$datadir/postmaster.pid" postgres >/dev/null
}

pg_answers() { pg_isready -q -h 127.0.0.1 -p "$PG_PORT" -t 3; }

pg_login_works() {
	local pw
	pw=$(<"$PG_PASSWORD_FILE")
	PGPASSWORD=$pw PGCONNECT_TIMEOUT=5 psql -X -q -t -A -h 127.0.0.1 -p "$PG_PORT" -U "$SERVICE_USER" -d kqi \
		-c 'select 1' 2>/dev/null | grep -qx 1
}

start_postgres() {
	if [[ -z $(pg_datadir) ]]; then
		log "creating PostgreSQL cluster $PG_VERSION/$PG_CLUSTER"
		pg_createcluster "$PG_VERSION" "$PG_CLUSTER" >/dev/null
	fi
	local datadir logfile
	datadir=$(pg_datadir)
	logfile=$(pg_logfile)
	if ! pg_running; then
		# A killed postmaster leaves lock files naming pids that may now belong
		# to other processes; postgres would refuse to start on them.
		drop_stale_pidfile "$datadir/postmaster.pid" postgres
		drop_stale_pidfile "/run/postgresql/.s.PGSQL.$PG_PORT.lock" postgres
		mkdir_owned /run/postgresql 2775 postgres:postgres
		log "starting PostgreSQL $PG_VERSION/$PG_CLUSTER"
		pg_ctlcluster --skip-systemctl-redirect "$PG_VERSION" "$PG_CLUSTER" start 9>&- || fail_service postgres "$logfile"
		touch "$PG_STARTED_MARK"
	fi
	wait_for postgres 30 "$logfile" pg_answers

	if [[ ! -s $PG_PASSWORD_FILE ]]; then
		(umask 077 && random_token 24 >"$PG_PASSWORD_FILE")
	fi
	chmod 0600 "$PG_PASSWORD_FILE"
	pg_login_works && return 0
	log "creating PostgreSQL role and database $SERVICE_USER"
	local pw
	pw=$(<"$PG_PASSWORD_FILE")
	# The password goes through stdin, never argv.
	(cd / && runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p "$PG_PORT" -d postgres) <<EOF >/dev/null
\\set pw '$pw'
SELECT 'CREATE ROLE $SERVICE_USER' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$SERVICE_USER')\\gexec
SET password_encryption = 'scram-sha-256';
ALTER ROLE $SERVICE_USER WITH LOGIN CREATEDB PASSWORD :'pw';
SELECT 'CREATE DATABASE kqi OWNER $SERVICE_USER' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'kqi')\\gexec
EOF
	pg_login_works || die "postgres: $SERVICE_USER cannot log in on 127.0.0.1:$PG_PORT with its password (check pg_hba.conf under /etc/postgresql/$PG_VERSION/$PG_CLUSTER)"
}

# ---------------------------------------------------------------- sshd

ssh_answers() {
	# shellcheck disable=SC2016 # $0/$1 expand in the inner shell
	timeout 5 bash -c 'exec 3<>"/dev/tcp/$0/$1" && IFS= read -r line <&3 && [[ $line == SSH-* ]]' "$SSH_HOST" "$SSH_PORT"
}

start_sshd() {
	[[ -s $SSH_DIR/ssh_host_ed25519_key ]] || ssh-keygen -q -t ed25519 -N '' -C "kqi-dev-host" -f "$SSH_DIR/ssh_host_ed25519_key"
	[[ -s $SSH_DIR/id_ed25519 ]] || ssh-keygen -q -t ed25519 -N '' -C "kqi-portal" -f "$SSH_DIR/id_ed25519"
	chmod 0600 "$SSH_DIR/ssh_host_ed25519_key" "$SSH_DIR/id_ed25519"
	chown root:root "$SSH_DIR/id_ed25519"
	CHANGED=0
	put_file "$SSH_DIR/authorized_keys/$SERVICE_USER" 0644 root:root <"$SSH_DIR/id_ed25519.pub"
	put_file "$SSH_DIR/known_hosts" 0644 root:root <<EOF
[$SSH_HOST]:$SSH_PORT $(cut -d' ' -f1,2 "$SSH_DIR/ssh_host_ed25519_key.pub")
EOF
	put_file "$SSHD_CONFIG" 0644 root:root <<EOF
# Written by scripts/dev-cluster.sh; the system sshd is not touched.
Port $SSH_PORT
ListenAddress $SSH_HOST
HostKey $SSH_DIR/ssh_host_ed25519_key
PidFile $SSHD_PID
AuthorizedKeysFile $SSH_DIR/authorized_keys/%u
AllowUsers $SERVICE_USER
PermitRootLogin no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes yes
X11Forwarding no
PrintMotd no
MaxStartups 64:30:128
MaxSessions 64
SetEnv SLURM_CONF=$SLURM_CONF_FILE
# -u 077: files and directories are private from the moment they exist (KQI
# sets each file's final mode itself), so no secret is ever briefly readable.
Subsystem sftp internal-sftp -u 077
EOF
	/usr/sbin/sshd -t -f "$SSHD_CONFIG" || die "sshd: $SSHD_CONFIG is invalid"
	((CHANGED)) && stop_pidfile sshd "$SSHD_PID" sshd
	drop_stale_pidfile "$SSHD_PID" sshd
	if ! pid_of "$SSHD_PID" sshd >/dev/null; then
		log "starting sshd on $SSH_HOST:$SSH_PORT"
		/usr/sbin/sshd -f "$SSHD_CONFIG" -E "$SSHD_LOG" 9>&- || fail_service sshd "$SSHD_LOG"
	fi
	wait_for sshd 15 "$SSHD_LOG" ssh_answers
}

# ---------------------------------------------------------------- git server

# dgit: git without system or user configuration, so root's settings
# (default branch, signing, hooks) change nothing that is built or checked.
dgit() { GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null GIT_TERMINAL_PROMPT=0 git "$@"; }

# build_devgit: go build into $BIN_DIR every time. A warm build takes about
# 0.1 s from Go's cache, and without VCS stamping and with -trimpath the
# build is reproducible, so an unchanged binary compares equal and the
# running server is left alone; a changed one sets DEVGIT_CHANGED.
DEVGIT_CHANGED=0
build_devgit() {
	local go=/usr/local/go/bin/go new=$DEVGIT_BIN.new
	if [[ ! -x $go ]]; then
		go=$(command -v go) || die "go is needed to build cmd/kqi-devgit (no /usr/local/go/bin/go and no go on PATH)"
	fi
	(cd "$SRC" && "$go" build -buildvcs=false -trimpath -o "$new" ./cmd/kqi-devgit) ||
		die "go build ./cmd/kqi-devgit failed"
	if [[ -x $DEVGIT_BIN ]] && cmp -s "$new" "$DEVGIT_BIN"; then
		rm -f "$new"
	else
		mv -f "$new" "$DEVGIT_BIN"
		DEVGIT_CHANGED=1
	fi
	chown root:root "$DEVGIT_BIN"
	chmod 0755 "$DEVGIT_BIN"
}

# sample_sum: one checksum over the names, modes and contents of
# scripts/sample-model and the way the repositories are built from it
# (bump the leading version when ensure_repos changes what it commits).
sample_sum() {
	(
		cd "$SRC/scripts/sample-model"
		echo "recipe 1"
		find . -type f -printf '%m %p\n' | LC_ALL=C sort
		find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum
	) | sha256sum | cut -d' ' -f1
}

# ensure_repos: public/mnist.git and private/mnist.git, one commit on main
# holding scripts/sample-model, rebuilt only when those files change. The
# author and dates are fixed, so the same files always give the same
# commit id. Each new repository replaces the old one with a rename.
ensure_repos() {
	local src=$SRC/scripts/sample-model sum tmp area dest
	[[ -f $src/train.py ]] || die "$src/train.py is missing"
	sum=$(sample_sum)
	if [[ -s $SAMPLE_SUM && $(<"$SAMPLE_SUM") == "$sum" &&
		-f $DEVGIT_REPOS/public/$SAMPLE_REPO.git/HEAD && -f $DEVGIT_REPOS/private/$SAMPLE_REPO.git/HEAD ]]; then
		return 0
	fi
	log "building the $SAMPLE_REPO repositories from scripts/sample-model"
	rm -rf "$DEVGIT_DIR"/.build.*
	tmp=$(mktemp -d "$DEVGIT_DIR/.build.XXXXXX")
	(
		umask 022
		dgit init -q -b main "$tmp/work"
		cp -R "$src/." "$tmp/work/"
		dgit -C "$tmp/work" add -A
		GIT_AUTHOR_NAME='KQI dev cluster' GIT_AUTHOR_EMAIL=dev-cluster@kqi.invalid \
			GIT_COMMITTER_NAME='KQI dev cluster' GIT_COMMITTER_EMAIL=dev-cluster@kqi.invalid \
			GIT_AUTHOR_DATE='2026-01-01T00:00:00+0000' GIT_COMMITTER_DATE='2026-01-01T00:00:00+0000' \
			dgit -C "$tmp/work" commit -q -m "Sample model: train.py reads /kqi/input and writes /kqi/output"
		for area in public private; do
			dgit init -q --bare -b main "$tmp/$area.git"
			dgit -C "$tmp/work" push -q "$tmp/$area.git" main
		done
	)
	for area in public private; do
		mkdir_owned "$DEVGIT_REPOS/$area" 0755 root:root
		dest=$DEVGIT_REPOS/$area/$SAMPLE_REPO.git
		rm -rf "$dest.old"
		if [[ -e $dest ]]; then mv "$dest" "$dest.old"; fi
		mv "$tmp/$area.git" "$dest"
		rm -rf "$dest.old"
	done
	rm -rf "$tmp"
	printf '%s\n' "$sum" >"$SAMPLE_SUM"
}

# ensure_devgit_token: generated once; readable by kqi-devgit's account
# (and root) only. It is never printed: tests and the portal read the file.
ensure_devgit_token() {
	if [[ ! -s $DEVGIT_TOKEN ]]; then
		(umask 077 && random_token 32 >"$DEVGIT_TOKEN")
		DEVGIT_CHANGED=1 # the server reads the token once, at start
	fi
	chown "$DEVGIT_USER:$DEVGIT_USER" "$DEVGIT_TOKEN"
	chmod 0600 "$DEVGIT_TOKEN"
}

devgit_answers() {
	timeout 5 env GIT_TERMINAL_PROMPT=0 GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null \
		git ls-remote --exit-code "$DEVGIT_URL/public/$SAMPLE_REPO.git" refs/heads/main
}

start_devgit() {
	if ((DEVGIT_CHANGED)); then stop_pidfile kqi-devgit "$DEVGIT_PID" kqi-devgit; fi
	drop_stale_pidfile "$DEVGIT_PID" kqi-devgit
	if ! pid_of "$DEVGIT_PID" kqi-devgit >/dev/null; then
		log "starting kqi-devgit on $DEVGIT_HOST:$DEVGIT_PORT"
		start-stop-daemon --start --quiet --background --make-pidfile \
			--pidfile "$DEVGIT_PID" --chuid "$DEVGIT_USER:$DEVGIT_USER" --chdir / \
			--output "$DEVGIT_LOG" --exec "$DEVGIT_BIN" -- \
			-listen "$DEVGIT_HOST:$DEVGIT_PORT" -root "$DEVGIT_REPOS" -token-file "$DEVGIT_TOKEN" 9>&- ||
			fail_service kqi-devgit "$DEVGIT_LOG"
	fi
	wait_for kqi-devgit 15 "$DEVGIT_LOG" devgit_answers
}

# build_devsmtp: as build_devgit, for the mail server.
DEVSMTP_CHANGED=0
build_devsmtp() {
	local go=/usr/local/go/bin/go new=$DEVSMTP_BIN.new
	if [[ ! -x $go ]]; then
		go=$(command -v go) || die "go is needed to build cmd/kqi-devsmtp"
	fi
	(cd "$SRC" && "$go" build -buildvcs=false -trimpath -o "$new" ./cmd/kqi-devsmtp) ||
		die "go build ./cmd/kqi-devsmtp failed"
	if [[ -x $DEVSMTP_BIN ]] && cmp -s "$new" "$DEVSMTP_BIN"; then
		rm -f "$new"
	else
		mv -f "$new" "$DEVSMTP_BIN"
		DEVSMTP_CHANGED=1
	fi
	chown root:root "$DEVSMTP_BIN"
	chmod 0755 "$DEVSMTP_BIN"
}

devsmtp_answers() {
	timeout 5 bash -c "exec 3<>/dev/tcp/$DEVSMTP_HOST/$DEVSMTP_PORT && head -c 3 <&3 | grep -q 220"
}

# start_devsmtp runs the mail server as nobody: it can write only its mail
# directory.
start_devsmtp() {
	mkdir_owned "$DEVSMTP_DIR" 0755 root:root
	mkdir_owned "$DEVSMTP_MAIL" 0755 nobody:nogroup
	if ((DEVSMTP_CHANGED)); then stop_pidfile kqi-devsmtp "$DEVSMTP_PID" kqi-devsmtp; fi
	drop_stale_pidfile "$DEVSMTP_PID" kqi-devsmtp
	if ! pid_of "$DEVSMTP_PID" kqi-devsmtp >/dev/null; then
		log "starting kqi-devsmtp on $DEVSMTP_HOST:$DEVSMTP_PORT"
		start-stop-daemon --start --quiet --background --make-pidfile \
			--pidfile "$DEVSMTP_PID" --chuid nobody:nogroup --chdir / \
			--output "$DEVSMTP_LOG" --exec "$DEVSMTP_BIN" -- \
			-listen "$DEVSMTP_HOST:$DEVSMTP_PORT" -dir "$DEVSMTP_MAIL" 9>&- ||
			fail_service kqi-devsmtp "$DEVSMTP_LOG"
	fi
	wait_for kqi-devsmtp 15 "$DEVSMTP_LOG" devsmtp_answers
}

# ---------------------------------------------------------------- dev image

# debian_mirror: $KQI_DEV_DEBIAN_MIRROR, else the Debian mirror apt uses,
# else deb.debian.org.
debian_mirror() {
	local uri
	if [[ -n ${KQI_DEV_DEBIAN_MIRROR:-} ]]; then
		printf '%s\n' "$KQI_DEV_DEBIAN_MIRROR"
		return
	fi
	uri=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
		awk 'tolower($1) == "uris:" { for (i = 2; i <= NF; i++) if ($i ~ /\/debian\/?$/) { print $i; exit } }')
	if [[ -z $uri && -r /etc/apt/sources.list ]]; then
		uri=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^(https?|ftp):\/\/.*\/debian\/?$/) { print $i; exit } }' /etc/apt/sources.list)
	fi
	printf '%s\n' "${uri:-http://deb.debian.org/debian}"
}

# remove_tree DIR: rm -rf that first unmounts what a failed debootstrap may
# have left mounted inside DIR (proc, sys) and never crosses into a mount.
remove_tree() {
	local mnt
	[[ -e $1 ]] || return 0
	while IFS= read -r mnt; do
		umount -l "$mnt" 2>/dev/null || true
	done < <(awk -v d="$1/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r)
	rm -rf --one-file-system -- "$1"
}

image_ready() { [[ -x $IMAGE_DIR/usr/bin/python3 && -x $IMAGE_DIR/usr/bin/git && -d $IMAGE_DIR/usr/lib/python3/dist-packages/PIL ]]; }

# ensure_image: the dev image local/python:3, a minimal Debian of the
# host's release with python3, PIL and git made by debootstrap: a real
# distribution tree, unlike a copy of the host's own /usr, so jobs see the
# same image on every machine. Built once (about a minute, most of it
# downloading) into a temporary directory, checked, then renamed into place;
# later runs only compare the recipe.
ensure_image() {
	local suite mirror recipe new old
	# shellcheck source=/dev/null
	suite=$(. /etc/os-release && printf '%s\n' "${VERSION_CODENAME:-}")
	[[ -n $suite ]] || die "dev image: no VERSION_CODENAME in /etc/os-release"
	recipe="debootstrap --variant=minbase --include=$IMAGE_PACKAGES $suite"
	if image_ready && [[ -s $IMAGE_STAMP && $(<"$IMAGE_STAMP") == "$recipe" ]]; then
		return 0
	fi
	mirror=$(debian_mirror)
	new=$IMAGE_ROOT/local/python/.3.new
	old=$IMAGE_ROOT/local/python/.3.old
	log "building the dev image $IMAGE_REF: $recipe from $mirror (once; about a minute; log $IMAGE_LOG)"
	mkdir_owned "$IMAGE_ROOT/local" 0755 root:root
	mkdir_owned "$IMAGE_ROOT/local/python" 0755 root:root
	remove_tree "$new"
	debootstrap --variant=minbase --include="$IMAGE_PACKAGES" "$suite" "$new" "$mirror" >"$IMAGE_LOG" 2>&1 ||
		fail_service "dev image (debootstrap)" "$IMAGE_LOG"
	# A read-only image needs no package downloads or lists.
	rm -rf "$new"/var/cache/apt/archives/*.deb "$new"/var/cache/apt/*.bin "$new"/var/lib/apt/lists/*
	if ! { chroot "$new" python3 -c 'import json, hashlib, PIL.Image' && chroot "$new" git --version; } >>"$IMAGE_LOG" 2>&1; then
		fail_service "dev image (python3, PIL and git in the new tree)" "$IMAGE_LOG"
	fi
	remove_tree "$old"
	if [[ -e $IMAGE_DIR ]]; then mv "$IMAGE_DIR" "$old"; fi
	mv "$new" "$IMAGE_DIR"
	remove_tree "$old"
	printf '%s\n' "$recipe" >"$IMAGE_STAMP"
	log "dev image ready: $IMAGE_DIR ($(du -sh "$IMAGE_DIR" | cut -f1))"
}

# install_tensorboard: TensorBoard is not packaged for Debian, so the dev
# image gets the stand-in cmd/kqi-devtensorboard as /usr/local/bin/tensorboard
# (static: the image has no Go). Production sites set KQI_TENSORBOARD_IMAGE
# to an image with the real TensorBoard. Rebuilt every time like kqi-devgit;
# an unchanged binary is left in place.
install_tensorboard() {
	local go=/usr/local/go/bin/go dest=$IMAGE_DIR/usr/local/bin/tensorboard
	if [[ ! -x $go ]]; then
		go=$(command -v go) || die "go is needed to build cmd/kqi-devtensorboard"
	fi
	mkdir -p "$IMAGE_DIR/usr/local/bin"
	(cd "$SRC" && CGO_ENABLED=0 "$go" build -buildvcs=false -trimpath -o "$dest.new" ./cmd/kqi-devtensorboard) ||
		die "go build ./cmd/kqi-devtensorboard failed"
	if [[ -x $dest ]] && cmp -s "$dest.new" "$dest"; then
		rm -f "$dest.new"
	else
		chmod 0755 "$dest.new"
		mv -f "$dest.new" "$dest"
	fi
}

# ---------------------------------------------------------------- env file

write_env() {
	local pw
	pw=$(<"$PG_PASSWORD_FILE")
	put_file "$ENV_FILE" 0600 root:root <<EOF
KQI_DEV_DIR=$DIR
SLURM_CONF=$SLURM_CONF_FILE
KQI_DATABASE_URL=postgres://$SERVICE_USER:$pw@127.0.0.1:$PG_PORT/kqi?sslmode=disable
KQI_SLURM_REST_URL=http://$REST_HOST:$REST_PORT
KQI_SLURM_JWT_KEY_FILE=$JWT_KEY
KQI_SLURM_USER=$SERVICE_USER
KQI_SSH_ADDR=$SSH_HOST:$SSH_PORT
KQI_SSH_USER=$SERVICE_USER
KQI_SSH_KEY_FILE=$SSH_DIR/id_ed25519
KQI_SSH_KNOWN_HOSTS=$SSH_DIR/known_hosts
KQI_SHARED_ROOT=$SHARED
KQI_DEV_NODE=$NODE
# The second compute node: not the portal host's name or address.
KQI_DEV_NODE2=$NODE2
KQI_DEV_NODE2_ADDR=$NODE2_ADDR
KQI_DEV_CPU_PARTITION=$CPU_PARTITION
KQI_DEV_GPU_PARTITION=$GPU_PARTITION
KQI_DEV_GPU_TYPE=$GPU_TYPE
KQI_DEV_GPUS=$GPUS
# Git server: public/ needs no credentials; private/ takes HTTP Basic auth,
# any username, the password being the token in KQI_DEV_GIT_TOKEN_FILE.
KQI_DEV_GIT_URL=$DEVGIT_URL
KQI_DEV_GIT_PUBLIC_REPO=$DEVGIT_URL/public/$SAMPLE_REPO.git
KQI_DEV_GIT_PRIVATE_REPO=$DEVGIT_URL/private/$SAMPLE_REPO.git
KQI_DEV_GIT_TOKEN_FILE=$DEVGIT_TOKEN
# Bubblewrap image store: reference name:tag = directory KQI_DEV_IMAGE_ROOT/name/tag,
# so $IMAGE_REF is $IMAGE_DIR. Its \`tensorboard\` is KQI's stand-in (cmd/kqi-devtensorboard).
KQI_DEV_IMAGE_ROOT=$IMAGE_ROOT
KQI_DEV_IMAGE=$IMAGE_REF
# Mail server: takes any mail, writes each message (envelope first) as a
# file under KQI_DEV_SMTP_DIR.
KQI_DEV_SMTP_ADDR=$DEVSMTP_HOST:$DEVSMTP_PORT
KQI_DEV_SMTP_DIR=$DEVSMTP_MAIL
EOF
}

# ---------------------------------------------------------------- commands

cmd_up() {
	local start=$SECONDS
	lock
	ensure_packages
	ensure_users
	ensure_dirs
	ensure_hosts
	start_munge
	write_slurm_config
	start_slurm
	start_slurmrestd
	start_postgres
	start_sshd
	build_devgit
	ensure_repos
	ensure_devgit_token
	start_devgit
	build_devsmtp
	start_devsmtp
	ensure_image
	install_tensorboard
	write_env
	log "up in $((SECONDS - start)) s; environment: $ENV_FILE"
}

cmd_down() {
	[[ -d $DIR ]] || return 0
	lock
	stop_pidfile slurmrestd "$REST_PID" slurmrestd
	stop_pidfile slurmd "$SLURMD_PID" slurmd
	stop_pidfile "slurmd ($NODE2)" "$SLURMD2_PID" slurmd
	stop_pidfile slurmctld "$CTLD_PID" slurmctld
	stop_pidfile sshd "$SSHD_PID" sshd
	stop_pidfile kqi-devgit "$DEVGIT_PID" kqi-devgit
	stop_pidfile kqi-devsmtp "$DEVSMTP_PID" kqi-devsmtp
	stop_pidfile munged "$MUNGE_PID" munged
	if [[ -e $PG_STARTED_MARK ]]; then
		if pg_running; then
			log "stopping PostgreSQL $PG_VERSION/$PG_CLUSTER"
			pg_ctlcluster --skip-systemctl-redirect "$PG_VERSION" "$PG_CLUSTER" stop -m fast || true
		fi
		rm -f "$PG_STARTED_MARK"
	fi
}

# status_line NAME RUNNING(yes/no/external) ANSWERS(yes/no) [NOTE]
STATUS_RC=0
status_line() {
	local running=$2 answers=$3 note=${4:-}
	case $running in
	yes) running=running ;;
	external) running='running(external)' ;;
	*) running=stopped ;;
	esac
	printf '%-11s %-17s answers=%-3s %s\n' "$1" "$running" "$answers" "$note"
	[[ $running != stopped && $answers == yes ]] || STATUS_RC=1
}

yes_no() { if "$@" >/dev/null 2>&1; then echo yes; else echo no; fi; }

cmd_status() {
	local run
	local munge_ok
	munge_ok=$(yes_no munge_answers)
	if pid_of "$MUNGE_PID" munged >/dev/null; then run=yes; elif [[ $munge_ok == yes ]]; then run=external; else run=no; fi
	status_line munge "$run" "$munge_ok"
	status_line slurmctld "$(yes_no pid_of "$CTLD_PID" slurmctld)" "$(yes_no ctld_answers)"
	status_line slurmd "$(yes_no pid_of "$SLURMD_PID" slurmd)" "$(yes_no node_ready "$NODE")" "node $NODE at 127.0.0.1"
	status_line slurmd "$(yes_no pid_of "$SLURMD2_PID" slurmd)" "$(yes_no node_ready "$NODE2")" "node $NODE2 at $NODE2_ADDR:$NODE2_PORT"
	status_line slurmrestd "$(yes_no pid_of "$REST_PID" slurmrestd)" "$(yes_no rest_answers)"
	if pg_running; then
		if [[ -e $PG_STARTED_MARK ]]; then run=yes; else run=external; fi
	else
		run=no
	fi
	status_line postgres "$run" "$(yes_no pg_answers)"
	status_line sshd "$(yes_no pid_of "$SSHD_PID" sshd)" "$(yes_no ssh_answers)"
	status_line kqi-devgit "$(yes_no pid_of "$DEVGIT_PID" kqi-devgit)" "$(yes_no devgit_answers)"
	status_line kqi-devsmtp "$(yes_no pid_of "$DEVSMTP_PID" kqi-devsmtp)" "$(yes_no devsmtp_answers)"
	if image_ready; then
		printf '%-11s %s\n' image "$IMAGE_REF at $IMAGE_DIR"
	else
		printf '%-11s %s\n' image "missing: $IMAGE_REF ($IMAGE_DIR)"
		STATUS_RC=1
	fi
	printf '%-11s %s\n' bwrap "$(bwrap --version 2>/dev/null || echo missing)"
	printf '%-11s %s\n' chromium "$(chromium --version 2>/dev/null || echo missing)"
	if [[ -s $ENV_FILE ]]; then
		printf '%-11s %s\n' env "$ENV_FILE"
	else
		printf '%-11s %s\n' env "missing ($ENV_FILE)"
		STATUS_RC=1
	fi
	return "$STATUS_RC"
}

usage() {
	echo "usage: $0 up|down|status   (state in \${KQI_DEV_DIR:-/var/lib/kqi-dev})" >&2
	exit 2
}

main() {
	(($# == 1)) || usage
	((EUID == 0)) || die "must run as root"
	[[ $DIR == /* && $DIR != *[[:space:]]* ]] || die "KQI_DEV_DIR must be an absolute path without spaces: $DIR"
	case $1 in
	up) cmd_up ;;
	down) cmd_down ;;
	status) cmd_status ;;
	*) usage ;;
	esac
}

# Sourcing the file (to reuse a function) does not run it.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	main "$@"
fi
