"""Rate limits (CONTRACT.md, "Rate limits"; docs/DESIGN.md, "Rate limits"):
a token bucket per API key, shared by every worker, with the X-RateLimit-*
headers on every response to a limited key and 429 + Retry-After past the
limit, before anything is written.

Api.check validates the headers of every response of the suite (the
fixtures' keys have a limit far above what any test sends); here the keys
have small limits, so that counts are exact: a limit of L a minute refills
one request every 60/L seconds, and a test that sends its requests well
within that time knows exactly how many get through."""

import calendar
import glob
import os
import re
import signal
import subprocess
import threading
import time
import uuid

import pytest

from helpers import (DEFAULT_RATE_LIMIT, burst, expect_error, expect_ok, new_idem,
                     rate_limit_of, wait_until)

ID = "/v1/identity"


def limited(org, label, limit, *roles):
    return org.key(label, *(roles or ("viewer",)), rate_limit=limit)


def drain(api, key, path=ID, max_requests=1000):
    """Sends requests one at a time until one is 429; returns the responses."""
    out = []
    for _ in range(max_requests):
        r = api.get(path, key=key)
        out.append(r)
        if r.status == 429:
            return out
    raise AssertionError("no 429 after %d requests" % max_requests)


def test_default_limit_is_1200(api, db, org):
    key = org.key("default", "viewer", rate_limit=DEFAULT_RATE_LIMIT)
    assert db.scalar("select rate_limit from api_keys where id = :'k'", k=key.id) == "1200"
    r = api.get(ID, key=key)
    expect_ok(r)
    assert r.header("X-RateLimit-Limit") == "1200, 1200;window=60"
    limit, remaining, used, reset = rate_limit_of(r)
    assert (remaining, used) == (1199, 1)
    # Full again one request's refill (50 ms) from now.
    assert time.time() - 2 <= reset <= time.time() + 2, reset


def test_burst_to_the_limit_then_429(api, org):
    # 10 a minute: one every 6 s, so the sequence below is exact.
    key = limited(org, "burst", 10)
    t0 = time.time()
    rs = drain(api, key)
    elapsed = time.time() - t0
    assert elapsed < 5, "too slow to count exactly (%.1f s)" % elapsed
    assert [r.status for r in rs] == [200] * 10 + [429]
    assert [rate_limit_of(r)[1] for r in rs] == [9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 0]
    assert [rate_limit_of(r)[2] for r in rs] == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 10]
    last = rs[-1]
    e = expect_error(last, 429, "too_many_requests")
    assert "backoff" in e["message"]
    assert last.header("X-RateLimit-Limit") == "10, 10;window=60"
    # One request back in at most 6 s; the whole bucket in about a minute.
    retry = int(last.header("Retry-After"))
    assert 1 <= retry <= 6, retry
    reset = rate_limit_of(last)[3]
    assert t0 + 54 <= reset <= time.time() + 61, (reset, t0)
    rl = last.body["rate_limit"]
    assert rl["name"] == key.name
    assert (rl["limit"], rl["remaining"]) == (10, 0)
    when = calendar.timegm(time.strptime(rl["retry_after"], "%Y-%m-%dT%H:%M:%SZ"))
    assert t0 <= when <= time.time() + retry + 1, (rl, t0)
    # Denied requests take nothing: still denied, the same wait or less.
    again = api.get(ID, key=key)
    expect_error(again, 429, "too_many_requests")
    assert int(again.header("Retry-After")) <= retry


