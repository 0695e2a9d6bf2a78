"""Deleting configuration never breaks the incidents that use it.

Deletes archive: the object disappears from the configuration endpoints,
incidents created before the delete render exactly as before (show, list
and an idempotent replay return the same incident JSON, compared whole),
and new incidents that reference the archived object are 422 on the
referencing field.
"""

import uuid

import pytest

from helpers import expect_error, expect_ok, new_idem


def _u(prefix):
    return "%s %s" % (prefix, uuid.uuid4().hex[:8])


@pytest.fixture(scope="module")
def opt_type(org, ctl):
    """An incident type that does not force triage, so a severity may be set."""
    return ctl.incident_type_create(org.id, _u("Archive Optional"), create_in_triage="optional")


# -- configuration made through the API --------------------------------------

def _severity(api, org):
    r = api.post("/v1/severities", key=org.settings, json={"name": _u("Arch Sev"), "description": "to delete"})
    assert r.status == 201, r.describe()
    return r.body["severity"]["id"]


def _role(api, org):
    r = api.post("/v2/incident_roles", key=org.settings,
                 json={"name": _u("Arch Role"), "shortform": "arch", "description": "to delete",
                       "instructions": "none"})
    assert r.status == 201, r.describe()
    return r.body["incident_role"]["id"]


def _field(api, org, field_type):
    r = api.post("/v2/custom_fields", key=org.settings,
                 json={"name": _u("Arch " + field_type[:6]), "description": "to delete", "field_type": field_type})
    assert r.status == 201, r.describe()
    return r.body["custom_field"]["id"]


def _option(api, org, fid, value, sort_key=None):
    body = {"custom_field_id": fid, "value": value}
    if sort_key is not None:
        body["sort_key"] = sort_key
    r = api.post("/v1/custom_field_options", key=org.settings, json=body)
    assert r.status == 201, r.describe()
    return r.body["custom_field_option"]["id"]


def _delete(api, org, path, status):
    r = api.delete(path, key=org.settings)
    assert r.status == status, r.describe()
    expect_error(api.get(path, key=org.viewer), 404, "not_found")


# -- rendering ---------------------------------------------------------------

class Rendered:
    """An incident as the API renders it: show, its entry in the list, and
    an idempotent replay of its create (all with the admin key, which sees
    private incidents)."""

    def __init__(self, api, org, inc, idem):
        self.api, self.org, self.id, self.idem = api, org, inc["id"], idem
        self.created = inc
        self.first = self.now()
        assert self.first["show"] == inc, "show differs from the create response"

    def now(self):
        show = expect_ok(self.api.get("/v1/incidents/" + self.id, key=self.org.admin))["incident"]
        body = expect_ok(self.api.get("/v1/incidents", key=self.org.admin, params={"page_size": 250}))
        listed = [i for i in body["incidents"] if i["id"] == self.id]
        assert len(listed) == 1, "incident %s not listed once" % self.id
        r = self.api.post("/v1/incidents", key=self.org.admin,
                          json={"idempotency_key": self.idem, "visibility": "public"})
        assert r.status == 200 and r.replayed, r.describe()
        return {"show": show, "list": listed[0], "replay": r.body["incident"]}

    def assert_unchanged(self, after_what):
        now = self.now()
        for how in ("show", "list", "replay"):
            assert now[how] == self.first[how], (
                "incident %s (%s) renders differently after %s:\nbefore: %r\nafter:  %r" % (
                    self.id, how, after_what, self.first[how], now[how]))


def _incident(api, org, **payload):
    idem = new_idem()
    body = {"idempotency_key": idem, "visibility": "public", "name": _u("Archive incident")}
    body.update(payload)
    r = api.post("/v1/incidents", key=org.admin, json=body)
    assert r.status == 200, r.describe()
    return Rendered(api, org, r.body["incident"], idem)


