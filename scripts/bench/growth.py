#!/usr/bin/env python3
"""The growth benchmark's measuring steps (standard library, psql, wrk and the release binaries);
scripts/bench/growth.sh builds the databases first. See the "Growth" section of docs/benchmark.md.

  measure    p50/p99 of the read calls of one organization (GET /social/post/track/{id} of a
             random record of it, GET /social/posts first page, a deep cursor and each filter,
             GET /events from a late cursor) on mosaic_growth_small and mosaic_growth, the same
             calls on both, and their ratios.
  explain    the plan of every statement the service issues for those calls (auto_explain, with
             ANALYZE and BUFFERS, from the Postgres log), on mosaic_growth; flags any plan that
             reads one of the big tables without an index.
  reconcile  EXPLAIN (ANALYZE, BUFFERS) of the reconciler's claims on mosaic_growth (and of the
             claim as it was before the migration claim_indexes, for comparison), then one pass
             of the service's reconciler: its time and the rows and pages it read.
  purge      creates at c=64 (wrk, scripts/bench/post.lua, the mock in its benchmark mode) with
             nothing to purge, then with the idempotency purge and the event retention sweep
             working through a year's backlog (IDEMPOTENCY_RETENTION_HOURS=24,
             EVENT_RETENTION_DAYS=30); the loss, the purges' progress, the longest statement and
             lock waits meanwhile, and whether a table was rewritten. Deletes 11 months of events:
             run it last.

Settings (environment): BENCH_PG_URL, GROWTH_BIN (default target/release), GROWTH_OUT (default
target/bench/growth), GROWTH_DURATION (seconds per call and round, default 5), GROWTH_ROUNDS
(default 3), GROWTH_CONCURRENCY (the read calls' connections, default "1 16"), GROWTH_CALLS
(measure only the calls whose label contains one of these comma-separated words), GROWTH_DB and
GROWTH_SMALL_DB (default mosaic_growth and mosaic_growth_small).
"""

import base64
import hashlib
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from datetime import datetime, timedelta, timezone

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PG_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
BIN = os.path.abspath(os.path.join(ROOT, os.environ.get("GROWTH_BIN", "target/release")))
OUT = os.path.abspath(os.path.join(ROOT, os.environ.get("GROWTH_OUT", "target/bench/growth")))
DURATION = int(os.environ.get("GROWTH_DURATION", "5"))
ROUNDS = int(os.environ.get("GROWTH_ROUNDS", "3"))
CONCURRENCY = [int(c) for c in os.environ.get("GROWTH_CONCURRENCY", "1 16").split()]
LUA = os.path.join(ROOT, "scripts", "bench")
MOCK_KEY = "bench-ayrshare-key"
BIG = os.environ.get("GROWTH_DB", "mosaic_growth")
SMALL = os.environ.get("GROWTH_SMALL_DB", "mosaic_growth_small")
PG_LOG = "/var/log/postgresql/postgresql-15-main.log"
# Nothing in the background unless it is what is measured: no reconciler, no delivery, and
# retentions long enough that neither purge finds anything (the claims and events are at most a
# year old).
QUIET = {
    "RECONCILE_INTERVAL_SECS": "0",
    "WEBHOOK_DELIVERY": "false",
    "EVENT_RETENTION_DAYS": "3650",
    "IDEMPOTENCY_RETENTION_HOURS": str(24 * 365),
    "RATE_LIMIT_PER_MINUTE": "0",
}


def log(*args):
    print(time.strftime("== %H:%M:%S", time.gmtime()), *args, file=sys.stderr, flush=True)


def db_url(name):
    parts = urllib.parse.urlsplit(PG_URL)
    return urllib.parse.urlunsplit(parts._replace(path="/" + name))


def psql(name, sql, *args):
    """Rows of `sql` on database `name`, as lists of strings."""
    out = subprocess.run(
        ["psql", db_url(name), "-AtqX", "-F", "\t", "-v", "ON_ERROR_STOP=1", *args, "-c", sql],
        check=True, capture_output=True, text=True).stdout
    return [line.split("\t") for line in out.splitlines() if line]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seal(context, payload):
    """A cursor as src/domain/cursor.rs seals it (the check is no secret: it only catches typos
    and truncation)."""
    data = payload.encode()
    check = hashlib.sha256(context + data).digest()[:8]
    return base64.urlsafe_b64encode(data + check).decode().rstrip("=")