def test_refills_continuously(api, org):
    # 60 a minute: one a second.
    key = limited(org, "refill", 60)
    t0 = time.time()
    rs = drain(api, key, max_requests=200)
    allowed = sum(r.status == 200 for r in rs)
    assert 60 <= allowed <= 61 + int(time.time() - t0), allowed
    # Never more than one request's refill away.
    assert rs[-1].header("Retry-After") == "1"
    time.sleep(1)
    r = api.get(ID, key=key)
    expect_ok(r)
    # What came back is spent: less than two were in the bucket.
    assert rate_limit_of(r)[1] <= 1
    # No boundary where the bucket fills in one step: 3 s give 3 requests
    # (a few more for what comes in while they are sent).
    time.sleep(3)
    t0 = time.time()
    rs = drain(api, key)
    allowed = sum(r.status == 200 for r in rs)
    assert 3 <= allowed <= 5 + int(time.time() - t0), allowed


def test_keys_are_independent(api, org):
    a = limited(org, "indep-a", 5)
    b = limited(org, "indep-b", 5)
    assert sum(r.status == 200 for r in drain(api, a)) == 5
    r = api.get(ID, key=b)
    expect_ok(r)
    assert rate_limit_of(r)[1:3] == (4, 1)
    expect_error(api.get(ID, key=a), 429)
    # The organisation's other keys are untouched too.
    expect_ok(api.get(ID, key=org.viewer))


def worker_pids(env, start, request_ids):
    """The pids of the workers whose access log lines (from offset start)
    carry these ids, and the ids not found."""
    want = set(request_ids)
    pids = set()
    with open(env.log, "rb") as f:
        f.seek(start)
        for line in f.read().decode("utf-8", "replace").splitlines():
            m = re.search(r" \[(\d+)\] info: .* rid=(\S+)", line)
            if m and m.group(2) in want:
                pids.add(m.group(1))
                want.discard(m.group(2))
    return pids, want


def test_bucket_is_shared_by_the_workers(api, env, org):
    # 120 a minute: one every 0.5 s. Per-worker buckets would let up to
    # 4 x 120 through.
    key = limited(org, "shared", 120)
    start = os.path.getsize(env.log)
    t0 = time.time()
    rs = burst(lambda: api.get(ID, key=key), 400, parallel=16)
    elapsed = time.time() - t0
    allowed = sum(r.status == 200 for r in rs)
    assert all(r.status in (200, 429) for r in rs), [r.describe() for r in rs if r.status not in (200, 429)]
    assert 120 <= allowed <= 120 + int(elapsed * 2) + 1, (allowed, elapsed)
    # Several workers answered (the access log names each one's pid).
    ids = [r.request_id for r in rs]
    found = wait_until(lambda: (lambda p: p if not p[1] else None)(worker_pids(env, start, ids)),
                       timeout=5)
    pids, missing = found or worker_pids(env, start, ids)
    assert not missing, "%d requests not in the log" % len(missing)
    assert len(pids) >= 2, "every request reached one worker: %s" % pids
    # Whichever worker answered, the allowed ones counted down one bucket.
    assert min(rate_limit_of(r)[1] for r in rs if r.status == 200) == 0


def test_429_writes_nothing(api, db, org):
    key = limited(org, "writes", 3, "viewer", "incident_creator", "manage_settings")
    assert sum(r.status == 200 for r in drain(api, key)) == 3
    before = org.incident_count()
    idem = new_idem()
    r = api.post("/v1/incidents", key=key, json={"idempotency_key": idem, "visibility": "public",
                                                 "name": "throttled"})
    expect_error(r, 429, "too_many_requests")
    r = api.post("/v2/incidents", key=key, json={"idempotency_key": new_idem(),
                                                 "visibility": "public", "name": "throttled v2"})
    expect_error(r, 429, "too_many_requests")
    name = "throttled-" + uuid.uuid4().hex[:6]
    r = api.post("/v1/severities", key=key, json={"name": name, "rank": 99})
    expect_error(r, 429, "too_many_requests")
    assert org.incident_count() == before
    assert db.count("select count(*) from incidents where idempotency_key = :'i'", i=idem) == 0
    assert db.count("select count(*) from severities where name = :'n'", n=name) == 0
    # A replay of a known idempotency key is a request like any other.
    known = new_idem()
    org.create_incident(key=org.creator, idempotency_key=known)
    r = api.post("/v1/incidents", key=key, json={"idempotency_key": known, "visibility": "public"})
    expect_error(r, 429)
    assert not r.replayed


