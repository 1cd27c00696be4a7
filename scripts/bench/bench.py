#!/usr/bin/env python3
"""Helpers of scripts/bench.sh (standard library only).

  sqlite-ceiling DB CONCURRENCY SECONDS OUT [--lookups]
      SQLite alone doing what one POST /social/post does, as the service issues it: the
      write-ahead insert and the conditional outcome update, each its own transaction and
      commit, in WAL mode with synchronous=FULL (the service's settings). Writers take an
      in-process lock, so SQLite's busy handler never sleeps: the best SQLite can do.
  sqlite-count DB
      Prints the tracking records, and how many are still pending.
  sqlite-checkpoint DB
      Writes the WAL back into the database file (a passive checkpoint: the service keeps
      running), so that the next case does not pay for the last one's.
  pgbench-summary LOG_PREFIX PGBENCH_STDOUT OUT
      Requests/s and latency percentiles of a pgbench run, from its per-transaction log.
  check OUT WRK_JSON KIND CONCURRENCY RECORDS_BEFORE RECORDS_AFTER PENDING MOCK_BEFORE
        MOCK_AFTER CPU_TICKS_BEFORE CPU_TICKS_AFTER
      Whether a case lost nothing: every answered create has its record and reached the mock
      once (KIND create), or nothing was written or sent (KIND read).
  idempotent-sql PG_WRITE_SQL
      Prints pg_write.sql as an idempotent create issues it: a fresh key claimed in the insert
      (the partial unique index, Postgres's speculative insertion) and the answer stored by the
      update (the pgbench variable `stored_answer`). The `idempotent` case's own database
      ceiling.
  json NAME
      Prints, on one line, the JSON a create records (NAME: results, provider_response) or
      stores for replays (stored_answer, from scripts/bench/stored_answer.json): the values
      pgbench binds, as the service binds its own.
  drain OUT SAMPLES STARTED ENDED DELIVERED_BEFORE RECEIVED DISTINCT RECEIVER_CPU_BEFORE
        DELIVERER_CPU_BEFORE RECEIVER_CPU_AFTER DELIVERER_CPU_AFTER
      The `webhook` or `outbox` case's deliveries: SAMPLES has lines "unix_time delivered
      pending failed" (webhook_deliveries) from the end of the creates (ENDED) until none was
      pending; writes the events delivered per second over the drain (after the creates) and
      over the whole case (from STARTED, the creates included), the receiver's own counts
      (POSTs and distinct webhook-ids, since it started: every round's so far), and its CPU and
      the delivering process's per event.
  backlog OUT SAMPLES STARTED DELIVERED_BEFORE RECEIVED DISTINCT DELIVERER_CPU RECEIVER_CPU
          POSTGRES_CPU DELIVERER_CPU_AFTER RECEIVER_CPU_AFTER POSTGRES_CPU_AFTER
      The webhook backlog's drain with nothing else running (SAMPLES as for `drain`, from
      STARTED, when the endpoint was enabled): events delivered per second, the receiver's
      counts (reset before: each must be received once), and the CPU per event delivered of
      the delivering process, the receiver and every Postgres process (ticks).
  report RAW_DIR OUT_JSON
      Prints the table and writes the results as JSON; exits 1 if anything was lost. Each case
      was run in rounds (raw files NAME.rN.json): a row shows the median of its rounds, a ratio
      of two cases the median of their per-round ratios (cases of one round ran minutes apart
      at most, under the same conditions).
"""

import glob
import json
import os
import re
import sqlite3
import sys
import threading
import time
import uuid
from datetime import datetime, timezone

TRACKING_COLUMNS = (
    "id, organization_id, workspace_id, api_key_id, post, platforms, media_urls, "
    "schedule_date, extra, provider_post_id, provider_status, tracked_status, results, error, "
    "provider_response, idempotency_key, request_fingerprint, stored_answer, "
    "ayrshare_idempotency_key, created_at, updated_at"
)

