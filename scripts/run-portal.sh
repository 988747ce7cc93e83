#!/usr/bin/env bash
# Starts the portal for `make run`: migrates, makes sure the administrator
# and a demo tenant exist, serves, and prints how to log in once the portal
# answers. Expects the dev cluster's settings in the environment.
set -euo pipefail
bin=${1:?usage: run-portal.sh path/to/kqi-portal}
: "${KQI_DEV_DIR:?run through make run (it exports the dev cluster settings)}"

export KQI_LISTEN=${KQI_LISTEN:-:8080}
# The SSH endpoint for shells into running jobs (its host key is made once,
# beside the secret key).
export KQI_SHELL_LISTEN=${KQI_SHELL_LISTEN:-:2022}
# The dev cluster has no Apptainer: jobs run in bubblewrap, in the dev
# cluster's image store (local/python:3 unless told otherwise).
export KQI_RUNTIME=${KQI_RUNTIME:-bubblewrap}
export KQI_IMAGE_ROOT=${KQI_IMAGE_ROOT:-${KQI_DEV_IMAGE_ROOT:?the dev cluster exports KQI_DEV_IMAGE_ROOT}}
export KQI_DEFAULT_IMAGE=${KQI_DEFAULT_IMAGE:-${KQI_DEV_IMAGE:?the dev cluster exports KQI_DEV_IMAGE}}
export KQI_ADMIN_USER=${KQI_ADMIN_USER:-admin}
export KQI_ADMIN_TENANT=${KQI_ADMIN_TENANT:-demo}
# The dev administrator's password is generated once and kept (0600) in the
# state directory, so every `make run` can print a password that works.
pwfile=$KQI_DEV_DIR/admin-password
if [ -z "${KQI_ADMIN_PASSWORD:-}" ]; then
  if [ ! -s "$pwfile" ]; then
    (umask 077; head -c 15 /dev/urandom | base64 | tr -d '/+=' > "$pwfile")
  fi
  KQI_ADMIN_PASSWORD=$(cat "$pwfile")
fi
export KQI_ADMIN_PASSWORD

# The key sealing users' tokens: made once, kept with the dev cluster.
export KQI_SECRET_KEY_FILE=${KQI_SECRET_KEY_FILE:-$KQI_DEV_DIR/secret.key}
if [ ! -s "$KQI_SECRET_KEY_FILE" ]; then
  (umask 077; head -c 32 /dev/urandom > "$KQI_SECRET_KEY_FILE")
fi

"$bin" migrate
"$bin" create-admin >/dev/null

# The dev cluster's Git server and image store are registered as an
# administrator would (a second run finds them there already).
register_dev_sources() {
  local api="http://127.0.0.1:$port/api/v1" token auth
  # Password and token go to curl on stdin or in a 0600 file, never in its
  # arguments, which any local user can read in the process list.
  token=$(printf '{"username":"%s","password":"%s","tenant":"%s"}' "$KQI_ADMIN_USER" "$KQI_ADMIN_PASSWORD" "$KQI_ADMIN_TENANT" |
    curl -fsS -X POST "$api/auth/token" -H 'Content-Type: application/json' --data-binary @- |
    sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
  auth=$(mktemp)
  printf 'Authorization: Bearer %s\n' "$token" > "$auth"
  if [ -n "${KQI_DEV_GIT_URL:-}" ]; then
    curl -sS -o /dev/null -X POST "$api/admin/git-servers" -H @"$auth" \
      -d "{\"name\":\"devgit\",\"url\":\"$KQI_DEV_GIT_URL\"}"
  fi
  curl -sS -o /dev/null -X POST "$api/admin/registries" -H @"$auth" -d '{"name":"local","host":"local"}'
  rm -f "$auth"
}

"$bin" serve &
pid=$!
# However this script ends, the portal ends with it.
trap 'kill -TERM $pid 2>/dev/null; wait $pid' EXIT INT TERM HUP
port=${KQI_LISTEN##*:}
for _ in $(seq 1 100); do
  if curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then
    register_dev_sources
    cat <<MSG

  KQI is running: http://localhost:$port
  log in as:      $KQI_ADMIN_USER
  password:       $KQI_ADMIN_PASSWORD
  tenant:         $KQI_ADMIN_TENANT
  shell:          add your public key in Settings → SSH keys, then, for a running training N:
                  ssh -p ${KQI_SHELL_LISTEN##*:} training-N@localhost
  sample model:   Git repository devgit/public/mnist.git (or devgit/private/mnist.git
                  with the token in ${KQI_DEV_GIT_TOKEN_FILE:-the dev Git token file}),
                  image ${KQI_DEFAULT_IMAGE}, command: python3 train.py

  Ctrl-C stops the portal; 'make cluster-down' stops the dev cluster.

MSG
    wait $pid
    exit $?
  fi
  if ! kill -0 $pid 2>/dev/null; then
    echo "run-portal: the portal exited; see the log above" >&2
    wait $pid
    exit 1
  fi
  sleep 0.2
done
echo "run-portal: the portal did not become ready on port $port (GET /readyz); see the log above" >&2
kill $pid
exit 1
