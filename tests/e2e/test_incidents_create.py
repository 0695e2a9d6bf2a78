"""POST /v1/incidents: response shape, defaults, validation, limits."""

import datetime
import re
import uuid

import pytest

from helpers import TS_RE, ULID_RE, expect_error, expect_ok, new_idem, ref_number

STATUSES = ["triage", "investigating", "fixing", "monitoring", "closed", "declined"]
SEVERITY_MSG = "A severity is required to open an incident"


# ---------------------------------------------------------------------------
# fixtures and shared checks

@pytest.fixture(scope="module")
def opt_type(org, db, ctl):
    """An incident type that does not force triage: seed-demo's Default if it
    is 'optional', else a new one."""
    rows = db.query("select create_in_triage from incident_types where id = :'i'",
                    i=org.incident_type["Default"])
    if rows and rows[0][0] == "optional":
        return org.incident_type["Default"]
    return ctl.incident_type_create(org.id, "Optional", create_in_triage="optional")


@pytest.fixture(scope="module")
def triage_type(org, ctl):
    return ctl.incident_type_create(org.id, "Always Triage", create_in_triage="always")


def _walk_times(obj, path="incident"):
    if isinstance(obj, dict):
        for k, v in obj.items():
            if (k.endswith("_at")) and isinstance(v, str):
                assert TS_RE.match(v), "%s.%s = %r: want RFC 3339 UTC with 6 fractional digits and Z" % (path, k, v)
            _walk_times(v, "%s.%s" % (path, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            _walk_times(v, "%s[%d]" % (path, i))


def _parse_ts(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)


def check_incident_common(inc, env):
    """What every rendered incident must satisfy (CONTRACT.md, Create)."""
    assert ULID_RE.match(inc["id"]), "id %r is not a ULID" % inc["id"]
    n = ref_number(inc)
    assert n >= 1
    _walk_times(inc)
    assert inc["updated_at"] >= inc["created_at"]
    now = datetime.datetime.now(datetime.timezone.utc)
    assert abs((now - _parse_ts(inc["created_at"])).total_seconds()) < 600, (
        "created_at %s is far from now (%s): time zone?" % (inc["created_at"], now.isoformat()))
    assert {"name": "last_activity", "last_occurred_at": inc["updated_at"]} in inc.get("timestamps", []), inc.get("timestamps")
    assert inc["slack_channel_id"] == ""
    scn = inc["slack_channel_name"]
    assert scn.startswith("inc-%d" % n) and len(scn) <= 80, scn
    if re.fullmatch(r"[A-Za-z0-9 \-_.,!?:'()]*", inc["name"]):
        assert re.fullmatch(r"inc-%d(-[a-z0-9]+)*" % n, scn), "slack_channel_name %r is not inc-<n>-<slug>" % scn
    if env.public_url:
        assert inc["permalink"] == "%s/incidents/%d" % (env.public_url, n)
    assert inc["name"], "name must be non-empty"
    return n


def _snapshot(org):
    return org.ctx.db.query(
        "select (select count(*) from incidents where organisation_id = :'o'),"
        " (select count(*) from incident_role_assignments),"
        " (select count(*) from incident_custom_field_values)", o=org.id)[0]


# ---------------------------------------------------------------------------
# the full create

def test_full_create_renders_every_field(api, db, env, org, opt_type, spec):
    lisa, bob = org.user["Lisa"], org.user["Bob"]
    f, opt = org.field, org.option
    idem = new_idem()
    payload = {
        "idempotency_key": idem,
        "visibility": "public",
        "name": "Our database is sad",
        "summary": "Our database is really really sad, and we don't know why yet.",
        "status": "investigating",
        "mode": "test",
        "severity_id": org.severity["Major"],
        "incident_type_id": opt_type,
        "slack_team_id": "T02A1FSLE8J",
        "source_message_channel_id": "C02AW36C1M5",
        "source_message_timestamp": "1653650280.526509",
        "custom_field_entries": [
            {"custom_field_id": f["Affected Team"], "values": [{"value_option_id": opt["Affected Team"]["Platform"]}]},
            {"custom_field_id": f["Services"], "values": [{"value_option_id": opt["Services"]["Database"]},
                                                          {"value_option_id": opt["Services"]["API"]}]},
            {"custom_field_id": f["Notes"], "values": [{"value_text": "Line one\nline two \u2014 \u00fcn\u00efcode \"quoted\""}]},
            {"custom_field_id": f["Runbook"], "values": [{"value_link": "https://runbooks.example.com/db?x=1&y=2"}]},
            {"custom_field_id": f["Customers affected"], "values": [{"value_numeric": "123.456"}]},
        ],
        "incident_role_assignments": [
            {"incident_role_id": org.role_by_type["lead"], "assignee": {"id": lisa["id"]}},
            {"incident_role_id": org.role["Reporter"], "assignee": {"email": bob["email"]}},
            {"incident_role_id": org.role["Communications Lead"], "assignee": {"slack_user_id": lisa["slack_user_id"]}},
        ],
    }
    spec.validate(payload, "IncidentsCreatePayloadV1", what="test payload")
    r = api.post("/v1/incidents", key=org.creator, json=payload)
    assert r.status == 200, r.describe()
    assert not r.replayed
    assert set(r.body) == {"incident"}
    inc = r.body["incident"]
    n = check_incident_common(inc, env)

    assert inc["name"] == payload["name"]
    assert inc["summary"] == payload["summary"]
    assert inc["status"] == "investigating"
    assert inc["mode"] == "test"
    assert inc["visibility"] == "public"
    assert inc["reference"] == "INC-%d" % n
    assert inc["slack_team_id"] == "T02A1FSLE8J"
    assert inc["slack_channel_name"] == "inc-%d-our-database-is-sad" % n
    assert inc["creator"] == {"api_key": {"id": org.creator.id, "name": org.creator.name}}

    # severity, incident type: the full configuration objects
    sid, sname, sdesc, srank = db.query(
        "select id, name, coalesce(description, ''), rank from severities where id = :'i'",
        i=org.severity["Major"])[0]
    sev = inc["severity"]
    assert (sev["id"], sev["name"], sev["description"], sev["rank"]) == (sid, sname, sdesc, int(srank))
    tid, tname, tdesc, tdef, tpriv, ttri = db.query(
        "select id, name, coalesce(description, ''), is_default, private_incidents_only, create_in_triage "
        "from incident_types where id = :'i'", i=opt_type)[0]
    it = inc["incident_type"]
    assert (it["id"], it["name"], it["description"], it["is_default"], it["private_incidents_only"],
            it["create_in_triage"]) == (tid, tname, tdesc, tdef == "t", tpriv == "t", ttri)

    # custom fields: entries in request order, values in request order
    entries = [e for e in inc["custom_field_entries"] if e["values"]]
    assert [e["custom_field"]["id"] for e in entries] == [e["custom_field_id"] for e in payload["custom_field_entries"]]
    for e in entries:
        cf = e["custom_field"]
        fid, fname, fdesc, ftype = db.query(
            "select id, name, coalesce(description, ''), field_type from custom_fields where id = :'i'",
            i=cf["id"])[0]
        assert (cf["name"], cf["description"], cf["field_type"]) == (fname, fdesc, ftype)
        want_opts = {oid: (val, int(sk)) for oid, val, sk in db.query(
            "select id, value, sort_key from custom_field_options where custom_field_id = :'i'", i=fid)}
        got_opts = {o["id"]: (o["value"], o["sort_key"]) for o in cf["options"]}
        assert got_opts == want_opts, "options of %s" % fname
        assert all(o["custom_field_id"] == fid for o in cf["options"])
    by_name = {e["custom_field"]["name"]: e["values"] for e in entries}
    team = by_name["Affected Team"]
    assert len(team) == 1 and team[0]["value_option"]["id"] == opt["Affected Team"]["Platform"]
    assert team[0]["value_option"]["value"] == "Platform"
    assert team[0]["value_option"]["custom_field_id"] == f["Affected Team"]
    assert isinstance(team[0]["value_option"]["sort_key"], int)
    assert [v["value_option"]["value"] for v in by_name["Services"]] == ["Database", "API"]
    assert by_name["Notes"] == [{"value_text": payload["custom_field_entries"][2]["values"][0]["value_text"]}]
    assert by_name["Runbook"] == [{"value_link": "https://runbooks.example.com/db?x=1&y=2"}]
    assert by_name["Customers affected"] == [{"value_numeric": "123.456"}]
    assert by_name["Affected Team"] == [{"value_option": team[0]["value_option"]}]

    # role assignments: assignee + full role
    assigned = {a["role"]["id"]: a for a in inc["incident_role_assignments"] if a.get("assignee")}
    want = {org.role_by_type["lead"]: lisa, org.role["Reporter"]: bob, org.role["Communications Lead"]: lisa}
    assert set(assigned) == set(want)
    for role_id, user in want.items():
        a = assigned[role_id]
        urow = db.query("select id, name, coalesce(email, ''), coalesce(slack_user_id, ''), role "
                        "from users where id = :'i'", i=user["id"])[0]
        got = a["assignee"]
        assert (got["id"], got["name"], got.get("email", ""), got.get("slack_user_id", ""), got["role"]) == urow
        rrow = db.query("select id, name, coalesce(description, ''), coalesce(instructions, ''), "
                        "coalesce(shortform, ''), role_type, required from incident_roles where id = :'i'",
                        i=role_id)[0]
        role = a["role"]
        assert (role["id"], role["name"], role["description"], role["instructions"], role["shortform"],
                role["role_type"], role["required"]) == rrow[:6] + (rrow[6] == "t",)
    assert assigned[org.role_by_type["lead"]]["role"]["role_type"] == "lead"

    # the database row
    row = db.query("select id, reference_number, status, visibility, mode, severity_id, incident_type_id, "
                   "creator_api_key_id, slack_team_id, idempotency_key from incidents "
                   "where organisation_id = :'o' and idempotency_key = :'k'", o=org.id, k=idem)
    assert row == [(inc["id"], str(n), "investigating", "public", "test", org.severity["Major"], opt_type,
                    org.creator.id, "T02A1FSLE8J", idem)]
    assert db.count("select count(*) from incident_role_assignments where incident_id = :'i'", i=inc["id"]) == 3
    assert db.count("select count(*) from incident_custom_field_values where incident_id = :'i'", i=inc["id"]) == 6

    # show and list render the same object
    shown = expect_ok(api.get("/v1/incidents/" + inc["id"], key=org.viewer))
    assert shown == r.body
    listed = expect_ok(api.get("/v1/incidents", key=org.viewer, params={"page_size": 250}))
    assert [i for i in listed["incidents"] if i["id"] == inc["id"]] == [inc]


def test_defaults(api, env, org):
    r = api.post("/v1/incidents", key=org.creator, json={"idempotency_key": new_idem(), "visibility": "public"})
    assert r.status == 200, r.describe()
    inc = r.body["incident"]
    n = check_incident_common(inc, env)
    assert inc["status"] == "triage"
    assert inc["mode"] == "real"
    assert inc["name"] == "Untitled incident"
    assert inc["incident_type"]["id"] == org.incident_type["Default"]
    assert inc["incident_type"]["is_default"] is True
    assert inc["slack_team_id"] == ""
    assert inc["slack_channel_name"] == "inc-%d-untitled-incident" % n
    assert "severity" not in inc
    assert inc["creator"] == {"api_key": {"id": org.creator.id, "name": org.creator.name}}
    assert not any(e["values"] for e in inc["custom_field_entries"])
    assert not any(a.get("assignee") for a in inc["incident_role_assignments"])


def test_org_without_types_or_config(api, ctx, env):
    o = ctx.new_org("create-bare", seed=False)
    inc = o.create_incident(name="Bare org")
    check_incident_common(inc, env)
    assert inc["status"] == "triage"
    assert "incident_type" not in inc
    assert inc["reference"] == "INC-1"


@pytest.mark.parametrize("status", STATUSES)
def test_every_status_accepted_with_severity(api, org, opt_type, status):
    inc = org.create_incident(status=status, severity_id=org.severity["Minor"], incident_type_id=opt_type)
    assert inc["status"] == status
    assert inc["severity"]["id"] == org.severity["Minor"]


def test_create_in_triage_always_forces_triage(api, org, triage_type):
    inc = org.create_incident(status="fixing", severity_id=org.severity["Critical"], incident_type_id=triage_type)
    assert inc["status"] == "triage"
    assert inc["incident_type"]["id"] == triage_type
    assert inc["incident_type"]["create_in_triage"] == "always"
    assert inc["severity"]["id"] == org.severity["Critical"]
    # the status actually used is triage, so no severity is needed either
    inc = org.create_incident(status="closed", incident_type_id=triage_type)
    assert inc["status"] == "triage"


def test_default_type_applies_when_omitted(api, ctx):
    o = ctx.new_org("create-deftype", seed=False)
    t = ctx.ctl.incident_type_create(o.id, "Always Default", default=True, create_in_triage="always")
    ctx.ctl.incident_type_create(o.id, "Other", create_in_triage="optional")
    inc = o.create_incident(status="fixing")
    assert inc["incident_type"]["id"] == t
    assert inc["status"] == "triage"


@pytest.mark.parametrize("status", ["investigating", "fixing", "monitoring", "closed"])
def test_severity_required_unless_triage_or_declined(api, org, opt_type, status):
    before = _snapshot(org)
    r = api.post("/v1/incidents", key=org.creator, json={
        "idempotency_key": new_idem(), "visibility": "public", "status": status, "incident_type_id": opt_type})
    expect_error(r, 422, "is_required", field="severity_id", message=SEVERITY_MSG)
    assert _snapshot(org) == before


@pytest.mark.parametrize("status", ["triage", "declined"])
def test_no_severity_needed_for_triage_and_declined(api, org, opt_type, status):
    inc = org.create_incident(status=status, incident_type_id=opt_type)
    assert inc["status"] == status
    assert "severity" not in inc


def test_private_only_type(api, org):
    sec = org.incident_type["Security"]
    before = _snapshot(org)
    r = api.post("/v1/incidents", key=org.admin, json={
        "idempotency_key": new_idem(), "visibility": "public", "incident_type_id": sec})
    expect_error(r, 422, field="visibility")
    assert _snapshot(org) == before
    inc = org.create_incident(key=org.admin, visibility="private", incident_type_id=sec)
    assert inc["visibility"] == "private"
    assert inc["incident_type"]["private_incidents_only"] is True


def test_empty_values_set_nothing(api, db, org):
    inc = org.create_incident(custom_field_entries=[
        {"custom_field_id": org.field["Notes"], "values": []},
        {"custom_field_id": org.field["Services"], "values": []}])
    for e in inc["custom_field_entries"]:
        if e["custom_field"]["id"] in (org.field["Notes"], org.field["Services"]):
            assert e["values"] == []
    assert db.count("select count(*) from incident_custom_field_values where incident_id = :'i'", i=inc["id"]) == 0


def test_unknown_fields_are_ignored(api, org):
    inc = org.create_incident(
        name="Unknown fields", future_field={"nested": [1, 2, {"x": None}]}, another=None,
        custom_field_entries=[{"custom_field_id": org.field["Notes"], "colour": "red",
                               "values": [{"value_text": "t", "shade": 3}]}],
        incident_role_assignments=[{"incident_role_id": org.role_by_type["lead"], "extra": True,
                                    "assignee": {"email": "bob@example.com", "nickname": "bobby"}}])
    assert inc["name"] == "Unknown fields"
    assert "future_field" not in inc


def test_limits_at_the_boundary_are_accepted(api, env, org):
    inc = org.create_incident(name="n" * 500, summary="s" * 50000,
                              idempotency_key="k" * 250 + uuid.uuid4().hex[:6],
                              custom_field_entries=[{"custom_field_id": org.field["Notes"],
                                                     "values": [{"value_text": "t" * 10000}]}])
    assert inc["name"] == "n" * 500 and len(inc["summary"]) == 50000
    check_incident_common(inc, env)
    assert len(inc["slack_channel_name"]) <= 80
    # limits count characters, not bytes
    inc = org.create_incident(name="\u00e9" * 500)
    assert inc["name"] == "\u00e9" * 500
    assert len(inc["slack_channel_name"]) <= 80


def test_unicode_round_trip(api, org):
    name = "Datenbank ist traurig \U0001F6A8 \u65e5\u672c"
    inc = org.create_incident(name=name, summary="line1\nline2\ttab \\ backslash \"q\" \u2028")
    assert inc["name"] == name
    got = api.get("/v1/incidents/" + inc["id"], key=org.viewer).body["incident"]
    assert got["name"] == name and got["summary"] == inc["summary"]


def test_role_assignment_by_each_reference_kind(api, org):
    bob = org.user["Bob"]
    for ref in ({"id": bob["id"]}, {"email": bob["email"]}, {"slack_user_id": bob["slack_user_id"]}):
        inc = org.create_incident(incident_role_assignments=[
            {"incident_role_id": org.role_by_type["lead"], "assignee": ref}])
        got = [a["assignee"]["id"] for a in inc["incident_role_assignments"] if a.get("assignee")]
        assert got == [bob["id"]], ref


def test_failed_create_consumes_no_reference_and_no_key(api, org, opt_type):
    first = org.create_incident()
    n = ref_number(first)
    idem = new_idem()
    for bad in ({"status": "investigating", "incident_type_id": opt_type},           # no severity
                {"severity_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV"},                        # unknown severity
                {"custom_field_entries": [{"custom_field_id": org.field["Runbook"],
                                           "values": [{"value_link": "nope"}]}]}):
        body = {"idempotency_key": idem, "visibility": "public"}
        body.update(bad)
        assert api.post("/v1/incidents", key=org.creator, json=body).status == 422
    r = api.post("/v1/incidents", key=org.creator, json={"idempotency_key": idem, "visibility": "public"})
    assert r.status == 200 and not r.replayed, r.describe()
    assert ref_number(r.body["incident"]) == n + 1
    assert ref_number(org.create_incident()) == n + 2


def test_references_gap_free_in_db(db, org):
    nums = [int(x[0]) for x in db.query(
        "select reference_number from incidents where organisation_id = :'o' order by 1", o=org.id)]
    assert nums == list(range(1, len(nums) + 1)), nums


# ---------------------------------------------------------------------------
# body syntax: 400 invalid_json, never 500, nothing written

@pytest.mark.parametrize("data", [
    b"{",
    b"",
    b"not json",
    b"[]",
    b'[{"idempotency_key": "x", "visibility": "public"}]',
    b'"a string"',
    b"5",
    b"null",
    b"true",
    b'{"idempotency_key": "k1", "visibility": "public"} trailing',
    b'{"idempotency_key": "k1", "visibility": "public"}{}',
    b'{"idempotency_key": "\xff\xfe", "visibility": "public"}',
    b'{"idempotency_key": "\xc0\xaf", "visibility": "public"}',
    b'{"idempotency_key": "\xed\xa0\x80", "visibility": "public"}',
    b'{"idempotency_key": \'single\', "visibility": "public"}',
    b'{"idempotency_key": "k1", "visibility": "public",}',
    b"\xef\xbb\xbf\xff",
], ids=lambda d: repr(d[:30]))
def test_invalid_json_is_400(api, org, data):
    before = _snapshot(org)
    r = api.post("/v1/incidents", key=org.creator, data=data)
    expect_error(r, 400, "invalid_json")
    assert _snapshot(org) == before


@pytest.mark.parametrize("data,allowed", [
    (b'{"idempotency_key": "raw\x00nul", "visibility": "public"}', (400, 422)),
    (b'{"idempotency_key": "raw\x01ctl", "visibility": "public"}', (400, 422)),
    # A lone surrogate escape is not UTF-8 text (RFC 8259 s8.2): 400, never
    # stored as U+FFFD (test_strict_input.py covers every body endpoint).
    (b'{"idempotency_key": "k\\ud800' + uuid.uuid4().hex.encode() + b'", "visibility": "public"}', (400,)),
    (b'{"visibility": "public", "deep": ' + b"[" * 5000 + b"]" * 5000 + b"}", (400, 422)),
    (b'{"visibility": "public", "n": 1e999999}', (400, 422)),
], ids=["raw-nul", "raw-ctl", "lone-surrogate-escape", "deep-nesting", "huge-number"])
def test_hostile_bodies_never_500(api, org, data, allowed):
    before = _snapshot(org)
    r = api.post("/v1/incidents", key=org.creator, data=data)
    assert r.status in allowed, r.describe()
    if r.status != 200:
        assert _snapshot(org) == before


# ---------------------------------------------------------------------------
# semantic validation: 422 with the exact source.field, nothing written

def _cases():
    """(id, payload builder, code, field, field_prefix)."""
    U = "01ARZ3NDEKTSV4RRFFQ69G5FAV"  # a well-formed id nobody has
    c = []

    def add(name, build, code=None, field=None, prefix=None):
        c.append(pytest.param(build, code, field, prefix, id=name))

    def base(**kw):
        d = {"idempotency_key": new_idem(), "visibility": "public"}
        d.update(kw)
        return d

    def no(*keys):
        def b(o, t):
            d = base()
            for k in keys:
                d.pop(k)
            return d
        return b

    def cfe(entries):
        return lambda o, t: base(custom_field_entries=entries(o))

    def ira(assignments):
        return lambda o, t: base(incident_role_assignments=assignments(o))

    def lead(o):
        return o.role_by_type["lead"]

    add("missing-idempotency-key", no("idempotency_key"), "is_required", "idempotency_key")
    add("missing-visibility", no("visibility"), "is_required", "visibility")
    add("empty-idempotency-key", lambda o, t: base(idempotency_key=""), None, "idempotency_key")
    add("long-idempotency-key", lambda o, t: base(idempotency_key="k" * 257), "invalid_value", "idempotency_key")
    add("numeric-idempotency-key", lambda o, t: base(idempotency_key=5), "invalid_value", "idempotency_key")
    add("nul-idempotency-key", lambda o, t: base(idempotency_key="a\u0000b"), "invalid_value", "idempotency_key")
    add("bad-visibility", lambda o, t: base(visibility="secret"), "invalid_value", "visibility")
    add("visibility-number", lambda o, t: base(visibility=1), "invalid_value", "visibility")
    add("bad-status", lambda o, t: base(status="bogus"), "invalid_value", "status")
    add("status-wrong-case", lambda o, t: base(status="Triage"), "invalid_value", "status")
    add("bad-mode", lambda o, t: base(mode="tutorial"), "invalid_value", "mode")
    add("name-number", lambda o, t: base(name=5), "invalid_value", "name")
    add("name-object", lambda o, t: base(name={"a": 1}), "invalid_value", "name")
    add("name-too-long", lambda o, t: base(name="n" * 501), "invalid_value", "name")
    add("name-nul", lambda o, t: base(name="bad\u0000name"), "invalid_value", "name")
    add("summary-too-long", lambda o, t: base(summary="s" * 50001), "invalid_value", "summary")
    add("summary-array", lambda o, t: base(summary=["a"]), "invalid_value", "summary")
    add("summary-nul", lambda o, t: base(summary="\u0000"), "invalid_value", "summary")
    add("slack-team-nul", lambda o, t: base(slack_team_id="T\u0000"), "invalid_value", "slack_team_id")
    add("severity-unknown", lambda o, t: base(severity_id=U), "invalid_value", "severity_id")
    add("severity-number", lambda o, t: base(severity_id=5), "invalid_value", "severity_id")
    add("severity-missing", lambda o, t: base(status="fixing", incident_type_id=t), "is_required", "severity_id")
    add("type-unknown", lambda o, t: base(incident_type_id=U), "invalid_value", "incident_type_id")
    add("type-is-a-severity-id", lambda o, t: base(incident_type_id=o.severity["Minor"]), "invalid_value",
        "incident_type_id")
    add("private-only-type-public", lambda o, t: base(incident_type_id=o.incident_type["Security"]), None,
        "visibility")
    # custom field entries
    add("cfe-object", lambda o, t: base(custom_field_entries={}), "invalid_value", "custom_field_entries")
    add("cfe-string", lambda o, t: base(custom_field_entries="x"), "invalid_value", "custom_field_entries")
    add("cfe-item-number", cfe(lambda o: [5]), "invalid_value", "custom_field_entries[0]")
    add("cfe-missing-field-id", cfe(lambda o: [{"values": []}]), "is_required",
        "custom_field_entries[0].custom_field_id")
    add("cfe-field-id-number", cfe(lambda o: [{"custom_field_id": 5, "values": []}]), "invalid_value",
        "custom_field_entries[0].custom_field_id")
    add("cfe-missing-values", cfe(lambda o: [{"custom_field_id": o.field["Notes"]}]), "is_required",
        "custom_field_entries[0].values")
    add("cfe-values-object", cfe(lambda o: [{"custom_field_id": o.field["Notes"], "values": {}}]),
        "invalid_value", "custom_field_entries[0].values")
    add("cfe-value-number", cfe(lambda o: [{"custom_field_id": o.field["Notes"], "values": [5]}]),
        "invalid_value", "custom_field_entries[0].values[0]")
    add("cfe-value-text-number", cfe(lambda o: [{"custom_field_id": o.field["Notes"],
                                                  "values": [{"value_text": 5}]}]),
        "invalid_value", "custom_field_entries[0].values[0].value_text")
    add("cfe-text-too-long", cfe(lambda o: [{"custom_field_id": o.field["Notes"],
                                              "values": [{"value_text": "t" * 10001}]}]),
        "invalid_value", "custom_field_entries[0].values[0].value_text")
    add("cfe-text-nul", cfe(lambda o: [{"custom_field_id": o.field["Runbook"], "values": []},
                                        {"custom_field_id": o.field["Notes"],
                                         "values": [{"value_text": "nul\u0000here"}]}]),
        "invalid_value", "custom_field_entries[1].values[0].value_text")
    add("cfe-unknown-field", cfe(lambda o: [{"custom_field_id": U, "values": []}]), "invalid_value",
        "custom_field_entries[0].custom_field_id")
    add("cfe-single-select-two", cfe(lambda o: [{"custom_field_id": o.field["Affected Team"], "values": [
        {"value_option_id": o.option["Affected Team"]["Product"]},
        {"value_option_id": o.option["Affected Team"]["Platform"]}]}]),
        "invalid_value", None, "custom_field_entries[0].values")
    add("cfe-option-of-other-field", cfe(lambda o: [{"custom_field_id": o.field["Services"], "values": [
        {"value_option_id": o.option["Services"]["API"]},
        {"value_option_id": o.option["Affected Team"]["Product"]}]}]),
        "invalid_value", "custom_field_entries[0].values[1].value_option_id")
    add("cfe-option-unknown", cfe(lambda o: [{"custom_field_id": o.field["Affected Team"],
                                              "values": [{"value_option_id": U}]}]),
        "invalid_value", "custom_field_entries[0].values[0].value_option_id")
    add("cfe-select-given-text", cfe(lambda o: [{"custom_field_id": o.field["Affected Team"],
                                                 "values": [{"value_text": "Product"}]}]),
        None, None, "custom_field_entries[0].values[0]")
    add("cfe-text-given-option", cfe(lambda o: [{"custom_field_id": o.field["Notes"], "values": [
        {"value_option_id": o.option["Affected Team"]["Product"]}]}]),
        None, None, "custom_field_entries[0].values[0]")
    for i, link in enumerate(["not a url", "ftp://example.com/x", "javascript:alert(1)", "/relative/path",
                              "http://", "example.com/no-scheme"]):
        add("cfe-bad-link-%d" % i, cfe(lambda o, link=link: [{"custom_field_id": o.field["Runbook"],
                                                              "values": [{"value_link": link}]}]),
            "invalid_value", "custom_field_entries[0].values[0].value_link")
    for i, num in enumerate(["abc", "1.2.3", "12abc", "1,5", "NaN"]):
        add("cfe-bad-numeric-%d" % i, cfe(lambda o, num=num: [{"custom_field_id": o.field["Customers affected"],
                                                               "values": [{"value_numeric": num}]}]),
            "invalid_value", "custom_field_entries[0].values[0].value_numeric")
    add("cfe-same-field-twice", cfe(lambda o: [{"custom_field_id": o.field["Notes"], "values": [{"value_text": "a"}]},
                                               {"custom_field_id": o.field["Notes"], "values": [{"value_text": "b"}]}]),
        "invalid_value", None, "custom_field_entries[1]")
    # role assignments
    add("ira-object", lambda o, t: base(incident_role_assignments={}), "invalid_value", "incident_role_assignments")
    add("ira-missing-role", ira(lambda o: [{"assignee": {"id": o.user["Lisa"]["id"]}}]), "is_required",
        "incident_role_assignments[0].incident_role_id")
    add("ira-unknown-role", ira(lambda o: [{"incident_role_id": U, "assignee": {"id": o.user["Lisa"]["id"]}}]),
        "invalid_value", "incident_role_assignments[0].incident_role_id")
    add("ira-missing-assignee", ira(lambda o: [{"incident_role_id": lead(o)}]), "is_required",
        "incident_role_assignments[0].assignee")
    add("ira-empty-assignee", ira(lambda o: [{"incident_role_id": lead(o), "assignee": {}}]), None,
        "incident_role_assignments[0].assignee")
    add("ira-assignee-string", ira(lambda o: [{"incident_role_id": lead(o), "assignee": "lisa"}]),
        "invalid_value", "incident_role_assignments[0].assignee")
    add("ira-unknown-email", ira(lambda o: [{"incident_role_id": lead(o),
                                             "assignee": {"email": "nobody-%s@example.com" % uuid.uuid4().hex}}]),
        "invalid_value", "incident_role_assignments[0].assignee")
    add("ira-unknown-user-id", ira(lambda o: [{"incident_role_id": lead(o), "assignee": {"id": U}}]),
        "invalid_value", "incident_role_assignments[0].assignee")
    add("ira-unknown-slack", ira(lambda o: [{"incident_role_id": lead(o), "assignee": {"slack_user_id": "UNOPE42"}}]),
        "invalid_value", "incident_role_assignments[0].assignee")
    add("ira-email-number", ira(lambda o: [{"incident_role_id": lead(o), "assignee": {"email": 5}}]),
        "invalid_value", None, "incident_role_assignments[0].assignee")
    add("ira-second-bad", ira(lambda o: [{"incident_role_id": lead(o), "assignee": {"id": o.user["Lisa"]["id"]}},
                                         {"incident_role_id": o.role["Reporter"], "assignee": {"email": "zz@zz"}}]),
        "invalid_value", "incident_role_assignments[1].assignee")
    add("ira-same-role-twice", ira(lambda o: [{"incident_role_id": lead(o), "assignee": {"id": o.user["Lisa"]["id"]}},
                                              {"incident_role_id": lead(o), "assignee": {"id": o.user["Bob"]["id"]}}]),
        "invalid_value", None, "incident_role_assignments[1]")
    return c


@pytest.mark.parametrize("build,code,field,prefix", _cases())
def test_validation_422(api, db, org, opt_type, build, code, field, prefix):
    payload = build(org, opt_type)
    before = _snapshot(org)
    r = api.post("/v1/incidents", key=org.creator, json=payload)
    expect_error(r, 422, code, field=field, field_prefix=prefix)
    assert _snapshot(org) == before, "a rejected create wrote rows"
    if isinstance(payload.get("idempotency_key"), str) and "\u0000" not in payload["idempotency_key"]:
        assert db.count("select count(*) from incidents where organisation_id = :'o' and idempotency_key = :'k'",
                        o=org.id, k=payload["idempotency_key"]) == 0
