"""Prometheus metrics (docs/METRICS.md): the master serves GET /metrics on
its own loopback port (INCIDENTD_METRICS_URL), never through the public
nginx location; counters move by exactly the requests made, summed over
all workers, and survive a worker's restart.

Other tests run before these against the same incidentd, so every check
compares two scrapes (the suite runs serially)."""

import glob
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from helpers import burst, expect_error, new_idem

REQ = "incidentd_http_requests_total"
HIST = "incidentd_http_request_duration_seconds"
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$')


@pytest.fixture(scope="module")
def metrics_url():
    url = os.environ.get("INCIDENTD_METRICS_URL", "")
    if not url:
        pytest.skip("INCIDENTD_METRICS_URL is not set (scripts/test.sh sets it)")
    return url


def scrape_text(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return r.read().decode("utf-8")


def parse(text):
    """{(name, labels text): value} of every sample."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, "not a sample line: %r" % line
        out[(m.group(1), m.group(2) or "")] = float(m.group(3))
    return out


def scrape(url):
    return parse(scrape_text(url))


def labels(method, route, status=None, le=None):
    s = 'method="%s",route="%s"' % (method, route)
    if status is not None:
        s += ',status="%s"' % status
    if le is not None:
        s += ',le="%s"' % le
    return "{" + s + "}"


def delta(before, after, name, lab=""):
    return after.get((name, lab), 0.0) - before.get((name, lab), 0.0)


def test_public_location_does_not_serve_metrics(api):
    r = api.raw_request("GET", "/metrics")
    assert r.status == 404, r.describe()
    assert b"incidentd_" not in r.raw


def test_other_paths_and_methods(metrics_url):
    base = metrics_url.rsplit("/", 1)[0]
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(base + "/other", timeout=10)
    assert e.value.code == 404
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(urllib.request.Request(metrics_url, data=b"x", method="POST"),
                               timeout=10)
    assert e.value.code == 405
    assert e.value.headers["Allow"] == "GET, HEAD"


def test_a_silent_client_does_not_hold_the_master(metrics_url):
    """The master serves scrapes between its reaping and respawning: a
    client that connects and sends nothing is dropped after a second."""
    u = urllib.parse.urlsplit(metrics_url)
    idle = socket.create_connection((u.hostname, u.port), timeout=10)
    try:
        t0 = time.monotonic()
        assert "incidentd_build_info" in scrape_text(metrics_url)
        assert time.monotonic() - t0 < 5
        assert idle.recv(1) == b"", "the silent client should have been closed"
    finally:
        idle.close()


def test_counters_move_by_the_requests_made(api, org, metrics_url):
    limited = org.key("metrics-limited", "viewer", rate_limit=1)
    before = scrape(metrics_url)

    idem = new_idem()
    body = {"visibility": "public", "idempotency_key": idem, "name": "metrics"}
    first = api.post("/v1/incidents", key=org.creator, json=body)
    assert first.status == 200 and not first.replayed, first.describe()
    again = api.post("/v1/incidents", key=org.creator, json=body)
    assert again.status == 200 and again.replayed, again.describe()
    expect_error(api.get("/v9/no_such_route", key=org.viewer), 404)
    expect_error(api.get("/v1/identity"), 401)
    assert api.get("/v1/identity", key=limited).status == 200
    expect_error(api.get("/v1/identity", key=limited), 429)

    after = scrape(metrics_url)
    create = labels("POST", "/v1/incidents")
    assert delta(before, after, REQ, labels("POST", "/v1/incidents", 200)) == 2
    assert delta(before, after, "incidentd_idempotent_replays_total") == 1
    assert delta(before, after, REQ, labels("other", "unmatched", 404)) == 1
    assert delta(before, after, REQ, labels("GET", "/v1/identity", 401)) == 1
    assert delta(before, after, REQ, labels("GET", "/v1/identity", 200)) == 1
    assert delta(before, after, REQ, labels("GET", "/v1/identity", 429)) == 1
    assert delta(before, after, "incidentd_rate_limited_requests_total") == 1
    assert delta(before, after, HIST + "_count", create) == 2
    assert delta(before, after, HIST + "_bucket", labels("POST", "/v1/incidents", le="+Inf")) == 2
    assert delta(before, after, HIST + "_sum", create) > 0
    # Nothing but this test's requests reached the API meanwhile.
    moved = sum(delta(before, after, n, lab) for (n, lab) in after if n == REQ)
    assert moved == 6
    assert after[("incidentd_http_requests_in_flight", "")] == 0
    assert after[("incidentd_db_connections_total", "")] >= 1
    assert delta(before, after, "incidentd_worker_restarts_total") == 0


def test_promtool_accepts_the_exposition(api, org, metrics_url):
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian package prometheus)")
    api.get("/v1/identity", key=org.viewer)
    text = scrape_text(metrics_url)
    p = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.strip() == "" and p.stderr.strip() == "", p.stdout + p.stderr
    for name in ("incidentd_build_info", "process_start_time_seconds", REQ, HIST,
                 "incidentd_http_requests_in_flight", "incidentd_rate_limited_requests_total",
                 "incidentd_idempotent_replays_total", "incidentd_db_connections_total",
                 "incidentd_db_connect_failures_total", "incidentd_db_connections_lost_total",
                 "incidentd_db_errors_total", "incidentd_worker_restarts_total"):
        assert "# TYPE %s " % name in text, name


def _children(pid):
    kids = set()
    for path in glob.glob("/proc/%d/task/*/children" % pid):
        with open(path) as f:
            kids.update(int(x) for x in f.read().split())
    return kids


@pytest.mark.resilience
def test_worker_restart_is_counted_and_counters_keep_growing(api, org, metrics_url, env):
    if not env.master_pid:
        pytest.skip("INCIDENTD_MASTER_PID is not set")
    for _ in range(20):
        api.get("/v1/identity", key=org.viewer)
    before = scrape(metrics_url)
    victims = sorted(_children(env.master_pid))
    assert victims, "the master has no workers"
    os.kill(victims[0], signal.SIGKILL)
    deadline = time.monotonic() + 10
    after = before
    while time.monotonic() < deadline:
        after = scrape(metrics_url)
        if delta(before, after, "incidentd_worker_restarts_total") >= 1:
            break
        time.sleep(0.05)
    assert delta(before, after, "incidentd_worker_restarts_total") == 1
    # The replacement continues its slot's counters: no series went back.
    for key, value in before.items():
        if key[0].endswith(("_total", "_count", "_bucket", "_sum")):
            assert after.get(key, 0) >= value, (key, value, after.get(key))
    r = api.get("/v1/identity", key=org.viewer)
    assert r.status == 200
    ok = labels("GET", "/v1/identity", 200)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and delta(before, scrape(metrics_url), REQ, ok) < 1:
        time.sleep(0.05)
    assert delta(before, scrape(metrics_url), REQ, ok) >= 1


@pytest.mark.resilience
def test_lost_database_connections_are_counted(api, db, org, metrics_url):
    """Terminated backends: each worker counts its connection lost once and
    the reconnect its next request makes."""
    app = os.environ.get("INCIDENTD_APP_DATABASE_URL", "")
    if not app:
        pytest.skip("INCIDENTD_APP_DATABASE_URL is not set")
    role = urllib.parse.unquote(urllib.parse.urlsplit(app).username or "")
    # A worker respawned by an earlier test (a kill) opens its connection
    # when it starts: wait until no connection is being opened, so that
    # only this test's reconnects count.
    before = scrape(metrics_url)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        burst(lambda: api.get("/v1/identity", key=org.viewer, timeout=10), 16)
        time.sleep(0.3)
        now = scrape(metrics_url)
        if delta(before, now, "incidentd_db_connections_total") == 0:
            break
        before = now
    killed = int(db.scalar(
        "select count(pg_terminate_backend(pid)) from pg_stat_activity "
        "where usename = :'r' and application_name = 'incidentd'", r=role))
    assert killed >= 1

    def moved(name):
        return delta(before, scrape(metrics_url), name)

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (moved("incidentd_db_connections_lost_total") < killed
                                           or moved("incidentd_db_connections_total") < killed):
        # Concurrent requests reach every worker (burst's comment).
        burst(lambda: api.get("/v1/incidents", key=org.viewer, params={"page_size": 1},
                              timeout=10), 16)
    after = scrape(metrics_url)
    assert delta(before, after, "incidentd_db_connections_lost_total") == killed
    assert delta(before, after, "incidentd_db_connections_total") == killed
