"""The reporting interface (docs/REPORTING.md): schema reporting's views and
their pinned columns, the read-only reporting role and the roles restricted
to an organisation, the example queries of the doc (run as the reporting
role against incidents with known timestamps, answers checked), and the
change feed followed from a second cluster.
"""

import datetime
import decimal
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.parse
import uuid

import pytest

from helpers import DB, wait_until

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DOC = os.path.join(ROOT, "docs", "REPORTING.md")

# Every view's columns and types, in order. Columns are only ever added
# (docs/REPORTING.md, "Columns are only ever added"): a rename, a type
# change or a dropped column fails here. A new column goes at the end of
# its view and of its list here.
T, TS, B, BI, N, IV, I4 = ("text", "timestamp with time zone", "boolean", "bigint", "numeric",
                           "interval", "integer")
PINNED = {
    "organisations": [("id", T), ("name", T), ("created_at", TS)],
    "severities": [("organisation_id", T), ("id", T), ("name", T), ("description", T), ("rank", BI),
                   ("created_at", TS), ("updated_at", TS), ("archived_at", TS)],
    "incident_types": [("organisation_id", T), ("id", T), ("name", T), ("description", T),
                       ("is_default", B), ("private_incidents_only", B), ("create_in_triage", T),
                       ("created_at", TS), ("updated_at", TS), ("archived_at", TS)],
    "incident_statuses": [("organisation_id", T), ("id", T), ("name", T), ("description", T),
                          ("rank", BI), ("category", T), ("created_at", TS), ("updated_at", TS),
                          ("archived_at", TS)],
    "incident_roles": [("organisation_id", T), ("id", T), ("name", T), ("description", T),
                       ("shortform", T), ("role_type", T), ("required", B), ("created_at", TS),
                       ("updated_at", TS), ("archived_at", TS)],
    "custom_fields": [("organisation_id", T), ("id", T), ("name", T), ("description", T),
                      ("field_type", T), ("created_at", TS), ("updated_at", TS), ("archived_at", TS)],
    "custom_field_options": [("organisation_id", T), ("id", T), ("custom_field_id", T), ("value", T),
                             ("sort_key", BI), ("created_at", TS), ("updated_at", TS),
                             ("archived_at", TS)],
    "users": [("organisation_id", T), ("id", T), ("name", T), ("email", T), ("slack_user_id", T),
              ("role", T), ("is_active", B), ("created_at", TS), ("updated_at", TS)],
    "incident_timestamps": [("organisation_id", T), ("id", T), ("name", T), ("rank", BI),
                            ("lifecycle", T)],
    "incidents": [("organisation_id", T), ("id", T), ("reference", T), ("reference_number", BI),
                  ("name", T), ("summary", T), ("incident_status_id", T), ("incident_status_name", T),
                  ("status_category", T), ("v1_status", T), ("severity_id", T), ("severity_name", T),
                  ("severity_rank", BI), ("incident_type_id", T), ("incident_type_name", T),
                  ("visibility", T), ("mode", T), ("created_at", TS), ("updated_at", TS),
                  ("reported_at", TS), ("accepted_at", TS), ("resolved_at", TS), ("closed_at", TS),
                  ("declined_at", TS), ("time_to_accept", IV), ("time_to_resolve", IV),
                  ("time_to_close", IV)],
    "custom_field_values": [("organisation_id", T), ("incident_id", T), ("custom_field_id", T),
                            ("custom_field_name", T), ("field_type", T), ("entry_position", I4),
                            ("value_position", I4), ("option_id", T), ("option_value", T),
                            ("value_text", T), ("value_link", T), ("value_numeric", N), ("value", T),
                            ("incident_created_at", TS), ("incident_mode", T), ("incident_status_category", T)],
    "role_assignments": [("organisation_id", T), ("incident_id", T), ("incident_role_id", T),
                         ("role_name", T), ("role_type", T), ("user_id", T), ("user_name", T),
                         ("user_email", T), ("assigned_at", TS), ("incident_created_at", TS),
                         ("incident_mode", T), ("incident_status_category", T)],
    "incident_updates": [("organisation_id", T), ("id", T), ("incident_id", T), ("created_at", TS),
                         ("new_incident_status_id", T), ("new_incident_status_name", T),
                         ("new_status_category", T), ("new_severity_id", T), ("new_severity_name", T),
                         ("message", T)],
}