# src/store/sqlite.rs: insert_tracking and record_outcome.
INSERT = (
    "insert into scheduled_social_posts_v2 "
    "(id, organization_id, workspace_id, api_key_id, post, platforms, media_urls, "
    " schedule_date, extra, tracked_status, idempotency_key, idempotency_claim, "
    " request_fingerprint, ayrshare_idempotency_key, created_at, updated_at) "
    "values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'pending', ?11, ?11, ?12, ?13, ?10, ?10) "
    "on conflict (organization_id, idempotency_claim) where idempotency_claim is not null "
    "do nothing returning " + TRACKING_COLUMNS
)
UPDATE = (
    "update scheduled_social_posts_v2 set tracked_status = ?2, "
    "provider_post_id = coalesce(?3, provider_post_id), "
    "provider_status = coalesce(?4, provider_status), results = ?5, error = ?6, "
    "provider_response = coalesce(?7, provider_response), "
    "stored_answer = coalesce(?10, stored_answer), updated_at = ?8 "
    "where id = ?1 and tracked_status in (select value from json_each(?9)) "
    "returning " + TRACKING_COLUMNS
)
LOOKUPS = [
    ("select id, organization_id from api_keys where key_hash = ?1 and revoked_at is null", 1),
    (
        "select id, organization_id, name, is_primary, ayrshare_profile_key from workspaces "
        "where organization_id = ?1 and (id = ?2 or (?2 is null and is_primary))",
        2,
    ),
]
RESULTS = json.dumps([
    {"platform": "x", "status": "success", "id": "1288899996788379648",
     "post_url": "https://x.com/mock/status/1288899996788379648"},
    {"platform": "linkedin", "status": "success", "id": "7034261828145537024",
     "post_url": "https://www.linkedin.com/feed/update/7034261828145537024"},
])
RESPONSE = json.dumps({
    "status": "success", "errors": [], "id": "Bf3kQ9rT2mX8vL1nP0aZ",
    "refId": "9abf1426d6ce9122ef11c72bd62e59807c5cc083",
    "post": "bench: an immediate post to two platforms",
    "postIds": [
        {"status": "success", "id": "1288899996788379648", "platform": "twitter",
         "postUrl": "https://x.com/mock/status/1288899996788379648"},
        {"status": "success", "id": "7034261828145537024", "platform": "linkedin",
         "postUrl": "https://www.linkedin.com/feed/update/7034261828145537024"},
    ],
})


def now_text():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def connect(path):
    conn = sqlite3.connect(path, timeout=5, isolation_level=None, check_same_thread=False)
    conn.execute("pragma journal_mode = wal")
    conn.execute("pragma synchronous = full")
    conn.execute("pragma foreign_keys = on")
    return conn


