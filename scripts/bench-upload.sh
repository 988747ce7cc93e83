#!/usr/bin/env bash
# Benchmark: a 2 GiB upload through the real portal (local file store),
# against `cp` of the same file on the same disk, measured in the same run.
# Prints throughput of both, their ratio, and the portal's peak RSS.
# Targets (issue 4): ratio >= 0.70, peak RSS < 100 MB. Exits non-zero when
# a target is missed. Needs the dev cluster's settings in the environment.
set -euo pipefail
: "${KQI_DATABASE_URL:?run through make bench (it exports the dev cluster settings)}"
bin=${1:-bin/kqi-portal}
size_mib=${KQI_BENCH_UPLOAD_MIB:-2048}
port=18089

work=$(mktemp -d /var/tmp/kqi-bench.XXXXXX)
# psql and curl get credentials from the environment and 0600 files, not
# their arguments (visible to every local user).
db_url=$KQI_DATABASE_URL
export PGPASSWORD=$(printf '%s' "$db_url" | sed -n 's|^postgres://[^:]*:\([^@]*\)@.*|\1|p')
db_admin=$(printf '%s' "$db_url" | sed 's|^\(postgres://[^:]*\):[^@]*@|\1@|')
db="kqi_bench_$$"
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  psql -q "$db_admin" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

psql -q "$db_admin" -c "CREATE DATABASE $db" >/dev/null
export KQI_DATABASE_URL=${KQI_DATABASE_URL%/*}/$db?sslmode=disable
export KQI_SHARED_ROOT=$work/shared KQI_FILE_STORE=local KQI_LISTEN=127.0.0.1:$port KQI_LOG_LEVEL=warn
mkdir -p -m 0750 "$KQI_SHARED_ROOT"
export KQI_SECRET_KEY_FILE=$work/secret.key
(umask 077; head -c 32 /dev/urandom > "$KQI_SECRET_KEY_FILE")
"$bin" migrate >/dev/null
# A fresh password each run (the portal refuses guessable ones).
password="Kq-$(head -c 12 /dev/urandom | base64 | tr -d '/+=')"
KQI_ADMIN_USER=bench KQI_ADMIN_PASSWORD=$password KQI_ADMIN_TENANT=bench "$bin" create-admin >/dev/null
"$bin" serve & pid=$!
for _ in $(seq 1 100); do curl -fsS "http://$KQI_LISTEN/healthz" >/dev/null 2>&1 && break; sleep 0.1; done

src=$work/source.bin
dd if=/dev/urandom of="$src" bs=1M count="$size_mib" status=none

token=$(curl -fsS -X POST "http://$KQI_LISTEN/api/v1/auth/token" -H 'Content-Type: application/json' \
  -d "{\"username\":\"bench\",\"password\":\"$password\",\"tenant\":\"bench\"}" | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
auth=$work/auth.header
(umask 077; printf 'Authorization: Bearer %s\n' "$token" > "$auth")

# Three rounds, the order swapped each round, medians compared: disk speed
# wanders on shared machines. cp is followed by a sync of the copy because
# the portal's store syncs each file before renaming it into place.
cp_times=() up_times=()
# Before each run: the page cache is dropped and the source read back in,
# so both runs start from the same memory state (on a VM, pages the guest
# never touched are several times slower to fill than recycled ones).
settle() {
  sync
  echo 3 > /proc/sys/vm/drop_caches
  cat "$src" >/dev/null
}
run_cp() {
  local t0 t1
  settle
  t0=$(date +%s.%N)
  cp "$src" "$work/copy.bin" && sync "$work/copy.bin"
  t1=$(date +%s.%N)
  rm -f "$work/copy.bin"
  cp_times+=("$(echo "$t1 - $t0" | bc)")
}
run_upload() {
  local t0 t1 code id
  settle
  t0=$(date +%s.%N)
  code=$(curl -sS -o "$work/resp.json" -w '%{http_code}' -H @"$auth" \
    -F name=bench -F "file=@$src;filename=big.bin" "http://$KQI_LISTEN/api/v1/data")
  t1=$(date +%s.%N)
  [ "$code" = 201 ] || { echo "upload failed: HTTP $code: $(cat "$work/resp.json")" >&2; exit 1; }
  up_times+=("$(echo "$t1 - $t0" | bc)")
  id=$(sed -n 's/^{"id":\([0-9]*\).*/\1/p' "$work/resp.json")
  curl -fsS -X DELETE -H @"$auth" "http://$KQI_LISTEN/api/v1/data/$id"
}
run_cp; run_upload
run_upload; run_cp
run_cp; run_upload
rss_kb=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
median() { printf '%s\n' "$@" | sort -g | sed -n 2p; }

awk -v mib="$size_mib" -v cp="$(median "${cp_times[@]}")" -v up="$(median "${up_times[@]}")" -v rss="$rss_kb" 'BEGIN {
  cps = mib / cp; ups = mib / up; ratio = ups / cps; rssmb = rss / 1024
  printf "upload %d MiB (median of 3): portal %.0f MiB/s, cp %.0f MiB/s, portal/cp = %.2f (target >= 0.70)\n", mib, ups, cps, ratio
  printf "portal peak RSS: %.1f MB (target < 100 MB)\n", rssmb
  exit !(ratio >= 0.70 && rssmb < 100)
}'