# The tables of the change feed (migration 009's publication).
FEED_TABLES = {"organisations", "users", "severities", "incident_types", "incident_statuses",
               "incident_timestamps", "incident_roles", "custom_fields", "custom_field_options",
               "incidents", "incident_role_assignments", "incident_custom_field_values",
               "incident_updates"}


def env_url(name):
    url = os.environ.get(name, "")
    if not url:
        pytest.skip("%s is not set (scripts/test.sh sets it)" % name)
    return url


def with_user(url, user):
    u = urllib.parse.urlsplit(url)
    netloc = "%s@%s" % (urllib.parse.quote(user), u.netloc.rsplit("@", 1)[-1])
    return urllib.parse.urlunsplit(u._replace(netloc=netloc))


def user_of(url):
    return urllib.parse.unquote(urllib.parse.urlsplit(url).username or "")


def fails(db, sql, pattern, **params):
    with pytest.raises(AssertionError, match=pattern):
        db.query(sql, **params)


@pytest.fixture(scope="module")
def reporting_db():
    db = DB(env_url("REPORTING_DATABASE_URL"))
    db.query("set timezone to 'UTC'")
    yield db
    db.close()


@pytest.fixture(scope="module")
def owner_db():
    db = DB(env_url("INCIDENTD_OWNER_DATABASE_URL"))
    yield db
    db.close()


@pytest.fixture(scope="module")
def reporting_role():
    return user_of(env_url("REPORTING_DATABASE_URL"))


# --------------------------------------------------------------- the views

def test_columns_are_pinned(db):
    rows = db.query(
        "select table_name, column_name, data_type from information_schema.columns "
        "where table_schema = 'reporting' order by table_name, ordinal_position")
    actual = {}
    for view, col, typ in rows:
        actual.setdefault(view, []).append((col, typ))
    for view, cols in PINNED.items():
        assert view in actual, "view reporting.%s is gone: views are never dropped" % view
        assert actual[view][:len(cols)] == cols, (
            "reporting.%s changed a released column: columns are only ever added" % view)
        assert actual[view] == cols, (
            "reporting.%s has new columns %s: pin them in PINNED" % (view, actual[view][len(cols):]))
    assert set(actual) == set(PINNED), "new views: pin them in PINNED"


def test_every_view_and_column_has_a_comment(db):
    missing = db.query(
        "select c.relname from pg_class c where c.relnamespace = 'reporting'::regnamespace "
        "and coalesce(obj_description(c.oid, 'pg_class'), '') = '' "
        "union all select c.relname || '.' || a.attname from pg_class c "
        "join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped "
        "where c.relnamespace = 'reporting'::regnamespace "
        "and coalesce(col_description(c.oid, a.attnum), '') = ''")
    assert missing == []
    # Views only, each a security barrier (the organisation filter runs first).
    assert db.query(
        "select c.relname from pg_class c where c.relnamespace = 'reporting'::regnamespace "
        "and (c.relkind <> 'v' or not coalesce('security_barrier=true' = any (c.reloptions), false))") == []


# ------------------------------------------------------ the reporting role

