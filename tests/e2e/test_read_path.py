"""The read path (docs/DESIGN.md, "Read path"): incidents are answered from
stored frames filled in by the workers' caches of configuration objects.

- Byte-identical: every incident of the test database (what every other
  module created, plus tests/upgrade/fixture.py's varied data) renders
  through show, list and replay exactly as the renderer before frames
  (tests/sql/oracle.sql) renders it. Runs after the other modules
  (conftest.py), so it sees all of their data.
- Read your writes: each configuration write that changes how incidents
  render shows at once, in every worker.
- Cheap configuration writes: a rename does not hold up creates.
- Plans that cannot go bad: a page of 250 on a table without statistics.
"""

import concurrent.futures
import json
import os
import re
import subprocess
import sys
import uuid

import pytest

from helpers import DB, expect_error

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# Enough to reach every worker several times (scripts/test.sh runs 4).
ROUNDS = 12


def load_oracle(env):
    p = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", env.database_url,
                        "-f", os.path.join(ROOT, "tests", "sql", "oracle.sql")],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr


def first_difference(what, got, want):
    i = next((k for k in range(min(len(got), len(want))) if got[k] != want[k]), min(len(got), len(want)))
    return "%s differs at byte %d: ...%s... (oracle ...%s...)" % (what, i, got[max(0, i - 80):i + 80],
                                                              want[max(0, i - 80):i + 80])


@pytest.mark.oracle
def test_every_incident_renders_as_before(env, ctx, db):
    load_oracle(env)
    # tests/upgrade/fixture.py's data: every custom field type, archived and
    # renamed configuration, options added later, unicode, maximum lengths.
    p = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "upgrade", "fixture.py"),
                        "populate", "--url", env.url, "--ctl", env.incidentctl,
                        "--out", "/dev/null"],
                       capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, DATABASE_URL=env.database_url))
    assert p.returncode == 0, p.stdout + p.stderr
    # Some incidents without a frame, as after an upgrade: built on the fly.
    db.query("update incidents set frame = null where id in "
             "(select id from incidents order by random() limit 50)")
    assert db.count("select count(*) from incidents where frame is null") >= 50

    # The oracle builds permalinks from the session's setting, as the
    # workers' sessions once did.
    db.query("select set_config('incidentd.public_url', :'u', false)", u=env.public_url)
    orgs = [o for (o,) in db.query("select distinct organisation_id from incidents order by 1")]
    shows = lists = replays = 0
    for org in orgs:
        token, _ = ctx.ctl.api_key_create_with_id(org, "oracle-" + uuid.uuid4().hex[:6],
                                                  ["viewer", "incident_creator", "global_access"])
        ids = db.query("select id, idempotency_key from incidents where organisation_id = :'o' "
                       "order by created_at desc, id desc", o=org)
        want = dict(db.query("select id, oracle.body(organisation_id, id) from incidents "
                             "where organisation_id = :'o'", o=org))

        def check(pair, org=org, token=token, want=want):
            iid, key = pair
            r = ctx.api.get("/v1/incidents/" + iid, key=token, validate=False)
            assert r.status == 200, r.describe()
            assert r.raw.decode() == want[iid], first_difference(iid, r.raw.decode(), want[iid])
            r = ctx.api.post("/v1/incidents", key=token, validate=False,
                             json={"idempotency_key": key, "visibility": "public"})
            assert r.status == 200 and r.replayed, r.describe()
            assert r.raw.decode() == want[iid], (iid, "replay")

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            list(pool.map(check, ids))
        shows += len(ids)
        replays += len(ids)

        # Every page, at a few page sizes, with and without a filter.
        for size, statuses in ((250, None), (7, None), (3, ["triage", "closed"])):
            after = None
            while True:
                params = [("page_size", size)] + [("status", s) for s in statuses or []]
                if after:
                    params.append(("after", after))
                r = ctx.api.get("/v1/incidents", key=token, params=params, validate=False)
                assert r.status == 200, r.describe()
                expected = db.scalar(
                    "select oracle.incident_list(:'o', true, string_to_array(nullif(:'s', ''), ','), "
                    "nullif(:'a', ''), :'n'::int)",
                    o=org, s=",".join(statuses or []), a=after or "", n=size)
                assert r.raw.decode() == expected, (org, size, statuses, after)
                lists += 1
                after = r.body["pagination_meta"].get("after")
                if not after:
                    break
    # With the other modules' incidents, a real sample (about a thousand).
    assert shows > 500 and lists > 100, (shows, lists)
    print("oracle: %d shows, %d replays, %d list pages identical in %d organisations"
          % (shows, replays, lists, len(orgs)))


