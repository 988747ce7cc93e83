package slurm

import (
	"errors"
	"fmt"
	"strings"
)

// Render returns the batch script for spec, running the command with rt.
//
// The script is plain bash, the same for both submit paths (sbatch over SSH
// reads its #SBATCH lines; slurmrestd is given the same options as typed
// fields). It: appends everything to JobDir/log; reads the secrets file
// without echoing it; clones the model into JobDir/git with the token
// handed to git through a credential helper in the environment, so it is on
// no command line, in no .git/config and in no log; starts the container
// once with ":" so a broken image is told apart from a failing command; runs
// the command; writes its exit code to JobDir/exit_code (temp file + rename)
// and exits with it so Slurm's state agrees. A clone or image failure writes
// JobDir/error with the cause instead and exits 1.
func Render(spec JobSpec, rt Runtime) (string, error) {
	if rt == nil {
		return "", errors.New("render job script: no container runtime")
	}
	if err := spec.Validate(); err != nil {
		return "", fmt.Errorf("render job script: %w", err)
	}
	if err := rt.ValidateImage(spec.Image); err != nil {
		return "", fmt.Errorf("render job script: image: %w", err)
	}
	fn, err := rt.ShellFunction(spec)
	if err != nil {
		return "", fmt.Errorf("render job script: %w", err)
	}

	w := &scriptWriter{}
	w.raw("#!/bin/bash\n")
	for _, opt := range spec.SbatchOptions() {
		// Validate keeps blanks, quotes and newlines out of every option,
		// and bash reads these lines as comments, so they need no quoting.
		w.raw("#SBATCH " + opt + "\n")
	}
	w.raw(header)
	w.assign("kqi_job", spec.JobDir)
	w.assign("kqi_image", spec.Image)
	w.assign("kqi_git_url", spec.Git.URL)
	w.assign("kqi_git_branch", spec.Git.Branch)
	w.assign("kqi_git_commit", spec.Git.Commit)
	username := spec.Git.Username
	if username == "" {
		username = "oauth2"
	}
	w.assign("kqi_git_username", username)
	w.assign("kqi_git_credential_url", spec.Git.credentialURL())
	w.assign("kqi_command", spec.Command)
	w.raw(launchInContainer + "\n")
	w.raw(helpers)
	w.raw("kqi_env+=(\n\tPYTHONUNBUFFERED=1\n")
	for _, v := range spec.containerEnv() {
		w.raw("\t" + w.q(v.Name+"="+v.Value) + "\n")
	}
	w.raw(")\n")
	w.raw(loadSecrets)
	w.raw("\n# The container runtime.\n")
	w.raw(strings.TrimRight(fn, "\n") + "\n")
	w.raw(recordContainer)
	w.raw(run)
	if w.err != nil {
		return "", fmt.Errorf("render job script: %w", w.err)
	}
	return w.b.String(), nil
}

// scriptWriter builds a script and keeps the first quoting error, so that
// rendering reads as a straight list of lines.
type scriptWriter struct {
	b   strings.Builder
	err error
}

func (w *scriptWriter) raw(s string) { w.b.WriteString(s) }

// q quotes one user-supplied word through shellQuote.
func (w *scriptWriter) q(s string) string {
	out, err := shellQuote(s)
	if err != nil && w.err == nil {
		w.err = err
	}
	return out
}

func (w *scriptWriter) assign(name, value string) {
	w.raw(name + "=" + w.q(value) + "\n")
}

const header = `#
# Written by KQI. It clones the model repository into $kqi_job/git, runs the
# command in a container with the /kqi directories bound, and records the
# command's exit code in $kqi_job/exit_code. Tokens and passwords are read at
# run time from $kqi_job/secrets; they are not in this script or the log.
set -Eeuo pipefail

`