def list_cursor(created_at, record_id):
    micros = int(created_at.timestamp() * 1_000_000)
    return seal(b"mosaic-social list cursor v1", f"{micros}.{record_id.replace('-', '')}")


def events_cursor(change, seq):
    return seal(b"mosaic-social events cursor v1", f"{change}.{seq}")


def org_key(number):
    """The API key growth/orgs.sql gave organization `number`."""
    return "mk_growth" + str(number).rjust(34, "0")


class Services:
    """The mock (benchmark mode) and the service on one database, stopped on exit."""

    def __init__(self, name, env=None, tag="service"):
        os.makedirs(os.path.join(OUT, "logs"), exist_ok=True)
        self.mock_port, self.port = free_port(), free_port()
        self.mock = subprocess.Popen(
            [os.path.join(BIN, "mock-ayrshare"), "--bind", f"127.0.0.1:{self.mock_port}",
             "--api-key", MOCK_KEY, "--forget", "--rate-limit-max", "0"],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(OUT, "logs", "mock.log"), "w"))
        self.log_path = os.path.join(OUT, "logs", f"{tag}-{name}.log")
        full = {**os.environ, **QUIET, **(env or {})}
        full.update(DATABASE_URL=db_url(name), BIND_ADDR=f"127.0.0.1:{self.port}",
                    AYRSHARE_API_KEY=MOCK_KEY,
                    AYRSHARE_BASE_URL=f"http://127.0.0.1:{self.mock_port}/api")
        self.service = subprocess.Popen(
            [os.path.join(BIN, "mosaic-social"), "serve"], env=full,
            stdout=subprocess.DEVNULL, stderr=open(self.log_path, "w"))
        self.base = f"http://127.0.0.1:{self.port}"
        for _ in range(200):
            try:
                urllib.request.urlopen(self.base + "/healthz", timeout=1)
                return
            except OSError:
                if self.service.poll() is not None:
                    raise SystemExit("the service did not start: " + open(self.log_path).read()[-500:])
                time.sleep(0.1)
        raise SystemExit("the service does not answer")

    def get(self, path, key):
        request = urllib.request.Request(self.base + path, headers={"Authorization": "Bearer " + key})
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.load(answer)

    def stop(self):
        for process in (self.service, self.mock):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in (self.service, self.mock):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def wrk(name, concurrency, duration, url, script, env):
    out = os.path.join(OUT, "raw", name + ".json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    subprocess.run(
        ["wrk", "-t", str(min(concurrency, os.cpu_count() or 2)), "-c", str(concurrency),
         "-d", f"{duration}s", "--timeout", "30s", "-s", script, url],
        env=dict(os.environ, BENCH_LUA_DIR=LUA, BENCH_OUT=out, **env), check=True,
        stdout=subprocess.DEVNULL)
    return json.load(open(out))


# --- measure ---------------------------------------------------------------------------------

def calls_of(name):
    """The calls of organization 0 on database `name`: (label, [paths])."""
    org = psql(name, "select id from organizations where name = 'growth-0'")[0][0]
    second = psql(name, f"select id from workspaces where organization_id = '{org}' and not is_primary")[0][0]
    ids = [row[0] for row in psql(
        name, f"select id from scheduled_social_posts_v2 where organization_id = '{org}' "
              "order by md5(id::text) limit 1000")]
    # The year the build covered: its records were created from a year before it until it.
    built = datetime.fromisoformat(psql(name, "select max(created_at) from scheduled_social_posts_v2")[0][0])
    stamp = lambda t: urllib.parse.quote(t.isoformat())
    # A deep cursor: 11 months back, past nine tenths of the organization's records.
    deep = list_cursor(built - timedelta(days=335), "ffffffff-ffff-ffff-ffff-ffffffffffff")
    # A late events cursor: the organization's feed a day before the build's end.
    change, seq = psql(
        name, f"select change_xid, seq from social_post_events where organization_id = '{org}' "
              f"and updated_at < '{(built - timedelta(days=1)).isoformat()}' "
              "order by change_xid desc, seq desc limit 1")[0]
    return [
        ("track", [f"/social/post/track/{i}" for i in ids]),
        ("list first page", ["/social/posts"]),
        ("list deep cursor", [f"/social/posts?cursor={deep}"]),
        ("list tracked_status=failed", ["/social/posts?tracked_status=failed"]),
        ("list platform=youtube", ["/social/posts?platform=youtube"]),
        ("list workspace_id", [f"/social/posts?workspace_id={second}"]),
        ("list created_after (30 d)", [f"/social/posts?created_after={stamp(built - timedelta(days=30))}"]),
        ("list created_before (180 d)", [f"/social/posts?created_before={stamp(built - timedelta(days=180))}"]),
        ("list updated_after (1 d)", [f"/social/posts?updated_after={stamp(built - timedelta(days=1))}"]),
        ("events late cursor", [f"/events?after={events_cursor(change, seq)}"]),
    ]