def test_headers_on_errors_after_authentication(api, org):
    # 6 a minute: one every 10 s; each error below takes one.
    key = limited(org, "errors", 6, "viewer")
    seen = []
    r = api.get(ID, key=key)
    expect_ok(r)
    seen.append(r)
    r = api.post("/v1/severities", key=key, json={"name": "nope", "rank": 1})
    expect_error(r, 403, "missing_permissions")
    seen.append(r)
    r = api.get("/v1/incidents/01ARZ3NDEKTSV4RRFFQ69G5FAV", key=key)
    expect_error(r, 404, "not_found")
    seen.append(r)
    r = api.get("/v1/incidents", key=key, params={"page_size": "x"})
    expect_error(r, 422)
    seen.append(r)
    assert [rate_limit_of(r)[1] for r in seen] == [5, 4, 3, 2]
    assert all(r.header("X-RateLimit-Limit") == "6, 6;window=60" for r in seen)


def test_not_counted_healthz_401_and_errors_before_authentication(api, db, ctl, org):
    # 6 a minute: one every 10 s.
    key = limited(org, "uncounted", 6)
    r = api.get(ID, key=key)
    assert rate_limit_of(r)[1] == 5
    for _ in range(15):
        r = api.get("/healthz", key=key)
        assert r.status == 200 and rate_limit_of(r) is None, r.describe()
        # Routing comes before authentication: an unknown route or method
        # is answered without looking at the key.
        r = api.get("/v1/no-such-route", key=key)
        expect_error(r, 404)
        assert rate_limit_of(r) is None
        r = api.delete("/v1/incidents", key=key)
        expect_error(r, 405)
        assert rate_limit_of(r) is None
    r = api.get(ID, key=key)
    assert rate_limit_of(r)[1] == 4
    expect_error(api.get(ID), 401, "missing_authorization_material")

    # A revoked key's 401s cost it nothing: brought back (by hand, in
    # SQL), it has what it had, less the requests that got through before
    # the revocation reached the workers.
    ctl.api_key_revoke(key.id)
    late = 0
    for _ in range(50):
        r = api.get(ID, key=key)
        if r.status == 401:
            break
        late += r.status == 200
        time.sleep(0.1)
    expect_error(r, 401, "access_token_invalid")
    for r in burst(lambda: api.get(ID, key=key), 30):
        expect_error(r, 401, "access_token_invalid")
    db.query("update api_keys set revoked_at = null where id = :'k'", k=key.id)
    r = wait_until(lambda: (lambda r: r if r.status != 401 else None)(api.get(ID, key=key)),
                   timeout=5)
    assert r and r.status == 200, "the key did not come back"
    # 4 left, less the late ones and this one (one more if 10 s passed).
    assert 3 - late <= rate_limit_of(r)[1] <= 4 - late, (late, r.describe())


def test_unlimited_key_is_never_limited(api, db, org):
    key = limited(org, "unlimited", 0)
    assert db.scalar("select rate_limit from api_keys where id = :'k'", k=key.id) == "0"
    rs = burst(lambda: api.get(ID, key=key), 1500, parallel=16)
    assert all(r.status == 200 for r in rs), [r.describe() for r in rs if r.status != 200][:3]
    assert all(rate_limit_of(r) is None for r in rs)
    assert all(r.header("Retry-After") is None for r in rs)


def test_limit_change_applies_at_once(api, db, org):
    key = limited(org, "change", 10)
    r = api.get(ID, key=key)
    assert r.header("X-RateLimit-Limit") == "10, 10;window=60"
    # The key cache is flushed by NOTIFY on any change of the key.
    db.query("update api_keys set rate_limit = 20 where id = :'k'", k=key.id)
    r = wait_until(lambda: (lambda r: r if r.header("X-RateLimit-Limit") == "20, 20;window=60"
                            else None)(api.get(ID, key=key)), timeout=5)
    assert r, "the new limit did not show"
    db.query("update api_keys set rate_limit = 0 where id = :'k'", k=key.id)
    assert wait_until(lambda: rate_limit_of(api.get(ID, key=key)) is None, timeout=5)


