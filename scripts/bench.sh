#!/usr/bin/env bash
# The benchmark, in one command: builds in release mode, starts what it needs (Postgres if it is
# not running, the shipped mock Ayrshare in --forget mode, the service on Postgres and on SQLite),
# drives POST /social/post and GET /social/post/track/{id} with wrk at each concurrency, measures
# in the same run the two ceilings of a create (the mock alone under wrk; the database alone doing
# the service's statements: pgbench for Postgres, SQLite through Python's sqlite3), checks that
# nothing was lost, prints the table and writes it as JSON. See docs/benchmark.md.
#
# Every case is measured BENCH_ROUNDS times, the rounds one after another, each case after a
# checkpoint of the database; the table shows each case's median round, so that one disturbed
# round (a neighbour on the shared disk, autovacuum) does not decide a ratio.
#
# Settings (environment):
#   BENCH_DURATION=5            seconds per case and round
#   BENCH_WARMUP=2              seconds of creates before the cases (then ANALYZE); 0: none
#   BENCH_ROUNDS=3              rounds
#   BENCH_CONCURRENCY="1 64"    connections (wrk), clients (pgbench), threads (sqlite)
#   BENCH_BACKENDS="postgres sqlite"
#   BENCH_PG_URL=postgres://postgres@127.0.0.1:5432/postgres   a server we may create a database on
#   BENCH_OUT=target/bench      where the results go (results.json, raw/, logs/)
#   BENCH_PORT BENCH_MOCK_PORT  the service's and the mock's ports (default: free ones)
#   BENCH_SKIP_BUILD=1          use the release binaries as they are
#   BENCH_BIN=DIR               take the binaries from DIR (default: the release build)
#   BENCH_CASES="immediate idempotent scheduled replay track"   the service's cases; add
#                               `webhook` (Postgres) for immediate creates with one endpoint
#                               subscribed to every event, delivered to a local receiver
#                               (bench-receiver of crates/mock-ayrshare, which counts every POST
#                               and every distinct webhook-id), and the backlog's drain (events/s);
#                               `outbox` for the same creates with the delivering process paused
#                               (what the outbox alone costs the write path), then their drain
#   BENCH_DELIVERY_IN_SERVICE=1 deliveries made by the service process itself, as before
#                               2026-12-04 (not with `outbox`, which pauses the delivering process)
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${BENCH_DURATION:-5}
WARMUP=${BENCH_WARMUP:-2}
ROUNDS=${BENCH_ROUNDS:-3}
CONCURRENCY=${BENCH_CONCURRENCY:-"1 64"}
BACKENDS=${BENCH_BACKENDS:-"postgres sqlite"}
PG_URL=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
OUT=${BENCH_OUT:-target/bench}
# Free ports by default: another server on a fixed port would answer in our place.
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
BIN=${BENCH_BIN:-${CARGO_TARGET_DIR:-target}/release}
LUA=$PWD/scripts/bench
HELPER="python3 scripts/bench/bench.py"
CASES=${BENCH_CASES:-"immediate idempotent scheduled replay track"}
CORES=$(nproc)
RUN=$(date +%s)-$$
MOCK_KEY=bench-ayrshare-key
BODY='{"post": "bench: an immediate post to two platforms", "platforms": ["x", "linkedin"]}'
SCHEDULED_BODY='{"post": "bench: a scheduled post", "platforms": ["x", "linkedin"], "schedule_date": "2099-03-10T16:00:00Z"}'
# What the service sends the mock for BODY (x is twitter at Ayrshare), for the mock's own ceiling.
AYRSHARE_BODY='{"post": "bench: an immediate post to two platforms", "platforms": ["twitter", "linkedin"], "idempotencyKey": "bench"}'

log() { printf '\n== %s\n' "$*" >&2; }
die() { echo "bench: $*" >&2; exit 1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# --- Tools -----------------------------------------------------------------------------------
pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v python3 >/dev/null || missing+=(python3)
command -v curl >/dev/null || missing+=(curl)
[ -n "$(pg_bin)" ] || missing+=(postgresql)
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]} (Debian packages)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
fi
PATH="$(pg_bin):$PATH"
PORT=${BENCH_PORT:-$(free_port)}
MOCK_PORT=${BENCH_MOCK_PORT:-$(free_port)}

