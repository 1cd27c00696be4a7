#!/usr/bin/env bash
# The growth benchmark of issue 21: builds a Postgres database of GROWTH_RECORDS tracking records
# (default 10,000,000) across GROWTH_ORGS organizations (default 1,000) with the events of the year,
# and a small twin, then measures the read calls on both (scripts/bench/growth.py). See the
# "Growth" section of docs/benchmark.md.
#
#   scripts/bench/growth.sh build [NAME RECORDS ORGS]   one database (default: mosaic_growth,
#                                                       GROWTH_RECORDS, GROWTH_ORGS)
#   scripts/bench/growth.sh build-all                   mosaic_growth and mosaic_growth_small
#                                                       (GROWTH_SMALL_RECORDS, default 10,000, in
#                                                       one organization: see the docs)
#   scripts/bench/growth.sh measure                     growth.py on both databases
#   scripts/bench/growth.sh explain | reconcile | purge growth.py's other steps
#
# The build is fast because it is plain: the migrations (by the release binary, as a deployment
# runs them), the secondary indexes of the two big tables saved and dropped, one
# INSERT ... SELECT per table from generate_series (both tables at once, one core each), the
# indexes built again (one session per table), VACUUM ANALYZE (so that no autovacuum or hint-bit
# writes land in the measurements). Triggers and foreign keys are off for the load only
# (session_replication_role): events.sql writes what the trigger would have.
#
# Settings (environment): BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres),
# GROWTH_RECORDS, GROWTH_ORGS, GROWTH_SMALL_RECORDS, GROWTH_BIN (default target/release).
set -euo pipefail
cd "$(dirname "$0")/../.."

PG_URL=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
RECORDS=${GROWTH_RECORDS:-10000000}
ORGS=${GROWTH_ORGS:-1000}
SMALL_RECORDS=${GROWTH_SMALL_RECORDS:-10000}
BIN=${GROWTH_BIN:-target/release}
SQL=scripts/bench/growth

log() { printf '== %s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
db_url() { python3 -c 'import sys,urllib.parse as u; p=u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/"+sys.argv[2])))' "$PG_URL" "$1"; }
TABLES="'scheduled_social_posts_v2', 'social_post_events'"

build() { # NAME RECORDS ORGS
  local name=$1 records=$2 orgs=$3 url started
  url=$(db_url "$name")
  started=$(date +%s)
  log "$name: $records records across $orgs organizations"
  psql "$PG_URL" -qX -v ON_ERROR_STOP=1 -c "drop database if exists $name with (force)" -c "create database $name" >/dev/null
  DATABASE_URL=$url "$BIN/mosaic-social" migrate >/dev/null
  local q="psql $url -qX -v ON_ERROR_STOP=1 -v records=$records -v orgs=$orgs"
  $q -f "$SQL/source.sql" -f "$SQL/orgs.sql"
  # Every index of the two tables but their primary keys, kept to be built again after the load:
  # filling a table is several times faster than maintaining a dozen indexes row by row.
  $q <<'EOF'
create table growth.indexes as
select i.indexrelid::regclass::text as name, pg_get_indexdef(i.indexrelid) as definition,
       c.conname as constraint_name, pg_get_constraintdef(c.oid) as constraint_definition,
       i.indrelid::regclass::text as table_name
from pg_index i
left join pg_constraint c on c.conindid = i.indexrelid and c.contype in ('u', 'p')
where i.indrelid in ('scheduled_social_posts_v2'::regclass, 'social_post_events'::regclass)
  and not i.indisprimary;
select case when constraint_name is null then format('drop index %s', name)
            else format('alter table %s drop constraint %I', table_name, constraint_name) end
from growth.indexes \gexec
EOF
  # The transaction ids of the year: below the server's current one (see growth.xid_at).
  local top
  top=$(psql "$url" -AtqX -c "select pg_current_xact_id()::text::bigint - 1000")
  log "$name: loading (transaction ids up to $top)"
  $q -v top="$top" -f "$SQL/posts.sql" &
  local posts=$!
  $q -v top="$top" -f "$SQL/events.sql" &
  local events=$!
  wait $posts
  wait $events
  log "$name: loaded in $(( $(date +%s) - started )) s; building the indexes"
  local t
  for t in scheduled_social_posts_v2 social_post_events; do
    $q -v table="$t" <<'EOF' &
set maintenance_work_mem = '1GB';
set max_parallel_maintenance_workers = 0;
select case when constraint_name is null then definition
            else format('alter table %s add constraint %I %s', table_name, constraint_name,
                        constraint_definition) end
from growth.indexes where table_name = :'table' \gexec
EOF
  done
  wait
  log "$name: indexes built at $(( $(date +%s) - started )) s; vacuum analyze"
  # The events' counter goes on after the loaded seqs (account events share it).
  $q -c "select setval('social_post_events_seq_seq', (select max(seq) from social_post_events))" >/dev/null
  psql "$url" -qX -c "vacuum (analyze) scheduled_social_posts_v2" &
  psql "$url" -qX -c "vacuum (analyze) social_post_events" &
  wait
  $q -c "vacuum analyze" -c "drop schema growth cascade"
  log "$name: built in $(( $(date +%s) - started )) s"
  psql "$url" -AtqX -F' ' <<'EOF' >&2
select 'records', count(*) from scheduled_social_posts_v2;
select 'scheduled', count(*), 'due', count(*) filter (where schedule_date <= now())
  from scheduled_social_posts_v2 where tracked_status = 'scheduled';
select 'events', count(*) from social_post_events;
select 'size', pg_size_pretty(pg_database_size(current_database()));
EOF
}

case ${1:-} in
  build)
    build "${2:-mosaic_growth}" "${3:-$RECORDS}" "${4:-$ORGS}" ;;
  build-all)
    # The small twin holds one organization's year (10,000 records): the measured organization
    # has the same records, pages and filters in both; only the table around it grows.
    build mosaic_growth_small "$SMALL_RECORDS" 1
    build mosaic_growth "$RECORDS" "$ORGS" ;;
  measure|explain|reconcile|purge)
    exec python3 scripts/bench/growth.py "$@" ;;
  *)
    sed -n '2,14p' "$0" >&2; exit 2 ;;
esac
