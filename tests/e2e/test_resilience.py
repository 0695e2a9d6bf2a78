"""Disruptive checks: a worker killed with SIGKILL is replaced, and the
service survives a PostgreSQL restart without being restarted itself.

Marked `resilience`; conftest.py runs these after every other test.
"""

import glob
import os
import re
import signal
import subprocess
import time

import pytest

from helpers import burst, expect_error, expect_ok, new_idem

pytestmark = pytest.mark.resilience


def _children(pid):
    """Child pids of pid: /proc/<pid>/task/*/children, else pgrep -P, else
    a scan of /proc/*/stat."""
    kids = set()
    found = False
    for path in glob.glob("/proc/%d/task/*/children" % pid):
        try:
            with open(path) as f:
                kids.update(int(x) for x in f.read().split())
            found = True
        except OSError:
            pass
    if found:
        return kids
    try:
        p = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, timeout=5)
        if p.returncode in (0, 1):
            return {int(x) for x in p.stdout.split()}
    except (OSError, subprocess.TimeoutExpired):
        pass
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as f:
                data = f.read()
        except OSError:
            continue
        m = re.match(r"^(\d+) \(.*\) (\S) (\d+) ", data, re.S)
        if m and int(m.group(3)) == pid and m.group(2) != "Z":
            kids.add(int(m.group(1)))
    return kids


def _alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except OSError:
        return False
    m = re.match(r"^\d+ \(.*\) (\S)", data, re.S)
    return bool(m) and m.group(1) not in ("Z", "X")


def _live_children(pid):
    return {c for c in _children(pid) if _alive(c)}


@pytest.fixture(scope="module")
def master(env):
    if not env.master_pid:
        pytest.skip("INCIDENTD_MASTER_PID is not set")
    assert _alive(env.master_pid), "incidentd master %d is not running" % env.master_pid
    return env.master_pid


def _settle(api, org, need, timeout=10.0):
    """Waits until a burst of `need` concurrent authenticated requests (they
    spread over all workers) all succeed; bounded by time and count."""
    def one():
        try:
            r = api.get("/v1/incidents", key=org.viewer, params={"page_size": 1}, timeout=5)
            return r.status == 200, r.describe()
        except Exception as exc:  # noqa: BLE001 - counted as a failure
            return False, repr(exc)

    deadline = time.monotonic() + timeout
    last = None
    for _ in range(200):
        results = burst(one, need)
        bad = [d for ok, d in results if not ok]
        if not bad:
            return
        last = "%d/%d failed, e.g. %s" % (len(bad), len(results), bad[0])
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)
    raise AssertionError("service did not recover within %.0fs; last burst: %s" % (timeout, last))


def test_killed_worker_is_replaced(api, org, master):
    before = _live_children(master)
    assert before, "master %d has no workers" % master
    victim = sorted(before)[0]
    os.kill(victim, signal.SIGKILL)

    deadline = time.monotonic() + 5.0
    now = before
    while time.monotonic() < deadline:
        now = _live_children(master)
        if victim not in now and len(now) == len(before):
            break
        time.sleep(0.05)
    assert victim not in now, "killed worker %d is still there" % victim
    assert len(now) == len(before), "worker count %d -> %d after 5 s" % (len(before), len(now))
    assert now - before, "no new worker pid"
    assert _alive(master), "the master died"

    _settle(api, org, need=10 * len(now), timeout=5.0)
    inc = org.create_incident(name="After worker kill")
    expect_ok(api.get("/v1/incidents/" + inc["id"], key=org.viewer))
    assert _live_children(master) == now, "workers kept changing after recovery"


def _pg(env, action):
    p = subprocess.run("%s %s" % (env.pg_ctl, action), shell=True, capture_output=True, text=True, timeout=90)
    assert p.returncode == 0, "%s %s failed: %s %s" % (env.pg_ctl, action, p.stdout, p.stderr)


@pytest.fixture
def pg_ctl(env):
    if not env.pg_ctl:
        pytest.skip("INCIDENTD_PG_CTL is not set")
    return env


def test_database_down_is_503_then_recovers(api, org, master, pg_ctl):
    env = pg_ctl
    workers = _live_children(master)
    _pg(env, "stop")
    try:
        def health_503():
            r = api.get("/healthz", timeout=5)
            return r if r.status == 503 else None
        r = None
        deadline = time.monotonic() + 10
        while r is None and time.monotonic() < deadline:
            r = health_503()
            if r is None:
                time.sleep(0.1)
        assert r is not None, "/healthz did not report the database down within 10 s"
        expect_error(r, 503, "database_unavailable")
        ra = r.header("Retry-After")
        assert ra and ra.strip().isdigit(), "503 without a Retry-After in seconds: %r" % ra

        # every worker answers 503 (not 500, not a hang)
        for r in burst(lambda: api.get("/v1/incidents", key=org.viewer, timeout=5), 10 * max(1, len(workers))):
            expect_error(r, 503, "database_unavailable")
            assert (r.header("Retry-After") or "").strip().isdigit()
        r = api.post("/v1/incidents", key=org.creator, timeout=5,
                     json={"idempotency_key": new_idem(), "visibility": "public"})
        expect_error(r, 503, "database_unavailable")
    finally:
        _pg(env, "start")

    _settle(api, org, need=10 * max(1, len(workers)), timeout=10.0)
    expect_ok(api.get("/healthz"))
    inc = org.create_incident(name="After database restart")
    expect_ok(api.get("/v1/incidents/" + inc["id"], key=org.viewer))
    assert _alive(master), "incidentd master was restarted or died"


def test_database_restart_recovers_and_relistens(api, ctl, org, master, pg_ctl):
    env = pg_ctl
    workers = _live_children(master)
    _pg(env, "restart")
    _settle(api, org, need=10 * max(1, len(workers)), timeout=10.0)
    assert _alive(master)
    for i in range(5):
        org.create_incident(name="After restart %d" % i)

    # Key revocation must still reach every worker: they re-LISTEN after
    # reconnecting.
    k = org.key("post-restart", "viewer")
    for r in burst(lambda: api.get("/v1/incidents", key=k), 10 * max(1, len(workers))):
        expect_ok(r)
    ctl.api_key_revoke(k.id)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if api.get("/v1/incidents", key=k).status == 401:
            break
        time.sleep(0.1)
    for r in burst(lambda: api.get("/v1/incidents", key=k), 10 * max(1, len(workers))):
        expect_error(r, 401, "access_token_invalid")


def test_key_revoked_while_database_restarts_is_refused(api, ctl, org, master, pg_ctl):
    """A key cached by every worker and revoked while their connections are
    stale: the NOTIFY is lost to them, so reconnecting must drop the cache
    (CONTRACT: a revoked key is 401)."""
    env = pg_ctl
    workers = _live_children(master)
    cached = org.key("cached-across-restart", "viewer")
    for r in burst(lambda: api.get("/v1/incidents", key=cached), 10 * max(1, len(workers))):
        expect_ok(r)
    _pg(env, "restart")
    ctl.api_key_revoke(cached.id)
    _settle(api, org, need=10 * max(1, len(workers)), timeout=10.0)
    for r in burst(lambda: api.get("/v1/incidents", key=cached), 10 * max(1, len(workers))):
        expect_error(r, 401, "access_token_invalid")
