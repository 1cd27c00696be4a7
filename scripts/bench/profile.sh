#!/usr/bin/env bash
# Where the service's CPU goes per create: starts the mock (benchmark mode) and the release
# service on a fresh Postgres database, drives immediate creates with wrk at PROFILE_C
# connections for PROFILE_SECONDS, and meanwhile samples the service with `perf record`
# (symbols) and counts its context switches and syscalls with `perf stat`. Prints CPU us per
# create, context switches per create, and the top symbols. Not part of `cargo test`.
#
#   scripts/bench/profile.sh                 # c=1, 10 s, binaries in target/release
#   PROFILE_C=64 PROFILE_BIN=/path scripts/bench/profile.sh
#   PROFILE_NO_ANALYZE=1 ...                  # measure the plans made on the empty table
set -euo pipefail
cd "$(dirname "$0")/../.."
C=${PROFILE_C:-1}
SECONDS_RUN=${PROFILE_SECONDS:-10}
BIN=${PROFILE_BIN:-target/release}
OUT=${PROFILE_OUT:-target/bench/profile}
PG=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
DB=mosaic_profile
mkdir -p "$OUT"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(free_port); MOCK_PORT=$(free_port)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
psql "$PG" -qc "drop database if exists $DB" -c "create database $DB" >/dev/null
export DATABASE_URL=${PG%/*}/$DB
"$BIN/mosaic-social" migrate >/dev/null
# PROFILE_SQL: statements run after the migration (to try a schema change, say).
[ -z "${PROFILE_SQL:-}" ] || psql "$DATABASE_URL" -qc "$PROFILE_SQL" >/dev/null
KEY=$("$BIN/mosaic-social" keys create --organization profile --label profile | tail -n 1)
"$BIN/mock-ayrshare" --bind "127.0.0.1:$MOCK_PORT" --api-key bench --forget --rate-limit-max 0 \
  > "$OUT/mock.log" 2>&1 &
pids+=("$!")
RATE_LIMIT_PER_MINUTE=0 AYRSHARE_API_KEY=bench AYRSHARE_BASE_URL="http://127.0.0.1:$MOCK_PORT/api" \
  BIND_ADDR="127.0.0.1:$PORT" "$BIN/mosaic-social" serve > "$OUT/service.out" 2> "$OUT/service.log" &
SERVICE=$!
pids+=("$SERVICE")
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
BODY='{"post": "bench: an immediate post to two platforms", "platforms": ["x", "linkedin"]}'
export BENCH_LUA_DIR=$PWD/scripts/bench BENCH_KEY=$KEY BENCH_PATH=/social/post BENCH_BODY=$BODY BENCH_OUT=$OUT/wrk.json
# Warm up (connections, caches), then measure.
wrk -t1 -c "$C" -d 2s -s scripts/bench/post.lua "http://127.0.0.1:$PORT" >/dev/null
# Statistics for what the warm-up wrote: sqlx keeps each statement prepared, and a plan made
# while the table was empty stays a sequential scan until the next ANALYZE invalidates it
# (autovacuum's, a minute or more later, or never where autovacuum is off).
[ -n "${PROFILE_NO_ANALYZE:-}" ] || psql "$DATABASE_URL" -qc analyze
ticks() { awk '{print $14 + $15}' "/proc/$SERVICE/stat"; }
before=$(ticks)
perf stat -e task-clock,context-switches,cpu-migrations,raw_syscalls:sys_enter -p "$SERVICE" \
  -o "$OUT/perf-stat.txt" -- sleep "$SECONDS_RUN" &
stat_pid=$!
if [ -n "${PROFILE_PLAIN:-}" ]; then
  # CPU and counts only: nothing sampled, so that the CPU figure is the service's own.
  sleep "$SECONDS_RUN" &
elif [ -n "${PROFILE_STRACE:-}" ]; then
  # Syscalls by kind instead of samples (strace slows the service: read only the counts).
  timeout -s INT "$SECONDS_RUN" strace -c -f -p "$SERVICE" -o "$OUT/strace.txt" 2>/dev/null &
else
  perf record -F 1999 -p "$SERVICE" -o "$OUT/perf.data" -- sleep "$SECONDS_RUN" 2>/dev/null &
fi
record_pid=$!
wrk -t "$(( C < 2 ? 1 : 2 ))" -c "$C" -d "${SECONDS_RUN}s" -s scripts/bench/post.lua \
  "http://127.0.0.1:$PORT" > "$OUT/wrk.txt"
wait "$stat_pid" "$record_pid" || true
after=$(ticks)
requests=$(awk '/requests in/ {print $1}' "$OUT/wrk.txt")
hz=$(getconf CLK_TCK)
echo "c=$C: $requests creates in ${SECONDS_RUN}s; service CPU $(( (after - before) * 1000000 / hz / requests )) us per create"
awk -v n="$requests" '/context-switches|cpu-migrations|sys_enter/ {gsub(",","",$1); printf "  %-28s %8.2f per create\n", $2, $1 / n}' "$OUT/perf-stat.txt"
if [ -n "${PROFILE_PLAIN:-}" ]; then
  :
elif [ -n "${PROFILE_STRACE:-}" ]; then
  awk -v n="$requests" 'NR > 2 && $4 ~ /^[0-9]+$/ {printf "  %-20s %8.2f per create\n", $NF, $4 / n}' "$OUT/strace.txt" | sort -k2 -nr | head -n 15
else
  perf report -i "$OUT/perf.data" --no-children --sort dso,symbol --stdio 2>/dev/null \
    | grep -v '^#' | grep -v '^$' | sed -e 's/ *- *- *$//' | cut -c1-150 | head -n "${PROFILE_TOP:-40}"
fi