if [ -z "${BENCH_SKIP_BUILD:-}" ]; then
  log "cargo build --release (mosaic-social, mock-ayrshare)"
  cargo build --release --locked --bins -p mosaic-social -p mock-ayrshare
fi
[ -x "$BIN/mosaic-social" ] && [ -x "$BIN/mock-ayrshare" ] || die "no release binaries in $BIN"

# --- Postgres (as .ci/run) ---------------------------------------------------------------------
if [[ " $BACKENDS " == *" postgres "* ]]; then
  if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    log "starting PostgreSQL"
    as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n 1)" main start
  fi
  for _ in $(seq 1 60); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  if ! psql "$PG_URL" -Atqc 'select 1' >/dev/null 2>&1; then
    as_root su postgres -c "psql -qc \"alter role postgres password 'postgres'\""
    PG_URL=postgres://postgres:postgres@127.0.0.1:5432/postgres
  fi
  psql "$PG_URL" -Atqc 'select 1' >/dev/null || die "cannot reach Postgres at $PG_URL"
fi

rm -rf "$OUT/raw" "$OUT/logs" "$OUT/sqlite" "$OUT/pgbench"
mkdir -p "$OUT/raw" "$OUT/logs" "$OUT/sqlite" "$OUT/pgbench"
OUT_ABS=$(cd "$OUT" && pwd)  # BENCH_OUT may be relative or absolute
RAW=$OUT_ABS/raw

pids=()
# (A process the `outbox` case paused is woken, or it would not act on the TERM.)
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; kill -CONT "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

wait_for() { # URL
  for _ in $(seq 1 100); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.1; done
  die "nothing answers at $1"
}
threads_for() { local c=$1; if [ "$c" -lt "$CORES" ]; then echo "$c"; else echo "$CORES"; fi; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# Every Postgres process's CPU ticks (the server's backends live as long as the pool's
# connections, so a difference is the server's work in between).
pg_ticks() { for pid in $(pgrep -x postgres); do awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || true; done | awk '{s += $1} END {print s + 0}'; }
mock_posts() {
  curl -fsS -H "Authorization: Bearer $MOCK_KEY" "http://127.0.0.1:$MOCK_PORT/mock/stats" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["posts_received"])'
}

# wrk NAME C SCRIPT URL [VAR=VALUE...]: one case, its summary in $RAW/NAME.json.
run_wrk() {
  local name=$1 c=$2 script=$3 url=$4; shift 4
  env BENCH_LUA_DIR="$LUA" BENCH_OUT="$RAW/$name.json" BENCH_RUN="$RUN-$name" "$@" \
    wrk -t "$(threads_for "$c")" -c "$c" -d "${DURATION}s" --timeout 30s -s "$LUA/$script" "$url" \
    > "$OUT/logs/$name.wrk.txt"
}

log "load before: $(uptime)"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# --- The mock alone --------------------------------------------------------------------------
"$BIN/mock-ayrshare" --bind "127.0.0.1:$MOCK_PORT" --api-key "$MOCK_KEY" --forget \
  --rate-limit-max 0 > "$OUT/logs/mock.log" 2>&1 &
MOCK_PID=$!
pids+=("$MOCK_PID")
for _ in $(seq 1 100); do mock_posts >/dev/null 2>&1 && break; sleep 0.1; done
for round in $(seq 1 "$ROUNDS"); do
  for c in $CONCURRENCY; do
    log "mock alone, c=$c, round $round"
    run_wrk "mock.alone.c$c.r$round" "$c" post.lua "http://127.0.0.1:$MOCK_PORT" \
      BENCH_KEY="$MOCK_KEY" BENCH_PATH=/api/post BENCH_BODY="$AYRSHARE_BODY"
  done
done

declare -A PEAK_RSS