def test_reporting_role_reads_reporting_and_nothing_else(db, reporting_db, reporting_role):
    r = reporting_role
    # What it holds, from the catalog: SELECT on every view of reporting,
    # nothing on any other relation or function of the owner's schemas.
    assert db.query(
        "select c.oid::regclass::text from pg_class c "
        "where c.relnamespace in ('public'::regnamespace, 'api'::regnamespace) "
        "and c.relkind in ('r', 'p', 'v', 'm', 'f') "
        "and has_table_privilege(:'r', c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')",
        r=r) == []
    assert db.query(
        "select p.oid::regprocedure::text from pg_proc p "
        "where p.pronamespace in ('public'::regnamespace, 'api'::regnamespace) "
        "and has_function_privilege(:'r', p.oid, 'EXECUTE')", r=r) == []
    assert db.query(
        "select c.relname from pg_class c where c.relnamespace = 'reporting'::regnamespace "
        "and (not has_table_privilege(:'r', c.oid, 'SELECT') "
        "or has_table_privilege(:'r', c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER'))",
        r=r) == []
    assert db.query(
        "select has_schema_privilege(:'r', 'reporting', 'USAGE'), has_schema_privilege(:'r', 'reporting', 'CREATE'), "
        "has_schema_privilege(:'r', 'public', 'CREATE'), has_schema_privilege(:'r', 'api', 'USAGE'), "
        "has_database_privilege(:'r', current_database(), 'TEMPORARY'), "
        "has_database_privilege(:'r', current_database(), 'CREATE'), "
        "r.rolsuper, r.rolinherit, r.rolcreaterole, r.rolcreatedb, r.rolreplication, r.rolbypassrls "
        "from pg_roles r where r.rolname = :'r'", r=r) == [
            ("t", "f", "f", "f", "f", "f", "f", "f", "f", "f", "f", "f")]
    # And as the role itself.
    assert int(reporting_db.scalar("select count(*) from reporting.incidents")) >= 0
    fails(reporting_db, "select token_sha256 from api_keys", "permission denied")
    fails(reporting_db, "select id from incidents", "permission denied")
    fails(reporting_db, "select * from api.authenticate('\\x00'::bytea)", "permission denied")
    fails(reporting_db, "insert into reporting.severities (organisation_id, id, name) values ('a', 'b', 'c')",
          "permission denied")
    fails(reporting_db, "update reporting.incidents set name = 'x'", "permission denied|cannot update")
    fails(reporting_db, "create table reporting.x (a int)", "permission denied")
    fails(reporting_db, "create temporary table x (a int)", "permission denied")


# ------------------------------------------------ example queries, answered

HOUR = datetime.timedelta(hours=1)
MINUTE = datetime.timedelta(minutes=1)

# name, severity, weeks ago (created in that week), minutes the report came
# before the creation (None: no Reported at), hours from creation to
# resolution (None: unresolved), status, lead, Affected Team, mode.
SEED = [
    ("a", "Major", 1, None, 2.0, "Closed", "Lisa", "Payments", "real"),
    ("b", "Major", 1, 30, 5.5, "Closed", "Bob", "Payments", "real"),
    ("c", "Major", 3, None, 10.0, "Closed", "Lisa", "Platform", "real"),
    ("d", "Minor", 3, None, 1.0, "Closed", "Lisa", "Product", "real"),
    ("e", "Minor", 5, 60, 4.0, "Closed", "Bob", None, "real"),
    ("f", "Critical", 2, None, None, "Investigating", "Lisa", "Payments", "real"),
    # Before statuses: no incident_status_id, its V1 status says Fixing.
    ("g", "Critical", 2, None, None, "(v1) fixing", "Bob", "Platform", "real"),
    ("h", None, 6, None, None, "Triage", None, None, "real"),
    ("i", "Minor", 11, None, None, "Monitoring", "Lisa", "Product", "real"),
    ("j", "Major", 20, None, 3.0, "Closed", "Lisa", "Payments", "real"),
    ("k", "Major", 1, None, 1.0, "Closed", "Bob", "Payments", "test"),
    ("l", "Minor", 4, None, None, "Declined", None, "Product", "real"),
]
CATEGORY = {"Triage": "triage", "Investigating": "live", "Fixing": "live", "Monitoring": "live",
            "Closed": "closed", "Declined": "declined"}
V1 = {"Triage": "triage", "Investigating": "investigating", "Fixing": "fixing",
      "Monitoring": "monitoring", "Closed": "closed", "Declined": "declined"}


def ts(t):
    return t.strftime("%Y-%m-%d %H:%M:%S+00")