def measure():
    results = {}
    calls = {}
    # GROWTH_CALLS: only the calls whose label contains one of these words (all by default).
    only = os.environ.get("GROWTH_CALLS", "").split(",")
    for name in (SMALL, BIG):
        calls[name] = [(label, paths) for label, paths in calls_of(name)
                       if any(word in label for word in only)]
        records = psql(name, "select count(*) from scheduled_social_posts_v2")[0][0]
        log(f"{name}: {records} records")
        with Services(name) as services:
            key = org_key(0)
            # What each call answers, once: the same shape on both databases.
            shapes = {}
            for label, paths in calls[name]:
                answer = services.get(paths[0], key)
                items = answer.get("posts", answer.get("events"))
                shapes[label] = len(items) if items is not None else 1
            results[name] = {"records": int(records), "answers": shapes, "calls": {}}
            for label, paths in calls[name]:
                file = os.path.join(OUT, "raw", f"{name}.{label.replace(' ', '_').replace('/', '')}.paths")
                os.makedirs(os.path.dirname(file), exist_ok=True)
                open(file, "w").write("\n".join(paths) + "\n")
                env = {"BENCH_KEY": key, "BENCH_PATHS": file}
                # Warm: the first reads of a cold page would measure the disk, not the plan.
                wrk(f"{name}.warm", 1, 2, services.base, os.path.join(LUA, "growth", "paths.lua"), env)
                for c in CONCURRENCY:
                    rounds = []
                    for r in range(ROUNDS):
                        case = wrk(f"{name}.{label}.c{c}.r{r}", c, DURATION, services.base,
                                   os.path.join(LUA, "growth", "paths.lua"), env)
                        if case["errors"]["status"] or case["requests"] == 0:
                            raise SystemExit(f"{name} {label}: {case}")
                        rounds.append(case)
                    results[name]["calls"][f"{label} c={c}"] = {
                        "req_s": statistics.median(x["requests"] / (x["duration_us"] / 1e6) for x in rounds),
                        "p50_ms": statistics.median(x["latency_us"]["p50"] for x in rounds) / 1000,
                        "p99_ms": statistics.median(x["latency_us"]["p99"] for x in rounds) / 1000,
                    }
                    log(name, label, f"c={c}", results[name]["calls"][f"{label} c={c}"])
    results["load"] = open("/proc/loadavg").read().split()[:3]
    results["when"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    os.makedirs(OUT, exist_ok=True)
    json.dump(results, open(os.path.join(OUT, "measure.json"), "w"), indent=1)
    print(f"growth: medians of {ROUNDS} rounds of {DURATION} s; load after {' '.join(results['load'])}")
    print(f"{'call':34} {'small p50':>9} {'p99':>8} {'big p50':>9} {'p99':>8} {'p50 x':>6} {'p99 x':>6}  items")
    for label in results[SMALL]["calls"]:
        s, b = results[SMALL]["calls"][label], results[BIG]["calls"][label]
        base = label.rsplit(" c=", 1)[0]
        items = f"{results[SMALL]['answers'][base]}/{results[BIG]['answers'][base]}"
        print(f"{label:34} {s['p50_ms']:9.3f} {s['p99_ms']:8.3f} {b['p50_ms']:9.3f} {b['p99_ms']:8.3f} "
              f"{b['p50_ms'] / s['p50_ms']:6.2f} {b['p99_ms'] / s['p99_ms']:6.2f}  {items}")


# --- explain ---------------------------------------------------------------------------------

AUTO_EXPLAIN = {
    "session_preload_libraries": "auto_explain",
    "auto_explain.log_min_duration": "0",
    "auto_explain.log_analyze": "on",
    "auto_explain.log_buffers": "on",
    "auto_explain.log_timing": "on",
    "auto_explain.log_nested_statements": "on",
}


def explain():
    name = BIG
    calls = calls_of(name)
    for setting, value in AUTO_EXPLAIN.items():
        psql("postgres", f"alter database {name} set {setting} = '{value}'")
    start = os.path.getsize(PG_LOG)
    marks = []
    try:
        with Services(name, tag="explain") as services:
            for label, paths in calls:
                # Seven times. The pool spreads them over its connections, so these are mostly
                # custom plans: a generic plan (after five executions on one connection) needs
                # checking apart, e.g. with plan_cache_mode = force_generic_plan.
                for n in range(7):
                    services.get(paths[n % len(paths)], org_key(0))
                time.sleep(0.3)
                marks.append((label, os.path.getsize(PG_LOG)))
    finally:
        for setting in AUTO_EXPLAIN:
            psql("postgres", f"alter database {name} reset {setting}")
    text = open(PG_LOG, errors="replace").read()
    os.makedirs(OUT, exist_ok=True)
    summary = []
    previous = start
    with open(os.path.join(OUT, "explain.log"), "w") as out:
        for label, end in marks:
            chunk = text[previous:end]
            previous = end
            out.write(f"\n######## {label}\n")
            # One entry per statement: "duration: ... plan:" up to the next log line prefix.
            entries = re.split(r"\n(?=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ UTC \[\d+\] )", chunk)
            for entry in entries:
                if f"@{name} " not in entry.split("\n", 1)[0] or "plan:" not in entry:
                    continue
                query = re.search(r"Query Text: (.*)", entry)
                query = query.group(1).strip() if query else "?"
                out.write(entry + "\n")
                scans = re.findall(r"((?:Parallel )?(?:Seq Scan|Index Scan|Index Only Scan|Bitmap Heap Scan|Bitmap Index Scan)(?: Backward)?(?: using \S+)? on \S+)", entry)
                duration = re.search(r"duration: ([0-9.]+) ms", entry)
                summary.append({"call": label, "query": query[:160], "scans": sorted(set(scans)),
                                "ms": float(duration.group(1)) if duration else None})
    # The last execution of each statement per call (the plan Postgres settled on).
    last = {}
    for row in summary:
        last[(row["call"], row["query"])] = row
    json.dump(list(last.values()), open(os.path.join(OUT, "explain.json"), "w"), indent=1)
    bad = []
    for row in last.values():
        big_seq = [s for s in row["scans"] if s.startswith(("Seq Scan", "Parallel Seq Scan"))
                   and any(t in s for t in ("scheduled_social_posts_v2", "social_post_events"))]
        flag = "  <-- SEQ SCAN" if big_seq else ""
        if big_seq:
            bad.append(row)
        print(f"{row['call']:28} {row['ms'] if row['ms'] is not None else 0:8.3f} ms  "
              f"{', '.join(row['scans']) or '(no table)'}{flag}\n    {row['query']}")
    print(f"\n{len(last)} statements; {len(bad)} read a big table without an index "
          f"(the plans are in {os.path.join(OUT, 'explain.log')})")


# --- reconcile -------------------------------------------------------------------------------

def claim_sql(inner):
    return ("update scheduled_social_posts_v2 set next_check_at = now() + interval '2 minutes' "
            f"where id = ({inner} for update skip locked) returning id")


def rust_const(name):
    """A SQL constant of src/store/posts.rs, with the reconciler's values bound."""
    text = open(os.path.join(ROOT, "src", "store", "posts.rs")).read()
    sql = re.search(rf'const {name}: &str = "(.*?)";', text, re.S).group(1)
    sql = re.sub(r"\s+", " ", sql.replace("\\\n", " "))
    return (sql.replace("$1", "now()").replace("$2", "(now() - interval '90 seconds')")
            .replace("$4", "5").replace("$5", "60"))


# The claim as it was before the migration claim_indexes (commit 7615f50), for the comparison.
OLD_DUE_RECORD = (
    "select id from scheduled_social_posts_v2 "
    "where tracked_status in ('pending', 'unknown', 'scheduled') "
    "and (next_check_at is null or next_check_at <= now()) "
    "and ((tracked_status = 'pending' and (created_at <= now() - interval '90 seconds' or provider_post_id is not null)) "
    "or (tracked_status = 'scheduled' and (schedule_date is null or schedule_date <= now())) "
    "or tracked_status = 'unknown') "
    "and (tracked_status = 'pending' or (check_attempts < 60 "
    "and (provider_post_id is not null or check_attempts < 5))) "
    "order by coalesce(next_check_at, created_at), id limit 1")

TABLE_STATS = ("select s.seq_scan, s.seq_tup_read, coalesce(s.idx_scan, 0), coalesce(s.idx_tup_fetch, 0), "
               "io.heap_blks_read + io.heap_blks_hit, coalesce(io.idx_blks_read + io.idx_blks_hit, 0) "
               "from pg_stat_user_tables s join pg_statio_user_tables io using (relid) "
               "where s.relname = 'scheduled_social_posts_v2'")


def reconcile():
    name = BIG
    counts = psql(name, "select count(*), count(*) filter (where schedule_date <= now()) "
                        "from scheduled_social_posts_v2 where tracked_status = 'scheduled'")[0]
    log(f"{name}: {counts[0]} scheduled, {counts[1]} due")
    os.makedirs(OUT, exist_ok=True)
    report = {"scheduled": int(counts[0]), "due": int(counts[1])}
    with open(os.path.join(OUT, "reconcile.log"), "w") as out:
        for label, inner in (("claim (due record)", rust_const("DUE_RECORD")),
                             ("claim (pending only, the expiry)", rust_const("DUE_PENDING_RECORD")),
                             ("claim before claim_indexes (same data)", OLD_DUE_RECORD)):
            # Twice: the second run is the warm one reported; rolled back either way.
            for _ in range(2):
                plan = subprocess.run(
                    ["psql", db_url(name), "-qAtX", "-c", "begin", "-c",
                     "explain (analyze, buffers) " + claim_sql(inner), "-c", "rollback"],
                    check=True, capture_output=True, text=True).stdout
            out.write(f"\n######## {label}\n{plan}\n")
            ms = float(re.search(r"Execution Time: ([0-9.]+) ms", plan).group(1))
            top = re.search(r"Buffers: (.*)", plan).group(1)
            # The select that finds the record (the statement's time also holds the row
            # triggers, whose PL/pgSQL each new session compiles first).
            find = re.search(r"InitPlan 1.*?\n\s*->\s+Limit .*?actual time=[0-9.]+\.\.([0-9.]+) rows=(\d+)", plan, re.S)
            rows = re.findall(r"actual time=\S+ rows=(\d+) loops=(\d+)", plan)
            report[label] = {"ms": ms, "find_ms": float(find.group(1)) if find else None,
                             "buffers": top}
            print(f"{label:40} {ms:9.3f} ms (finding it {report[label]['find_ms']} ms)  buffers {top}")
    # One pass of the service's own reconciler (its first tick is at start-up).
    before = [int(x) for x in psql(name, TABLE_STATS)[0]]
    with Services(name, env={"RECONCILE_INTERVAL_SECS": "3600"}, tag="reconcile") as services:
        deadline = time.time() + 300
        while time.time() < deadline:
            metrics = urllib.request.urlopen(services.base + "/metrics", timeout=5).read().decode()
            count = re.search(r"^mosaic_reconciler_pass_duration_seconds_count\S* (\S+)", metrics, re.M)
            if count and float(count.group(1)) >= 1:
                break
            time.sleep(0.2)
        total = float(re.search(r"^mosaic_reconciler_pass_duration_seconds_sum\S* (\S+)", metrics, re.M).group(1))
        passes = [line for line in open(services.log_path) if "reconciler pass" in line]
    time.sleep(2)  # the backends' statistics are flushed as they end
    after = [int(x) for x in psql(name, TABLE_STATS)[0]]
    delta = [b - a for a, b in zip(before, after)]
    report["pass"] = {
        "seconds": total, "log": passes[-1].strip() if passes else None,
        "seq_scans": delta[0], "seq_rows_read": delta[1], "index_scans": delta[2],
        "index_rows_fetched": delta[3], "heap_pages": delta[4], "index_pages": delta[5],
    }
    print(f"one pass: {total:.3f} s; {report['pass']}")
    json.dump(report, open(os.path.join(OUT, "reconcile.json"), "w"), indent=1)


# --- purge -----------------------------------------------------------------------------------

def create_rounds(services, name, tag, rounds):
    body = '{"post": "bench: an immediate post to two platforms", "platforms": ["x", "linkedin"]}'
    results = []
    for r in range(rounds):
        psql(name, "checkpoint")
        case = wrk(f"purge.{tag}.r{r}", 64, DURATION * 2, services.base, os.path.join(LUA, "post.lua"),
                   {"BENCH_KEY": org_key(1), "BENCH_PATH": "/social/post", "BENCH_BODY": body})
        if case["errors"]["status"]:
            raise SystemExit(f"creates failed: {case}")
        rate = case["requests"] / (case["duration_us"] / 1e6)
        results.append({"req_s": rate, "p50_ms": case["latency_us"]["p50"] / 1000,
                        "p99_ms": case["latency_us"]["p99"] / 1000})
        log(tag, f"round {r}", results[-1])
    return results


def purge():
    name = BIG
    relfiles = "select relname, relfilenode from pg_class where relname in ('scheduled_social_posts_v2', 'social_post_events') order by 1"
    deleted = "select n_tup_del from pg_stat_user_tables where relname = 'social_post_events'"
    claims = "select count(*) from scheduled_social_posts_v2 where idempotency_claim is not null and created_at < now() - interval '24 hours'"
    report = {"relfilenodes_before": psql(name, relfiles),
              "expired_claims_before": int(psql(name, claims)[0][0]),
              "events_due_before": int(psql(name, "select count(*) from social_post_events where updated_at < now() - interval '30 days'")[0][0])}
    log("purge: baseline creates, nothing to purge")
    with Services(name, tag="purge-baseline") as services:
        report["without"] = create_rounds(services, name, "without", ROUNDS)
    # Every statement over 200 ms is logged meanwhile: a long purge batch would show there.
    psql("postgres", f"alter database {name} set log_min_duration_statement = 200")
    start_log = os.path.getsize(PG_LOG)
    del_before = int(psql(name, deleted)[0][0])
    samples = []
    try:
        with Services(name, env={"EVENT_RETENTION_DAYS": "30", "IDEMPOTENCY_RETENTION_HOURS": "24"},
                      tag="purge") as services:
            started = time.time()
            import threading
            stop = threading.Event()

            def sample():
                while not stop.is_set():
                    rows = psql(name, "select count(*) filter (where wait_event_type = 'Lock'), "
                                      "coalesce(max(extract(epoch from now() - query_start)) filter "
                                      "(where state = 'active' and query like 'delete from social_post_events%'), 0), "
                                      "coalesce(max(extract(epoch from now() - query_start)) filter "
                                      "(where state = 'active' and query like 'update scheduled_social_posts_v2 set idempotency_claim = null%'), 0) "
                                      "from pg_stat_activity where datname = current_database()")
                    samples.append([time.time() - started] + [float(x) for x in rows[0]])
                    stop.wait(0.5)

            sampler = threading.Thread(target=sample)
            sampler.start()
            time.sleep(1)
            try:
                report["with"] = create_rounds(services, name, "with", ROUNDS)
            finally:
                stop.set()
                sampler.join()
            report["events_deleted_during"] = int(psql(name, deleted)[0][0]) - del_before
            report["seconds"] = time.time() - started
            report["expired_claims_after"] = int(psql(name, claims)[0][0])
    finally:
        psql("postgres", f"alter database {name} reset log_min_duration_statement")
    slow = [line.strip() for line in open(PG_LOG, errors="replace").read()[start_log:].splitlines()
            if f"@{name} " in line and "duration:" in line]
    report["statements_over_200ms"] = slow
    report["lock_waiters_max"] = max((s[1] for s in samples), default=0)
    report["longest_event_delete_seen_s"] = max((s[2] for s in samples), default=0)
    report["longest_claim_release_seen_s"] = max((s[3] for s in samples), default=0)
    report["relfilenodes_after"] = psql(name, relfiles)
    without = statistics.median(x["req_s"] for x in report["without"])
    with_purge = statistics.median(x["req_s"] for x in report["with"])
    report["loss"] = 1 - with_purge / without
    json.dump(report, open(os.path.join(OUT, "purge.json"), "w"), indent=1)
    print(f"creates at c=64: {without:.1f} req/s without a purge, {with_purge:.1f} with "
          f"(loss {report['loss'] * 100:.1f} %)")
    print(f"events deleted meanwhile: {report['events_deleted_during']} in {report['seconds']:.0f} s; "
          f"expired claims {report['expired_claims_before']} -> {report['expired_claims_after']}")
    print(f"longest delete batch seen {report['longest_event_delete_seen_s']:.3f} s, longest claim "
          f"release {report['longest_claim_release_seen_s']:.3f} s, most sessions waiting on a lock "
          f"{report['lock_waiters_max']:.0f}; statements over 200 ms: {len(slow)}")
    print(f"relfilenodes {report['relfilenodes_before']} -> {report['relfilenodes_after']}")


if __name__ == "__main__":
    steps = {"measure": measure, "explain": explain, "reconcile": reconcile, "purge": purge}
    if len(sys.argv) != 2 or sys.argv[1] not in steps:
        sys.exit(__doc__)
    steps[sys.argv[1]]()