// helpers are the script's fixed functions and first steps; only quoted
// assignments above them vary between jobs.
const helpers = `
exec >>"$kqi_job/log" 2>&1

kqi_say() { printf '[kqi] %(%Y-%m-%dT%H:%M:%S%z)T %s\n' -1 "$*"; }

# kqi_record FILE VALUE writes VALUE to FILE through a temporary file, so a
# reader sees the old content or the new, never half of it. A write that
# fails (a full disk) leaves no temporary file behind.
kqi_record() {
	if printf '%s\n' "$2" >"$1.tmp" && mv -f -- "$1.tmp" "$1"; then return 0; fi
	rm -f -- "$1.tmp"
	return 1
}

# kqi_fail CAUSE records why the command never ran, for the portal to show
# as an error, and ends the job.
kqi_fail() {
	trap - ERR
	kqi_say "error: $1"
	kqi_record "$kqi_job/error" "$1" || kqi_say "could not write $kqi_job/error"
	exit 1
}
trap 'kqi_fail "the job script failed at line $LINENO"' ERR

# kqi_git runs git with no system or global configuration and the token
# supplied by a credential helper that reads it from this one command's
# environment. The helper is scoped to the repository's server, so a
# submodule elsewhere is never sent the token.
kqi_git() {
	local count=1
	if [[ -n $kqi_git_credential_url ]]; then count=2; fi
	# Submodules may only use the repository's own scheme: an ssh:// or
	# file:// one would read with the cluster account's keys and files.
	GIT_ALLOW_PROTOCOL=${kqi_git_url%%://*} \
	GIT_TERMINAL_PROMPT=0 GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null \
		GIT_SSH_COMMAND='ssh -o BatchMode=yes' \
		GIT_CONFIG_COUNT=$count \
		GIT_CONFIG_KEY_0=credential.helper GIT_CONFIG_VALUE_0= \
		GIT_CONFIG_KEY_1=credential.$kqi_git_credential_url.helper \
		GIT_CONFIG_VALUE_1='!f() { test "$1" = get && test -n "$KQI_GIT_TOKEN" && printf "username=%s\npassword=%s\n" "$KQI_GIT_USERNAME" "$KQI_GIT_TOKEN"; }; f' \
		KQI_GIT_USERNAME=$kqi_git_username KQI_GIT_TOKEN=$kqi_git_token \
		git "$@"
}

kqi_clone() {
	local branch=() sha
	rm -rf -- "$kqi_job/git"
	mkdir -p -- "$kqi_job/git"
	if [[ -z $kqi_git_url ]]; then
		kqi_say "no model repository: /kqi/git is empty"
		return 0
	fi
	if [[ -n $kqi_git_branch ]]; then branch=(--branch "$kqi_git_branch"); fi
	kqi_say "cloning $kqi_git_url${kqi_git_branch:+ (branch $kqi_git_branch)}"
	kqi_git clone ${branch[@]+"${branch[@]}"} -- "$kqi_git_url" "$kqi_job/git" ||
		kqi_fail "clone failed: git clone $kqi_git_url exited with $?"
	if [[ -n $kqi_git_commit ]]; then
		sha=$(kqi_git -C "$kqi_job/git" rev-parse --quiet --verify "$kqi_git_commit^{commit}") ||
			kqi_fail "clone failed: commit $kqi_git_commit not found in $kqi_git_url"
		kqi_git -C "$kqi_job/git" -c advice.detachedHead=false checkout --quiet --detach "$sha" ||
			kqi_fail "clone failed: could not check out commit $sha"
	fi
	if [[ -f $kqi_job/git/.gitmodules ]]; then
		kqi_say "updating submodules"
		kqi_git -C "$kqi_job/git" submodule update --init --recursive ||
			kqi_fail "clone failed: git submodule update exited with $?"
	fi
	sha=$(kqi_git -C "$kqi_job/git" rev-parse HEAD) ||
		kqi_fail "clone failed: no commit checked out from $kqi_git_url"
	kqi_record "$kqi_job/commit" "$sha"
	kqi_say "model repository at commit $sha"
}

kqi_say "job ${SLURM_JOB_ID:-(not under Slurm)} starting on ${HOSTNAME:-unknown host}"
rm -f -- "$kqi_job/exit_code" "$kqi_job/error" "$kqi_job/commit" "$kqi_job/container"
mkdir -p -- "$kqi_job/input" "$kqi_job/output" "$kqi_job/attach"
kqi_tmp=$(mktemp -d "${TMPDIR:-/tmp}/kqi.XXXXXXXX")
trap 'rm -rf -- "$kqi_tmp"; rm -f -- "$kqi_job/container"' EXIT
# scancel and the time limit send SIGTERM to every process of the job; end
# through the EXIT trap so the temporary files, secrets among them, go too.
trap 'kqi_say "stopped by SIGTERM (cancelled or out of time)"; exit 143' TERM

# The container's environment, later entries winning: Slurm's view of the
# allocation (runtimes that clean the environment would drop it), then KQI's
# variables, then the secrets.
kqi_env=()
for kqi_name in SLURM_JOB_ID SLURM_JOB_NAME SLURM_JOB_PARTITION SLURM_JOB_ACCOUNT \
	SLURM_JOB_NODELIST SLURM_CPUS_PER_TASK SLURM_CPUS_ON_NODE SLURM_MEM_PER_NODE \
	SLURM_JOB_GPUS SLURM_GPUS_ON_NODE SLURM_ARRAY_JOB_ID SLURM_ARRAY_TASK_ID \
	CUDA_VISIBLE_DEVICES ROCR_VISIBLE_DEVICES GPU_DEVICE_ORDINAL; do
	if [[ -n ${!kqi_name+set} ]]; then kqi_env+=("$kqi_name=${!kqi_name}"); fi
done
`

// loadSecrets reads the secrets file line by line, never sourcing it, so
// its content is data and nothing in it can run.
const loadSecrets = `
kqi_git_token= kqi_registry_username= kqi_registry_password=
if [[ -f $kqi_job/secrets ]]; then
	while IFS= read -r kqi_line || [[ -n $kqi_line ]]; do
		case ${kqi_line%%=*} in
		GIT_TOKEN) kqi_git_token=${kqi_line#*=} ;;
		REGISTRY_USERNAME) kqi_registry_username=${kqi_line#*=} ;;
		REGISTRY_PASSWORD) kqi_registry_password=${kqi_line#*=} ;;
		KQI_TOKEN | MODEL_REPOSITORY_TOKEN) kqi_env+=("$kqi_line") ;;
		esac
	done <"$kqi_job/secrets"
	unset kqi_line
	kqi_say "read the secrets file"
else
	kqi_say "no secrets file: cloning and pulling without credentials"
fi
`

const run = `
kqi_clone
# COMMIT_ID is the commit actually checked out, also for a branch build.
if [[ -s $kqi_job/commit ]]; then kqi_env+=("COMMIT_ID=$(<"$kqi_job/commit")"); fi

kqi_rc=0
kqi_say "starting a container from $kqi_image"
kqi_container : || kqi_rc=$?
if ((kqi_rc != 0)); then
	kqi_fail "image failed: could not start a container from $kqi_image (exit $kqi_rc)"
fi

kqi_record_container
kqi_say "running the command"
kqi_container "$kqi_command" || kqi_rc=$?
kqi_say "the command exited with code $kqi_rc"
# Without a record (a full disk) the job still ends with the command's
# code, which Slurm keeps for the portal.
kqi_record "$kqi_job/exit_code" "$kqi_rc" || kqi_say "could not record the exit code $kqi_rc in $kqi_job/exit_code"
exit "$kqi_rc"
`