@pytest.fixture(scope="module")
def seeded(ctx, db, org, other_org):
    """The organisation's incidents of SEED, created through the API, then
    given their timestamps and statuses as the superuser."""
    week0 = datetime.datetime.fromtimestamp(
        float(db.scalar("select extract(epoch from date_trunc('week', now() at time zone 'UTC'))")),
        datetime.timezone.utc).replace(tzinfo=None)
    statuses = dict(db.query("select name, id from incident_statuses where organisation_id = :'o' "
                             "and seeded_as is not null", o=org.id))
    lead_role = org.role_by_type["lead"]
    team = org.field["Affected Team"]
    rows = []
    for n, (name, sev, weeks, rep_min, res_h, status, lead, team_value, mode) in enumerate(SEED):
        payload = {"name": "report " + name, "mode": mode}
        if sev:
            payload["severity_id"] = org.severity[sev]
        if lead:
            payload["incident_role_assignments"] = [
                {"incident_role_id": lead_role, "assignee": {"id": org.user[lead]["id"]}}]
        if team_value:
            payload["custom_field_entries"] = [
                {"custom_field_id": team, "values": [{"value_option_id": org.option["Affected Team"][team_value]}]}]
        inc = org.create_incident(key=org.admin, **payload)
        created = week0 - datetime.timedelta(weeks=weeks) + 12 * HOUR + n * MINUTE
        reported = created - rep_min * MINUTE if rep_min is not None else None
        resolved = created + datetime.timedelta(hours=res_h) if res_h is not None else None
        v1_only = status.startswith("(v1) ")
        status_name = status[5:].capitalize() if v1_only else status
        accepted = created + 10 * MINUTE if status_name not in ("Triage", "Declined") else None
        declined = created + 5 * MINUTE if status_name == "Declined" else None
        db.query(
            "update incidents set created_at = :'c', reported_at = nullif(:'r', '')::timestamptz, "
            "accepted_at = nullif(:'a', '')::timestamptz, resolved_at = nullif(:'s', '')::timestamptz, "
            "closed_at = nullif(:'s', '')::timestamptz, declined_at = nullif(:'d', '')::timestamptz, "
            "status = :'v1', incident_status_id = nullif(:'sid', '') where id = :'id'",
            c=ts(created), r=ts(reported) if reported else "", a=ts(accepted) if accepted else "",
            s=ts(resolved) if resolved else "", d=ts(declined) if declined else "",
            v1=V1[status_name], sid="" if v1_only else statuses[status_name], id=inc["id"])
        rows.append({"id": inc["id"], "severity": sev, "created": created,
                     "reported": reported or created, "resolved": resolved, "status": status_name,
                     "category": CATEGORY[status_name], "lead": lead, "team": team_value, "mode": mode})
    # Another organisation's incident, which no query of org may count.
    other_org.create_incident(key=other_org.admin, name="elsewhere", severity_id=other_org.severity["Major"])
    db.query("analyze incidents")
    return {"week0": week0, "incidents": rows, "now": datetime.datetime.utcnow()}


def real_since(seeded, since):
    return [i for i in seeded["incidents"] if i["mode"] == "real" and i["created"] >= since]


def percentile_cont(values, p):
    values = sorted(values)
    pos = (len(values) - 1) * p
    lo = int(pos)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (pos - lo)


def hours2(x):
    return str(decimal.Decimal(repr(x)).quantize(decimal.Decimal("0.01"), rounding=decimal.ROUND_HALF_UP))


def expect_per_week(seeded):
    counts = {}
    for i in real_since(seeded, seeded["week0"] - datetime.timedelta(weeks=12)):
        week = i["created"] - datetime.timedelta(days=i["created"].weekday())
        week = week.replace(hour=0, minute=0, second=0)
        key = (ts(week), i["severity"] or "(none)")
        counts[key] = counts.get(key, 0) + 1
    return [(w, s, str(n)) for (w, s), n in sorted(counts.items())]


def expect_time_to_resolve(seeded):
    by_sev = {}
    for i in real_since(seeded, seeded["now"] - datetime.timedelta(days=90)):
        if i["resolved"] is not None:
            h = (i["resolved"] - i["reported"]).total_seconds() / 3600
            by_sev.setdefault(i["severity"] or "(none)", []).append(h)
    return [(s, str(len(v)), hours2(percentile_cont(v, 0.5)), hours2(percentile_cont(v, 0.9)))
            for s, v in sorted(by_sev.items())]


def expect_open_by_status(seeded):
    counts = {}
    for i in seeded["incidents"]:
        if i["mode"] == "real" and i["category"] in ("triage", "live", "paused"):
            key = (i["category"], i["status"])
            counts[key] = counts.get(key, 0) + 1
    return [(c, s, str(n)) for (c, s), n in sorted(counts.items())]