def _refused(api, org, field, **payload):
    """A create referencing an archived object: 422 on field, nothing written."""
    idem = new_idem()
    before = org.incident_count()
    body = {"idempotency_key": idem, "visibility": "public"}
    body.update(payload)
    r = api.post("/v1/incidents", key=org.creator, json=body)
    expect_error(r, 422, field=field)
    assert org.incident_count() == before
    assert org.ctx.db.count("select count(*) from incidents where organisation_id = :'o' and idempotency_key = :'k'",
                            o=org.id, k=idem) == 0


# ---------------------------------------------------------------------------
# one resource at a time

def test_severity_delete(api, db, org, opt_type):
    sid = _severity(api, org)
    inc = _incident(api, org, status="investigating", severity_id=sid, incident_type_id=opt_type)
    assert inc.created["severity"]["id"] == sid
    _delete(api, org, "/v1/severities/" + sid, 202)
    inc.assert_unchanged("deleting its severity")
    assert db.scalar("select severity_id from incidents where id = :'i'", i=inc.id) == sid
    assert sid not in {s["id"] for s in expect_ok(api.get("/v1/severities", key=org.viewer))["severities"]}
    _refused(api, org, "severity_id", status="investigating", severity_id=sid, incident_type_id=opt_type)
    _refused(api, org, "severity_id", status="triage", severity_id=sid)
    # another severity still works
    ok = _incident(api, org, status="fixing", severity_id=org.severity["Minor"], incident_type_id=opt_type)
    assert ok.created["severity"]["id"] == org.severity["Minor"]


def test_role_delete(api, org):
    rid = _role(api, org)
    lisa = org.user["Lisa"]["id"]
    inc = _incident(api, org, incident_role_assignments=[
        {"incident_role_id": rid, "assignee": {"id": lisa}},
        {"incident_role_id": org.role_by_type["lead"], "assignee": {"id": org.user["Bob"]["id"]}}])
    assert rid in [a["role"]["id"] for a in inc.created["incident_role_assignments"]]
    _delete(api, org, "/v2/incident_roles/" + rid, 204)
    inc.assert_unchanged("deleting an assigned role")
    assert rid not in {r["id"] for r in expect_ok(api.get("/v2/incident_roles", key=org.viewer))["incident_roles"]}
    _refused(api, org, "incident_role_assignments[0].incident_role_id",
             incident_role_assignments=[{"incident_role_id": rid, "assignee": {"id": lisa}}])
    _refused(api, org, "incident_role_assignments[1].incident_role_id",
             incident_role_assignments=[{"incident_role_id": org.role_by_type["lead"], "assignee": {"id": lisa}},
                                        {"incident_role_id": rid, "assignee": {"email": "bob@example.com"}}])


def test_single_select_option_delete(api, org):
    fid = _field(api, org, "single_select")
    o1 = _option(api, org, fid, "Chosen", 10)
    o2 = _option(api, org, fid, "Other", 20)
    inc = _incident(api, org, custom_field_entries=[{"custom_field_id": fid, "values": [{"value_option_id": o1}]}])
    _delete(api, org, "/v1/custom_field_options/" + o1, 204)
    inc.assert_unchanged("deleting the option it holds")
    _refused(api, org, "custom_field_entries[0].values[0].value_option_id",
             custom_field_entries=[{"custom_field_id": fid, "values": [{"value_option_id": o1}]}])
    # the field and its other option still work
    ok = _incident(api, org, custom_field_entries=[{"custom_field_id": fid, "values": [{"value_option_id": o2}]}])
    entry = [e for e in ok.created["custom_field_entries"] if e["custom_field"]["id"] == fid][0]
    assert [v["value_option"]["id"] for v in entry["values"]] == [o2]
    assert o1 not in [o["id"] for o in entry["custom_field"]["options"]]