def show_all_workers(api, org, iid):
    """The incident as ROUNDS consecutive shows answer it (every worker)."""
    return [api.get("/v1/incidents/" + iid, key=org.admin).body["incident"] for _ in range(ROUNDS)]


@pytest.fixture(scope="module")
def ryw(org, api, db):
    """An incident using one of each configuration object, seen by every
    worker (so that each has cached what it renders)."""
    lisa = org.user_named("Lisa")
    inc = org.create_incident(
        key=org.admin, status="investigating", severity_id=org.severity["Major"],
        incident_type_id=org.incident_type["Default"],
        custom_field_entries=[
            {"custom_field_id": org.field["Affected Team"],
             "values": [{"value_option_id": org.option["Affected Team"]["Platform"]}]}],
        incident_role_assignments=[
            {"incident_role_id": org.role_by_type["lead"], "assignee": {"id": lisa["id"]}}])
    for seen in show_all_workers(api, org, inc["id"]):
        assert seen == inc
    return inc


def expect_everywhere(api, org, iid, what, check):
    for seen in show_all_workers(api, org, iid):
        assert check(seen), (what, seen)


def test_severity_write_renders_at_once(api, org, ryw):
    sid = ryw["severity"]["id"]
    r = api.put("/v1/severities/" + sid, key=org.settings,
                json={"name": "Major ryw", "description": "renamed", "rank": 2})
    assert r.status == 200, r.describe()
    expect_everywhere(api, org, ryw["id"], "severity",
                      lambda i: i["severity"]["name"] == "Major ryw" and i["severity"]["description"] == "renamed")
    # The list renders it too.
    page = api.get("/v1/incidents", key=org.admin).body["incidents"]
    assert next(i for i in page if i["id"] == ryw["id"])["severity"]["name"] == "Major ryw"


def test_role_write_renders_at_once(api, org, ryw):
    rid = ryw["incident_role_assignments"][0]["role"]["id"]
    r = api.put("/v2/incident_roles/" + rid, key=org.settings,
                json={"name": "Lead ryw", "shortform": "lead", "description": "renamed lead",
                      "instructions": "new"})
    assert r.status == 200, r.describe()
    expect_everywhere(api, org, ryw["id"], "role",
                      lambda i: i["incident_role_assignments"][0]["role"]["name"] == "Lead ryw")


def test_custom_field_and_option_writes_render_at_once(api, org, ryw):
    entry = ryw["custom_field_entries"][0]
    fid, oid = entry["custom_field"]["id"], entry["values"][0]["value_option"]["id"]
    r = api.put("/v2/custom_fields/" + fid, key=org.settings,
                json={"name": "Team ryw", "description": "renamed field"})
    assert r.status == 200, r.describe()
    expect_everywhere(api, org, ryw["id"], "field",
                      lambda i: i["custom_field_entries"][0]["custom_field"]["name"] == "Team ryw")
    r = api.put("/v1/custom_field_options/" + oid, key=org.settings,
                json={"value": "Platform ryw", "sort_key": 5})
    assert r.status == 200, r.describe()
    expect_everywhere(api, org, ryw["id"], "option",
                      lambda i: i["custom_field_entries"][0]["values"][0]["value_option"]["value"] == "Platform ryw"
                      and any(o["value"] == "Platform ryw"
                              for o in i["custom_field_entries"][0]["custom_field"]["options"]))
    # Archived after the incident: still among the options it had.
    r = api.delete("/v1/custom_field_options/" + oid, key=org.settings)
    assert r.status == 204, r.describe()
    expect_everywhere(api, org, ryw["id"], "archived option",
                      lambda i: i["custom_field_entries"][0]["values"][0]["value_option"]["value"] == "Platform ryw")


def test_incident_type_write_renders_at_once(api, ctl, org, ryw):
    """A new default type (incidentctl) makes the old one render
    is_default: false."""
    ctl.incident_type_create(org.id, "New default " + uuid.uuid4().hex[:6], default=True)
    expect_everywhere(api, org, ryw["id"], "type", lambda i: i["incident_type"]["is_default"] is False)