def test_incidentctl_rate_limit_option(env, db, org):
    def run(*args):
        e = dict(os.environ, DATABASE_URL=env.database_url)
        return subprocess.run([env.incidentctl, "api-key", "create", "--org", org.id,
                               "--name", "ctl-" + uuid.uuid4().hex[:6], "--role", "viewer"]
                              + list(args), capture_output=True, text=True, env=e, timeout=60)
    for bad in ("-1", "x", "1.5", "2147483648", ""):
        p = run("--rate-limit", bad)
        assert p.returncode == 2, (bad, p.returncode, p.stderr)
        assert "rate-limit" in p.stderr, p.stderr
    p = run("--rate-limit", "2147483647")
    assert p.returncode == 0, p.stderr
    key_id = re.search(r"api key (\S+) created", p.stderr).group(1)
    assert db.scalar("select rate_limit from api_keys where id = :'k'", k=key_id) == "2147483647"
    p = subprocess.run([env.incidentctl, "api-key", "create", "--help"], capture_output=True,
                       text=True, timeout=60)
    assert "--rate-limit N" in p.stdout and "0 = unlimited" in p.stdout


def test_limit_of_one_request_a_minute(api, org):
    # The extreme: a bucket of one. The second request waits up to a minute.
    key = limited(org, "one", 1)
    expect_ok(api.get(ID, key=key))
    r = api.get(ID, key=key)
    expect_error(r, 429)
    assert 55 <= int(r.header("Retry-After")) <= 60, r.header("Retry-After")


def _workers(master):
    kids = set()
    for path in glob.glob("/proc/%d/task/*/children" % master):
        with open(path) as f:
            kids.update(int(x) for x in f.read().split())
    alive = set()
    for pid in kids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                if re.match(r"^\d+ \(.*\) [^ZX]", f.read(), re.S):
                    alive.add(pid)
        except OSError:
            pass
    return alive


@pytest.mark.resilience
def test_bucket_outlives_killed_workers(api, env, org):
    """The buckets are the master's: every worker killed with SIGKILL, some
    in the middle of requests, and the key's bucket goes on counting where
    it was (a bucket per worker would start full again)."""
    if not env.master_pid or not glob.glob("/proc/%d/task/*/children" % env.master_pid):
        pytest.skip("needs INCIDENTD_MASTER_PID and /proc/PID/task/*/children")
    before = _workers(env.master_pid)
    assert before
    # 30 a minute: one every 2 s.
    key = limited(org, "survivor", 30)
    t0 = time.time()
    assert all(r.status == 200 for r in burst(lambda: api.get(ID, key=key), 10))
    during = []

    def load():
        for _ in range(60):
            try:
                during.append(api.raw_request("GET", ID, headers={
                    "Authorization": "Bearer " + key.token}).status)
            except OSError:
                during.append(None)
    t = threading.Thread(target=load)
    t.start()
    time.sleep(0.05)
    for pid in before:
        os.kill(pid, signal.SIGKILL)
    t.join(30)
    assert wait_until(lambda: (lambda w: len(w) == len(before) and not w & before)(
        _workers(env.master_pid)), timeout=10), "the workers were not replaced"
    rs = drain(api, key, max_requests=100)
    allowed = 10 + during.count(200) + sum(r.status == 200 for r in rs)
    refill = int((time.time() - t0) / 2) + 1
    # A request killed after it took its token but before it answered
    # counts without a 200: at most one per worker.
    assert 30 - len(before) <= allowed <= 30 + refill, (allowed, during, refill)