def test_multi_select_option_delete(api, org):
    fid = _field(api, org, "multi_select")
    p1, p2, p3 = (_option(api, org, fid, v, k) for v, k in (("One", 1), ("Two", 2), ("Three", 3)))
    inc = _incident(api, org, custom_field_entries=[
        {"custom_field_id": fid, "values": [{"value_option_id": p3}, {"value_option_id": p1}]}])
    _delete(api, org, "/v1/custom_field_options/" + p3, 204)
    inc.assert_unchanged("deleting one of its options")
    _refused(api, org, "custom_field_entries[0].values[1].value_option_id",
             custom_field_entries=[{"custom_field_id": fid,
                                    "values": [{"value_option_id": p1}, {"value_option_id": p3}]}])
    opts = expect_ok(api.get("/v1/custom_field_options", key=org.viewer,
                             params={"custom_field_id": fid}))["custom_field_options"]
    assert [o["id"] for o in opts] == [p1, p2]


def test_field_delete(api, org):
    sel = _field(api, org, "single_select")
    opt = _option(api, org, sel, "Picked")
    text = _field(api, org, "text")
    num = _field(api, org, "numeric")
    inc = _incident(api, org, custom_field_entries=[
        {"custom_field_id": sel, "values": [{"value_option_id": opt}]},
        {"custom_field_id": text, "values": [{"value_text": "kept text"}]},
        {"custom_field_id": num, "values": [{"value_numeric": "1.5"}]}])
    for fid in (sel, text, num):
        _delete(api, org, "/v2/custom_fields/" + fid, 204)
        inc.assert_unchanged("deleting a field it holds a value for")
    expect_error(api.get("/v1/custom_field_options/" + opt, key=org.viewer), 404, "not_found")
    listed = {f["id"] for f in expect_ok(api.get("/v2/custom_fields", key=org.viewer))["custom_fields"]}
    assert not listed & {sel, text, num}
    _refused(api, org, "custom_field_entries[0].custom_field_id",
             custom_field_entries=[{"custom_field_id": sel, "values": [{"value_option_id": opt}]}])
    _refused(api, org, "custom_field_entries[1].custom_field_id",
             custom_field_entries=[{"custom_field_id": org.field["Notes"], "values": [{"value_text": "x"}]},
                                   {"custom_field_id": text, "values": [{"value_text": "y"}]}])
    _refused(api, org, "custom_field_entries[0].custom_field_id",
             custom_field_entries=[{"custom_field_id": num, "values": [{"value_numeric": "2"}]}])
    # an empty values array still names a field: archived is refused too
    _refused(api, org, "custom_field_entries[0].custom_field_id",
             custom_field_entries=[{"custom_field_id": text, "values": []}])


def test_incident_type_archived(api, db, org, ctl):
    # Types have no delete endpoint; incidentctl/the directory archives them.
    tid = ctl.incident_type_create(org.id, _u("Arch Type"), create_in_triage="optional")
    inc = _incident(api, org, incident_type_id=tid)
    assert inc.created["incident_type"]["id"] == tid
    db.query("update incident_types set archived_at = now() where id = :'i' returning id", i=tid)
    inc.assert_unchanged("archiving its incident type")
    expect_error(api.get("/v1/incident_types/" + tid, key=org.viewer), 404, "not_found")
    assert tid not in {t["id"] for t in expect_ok(api.get("/v1/incident_types", key=org.viewer))["incident_types"]}
    _refused(api, org, "incident_type_id", incident_type_id=tid)


# ---------------------------------------------------------------------------
# everything at once, several incidents