def expect_teams(seeded):
    counts = {}
    for i in real_since(seeded, seeded["now"] - datetime.timedelta(days=90)):
        if i["team"]:
            counts[i["team"]] = counts.get(i["team"], 0) + 1
    return [(t, str(n)) for t, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def expect_leads(seeded):
    load = {}
    for i in real_since(seeded, seeded["now"] - datetime.timedelta(days=90)):
        if i["lead"]:
            n, o = load.get(i["lead"], (0, 0))
            load[i["lead"]] = (n + 1, o + (i["category"] in ("triage", "live", "paused")))
    return [(u, str(n), str(o)) for u, (n, o) in sorted(load.items(), key=lambda kv: (-kv[1][0], kv[0]))]


# The doc's example queries, in the doc's order.
EXPECTED = [expect_per_week, expect_time_to_resolve, expect_open_by_status, expect_teams, expect_leads]


def doc_queries():
    with open(DOC, encoding="utf-8") as f:
        text = f.read()
    section = text.split("\n## Example queries\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sql\n(.*?)```", section, re.S)


def test_doc_has_the_examples():
    assert len(doc_queries()) == len(EXPECTED), "a query added to docs/REPORTING.md needs its answer here"


@pytest.mark.parametrize("n", range(len(EXPECTED)))
def test_doc_query_answers(n, seeded, reporting_db, org):
    sql = doc_queries()[n]
    expected = EXPECTED[n](seeded)
    assert expected, "the seed must give query %d something to count" % n
    assert reporting_db.query(sql, org=org.id) == expected, sql


def test_incidents_view_resolves_status_and_timestamps(seeded, reporting_db, org):
    rows = {r[0]: r[1:] for r in reporting_db.query(
        "select name, incident_status_name, status_category, v1_status, reported_at = created_at, "
        "extract(epoch from time_to_resolve)::bigint, reference = 'INC-' || reference_number "
        "from reporting.incidents where organisation_id = :'o'", o=org.id)}
    assert rows["report g"][:3] == ("Fixing", "live", "fixing")  # NULL incident_status_id
    assert rows["report b"][3:] == ("f", str(6 * 3600), "t")  # reported 30 min before creation
    assert rows["report a"][3:] == ("t", str(2 * 3600), "t")  # no Reported at: created_at
    assert rows["report f"][4] == ""  # unresolved


# ------------------------------------------------- restricted to one org

def test_role_restricted_to_one_organisation(db, owner_db, org, other_org, seeded, reporting_role):
    role = "bi_" + uuid.uuid4().hex[:10]
    db.query("create role %s login" % role)
    bi = DB(with_user(env_url("REPORTING_DATABASE_URL"), role))
    try:
        fails(bi, "select count(*) from reporting.incidents", "permission denied")
        owner_db.query("select incidentd_reporting_grant(:'r', :'o')", r=role, o=org.id)
        for view in PINNED:
            assert bi.count("select count(*) from reporting.%s where organisation_id is distinct from :'o'"
                            % view if view != "organisations" else
                            "select count(*) from reporting.organisations where id <> :'o'", o=org.id) == 0, view
        mine = db.count("select count(*) from incidents where organisation_id = :'o'", o=org.id)
        assert mine >= len(SEED)
        assert bi.count("select count(*) from reporting.incidents") == mine
        assert bi.count("select count(*) from reporting.users") > 0
        # The unrestricted role sees the other organisation too.
        rep = DB(env_url("REPORTING_DATABASE_URL"))
        try:
            assert rep.count("select count(*) from reporting.incidents where organisation_id = :'o'",
                             o=other_org.id) == 1
        finally:
            rep.close()
        fails(bi, "set role %s" % reporting_role, "permission denied")
        fails(bi, "select count(*) from incidents", "permission denied")
        fails(bi, "select count(*) from reporting_role_organisations", "permission denied")
        # A second organisation adds to what it sees.
        owner_db.query("select incidentd_reporting_grant(:'r', :'o')", r=role, o=other_org.id)
        assert bi.count("select count(*) from reporting.incidents") == mine + 1
        owner_db.query("select incidentd_reporting_revoke(:'r', :'o')", r=role, o=other_org.id)
        assert bi.count("select count(*) from reporting.incidents") == mine
        # Roles that see everything cannot be restricted (they would not be).
        owner = user_of(env_url("INCIDENTD_OWNER_DATABASE_URL"))
        for who in (reporting_role, owner, "postgres"):
            fails(owner_db, "select incidentd_reporting_grant(:'r', :'o')", "cannot be restricted",
                  r=who, o=org.id)
        # The last organisation revoked: nothing left.
        owner_db.query("select incidentd_reporting_revoke(:'r', :'o')", r=role, o=org.id)
        fails(bi, "select count(*) from reporting.incidents", "permission denied")
    finally:
        bi.close()
        owner_db.query("delete from reporting_role_organisations where role_name = :'r'", r=role)
        db.query("drop owned by %s" % role)
        db.query("drop role %s" % role)


# ------------------------------------------------------------ change feed

def lib(cmd, *args):
    """Runs a scripts/lib.sh function; its stdout."""
    return subprocess.run(["bash", "-c", '. "$0"/scripts/lib.sh && "$@"', ROOT, cmd, *args],
                          check=True, stdout=subprocess.PIPE, text=True, timeout=120).stdout.strip()


def test_change_feed(db, org, api):
    assert db.scalar("show wal_level") == "logical", "scripts/lib.sh pg_configure sets wal_level = logical"
    assert {r[0] for r in db.query(
        "select tablename from pg_publication_tables where pubname = 'incidentd_reporting'")} == FEED_TABLES
    # Every table of the feed has a primary key: its replica identity.
    assert db.query(
        "select c.relname from pg_publication_tables t join pg_class c on c.oid = (t.schemaname || '.' || t.tablename)::regclass "
        "where t.pubname = 'incidentd_reporting' and (c.relreplident <> 'd' or not exists "
        "(select from pg_index i where i.indrelid = c.oid and i.indisprimary))") == []

    tmp = tempfile.mkdtemp(prefix="incidentd-feed-")
    os.chmod(tmp, 0o755)
    pgdata = os.path.join(tmp, "pg")
    port = lib("free_port")
    sub = None
    started = time.monotonic()
    try:
        lib("pg_init", pgdata, port)
        lib("pg_start", pgdata)
        lib("pg_create_db", port, "warehouse")
        sub = DB("postgresql://postgres@127.0.0.1:%s/warehouse" % port)
        # The warehouse's tables: the publication's columns and primary keys.
        for table in sorted(FEED_TABLES):
            cols = db.scalar(
                "select string_agg(format('%I %s', a.attname, format_type(a.atttypid, a.atttypmod)), ', ' "
                "order by a.attnum) from pg_attribute a where a.attrelid = :'t'::regclass "
                "and a.attnum > 0 and not a.attisdropped", t=table)
            pk = db.scalar(
                "select string_agg(quote_ident(a.attname), ', ' order by k.n) from pg_index i, "
                "unnest(i.indkey) with ordinality k(attnum, n) join pg_attribute a "
                "on a.attrelid = :'t'::regclass and a.attnum = k.attnum "
                "where i.indrelid = :'t'::regclass and i.indisprimary", t=table)
            sub.query("create table %s (%s, primary key (%s))" % (table, cols, pk))
        pub = urllib.parse.urlsplit(db.url)
        sub.query("create subscription feed connection 'host=127.0.0.1 port=%d dbname=%s user=postgres' "
                  "publication incidentd_reporting" % (pub.port, pub.path.lstrip("/")))

        inc = org.create_incident(key=org.admin, name="feed before", severity_id=org.severity["Minor"])
        assert wait_until(lambda: sub.query("select name from incidents where id = :'i'", i=inc["id"])
                          == [("feed before",)], timeout=20)
        editor = org.key("feed-editor", "viewer", "incident_editor", "global_access")
        r = api.post("/v2/incidents/%s/actions/edit" % inc["id"], key=editor,
                     json={"incident": {"name": "feed after", "severity_id": org.severity["Critical"]},
                           "notify_incident_channel": False})
        assert r.status == 200, r.describe()
        assert wait_until(lambda: sub.query(
            "select i.name, i.severity_id, (select count(*) from incident_updates u where u.incident_id = i.id "
            "and u.new_severity_id = :'s') from incidents i where i.id = :'i'",
            i=inc["id"], s=org.severity["Critical"]) == [("feed after", org.severity["Critical"], "1")],
            timeout=20)
        assert time.monotonic() - started < 30
    finally:
        if sub is not None:
            try:
                sub.query("drop subscription if exists feed")  # drops its slot on the publisher
            finally:
                sub.close()
        lib("pg_stop", pgdata)
        shutil.rmtree(tmp, ignore_errors=True)
    assert db.count("select count(*) from pg_replication_slots where slot_name like 'feed%'") == 0
