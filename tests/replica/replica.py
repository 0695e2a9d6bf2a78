"""Reads from a streaming replica, against the stack tests/replica/run.sh
starts (docs/REPLICAS.md says what is shown here and why).

Proof that a read was served by the replica: with the replica's replay
paused, it answers without a row the primary has; and the primary's
incidentd backends ran no statement meanwhile (pg_stat_activity). Each
step prints what it showed."""
import os
import subprocess
import sys
import time
import urllib.request
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from helpers import DB, Context, Env, expect_ok, wait_until  # noqa: E402
from validate import load_spec  # noqa: E402

WORKERS = 4
RP_SLOTS = 4096  # INCD_RP_SLOTS (src/core/readpos.h)


def say(msg):
    print("replica: " + msg, flush=True)


def rp_slot(key_id):
    """The write position slot of a key (FNV-1a, as src/core/readpos.c)."""
    h = 14695981039346656037
    for b in key_id.encode():
        h = ((h ^ b) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h & (RP_SLOTS - 1)


def pg_ctl(action):
    p = subprocess.run("%s %s" % (os.environ["REPLICA_PG_CTL"], action), shell=True,
                       capture_output=True, text=True, timeout=90)
    assert p.returncode == 0, "replica %s failed: %s %s" % (action, p.stdout, p.stderr)


class Replica:
    def __init__(self, ctx, url):
        self.ctx = ctx
        self.db = DB(url)

    def caught_up(self, timeout=10):
        want = self.ctx.db.scalar("select pg_current_wal_lsn()")
        ok = wait_until(lambda: self.db.scalar(
            "select pg_last_wal_replay_lsn() >= :'w'::pg_lsn", w=want) == "t", timeout=timeout)
        assert ok, "the replica did not replay up to %s within %ss" % (want, timeout)

    def pause(self):
        self.db.query("select pg_wal_replay_pause()")
        ok = wait_until(lambda: self.db.scalar("select pg_get_wal_replay_pause_state()") == "paused")
        assert ok, "replay did not pause"

    def resume(self):
        self.db.query("select pg_wal_replay_resume()")


def primary_mark(ctx):
    return ctx.db.scalar("select clock_timestamp()")


def primary_statements_since(ctx, mark):
    """incidentd's backends on the primary whose last statement began after
    mark, other than authentication (a worker's first sight of a key; it
    precedes the read in a request, so a read on the primary would be the
    backend's last statement)."""
    return ctx.db.query(
        "select pid, query from pg_stat_activity where application_name = 'incidentd' "
        "and query_start > :'m'::timestamptz and query not like '%api.authenticate%'", m=mark)


def create(ctx, key, name):
    r = ctx.api.post("/v1/incidents", key=key, json={
        "idempotency_key": "replica-" + uuid.uuid4().hex, "visibility": "public", "name": name})
    return expect_ok(r)["incident"]["id"]


def status_of(ctx, key, path):
    return ctx.api.get(path, key=key).status


def every_get(ctx, org, key, incident_id):
    """Every authenticated GET route, each answered 200 (and checked
    against the spec by the Api helper)."""
    api = ctx.api
    paths = ["/v1/identity", "/v1/incidents", "/v1/incidents/" + incident_id, "/v2/incidents",
             "/v2/incidents/" + incident_id, "/v2/incident_updates?incident_id=" + incident_id]
    lists = [("/v1/severities", "severities"), ("/v1/incident_types", "incident_types"),
             ("/v2/incident_roles", "incident_roles"), ("/v2/custom_fields", "custom_fields"),
             ("/v2/users", "users"), ("/v1/incident_statuses", "incident_statuses"),
             ("/v2/incident_timestamps", "incident_timestamps")]
    for path, member in lists:
        items = expect_ok(api.get(path, key=key))[member]
        assert items, "%s is empty" % path
        paths.append("%s/%s" % (path, items[0]["id"]))
    field = expect_ok(api.get("/v2/custom_fields", key=key))["custom_fields"]
    select = [f for f in field if f["field_type"] in ("single_select", "multi_select")]
    assert select, "no select field seeded"
    opts = expect_ok(api.get("/v1/custom_field_options?custom_field_id=" + select[0]["id"],
                             key=key))["custom_field_options"]
    assert opts, "no options seeded"
    paths.append("/v1/custom_field_options/" + opts[0]["id"])
    for p in paths:
        expect_ok(api.get(p, key=key))
    return len(paths) + len(lists) + 2


def replica_metrics():
    """incidentd's replica counters (docs/METRICS.md), summed over workers."""
    with urllib.request.urlopen(os.environ["INCIDENTD_METRICS_URL"], timeout=10) as r:
        text = r.read().decode("utf-8")
    return {line.split()[0]: float(line.split()[1]) for line in text.splitlines()
            if line.startswith("incidentd_replica_")}


def log_count(needle):
    with open(os.environ["INCIDENTD_LOG"], encoding="utf-8", errors="replace") as f:
        return sum(needle in line for line in f)


def main():
    env = Env()
    ctx = Context(env, load_spec(env.spec))
    rep = Replica(ctx, os.environ["REPLICA_DATABASE_URL"])
    org = ctx.new_org("replica")
    writer, reader, admin = org.creator, org.viewer, org.admin
    # The table keeps no keys (src/core/readpos.h): keys sharing a slot
    # share their waits, which would hide what this test shows.
    while rp_slot(reader.id) in (rp_slot(writer.id), rp_slot(admin.id)):
        reader = org.key("viewer", "viewer")
    first = create(ctx, writer, "Replica seed")
    rep.caught_up()

    # 1. Reads are served by the replica, with no statement on the primary.
    for _ in range(2):  # each worker authenticates the key once
        every_get(ctx, org, reader, first)
    mark = primary_mark(ctx)
    m0 = replica_metrics()
    n = sum(every_get(ctx, org, reader, first) for _ in range(3))
    m1 = replica_metrics()
    ran = primary_statements_since(ctx, mark)
    assert not ran, "reads ran statements on the primary: %r" % ran
    reads = m1["incidentd_replica_reads_total"] - m0["incidentd_replica_reads_total"]
    falls = m1["incidentd_replica_fallbacks_total"] - m0["incidentd_replica_fallbacks_total"]
    assert (reads, falls) == (n, 0), "metrics counted %d replica reads, %d fallbacks for %d GETs" % (reads, falls, n)
    say("%d GETs over every read route: 200, no statement on the primary, "
        "incidentd_replica_reads_total +%d" % (n, reads))

    # 2. Replay paused: another key's read does not see a new incident
    # (served by the replica); the writer's reads do (read-your-writes);
    # the write itself succeeded, so it ran on the primary (the replica
    # refuses writes).
    rep.pause()
    before = expect_ok(ctx.api.get("/v1/incidents", key=reader))["pagination_meta"]["total_record_count"]
    new = create(ctx, writer, "Written while replay is paused")
    for _ in range(2 * WORKERS):
        assert status_of(ctx, reader, "/v1/incidents/" + new) == 404
        assert status_of(ctx, reader, "/v2/incidents/" + new) == 404
        assert status_of(ctx, writer, "/v1/incidents/" + new) == 200
        assert status_of(ctx, writer, "/v2/incidents/" + new) == 200
    listed = expect_ok(ctx.api.get("/v1/incidents", key=reader))["pagination_meta"]
    assert listed["total_record_count"] == before, listed
    mine = expect_ok(ctx.api.get("/v2/incidents", key=writer))["incidents"]
    assert new in [i["id"] for i in mine], "the writer's list lacks its incident"
    settings = org.settings
    sev = expect_ok(ctx.api.post("/v1/severities", key=settings, json={
        "name": "Replica " + uuid.uuid4().hex[:6], "description": "d", "rank": 77}), 201)["severity"]
    assert status_of(ctx, settings, "/v1/severities/" + sev["id"]) == 200
    assert status_of(ctx, reader, "/v1/severities/" + sev["id"]) == 404
    say("replay paused: reader gets 404 for the new incident and severity, "
        "writers get 200 (read-your-writes), writes succeed (primary)")
    rep.resume()
    ok = wait_until(lambda: status_of(ctx, reader, "/v1/incidents/" + new) == 200, timeout=10)
    assert ok, "the reader never saw the incident after replay resumed"
    say("replay resumed: reader sees it")

    # 3. Once the replica has replayed the write, the writer reads there
    # again: replay paused, another key's incident is not in its list.
    rep.caught_up()
    rep.pause()
    other = create(ctx, admin, "Another key's incident")
    for _ in range(2 * WORKERS):
        ids = [i["id"] for i in expect_ok(ctx.api.get("/v2/incidents", key=writer))["incidents"]]
        assert new in ids and other not in ids, "the writer's read did not come from the replica"
    rep.resume()
    rep.caught_up()
    say("writer's reads back on the replica once it replayed the write")

    # 4. The replica stopped: every read still succeeds, from the primary;
    # started again: reads return to it.
    pg_ctl("stop")
    m0 = replica_metrics()
    t0 = time.monotonic()
    gone = create(ctx, admin, "Written while the replica is down")
    for _ in range(3 * WORKERS):
        assert status_of(ctx, reader, "/v1/incidents/" + gone) == 200
        expect_ok(ctx.api.get("/v2/incidents", key=reader))
    downs = log_count("read replica unavailable")
    assert 1 <= downs <= WORKERS, "%d 'read replica unavailable' lines (want one per worker at most)" % downs
    say("replica stopped: %d reads answered 200 from the primary in %.2f s; %d workers logged it once"
        % (6 * WORKERS, time.monotonic() - t0, downs))
    m1 = replica_metrics()
    falls = m1["incidentd_replica_fallbacks_total"] - m0["incidentd_replica_fallbacks_total"]
    lost = sum(m1[k] - m0[k] for k in ("incidentd_replica_connections_lost_total",
                                        "incidentd_replica_connect_failures_total"))
    assert falls >= 6 * WORKERS and lost >= downs, (falls, lost, downs)
    say("metrics: incidentd_replica_fallbacks_total +%d, lost connections and failed connects +%d"
        % (falls, lost))
    pg_ctl("start")
    rep.caught_up()
    time.sleep(1.1)  # each worker retries an unreachable replica after a second
    rep.pause()
    back = create(ctx, admin, "Written after the replica came back")
    for _ in range(3 * WORKERS):
        assert status_of(ctx, reader, "/v1/incidents/" + back) == 404, "a read did not return to the replica"
    rep.resume()
    ups = log_count("read replica reachable again")
    assert 1 <= ups <= downs, "%d workers logged the replica back, %d its loss" % (ups, downs)
    say("replica started: reads return to it (%d workers logged it back)" % ups)

    # 5. Nothing failed on the replica because it is read-only.
    bad = log_count("sqlstate=25006") + log_count("statement failed")
    assert bad == 0, "%d failed statements in incidentd's log" % bad
    say("ok")


if __name__ == "__main__":
    main()