def test_user_and_api_key_writes_render_at_once(api, db, org, ryw):
    """Users and keys have no API writes: a change by hand in the database
    renders at once too."""
    uid = ryw["incident_role_assignments"][0]["assignee"]["id"]
    db.query("update users set name = 'Lisa ryw' where id = :'u'", u=uid)
    expect_everywhere(api, org, ryw["id"], "user",
                      lambda i: i["incident_role_assignments"][0]["assignee"]["name"] == "Lisa ryw")
    kid = ryw["creator"]["api_key"]["id"]
    db.query("update api_keys set name = 'admin ryw' where id = :'k'", k=kid)
    expect_everywhere(api, org, ryw["id"], "api key", lambda i: i["creator"]["api_key"]["name"] == "admin ryw")


def test_create_renders_at_once(api, org):
    """A create is in the next list and show of every worker."""
    inc = org.create_incident(key=org.admin, name="fresh " + uuid.uuid4().hex[:6])
    for _ in range(ROUNDS):
        assert api.get("/v1/incidents", key=org.admin).body["incidents"][0]["id"] == inc["id"]
    expect_everywhere(api, org, inc["id"], "create", lambda i: i == inc)


def test_a_rename_does_not_hold_up_creates(env, api, org):
    """While a severity's rename is uncommitted, creates that use it go
    through; once it commits, they render the new name."""
    other = DB(env.database_url)
    try:
        sid = org.severity["Minor"]
        other.query("begin")
        other.query("update severities set name = 'Minor renaming' where id = :'s'", s=sid)
        inc = org.create_incident(key=org.admin, status="fixing", severity_id=sid)
        assert inc["severity"]["name"] == "Minor"
        other.query("commit")
    finally:
        other.close()
    expect_everywhere(api, org, inc["id"], "rename", lambda i: i["severity"]["name"] == "Minor renaming")


def test_page_250_without_statistics(api, ctx, db, org):
    """The page statement's generic plan, made without statistics (as on a
    freshly migrated database), is the index scan: a page of 250 from the
    middle of 600 incidents in well under a second."""
    big = ctx.new_org("plans")

    def mk(i):
        big.create_incident(key=big.admin, name="plan %d" % i)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(mk, range(600)))
    after = db.scalar("select id from incidents where organisation_id = :'o' "
                      "order by created_at desc, id desc offset 100 limit 1", o=big.id)
    tables = "'incidents'::regclass, 'incident_counts'::regclass, 'config_versions'::regclass"
    # auto_explain shows the plan of the function's statement (as NOTICEs on
    # stderr); the worker's sessions plan generically (src/daemon/db.c).
    script = """
set plan_cache_mode = force_generic_plan;
load 'auto_explain';
set auto_explain.log_min_duration = 0;
set auto_explain.log_nested_statements = on;
set auto_explain.log_analyze = on;
set auto_explain.log_level = notice;
set client_min_messages = notice;
begin;
delete from pg_statistic where starelid in (%(t)s);
update pg_class set reltuples = -1 where oid in (%(t)s);
select count(*) from api.incident_page('%(o)s', true, '%(a)s', 250);
rollback;
analyze incidents;
select count(*) from api.incident_page('%(o)s', true, '%(a)s', 250);
""" % {"t": tables, "o": big.id, "a": after}
    p = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", ctx.env.database_url],
                       input=script, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    plans = [x for x in p.stderr.split("NOTICE:") if "incidents_org_created" in x or "Sort" in x]
    # The page statement's plan: without statistics and with them.
    pages = [x for x in plans if "limit least(" in x]
    assert len(pages) == 2, p.stderr
    times = []
    for plan in pages:
        assert "Index Scan Backward using incidents_org_created" in plan, plan
        assert "Bitmap" not in plan and "Sort Key" not in plan, plan
        times.append(float(re.search(r"duration: ([0-9.]+) ms", plan).group(1)))
    without, analysed = times
    assert without < 1000 and without <= 5 * max(analysed, 1.0), (without, analysed)
    r = api.get("/v1/incidents", key=big.admin, params={"page_size": 250, "after": after})
    assert len(r.body["incidents"]) == 250