def percentile(sorted_values, p):
    if not sorted_values:
        return 0
    index = min(len(sorted_values) - 1, max(0, round(p / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[index]


def latency_summary(latencies_us):
    values = sorted(latencies_us)
    mean = sum(values) / len(values) if values else 0
    return {
        "p50": percentile(values, 50), "p90": percentile(values, 90),
        "p99": percentile(values, 99), "max": values[-1] if values else 0, "mean": mean,
    }


def sqlite_ceiling(path, concurrency, seconds, out, lookups):
    setup = connect(path)
    org, workspace, key, key_hash = setup.execute(
        "select o.id, w.id, k.id, k.key_hash from organizations o "
        "join workspaces w on w.organization_id = o.id and w.is_primary "
        "join api_keys k on k.organization_id = o.id limit 1"
    ).fetchone()
    setup.close()
    write_lock = threading.Lock()
    latencies = [[] for _ in range(concurrency)]
    deadline = time.monotonic() + seconds
    failures = []

    def client(n):
        conn = connect(path)
        try:
            while time.monotonic() < deadline:
                start = time.perf_counter()
                if lookups:
                    conn.execute(LOOKUPS[0][0], (key_hash,)).fetchall()
                    conn.execute(LOOKUPS[1][0], (org, None)).fetchall()
                record = str(uuid.uuid4())
                with write_lock:
                    rows = conn.execute(INSERT, (
                        record, org, workspace, key, "bench: an immediate post to two platforms",
                        '["x","linkedin"]', "[]", None, "{}", now_text(), None, None,
                        str(uuid.uuid4()),
                    )).fetchall()
                assert len(rows) == 1
                with write_lock:
                    rows = conn.execute(UPDATE, (
                        record, "posted", "Bf3kQ9rT2mX8vL1nP0aZ", "success", RESULTS, None,
                        RESPONSE, now_text(), '["pending"]', None,
                    )).fetchall()
                assert len(rows) == 1
                latencies[n].append((time.perf_counter() - start) * 1e6)
        except Exception as error:  # reported, and the run fails
            failures.append(repr(error))
        finally:
            conn.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    every = [value for values in latencies for value in values]
    result = {
        "requests": len(every), "duration_us": int(elapsed * 1e6),
        "requests_per_s": len(every) / elapsed, "latency_us": latency_summary(every),
        "failures": failures,
    }
    with open(out, "w") as file:
        json.dump(result, file)
    if failures:
        sys.exit("sqlite ceiling failed: " + "; ".join(failures[:3]))


def sqlite_count(path):
    conn = sqlite3.connect(path, timeout=5)
    total, pending = conn.execute(
        "select count(*), count(*) filter (where tracked_status = 'pending') "
        "from scheduled_social_posts_v2"
    ).fetchone()
    print(total, pending)


def sqlite_checkpoint(path):
    conn = sqlite3.connect(path, timeout=5)
    conn.execute("pragma wal_checkpoint(passive)").fetchall()
    conn.close()


def pgbench_summary(prefix, stdout_path, out):
    latencies = []
    for log in glob.glob(prefix + ".*"):
        with open(log) as file:
            for line in file:
                fields = line.split()
                # client transaction latency_us script epoch epoch_us
                if len(fields) >= 3 and fields[2].isdigit():
                    latencies.append(int(fields[2]))
    text = open(stdout_path).read()
    tps = re.search(r"tps = ([0-9.]+)", text)
    failed = re.search(r"number of failed transactions: (\d+)", text)
    result = {
        "requests": len(latencies),
        "requests_per_s": float(tps.group(1)) if tps else 0.0,
        "latency_us": latency_summary(latencies),
        "failures": int(failed.group(1)) if failed else 0,
        "aborted": "aborted" in text,
    }
    with open(out, "w") as file:
        json.dump(result, file)


def check(out, wrk_json, kind, concurrency, records_before, records_after, pending,
          mock_before, mock_after, cpu_before, cpu_after):
    case = json.load(open(wrk_json))
    answered = case["requests"] - case["errors"]["status"]
    records = records_after - records_before
    mock_posts = mock_after - mock_before
    if kind == "create":
        # wrk stops at the deadline with up to one request per connection in flight: the service
        # still finishes those (recorded and sent once), but nobody reads their answers.
        ok = (records == mock_posts and answered <= records <= answered + concurrency
              and pending == 0 and case["errors"]["status"] == 0)
    else:
        ok = records == 0 and mock_posts == 0 and case["errors"]["status"] == 0
    ticks = os.sysconf("SC_CLK_TCK")
    result = {
        "ok": ok, "kind": kind, "answered": answered, "records": records,
        "mock_posts": mock_posts, "pending_records": pending,
        "in_flight_at_the_end": records - answered if kind == "create" else 0,
        "service_cpu_us_per_request": (
            (cpu_after - cpu_before) / ticks * 1e6 / answered if answered else None),
    }
    with open(out, "w") as file:
        json.dump(result, file)


def delivery_samples(path):
    """The lines "unix_time delivered pending failed" the script sampled into `path`."""
    rows = [line.split() for line in open(path) if line.strip()]
    return [(float(t), int(d), int(p), int(f)) for t, d, p, f in rows]


def cpu_us_per_event(before, after, events):
    """A process's CPU (ticks before and after) per event, in us; None without events, or when
    `before` is negative (not measured: deliveries made by the service itself)."""
    if events <= 0 or before < 0:
        return None
    return round((after - before) / os.sysconf("SC_CLK_TCK") * 1e6 / events, 1)


def drain(out, samples, started, ended, delivered_before, received, distinct, cpu_before,
          deliverer_before, cpu_after, deliverer_after):
    rows = delivery_samples(samples)
    first, last = rows[0], rows[-1]
    drained = last[2] == 0
    during = last[0] - first[0]
    total = last[0] - started
    delivered = last[1] - delivered_before
    result = {
        "drained": drained, "delivered": delivered,
        "delivered_during_creates": first[1] - delivered_before,
        "backlog_at_end_of_creates": first[2], "failed": last[3],
        "drain_s": round(during, 3),
        "drain_events_per_s": round((last[1] - first[1]) / during, 1) if during > 0 else None,
        "overall_events_per_s": round((last[1] - delivered_before) / total, 1),
        # Since the receiver started, as the table's delivered rows are counted since the
        # database was made: the two must be equal, and no webhook-id received twice.
        "delivered_in_all": last[1],
        "receiver_count": received,
        "receiver_distinct": distinct,
        "receiver_cpu_us_per_event": cpu_us_per_event(cpu_before, cpu_after, delivered),
        "deliverer_cpu_us_per_event": cpu_us_per_event(deliverer_before, deliverer_after,
                                                       delivered),
    }
    with open(out, "w") as file:
        json.dump(result, file)


def backlog(out, samples, started, delivered_before, received, distinct, *ticks):
    last = delivery_samples(samples)[-1]
    delivered = last[1] - delivered_before
    took = last[0] - started
    before, after = ticks[:3], ticks[3:]

    def per_event(i):
        return cpu_us_per_event(before[i], after[i], delivered)

    result = {
        "drained": last[2] == 0, "failed": last[3], "delivered": delivered,
        "seconds": round(took, 3),
        "events_per_s": round(delivered / took, 1) if took > 0 else None,
        "receiver_count": received, "receiver_distinct": distinct,
        "deliverer_cpu_us_per_event": per_event(0), "receiver_cpu_us_per_event": per_event(1),
        "postgres_cpu_us_per_event": per_event(2),
    }
    with open(out, "w") as file:
        json.dump(result, file)


def rate(case):
    if "requests_per_s" in case:
        return case["requests_per_s"]
    return case["requests"] / (case["duration_us"] / 1e6) if case.get("duration_us") else 0.0


def median(values):
    values = sorted(values)
    if not values:
        return None
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2


def report(raw_dir, out_json):
    meta = json.load(open(os.path.join(raw_dir, "meta.json")))
    rounds = {}
    for path in sorted(glob.glob(os.path.join(raw_dir, "*.r*.json"))):
        name = os.path.basename(path)[:-5]
        if name.endswith(".check") or name.endswith(".drain"):
            continue
        case_name, number = name.rsplit(".r", 1)
        case = json.load(open(path))
        check_path = os.path.join(raw_dir, name + ".check.json")
        check = json.load(open(check_path)) if os.path.exists(check_path) else None
        drain_path = os.path.join(raw_dir, name + ".drain.json")
        if os.path.exists(drain_path):
            case["drain"] = json.load(open(drain_path))
        rounds.setdefault(case_name, {})[int(number)] = (case, check)
    rows = []
    for case_name, by_round in rounds.items():
        backend, what, c = case_name.split(".")
        runs = [by_round[n] for n in sorted(by_round)]
        rates = [round(rate(case), 1) for case, _ in runs]
        checks = [check for _, check in runs if check]
        cpus = [check["service_cpu_us_per_request"] for check in checks
                if check.get("service_cpu_us_per_request") is not None]
        errors = {}
        for case, _ in runs:
            for kind, count in (case.get("errors") or {}).items():
                errors[kind] = errors.get(kind, 0) + count
        rows.append({
            "backend": backend, "case": what, "concurrency": int(c[1:]),
            "requests_per_s": median(rates),
            "p50_ms": round(median([case["latency_us"]["p50"] for case, _ in runs]) / 1000, 3),
            "p99_ms": round(median([case["latency_us"]["p99"] for case, _ in runs]) / 1000, 3),
            "rounds_requests_per_s": {str(n): r for n, r in zip(sorted(by_round), rates)},
            "spread_pct": round((max(rates) - min(rates)) / median(rates) * 100, 1)
            if median(rates) else None,
            "requests": sum(case["requests"] for case, _ in runs), "errors": errors,
            "service_cpu_us_per_request": median(cpus),
            "checks": checks,
            "drains": [case["drain"] for case, _ in runs if "drain" in case],
        })

    order = ["immediate", "outbox", "webhook", "scheduled", "idempotent", "replay", "track", "alone", "ceiling",
             "ceiling_with_lookups", "ceiling_idempotent"]
    rows.sort(key=lambda r: (["postgres", "sqlite", "mock"].index(r["backend"]),
                             r["concurrency"], order.index(r["case"])))

    def find(backend, what, c):
        return next((r for r in rows if r["backend"] == backend and r["case"] == what
                     and r["concurrency"] == c), None)

    def paired(a, b):
        """The median over rounds of a's rate over b's, in the rounds both ran."""
        shared = set(a["rounds_requests_per_s"]) & set(b["rounds_requests_per_s"])
        ratios = [a["rounds_requests_per_s"][n] / b["rounds_requests_per_s"][n]
                  for n in shared if b["rounds_requests_per_s"][n]]
        return round(median(ratios), 3) if ratios else None

    summaries = {}
    lost = []
    for row in rows:
        errors = row["errors"] or {}
        if any(errors.values()):
            lost.append(f"{row['backend']} {row['case']} c={row['concurrency']}: errors {errors}")
        for check in row["checks"]:
            if not check["ok"]:
                lost.append(f"{row['backend']} {row['case']} c={row['concurrency']}: {check}")
    webhooks = {}
    for row in rows:
        if row["case"] not in ("webhook", "outbox"):
            continue
        plain = find(row["backend"], "immediate", row["concurrency"])
        drains = row["drains"]
        label = f"{row['backend']} {row['case']} c={row['concurrency']}"
        for entry in drains:
            if not entry["drained"] or entry["failed"]:
                lost.append(f"{label}: deliveries {entry}")
            if "receiver_distinct" in entry and not (
                    entry["receiver_count"] == entry["receiver_distinct"]
                    == entry["delivered_in_all"]):
                lost.append(f"{label}: received "
                            f"{entry['receiver_count']} ({entry['receiver_distinct']} distinct) "
                            f"for {entry['delivered_in_all']} delivered")
        # `webhook` keeps its key of earlier runs (BACKEND.cN); `outbox` is BACKEND.outbox.cN.
        key = f"{row['backend']}.c{row['concurrency']}" if row["case"] == "webhook" \
            else f"{row['backend']}.outbox.c{row['concurrency']}"
        webhooks[key] = {
            "case": row["case"],
            "webhook_requests_per_s": row["requests_per_s"],
            "plain_requests_per_s": plain["requests_per_s"] if plain else None,
            "webhook_vs_plain": paired(row, plain) if plain else None,
            "drain_events_per_s": median([d["drain_events_per_s"] for d in drains
                                          if d["drain_events_per_s"] is not None]),
            "overall_events_per_s": median([d["overall_events_per_s"] for d in drains]),
            "drains": drains,
        }
    for backend in ("postgres", "sqlite"):
        if not find(backend, "immediate", 1) and not find(backend, "immediate", 64):
            continue
        concurrencies = sorted({r["concurrency"] for r in rows if r["backend"] == backend})
        summary = {}
        for c in concurrencies:
            service = find(backend, "immediate", c)
            mock = find("mock", "alone", c)
            db = find(backend, "ceiling", c)
            idem = find(backend, "idempotent", c)
            replay = find(backend, "replay", c)
            if not (service and mock and db):
                continue
            lower = min(mock["requests_per_s"], db["requests_per_s"])
            entry = {
                "service_requests_per_s": service["requests_per_s"],
                "mock_ceiling_requests_per_s": mock["requests_per_s"],
                "db_ceiling_requests_per_s": db["requests_per_s"],
                "lower_ceiling_requests_per_s": lower,
                "ratio_to_lower_ceiling": round(service["requests_per_s"] / lower, 3),
                "added_p50_ms": round(service["p50_ms"] - mock["p50_ms"] - db["p50_ms"], 3),
            }
            if idem:
                entry["idempotent_vs_plain"] = paired(idem, service)
                # The same ratio for the database alone: what the claim and the stored answer
                # cost the database, so that the service's own share can be told apart.
                db_idem = find(backend, "ceiling_idempotent", c)
                if db_idem:
                    entry["database_idempotent_vs_plain"] = paired(db_idem, db)
            if replay:
                entry["replay_vs_create"] = paired(replay, service)
            summary[f"c{c}"] = entry
        summary["peak_rss_mib"] = meta.get(f"{backend}_peak_rss_kib", 0) / 1024
        summaries[backend] = summary

    backlogs = [json.load(open(path))
                for path in sorted(glob.glob(os.path.join(raw_dir, "backlog-*.json")))]
    for entry in backlogs:
        if not entry["drained"] or entry["failed"] or not (
                entry["receiver_count"] == entry["receiver_distinct"] == entry["delivered"]):
            lost.append(f"webhook backlog: {entry}")
    if backlogs:
        webhooks["backlog"] = {
            "events_per_s": median([b["events_per_s"] for b in backlogs
                                    if b["events_per_s"] is not None]),
            "rounds": backlogs,
        }
    result = {"meta": meta, "cases": rows, "summary": summaries, "webhooks": webhooks,
              "lost": lost}
    with open(out_json, "w") as file:
        json.dump(result, file, indent=2)

    print()
    print(f"mosaic-social benchmark: {meta.get('rounds', 1)} rounds of {meta['duration_s']} s "
          f"per case (medians shown), {meta['cores']} cores, "
          f"load before: {meta['load_before']}, after: {meta.get('load_after', '?')}")
    print(f"{'backend':9} {'case':20} {'c':>3} {'req/s':>9} {'spread':>7} {'p50 ms':>8} "
          f"{'p99 ms':>8} {'CPU us/req':>10}  check (all rounds)")
    for row in rows:
        checks = row["checks"]
        cpu = row["service_cpu_us_per_request"]
        words = ""
        if checks:
            words = "ok" if all(check["ok"] for check in checks) else "LOST"
            words += (f" records +{sum(check['records'] for check in checks)}"
                      f" mock +{sum(check['mock_posts'] for check in checks)}"
                      f" answered {sum(check['answered'] for check in checks)}")
        spread = f"{row['spread_pct']:.0f}%" if row["spread_pct"] is not None else ""
        print(f"{row['backend']:9} {row['case']:20} {row['concurrency']:>3} "
              f"{row['requests_per_s']:>9.1f} {spread:>7} {row['p50_ms']:>8.3f} "
              f"{row['p99_ms']:>8.3f} "
              f"{(f'{cpu:.0f}' if cpu is not None else ''):>10}  {words}")
    for backend, summary in summaries.items():
        print()
        print(f"{backend}: peak RSS {summary['peak_rss_mib']:.1f} MiB")
        for c, entry in summary.items():
            if not c.startswith("c"):
                continue
            line = (f"  {c}: {entry['service_requests_per_s']:.0f} req/s = "
                    f"{entry['ratio_to_lower_ceiling']:.2f} x the lower ceiling "
                    f"({entry['lower_ceiling_requests_per_s']:.0f}: mock "
                    f"{entry['mock_ceiling_requests_per_s']:.0f}, database "
                    f"{entry['db_ceiling_requests_per_s']:.0f}); p50 added over mock + database "
                    f"{entry['added_p50_ms']:.3f} ms")
            if entry.get("idempotent_vs_plain") is not None:
                line += f"; idempotent/plain {entry['idempotent_vs_plain']:.2f}"
                if entry.get("database_idempotent_vs_plain") is not None:
                    line += f" (database alone {entry['database_idempotent_vs_plain']:.2f})"
            if entry.get("replay_vs_create") is not None:
                line += f"; replay/create {entry['replay_vs_create']:.2f}"
            print(line)
    for key, entry in webhooks.items():
        print()
        if key == "backlog":
            print(f"webhook backlog, nothing else running: {entry['events_per_s']} events "
                  f"delivered/s (median)")
            for b in entry["rounds"]:
                print(f"    {b['delivered']} in {b['seconds']} s: {b['events_per_s']}/s, receiver "
                      f"{b['receiver_count']} ({b['receiver_distinct']} distinct); CPU us/event: "
                      f"delivering process {b['deliverer_cpu_us_per_event']}, postgres "
                      f"{b['postgres_cpu_us_per_event']}, receiver "
                      f"{b['receiver_cpu_us_per_event']}")
            continue
        ratio = entry["webhook_vs_plain"]
        how = "with one endpoint" if entry["case"] == "webhook" else \
            "with one endpoint, its delivery paused (the outbox alone)"
        print(f"{key}: {how} {entry['webhook_requests_per_s']:.0f} creates/s, without "
              f"{entry['plain_requests_per_s'] or 0:.0f}: with/without "
              f"{ratio if ratio is not None else '?'}; events delivered/s: "
              f"{entry['drain_events_per_s']} draining the backlog, "
              f"{entry['overall_events_per_s']} over the case and its drain")
        for d in entry["drains"]:
            print(f"    delivered {d['delivered']} ({d['delivered_during_creates']} during the "
                  f"creates, backlog {d['backlog_at_end_of_creates']}, drained in {d['drain_s']} s, "
                  f"receiver {d['receiver_count']}, {d.get('receiver_distinct', '?')} distinct, "
                  f"its CPU {d.get('receiver_cpu_us_per_event', '?')} us/event, the delivering "
                  f"process's {d.get('deliverer_cpu_us_per_event', '?')})")
    print()
    if lost:
        print("CHECK FAILED:")
        for line in lost:
            print("  " + line)
        sys.exit(1)
    print("check: every answered request has its record and reached the mock exactly once")
    print(f"results: {out_json}")


def idempotent_sql(pg_write):
    """pg_write.sql with an idempotency key claimed and an answer stored (see the docstring)."""
    sql = open(pg_write).read()
    replaced = [
        ("'pending', null, null, null,",
         "'pending', 'bench-' || :key, 'bench-' || :key, repeat('5e', 32),"),
        ("stored_answer = coalesce(null::jsonb, stored_answer)",
         "stored_answer = coalesce(:stored_answer::jsonb, stored_answer)"),
    ]
    for old, new in replaced:
        if old not in sql:
            sys.exit(f"idempotent-sql: {pg_write} no longer has {old!r}")
        sql = sql.replace(old, new)
    # A fresh key per create; with 63 random bits a collision (a claim taken) is negligible.
    print("\\set key random(1, 9223372036854775807)")
    print(sql, end="")


def main():
    command, args = sys.argv[1], sys.argv[2:]
    if command == "sqlite-ceiling":
        sqlite_ceiling(args[0], int(args[1]), float(args[2]), args[3], "--lookups" in args)
    elif command == "sqlite-count":
        sqlite_count(args[0])
    elif command == "sqlite-checkpoint":
        sqlite_checkpoint(args[0])
    elif command == "pgbench-summary":
        pgbench_summary(args[0], args[1], args[2])
    elif command == "check":
        numbers = [int(a) for a in args[3:]]
        check(args[0], args[1], args[2], *numbers)
    elif command == "idempotent-sql":
        idempotent_sql(*args)
    elif command == "json":
        values = {"results": RESULTS, "provider_response": RESPONSE}
        if args[0] == "stored_answer":
            path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "stored_answer.json")
            print(json.dumps(json.load(open(path))))
        else:
            print(values[args[0]])
    elif command == "drain":
        drain(args[0], args[1], float(args[2]), float(args[3]), *[int(a) for a in args[4:11]])
    elif command == "backlog":
        backlog(args[0], args[1], float(args[2]), *[int(a) for a in args[3:]])
    elif command == "report":
        report(args[0], args[1])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