def test_everything_deleted_old_incidents_render_identically(api, db, org, opt_type):
    sid = _severity(api, org)
    rid = _role(api, org)
    sel = _field(api, org, "single_select")
    o_a = _option(api, org, sel, "A", 1)
    o_b = _option(api, org, sel, "B", 2)
    multi = _field(api, org, "multi_select")
    m_x = _option(api, org, multi, "X")
    m_y = _option(api, org, multi, "Y")
    link = _field(api, org, "link")
    lisa, bob = org.user["Lisa"]["id"], org.user["Bob"]["id"]
    incs = [
        _incident(api, org, status="investigating", severity_id=sid, incident_type_id=opt_type,
                  summary="first", custom_field_entries=[
                      {"custom_field_id": sel, "values": [{"value_option_id": o_a}]},
                      {"custom_field_id": multi, "values": [{"value_option_id": m_x}, {"value_option_id": m_y}]},
                      {"custom_field_id": link, "values": [{"value_link": "https://example.com/a"}]}],
                  incident_role_assignments=[{"incident_role_id": rid, "assignee": {"id": lisa}}]),
        _incident(api, org, status="fixing", severity_id=sid, incident_type_id=opt_type, visibility="private",
                  custom_field_entries=[{"custom_field_id": sel, "values": [{"value_option_id": o_b}]}],
                  incident_role_assignments=[{"incident_role_id": rid, "assignee": {"id": bob}},
                                             {"incident_role_id": org.role_by_type["lead"],
                                              "assignee": {"id": lisa}}]),
        _incident(api, org, status="triage", custom_field_entries=[
            {"custom_field_id": multi, "values": [{"value_option_id": m_y}]}]),
    ]
    counts = db.query("select (select count(*) from incident_role_assignments a join incidents i on i.id = a.incident_id "
                      "where i.organisation_id = :'o'), (select count(*) from incident_custom_field_values v "
                      "join incidents i on i.id = v.incident_id where i.organisation_id = :'o')", o=org.id)
    steps = [("/v1/custom_field_options/" + m_y, 204), ("/v1/custom_field_options/" + o_a, 204),
             ("/v1/severities/" + sid, 202), ("/v2/incident_roles/" + rid, 204),
             ("/v2/custom_fields/" + multi, 204), ("/v2/custom_fields/" + sel, 204),
             ("/v2/custom_fields/" + link, 204)]
    for path, status in steps:
        _delete(api, org, path, status)
        for inc in incs:
            inc.assert_unchanged("DELETE " + path)
    # nothing an incident points at was removed
    assert db.query("select (select count(*) from incident_role_assignments a join incidents i on i.id = a.incident_id "
                    "where i.organisation_id = :'o'), (select count(*) from incident_custom_field_values v "
                    "join incidents i on i.id = v.incident_id where i.organisation_id = :'o')", o=org.id) == counts
    for table, ident in (("severities", sid), ("incident_roles", rid), ("custom_fields", sel),
                         ("custom_fields", multi), ("custom_fields", link), ("custom_field_options", o_a),
                         ("custom_field_options", m_y)):
        assert db.count("select count(*) from %s where id = :'i' and archived_at is not null" % table,
                        i=ident) == 1, "%s %s should be archived, not deleted" % (table, ident)


def test_deleting_an_unreferenced_sibling_option_leaves_the_incident_identical(api, org):
    # The incident renders the field with its options; deleting an option it
    # does not hold is still a delete, and the incident must not change.
    fid = _field(api, org, "single_select")
    held = _option(api, org, fid, "Held", 1)
    sibling = _option(api, org, fid, "Sibling", 2)
    inc = _incident(api, org, custom_field_entries=[{"custom_field_id": fid,
                                                     "values": [{"value_option_id": held}]}])
    _delete(api, org, "/v1/custom_field_options/" + sibling, 204)
    inc.assert_unchanged("deleting a sibling option")
    # a new incident sees only the live options
    new = _incident(api, org, custom_field_entries=[{"custom_field_id": fid,
                                                     "values": [{"value_option_id": held}]}])
    entry = [e for e in new.created["custom_field_entries"] if e["custom_field"]["id"] == fid][0]
    assert [o["id"] for o in entry["custom_field"]["options"]] == [held]


def test_deleting_unused_configuration_leaves_incidents_identical(api, org, opt_type):
    inc = _incident(api, org, status="investigating", severity_id=org.severity["Major"], incident_type_id=opt_type,
                    custom_field_entries=[{"custom_field_id": org.field["Notes"], "values": [{"value_text": "n"}]}])
    _delete(api, org, "/v1/severities/" + _severity(api, org), 202)
    _delete(api, org, "/v2/incident_roles/" + _role(api, org), 204)
    _delete(api, org, "/v2/custom_fields/" + _field(api, org, "text"), 204)
    inc.assert_unchanged("deleting configuration it does not use")
