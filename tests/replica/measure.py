"""Figures for docs/REPLICAS.md, on the stack tests/replica/run.sh starts
(run it with MEASURE=1): a few seconds each, printed side by side.

  1. statements the primary runs per GET: served by the replica, and
     served by the primary (the writer's reads while replay is paused);
     counted from the primary's statement log (log_statement = all, on for
     the measurement only)
  2. the round trips read-your-writes adds: pg_current_wal_lsn() on the
     primary after each write, pg_last_wal_replay_lsn() on the replica
     when a key's read needs a position the worker has not yet seen
     replayed; each against SELECT 1 (pgbench, prepared, 1 client, 3 s)
  3. staleness under a small write load: pg_stat_replication's replay_lag
     sampled every 50 ms while one client creates incidents for 5 s, and
     how long another key waits to see each new incident (polling)
"""
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from replica import Replica, create, status_of  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from helpers import Context, Env, expect_ok  # noqa: E402
from validate import load_spec  # noqa: E402

PGBENCH = os.path.join(os.environ.get("INCD_PG_BIN", "/usr/lib/postgresql/15/bin"), "pgbench")


def primary_log_statements(ctx, fn):
    """fn() run with the primary logging every statement; returns the
    number of incidentd's statements it logged (executes of prepared
    statements: all incidentd runs)."""
    log = os.environ["PRIMARY_LOG"]
    ctx.db.query("alter system set log_statement = 'all'")
    ctx.db.query("select pg_reload_conf()")
    time.sleep(0.3)
    start = os.path.getsize(log)
    try:
        fn()
    finally:
        ctx.db.query("alter system reset log_statement")
        ctx.db.query("select pg_reload_conf()")
    time.sleep(0.3)
    with open(log, "rb") as f:
        f.seek(start)
        text = f.read().decode("utf-8", "replace")
    return sum("LOG:  execute " in line for line in text.splitlines())


def pgbench_latency_us(url, sql):
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write(sql + ";\n")
        path = f.name
    os.chmod(path, 0o644)
    try:
        p = subprocess.run([PGBENCH, "-n", "-M", "prepared", "-c", "1", "-T", "3", "-f", path, url],
                           capture_output=True, text=True, timeout=60)
    finally:
        os.unlink(path)
    assert p.returncode == 0, p.stderr
    for line in p.stdout.splitlines():
        if line.startswith("latency average"):
            return float(line.split("=")[1].split()[0]) * 1000
    raise AssertionError(p.stdout)


def main():
    env = Env()
    ctx = Context(env, load_spec(env.spec))
    rep = Replica(ctx, os.environ["REPLICA_DATABASE_URL"])
    org = ctx.new_org("measure")
    writer, reader = org.creator, org.viewer
    iid = create(ctx, writer, "Measured")
    rep.caught_up()
    n = 200
    paths = ["/v1/incidents/" + iid, "/v2/incidents?page_size=25"]
    for p in paths:  # warm: every worker knows both keys and the config
        for _ in range(20):
            expect_ok(ctx.api.get(p, key=reader))
            expect_ok(ctx.api.get(p, key=writer))

    def reads(key):
        t0 = time.perf_counter()
        for _ in range(n):
            for p in paths:
                expect_ok(ctx.api.get(p, key=key))
        return (time.perf_counter() - t0) / (n * len(paths)) * 1e6

    rep_us = [0.0]
    on_replica = primary_log_statements(ctx, lambda: rep_us.__setitem__(0, reads(reader)))
    rep.pause()
    create(ctx, writer, "Pins the writer's reads to the primary")
    prim_us = [0.0]
    on_primary = primary_log_statements(ctx, lambda: prim_us.__setitem__(0, reads(writer)))
    rep.resume()
    rep.caught_up()
    total = n * len(paths)
    print("1. primary statements per GET (%d GETs each: show + V2 list page of 25)" % total)
    print("   served by the replica : %.3f  (%d statements; client sees %.0f us a GET)"
          % (on_replica / total, on_replica, rep_us[0]))
    print("   served by the primary : %.3f  (%d statements; client sees %.0f us a GET)"
          % (on_primary / total, on_primary, prim_us[0]))

    primary_url = os.environ["PRIMARY_APP_URL"]
    replica_url = os.environ["REPLICA_APP_URL"]
    base_p = pgbench_latency_us(primary_url, "SELECT 1")
    wal_p = pgbench_latency_us(primary_url, "SELECT pg_current_wal_lsn()::text")
    base_r = pgbench_latency_us(replica_url, "SELECT 1")
    replay_r = pgbench_latency_us(replica_url, "SELECT pg_last_wal_replay_lsn()::text")
    print("2. round trips read-your-writes adds (pgbench, prepared, unix socket, 1 client)")
    print("   per write, on the primary : pg_current_wal_lsn()     %5.0f us  (SELECT 1: %3.0f us)"
          % (wal_p, base_p))
    print("   per ask, on the replica   : pg_last_wal_replay_lsn() %5.0f us  (SELECT 1: %3.0f us)"
          % (replay_r, base_r))

    lags, seen = [], []
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            v = ctx.db.scalar("select coalesce(extract(epoch from replay_lag) * 1000, 0) "
                              "from pg_stat_replication limit 1")
            lags.append(float(v))
            time.sleep(0.05)

    t = threading.Thread(target=sample)
    t.start()
    deadline = time.monotonic() + 5
    writes = 0
    while time.monotonic() < deadline:
        new = create(ctx, writer, "Load")
        writes += 1
        t0 = time.perf_counter()
        while status_of(ctx, reader, "/v1/incidents/" + new) != 200:
            pass
        seen.append((time.perf_counter() - t0) * 1000)
        time.sleep(0.05)
    stop.set()
    t.join()
    print("3. staleness, %d creates in 5 s (one client, 50 ms apart)" % writes)
    print("   replay_lag (pg_stat_replication, %d samples): median %.2f ms, max %.2f ms"
          % (len(lags), statistics.median(lags), max(lags)))
    print("   another key first sees the incident after: median %.2f ms, max %.2f ms"
          " (includes one GET, ~%.1f ms)" % (statistics.median(seen), max(seen), rep_us[0] / 1000))


if __name__ == "__main__":
    main()