# --- The service, per backend ----------------------------------------------------------------
for backend in $BACKENDS; do
  case $backend in
    postgres)
      DB_NAME=mosaic_bench
      psql "$PG_URL" -qc "drop database if exists $DB_NAME with (force)" -c "create database $DB_NAME" >/dev/null
      DB_URL=$(python3 -c 'import sys,urllib.parse as u; p=u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/"+sys.argv[2])))' "$PG_URL" "$DB_NAME")
      count_records() { psql "$DB_URL" -Atc "select count(*), count(*) filter (where tracked_status = 'pending') from scheduled_social_posts_v2" -F' '; }
      # Each case starts with the previous one's dirty pages on disk, so none pays for another.
      checkpoint() { psql "$DB_URL" -qc checkpoint; }
      ;;
    sqlite)
      DB_FILE=$OUT_ABS/sqlite/bench.db
      DB_URL=sqlite://$DB_FILE
      count_records() { $HELPER sqlite-count "$DB_FILE"; }
      checkpoint() { $HELPER sqlite-checkpoint "$DB_FILE"; }
      ;;
    *) die "unknown backend $backend (postgres or sqlite)" ;;
  esac
  export DATABASE_URL=$DB_URL
  "$BIN/mosaic-social" migrate >/dev/null
  KEY=$("$BIN/mosaic-social" keys create --organization bench --label bench | tail -n 1)
  WEBHOOKS=
  DELIVERY=true
  if [[ " $CASES " == *" webhook "* || " $CASES " == *" outbox "* ]] && [ "$backend" = postgres ]; then
    WEBHOOKS=1
    RECEIVER_PORT=$(free_port)
    [ -x "$BIN/bench-receiver" ] || die "no bench-receiver in $BIN (cargo build --release -p mock-ayrshare)"
    "$BIN/bench-receiver" "$RECEIVER_PORT" > "$OUT/logs/receiver.log" 2>&1 &
    RECEIVER_PID=$!
    pids+=("$RECEIVER_PID")
    receiver_stats() { curl -fsS "http://127.0.0.1:$RECEIVER_PORT/stats" | python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["received"], s["distinct"])'; }
    # Deliveries are made by a second `serve` on the same database (a delivery replica, as
    # docs/operations.md describes), running in every case; only the `webhook` and `outbox`
    # cases have an enabled endpoint. The `outbox` case pauses it (SIGSTOP) while the creates
    # run, so that their figure is the write path's alone: the event and its queued delivery
    # written in each create's transaction.
    export SECRETS_KEY=${SECRETS_KEY:-$(python3 -c 'import base64,os; print(base64.b64encode(os.urandom(32)).decode())')}
    export WEBHOOK_ALLOW_HTTP=true WEBHOOK_ALLOW_PRIVATE_TARGETS=true
    if [ -n "${BENCH_DELIVERY_IN_SERVICE:-}" ]; then
      [[ " $CASES " == *" outbox "* ]] && die "the outbox case pauses the delivering process: not with BENCH_DELIVERY_IN_SERVICE"
    else
      DELIVERY=false
    fi
  fi
  # serve NAME PORT DELIVERY: a service process on the mock, its pid in SERVED_PID.
  serve() {
    RATE_LIMIT_PER_MINUTE=0 AYRSHARE_API_KEY=$MOCK_KEY WEBHOOK_DELIVERY=$3 \
      AYRSHARE_BASE_URL="http://127.0.0.1:$MOCK_PORT/api" BIND_ADDR="127.0.0.1:$2" \
      "$BIN/mosaic-social" serve > "$OUT/logs/$1-$backend.out" 2> "$OUT/logs/$1-$backend.log" &
    SERVED_PID=$!
    pids+=("$SERVED_PID")
    wait_for "http://127.0.0.1:$2/healthz"
    kill -0 "$SERVED_PID" 2>/dev/null || die "the $1 did not start: $(tail -n 3 "$OUT/logs/$1-$backend.log")"
  }
  serve service "$PORT" "$DELIVERY"
  SERVICE_PID=$SERVED_PID
  if [ -n "$WEBHOOKS" ] && [ "$DELIVERY" = false ]; then
    serve deliverer "$(free_port)" true
    DELIVERER_PID=$SERVED_PID
  elif [ -n "$WEBHOOKS" ]; then
    DELIVERER_PID=$SERVICE_PID
  fi
  # The delivering process's CPU ticks, for the drains; `-1` when it is the service, whose CPU
  # counts the creates as well.
  deliverer_ticks() { if [ "$DELIVERER_PID" = "$SERVICE_PID" ]; then echo -1; else cpu_ticks "$DELIVERER_PID"; fi; }
  SERVICE=http://127.0.0.1:$PORT
  AUTH="Authorization: Bearer $KEY"

  # What the replay and track cases read: one create with a key, made before them.
  REPLAY_KEY=bench-replay-$RUN
  first=$(curl -fsS -X POST "$SERVICE/social/post" -H "$AUTH" -H 'Content-Type: application/json' \
    -H "Idempotency-Key: $REPLAY_KEY" -d "$BODY")
  TRACKING_ID=$(printf '%s' "$first" | python3 -c 'import json,sys; print(json.load(sys.stdin)["tracking_id"])')
  if [ -n "$WEBHOOKS" ]; then
    ENDPOINT_ID=$(curl -fsS -X POST "$SERVICE/webhooks/endpoints" -H "$AUTH" -H 'Content-Type: application/json' \
      -d "{\"url\": \"http://127.0.0.1:$RECEIVER_PORT/hook\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
    endpoint_disabled() { curl -fsS -o /dev/null -X PATCH "$SERVICE/webhooks/endpoints/$ENDPOINT_ID" -H "$AUTH" \
      -H 'Content-Type: application/json' -d "{\"disabled\": $1}"; }
    endpoint_disabled true
    deliveries() { psql "$DB_URL" -Atc "select count(*) filter (where state = 'delivered'), count(*) filter (where state = 'pending'), count(*) filter (where state = 'failed') from webhook_deliveries" -F' '; }
    # sample_until_delivered FILE: "time delivered pending failed" every 0.1 s into FILE until
    # no delivery is pending (at most 300 s).
    sample_until_delivered() {
      local delivered pending_deliveries failed_deliveries
      for _ in $(seq 1 3000); do
        read -r delivered pending_deliveries failed_deliveries < <(deliveries)
        echo "$(date +%s.%N) $delivered $pending_deliveries $failed_deliveries" >> "$1"
        [ "$pending_deliveries" = 0 ] && break
        sleep 0.1
      done
    }
  fi

  # Warm-up, then statistics: sqlx keeps every statement prepared on each connection, and a plan
  # made while the table was empty stays a sequential scan (the outcome update found its row by
  # reading the whole table: 0.35-0.40 ms per update instead of 0.22 at c=1) until an ANALYZE
  # invalidates it: autovacuum's comes a minute or more into a run, and never on a server with
  # autovacuum off (this machine's: conf.d/90-ci.conf); pgbench, measured last, always ran on
  # the analyzed table. BENCH_WARMUP=0 skips this.
  if [ "$WARMUP" != 0 ]; then
    log "$backend: warm-up, $WARMUP s of creates, then analyze"
    env BENCH_LUA_DIR="$LUA" BENCH_OUT="$OUT/logs/warmup-$backend.json" BENCH_RUN="$RUN-warmup" \
      BENCH_KEY="$KEY" BENCH_PATH=/social/post BENCH_BODY="$BODY" \
      wrk -t 2 -c 8 -d "${WARMUP}s" -s "$LUA/post.lua" "$SERVICE" > "$OUT/logs/warmup-$backend.wrk.txt"
    sleep 0.5 # the requests wrk cut off finish
    if [ "$backend" = postgres ]; then psql "$DB_URL" -qc analyze; fi
  fi

  # Rounds inside each concurrency, and `idempotent` right after `immediate`: the cases a ratio
  # compares run close together.
  for c in $CONCURRENCY; do
   for round in $(seq 1 "$ROUNDS"); do
    for what in $CASES; do
      endpoint_case=
      case $what in webhook|outbox) endpoint_case=1 ;; esac
      [ -n "$endpoint_case" ] && [ -z "$WEBHOOKS" ] && continue
      name=$backend.$what.c$c.r$round
      log "$backend: $what, c=$c, round $round"
      checkpoint
      read -r records_before _ < <(count_records)
      mock_before=$(mock_posts)
      [ -n "$endpoint_case" ] && { endpoint_disabled false; read -r delivered_before _ < <(deliveries); }
      [ "$what" = outbox ] && kill -STOP "$DELIVERER_PID"
      started=$(date +%s.%N)
      cpu_before=$(cpu_ticks "$SERVICE_PID")
      [ -n "$WEBHOOKS" ] && receiver_cpu_before="$(cpu_ticks "$RECEIVER_PID") $(deliverer_ticks)"
      case $what in
        webhook|outbox|immediate) run_wrk "$name" "$c" post.lua "$SERVICE" BENCH_KEY="$KEY" BENCH_PATH=/social/post BENCH_BODY="$BODY" ;;
        scheduled) run_wrk "$name" "$c" post.lua "$SERVICE" BENCH_KEY="$KEY" BENCH_PATH=/social/post BENCH_BODY="$SCHEDULED_BODY" ;;
        idempotent) run_wrk "$name" "$c" idempotent.lua "$SERVICE" BENCH_KEY="$KEY" BENCH_BODY="$BODY" ;;
        replay) run_wrk "$name" "$c" replay.lua "$SERVICE" BENCH_KEY="$KEY" BENCH_BODY="$BODY" BENCH_IDEMPOTENCY_KEY="$REPLAY_KEY" ;;
        track) run_wrk "$name" "$c" get.lua "$SERVICE" BENCH_KEY="$KEY" BENCH_PATH="/social/post/track/$TRACKING_ID" ;;
      esac
      cpu_after=$(cpu_ticks "$SERVICE_PID")
      [ "$what" = outbox ] && kill -CONT "$DELIVERER_PID"
      if [ -n "$endpoint_case" ]; then
        # The backlog's drain: deliveries made, sampled every 0.1 s, from the end of the creates
        # until none is pending (at most 300 s), into NAME.drain.json. After `outbox` that is
        # every event of the case, delivered with nothing else running.
        ended=$(date +%s.%N)
        samples=$RAW/$name.drain.samples
        : > "$samples"
        sample_until_delivered "$samples"
        endpoint_disabled true
        read -r received distinct < <(receiver_stats)
        # shellcheck disable=SC2086 # the CPU ticks before are two numbers
        $HELPER drain "$RAW/$name.drain.json" "$samples" "$started" "$ended" "$delivered_before" \
          "$received" "$distinct" $receiver_cpu_before "$(cpu_ticks "$RECEIVER_PID")" \
          "$(deliverer_ticks)"
      fi
      # Requests cut off by wrk's deadline finish in the service, some not yet written when wrk
      # stops (queued for a connection): wait until nothing moves, no record pending and the
      # same counts twice in a row, then compare.
      last=
      for _ in $(seq 1 100); do
        read -r records_after pending < <(count_records)
        mock_after=$(mock_posts)
        [ "$pending" = 0 ] && [ "$records_after $mock_after" = "$last" ] && break
        last="$records_after $mock_after"
        sleep 0.2
      done
      kind=create; case $what in replay|track) kind=read ;; esac
      $HELPER check "$RAW/$name.check.json" "$RAW/$name.json" "$kind" "$c" \
        "$records_before" "$records_after" "$pending" "$mock_before" "$mock_after" \
        "$cpu_before" "$cpu_after"
    done
   done
  done
  if [ -n "$WEBHOOKS" ]; then
    # Delivery's own rate, with nothing else running: BENCH_BACKLOG events (the latest post
    # events, delivered already in the `webhook` case) queued again for the endpoint at once,
    # as the fan-out trigger queues them, and drained; the receiver's counts start again, so
    # that each is received once more. The delivering process's, the receiver's and Postgres's
    # CPU per event delivered, into backlog-postgres-rN.json.
    for round in $(seq 1 "$ROUNDS"); do
      log "$backend: webhook backlog of ${BENCH_BACKLOG:-20000}, round $round"
      checkpoint
      curl -fsS -o /dev/null -X DELETE "http://127.0.0.1:$RECEIVER_PORT/stats"
      psql "$DB_URL" -qc "insert into webhook_deliveries (endpoint_id, event_id, event_type, event_seq, next_attempt_at, created_at) select '$ENDPOINT_ID', event_id, type, seq, now(), now() from (select * from social_post_events order by seq desc limit ${BENCH_BACKLOG:-20000}) e"
      read -r delivered_before _ < <(deliveries)
      cpu_before="$(cpu_ticks "$DELIVERER_PID") $(cpu_ticks "$RECEIVER_PID") $(pg_ticks)"
      started=$(date +%s.%N)
      endpoint_disabled false
      samples=$RAW/backlog-$backend-r$round.samples
      : > "$samples"
      sample_until_delivered "$samples"
      cpu_after="$(cpu_ticks "$DELIVERER_PID") $(cpu_ticks "$RECEIVER_PID") $(pg_ticks)"
      endpoint_disabled true
      read -r received distinct < <(receiver_stats)
      # shellcheck disable=SC2086 # the CPU ticks are three numbers each
      $HELPER backlog "$RAW/backlog-$backend-r$round.json" "$samples" "$started" \
        "$delivered_before" "$received" "$distinct" $cpu_before $cpu_after
    done
  fi
  PEAK_RSS[$backend]=$(awk '/^VmHWM:/ {print $2}' "/proc/$SERVICE_PID/status")
  kill "$SERVICE_PID"
  wait "$SERVICE_PID" 2>/dev/null || true
  if [ -n "$WEBHOOKS" ] && [ "$DELIVERER_PID" != "$SERVICE_PID" ]; then
    PEAK_RSS[deliverer]=$(awk '/^VmHWM:/ {print $2}' "/proc/$DELIVERER_PID/status")
    kill "$DELIVERER_PID"
    wait "$DELIVERER_PID" 2>/dev/null || true
  fi

  # --- The database alone, on the same database, with the service stopped ----------------------
  if [ "$backend" = postgres ]; then
    read -r ORG WS KID KEY_HASH < <(psql "$DB_URL" -Atc "select o.id, w.id, k.id, k.key_hash from organizations o join workspaces w on w.organization_id = o.id and w.is_primary join api_keys k on k.organization_id = o.id limit 1" -F' ')
    cat "$LUA/pg_lookups.sql" "$LUA/pg_write.sql" > "$OUT/pgbench/with_lookups.sql"
    $HELPER idempotent-sql "$LUA/pg_write.sql" > "$OUT/pgbench/idempotent.sql"
    # The JSON the statements bind, as the service binds it (see pg_write.sql).
    JSON_VARS=(-D results="$($HELPER json results)" -D provider_response="$($HELPER json provider_response)"
      -D stored_answer="$($HELPER json stored_answer)")
    for c in $CONCURRENCY; do
     for round in $(seq 1 "$ROUNDS"); do
      for variant in ceiling ceiling_idempotent ceiling_with_lookups; do
        script=$LUA/pg_write.sql
        [ "$variant" = ceiling_with_lookups ] && script=$OUT_ABS/pgbench/with_lookups.sql
        [ "$variant" = ceiling_idempotent ] && script=$OUT_ABS/pgbench/idempotent.sql
        name=postgres.$variant.c$c.r$round
        log "postgres alone ($variant), c=$c, round $round"
        checkpoint
        rm -f "$OUT/pgbench/$name".*
        (cd "$OUT/pgbench" && pgbench -n -M prepared -c "$c" -j "$(threads_for "$c")" -T "$DURATION" \
          -D organization_id="$ORG" -D workspace_id="$WS" -D api_key_id="$KID" -D key_hash="$KEY_HASH" \
          "${JSON_VARS[@]}" \
          -f "$script" -l --log-prefix="$name" "$DB_URL" > "$name.txt" 2>&1) \
          || die "pgbench failed: $(tail -n 3 "$OUT/pgbench/$name.txt")"
        $HELPER pgbench-summary "$OUT/pgbench/$name" "$OUT/pgbench/$name.txt" "$RAW/$name.json"
      done
     done
    done
  else
    for c in $CONCURRENCY; do
      for round in $(seq 1 "$ROUNDS"); do
        log "sqlite alone, c=$c, round $round"
        checkpoint
        $HELPER sqlite-ceiling "$DB_FILE" "$c" "$DURATION" "$RAW/sqlite.ceiling.c$c.r$round.json"
        checkpoint
        $HELPER sqlite-ceiling "$DB_FILE" "$c" "$DURATION" "$RAW/sqlite.ceiling_with_lookups.c$c.r$round.json" --lookups
      done
    done
  fi
done

LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
python3 - "$RAW/meta.json" <<EOF
import json, sys
json.dump({
    "duration_s": $DURATION, "rounds": $ROUNDS, "concurrency": "$CONCURRENCY".split(), "cores": $CORES,
    "load_before": "$LOAD_BEFORE", "load_after": "$LOAD_AFTER",
    "commit": "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)",
    "when": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
    "postgres_peak_rss_kib": ${PEAK_RSS[postgres]:-0}, "sqlite_peak_rss_kib": ${PEAK_RSS[sqlite]:-0},
    "deliverer_peak_rss_kib": ${PEAK_RSS[deliverer]:-0},
}, open(sys.argv[1], "w"))
EOF
$HELPER report "$RAW" "$OUT/results.json"
