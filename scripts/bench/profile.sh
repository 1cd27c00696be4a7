#!/usr/bin/env bash
# Where the service's CPU goes per create: starts the mock (benchmark mode) and the release
# service on a fresh Postgres database, drives immediate creates with wrk at PROFILE_C
# connections for PROFILE_SECONDS, and meanwhile samples the service with `perf record`
# (symbols) and counts its context switches and syscalls with `perf stat`. Prints CPU us per
# create, context switches per create and the top symbols, and the mock's CPU per request beside
# them. Not part of `cargo test`.
#
#   scripts/bench/profile.sh                 # c=1, 10 s, binaries in target/release
#   PROFILE_C=64 PROFILE_BIN=/path scripts/bench/profile.sh
#   PROFILE_NO_ANALYZE=1 ...                  # measure the plans made on the empty table
#   PROFILE_URL_PARAMS=sslmode=disable ...    # the database connection without TLS
#   PROFILE_CALLGRIND=1 ...                   # instructions per create (valgrind's callgrind):
#                                             # the same for the same binary and load, whatever
#                                             # else the machine does; user space only
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
# PROFILE_URL_PARAMS: appended to the database URL (`sslmode=disable`, say).
export DATABASE_URL=${PG%/*}/$DB${PROFILE_URL_PARAMS:+?$PROFILE_URL_PARAMS}
"$BIN/mosaic-social" migrate >/dev/null
# PROFILE_SQL: statements run after the migration (to try a schema change, say).
[ -z "${PROFILE_SQL:-}" ] || psql "$DATABASE_URL" -qc "$PROFILE_SQL" >/dev/null
KEY=$("$BIN/mosaic-social" keys create --organization profile --label profile | tail -n 1)
"$BIN/mock-ayrshare" --bind "127.0.0.1:$MOCK_PORT" --api-key bench --forget --rate-limit-max 0 \
  > "$OUT/mock.log" 2>&1 &
MOCK=$!
pids+=("$MOCK")
UNDER=()
[ -z "${PROFILE_CALLGRIND:-}" ] || UNDER=(valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind.out")
RATE_LIMIT_PER_MINUTE=0 AYRSHARE_API_KEY=bench AYRSHARE_BASE_URL="http://127.0.0.1:$MOCK_PORT/api" \
  BIND_ADDR="127.0.0.1:$PORT" "${UNDER[@]}" "$BIN/mosaic-social" serve > "$OUT/service.out" 2> "$OUT/service.log" &
SERVICE=$!
pids+=("$SERVICE")
for _ in $(seq 1 600); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
BODY='{"post": "bench: an immediate post to two platforms", "platforms": ["x", "linkedin"]}'
export BENCH_LUA_DIR=$PWD/scripts/bench BENCH_KEY=$KEY BENCH_PATH=/social/post BENCH_BODY=$BODY BENCH_OUT=$OUT/wrk.json
# Warm up (connections, caches), then measure.
wrk -t1 -c "$C" -d 2s -s scripts/bench/post.lua "http://127.0.0.1:$PORT" >/dev/null
# Statistics for what the warm-up wrote: sqlx keeps each statement prepared, and a plan made
# while the table was empty stays a sequential scan until the next ANALYZE invalidates it
# (autovacuum's, a minute or more later, or never where autovacuum is off).
[ -n "${PROFILE_NO_ANALYZE:-}" ] || psql "$DATABASE_URL" -qc analyze
# The measured creates, into wrk.txt.
measure() {
  wrk -t "$(( C < 2 ? 1 : 2 ))" -c "$C" -d "${SECONDS_RUN}s" -s scripts/bench/post.lua \
    "http://127.0.0.1:$PORT" > "$OUT/wrk.txt"
}
if [ -n "${PROFILE_CALLGRIND:-}" ]; then
  # Counts from here: the start, the warm-up and the ANALYZE are left out.
  callgrind_control -z "$SERVICE" >/dev/null 2>&1
  measure
  sleep 1 # the creates wrk cut off finish
  rm -f "$OUT"/callgrind.out.*
  callgrind_control -d "$SERVICE" >/dev/null 2>&1
  sleep 1
  dump=$(ls "$OUT"/callgrind.out.* | tail -n 1)
  requests=$(awk '/requests in/ {print $1}' "$OUT/wrk.txt")
  total=$(awk '/^(summary|totals):/ {print $2; exit}' "$dump")
  echo "c=$C: $requests creates in ${SECONDS_RUN}s under callgrind; $(( total / requests )) instructions per create"
  # The functions by their own instructions (the runtime's frames, at 99 % and more, left
  # out). A `memcpy` copied with `rep movsb` counts one instruction per byte: it costs far less
  # time than its share here.
  callgrind_annotate --threshold=100 "$dump" 2>/dev/null \
    | awk 'match($0, /^ *[0-9,]+ \( *[0-9.]+%\)/) { split($0, p, "[(%]"); if (p[2] + 0 < 99) print }' \
    | head -n "${PROFILE_TOP:-40}" | cut -c1-160
  exit 0
fi
ticks() { awk '{print $14 + $15}' "/proc/${1:-$SERVICE}/stat"; }
before=$(ticks); mock_before=$(ticks "$MOCK")
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
measure
wait "$stat_pid" "$record_pid" || true
after=$(ticks); mock_after=$(ticks "$MOCK")
requests=$(awk '/requests in/ {print $1}' "$OUT/wrk.txt")
hz=$(getconf CLK_TCK)
echo "c=$C: $requests creates in ${SECONDS_RUN}s; service CPU $(( (after - before) * 1000000 / hz / requests )) us per create"
# The mock is a server with nothing to wait on: its CPU per request, at the same load, shows
# what waking up for each request costs any tokio server on this machine.
echo "  mock CPU $(( (mock_after - mock_before) * 1000000 / hz / requests )) us per create"
awk -v n="$requests" '/context-switches|cpu-migrations|sys_enter/ {gsub(",","",$1); printf "  %-28s %8.2f per create\n", $2, $1 / n}' "$OUT/perf-stat.txt"
if [ -n "${PROFILE_PLAIN:-}" ]; then
  :
elif [ -n "${PROFILE_STRACE:-}" ]; then
  awk -v n="$requests" 'NR > 2 && $4 ~ /^[0-9]+$/ {printf "  %-20s %8.2f per create\n", $NF, $4 / n}' "$OUT/strace.txt" | sort -k2 -nr | head -n 15
else
  perf report -i "$OUT/perf.data" --no-children --sort dso,symbol --stdio 2>/dev/null \
    | grep -v '^#' | grep -v '^$' | sed -e 's/ *- *- *$//' | cut -c1-150 | head -n "${PROFILE_TOP:-40}"
fi
