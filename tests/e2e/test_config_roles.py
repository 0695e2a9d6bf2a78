"""Incident roles v2: GET/POST /v2/incident_roles, GET/PUT/DELETE
/v2/incident_roles/{id}.

Created roles get role_type custom; delete is 204 with no body; the
organisation's lead role cannot be deleted (422); names are unique per
organisation (422 on name); reads need viewer, writes manage_settings.
"""

import uuid

import pytest

from helpers import TS_RE, ULID_RE, expect_error, expect_ok

BASE = "/v2/incident_roles"
UNKNOWN = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
JUNK_IDS = ["not-a-ulid", UNKNOWN, "0" * 26, "%27%3B--", "x" * 300]
FIELDS = ("name", "shortform", "description", "instructions")


def _u(prefix="Role"):
    return "%s %s" % (prefix, uuid.uuid4().hex[:8])


def _payload(**over):
    body = {"name": _u(), "shortform": "sf" + uuid.uuid4().hex[:4], "description": "Keeps things going",
            "instructions": "Do the thing"}
    body.update(over)
    return body


def _create(api, org, key=None, **over):
    r = api.post(BASE, key=key or org.settings, json=_payload(**over))
    assert r.status == 201, r.describe()
    return r.body["incident_role"]


def _live(org):
    return {r[0]: r[1:] for r in org.ctx.db.query(
        "select id, name, coalesce(shortform, ''), coalesce(description, ''), coalesce(instructions, ''), role_type "
        "from incident_roles where organisation_id = :'o' and archived_at is null", o=org.id)}


def _as_row(r):
    return (r["name"], r["shortform"], r["description"], r["instructions"], r["role_type"])


def _check_shape(role):
    assert set(role) == {"id", "name", "shortform", "description", "instructions", "role_type",
                         "created_at", "updated_at"}, role
    assert ULID_RE.match(role["id"]), role
    assert TS_RE.match(role["created_at"]) and TS_RE.match(role["updated_at"]), role
    assert role["updated_at"] >= role["created_at"]


def _list(api, key):
    body = expect_ok(api.get(BASE, key=key))
    assert set(body) == {"incident_roles"}
    return body["incident_roles"]


def _show(api, org, rid):
    return expect_ok(api.get(BASE + "/" + rid, key=org.viewer))["incident_role"]


# ---------------------------------------------------------------------------
# list and show

def test_list_matches_db_with_one_lead(api, org):
    got = _list(api, org.viewer)
    for r in got:
        _check_shape(r)
    assert {r["id"]: _as_row(r) for r in got} == _live(org)
    assert len(got) == len({r["id"] for r in got})
    leads = [r for r in got if r["role_type"] == "lead"]
    assert len(leads) == 1 and leads[0]["id"] == org.role_by_type["lead"]
    by_name = {r["name"]: r for r in got}
    assert by_name["Reporter"]["role_type"] == "reporter"
    assert by_name["Communications Lead"]["role_type"] == "custom"


def test_unseeded_org_has_its_lead_role(api, ctx):
    o = ctx.new_org("roles-bare", seed=False)
    got = _list(api, o.viewer)
    assert [r["role_type"] for r in got] == ["lead"]


def test_show_each_listed_role(api, org):
    for r in _list(api, org.viewer):
        assert expect_ok(api.get(BASE + "/" + r["id"], key=org.viewer)) == {"incident_role": r}


@pytest.mark.parametrize("ident", JUNK_IDS)
def test_show_unknown_is_404(api, org, ident):
    expect_error(api.get(BASE + "/" + ident, key=org.viewer), 404, "not_found")


# ---------------------------------------------------------------------------
# create

def test_create_is_201_custom_and_listed(api, db, org):
    payload = _payload(name=_u("Scribe"), shortform="scribe", description="Writes down what happens",
                       instructions="Keep the timeline \u2014 up to date")
    r = api.post(BASE, key=org.settings, json=payload)
    assert r.status == 201, r.describe()
    assert set(r.body) == {"incident_role"}
    role = r.body["incident_role"]
    _check_shape(role)
    assert {k: role[k] for k in FIELDS} == payload
    assert role["role_type"] == "custom"
    assert _show(api, org, role["id"]) == role
    assert role in _list(api, org.viewer)
    assert db.query("select organisation_id, role_type from incident_roles where id = :'i'", i=role["id"]) == [
        (org.id, "custom")]


@pytest.mark.parametrize("asked", ["lead", "reporter", "custom", "nonsense"])
def test_role_type_cannot_be_chosen(api, org, asked):
    # role_type is not part of the create payload: unknown fields are ignored
    role = _create(api, org, role_type=asked, required=True)
    assert role["role_type"] == "custom"
    leads = [r for r in _list(api, org.viewer) if r["role_type"] == "lead"]
    assert [r["id"] for r in leads] == [org.role_by_type["lead"]]


def test_empty_instructions_and_shortform_are_allowed(api, org):
    role = _create(api, org, shortform="", instructions="")
    assert role["shortform"] == "" and role["instructions"] == ""


def test_created_role_can_be_assigned_in_an_incident(api, org):
    role = _create(api, org)
    inc = org.create_incident(incident_role_assignments=[
        {"incident_role_id": role["id"], "assignee": {"id": org.user["Lisa"]["id"]}}])
    got = [a for a in inc["incident_role_assignments"] if a["role"]["id"] == role["id"]]
    assert len(got) == 1 and got[0]["assignee"]["id"] == org.user["Lisa"]["id"]
    for k in FIELDS + ("role_type", "created_at", "updated_at"):
        assert got[0]["role"][k] == role[k], k


def _create_cases():
    cases = []
    for f in FIELDS:
        p = _payload()
        del p[f]
        cases.append(("missing-" + f, p, "is_required", f))
    cases += [
        ("empty-name", _payload(name=""), None, "name"),
        ("empty-description", _payload(description=""), None, "description"),
        ("name-number", _payload(name=7), None, "name"),
        ("shortform-null", _payload(shortform=None), None, "shortform"),
        ("description-array", _payload(description=["x"]), None, "description"),
        ("instructions-object", _payload(instructions={"a": 1}), None, "instructions"),
        ("name-nul", _payload(name="lead\u0000"), "invalid_value", "name"),
        ("instructions-nul", _payload(instructions="\u0000"), "invalid_value", "instructions"),
    ]
    return cases


@pytest.mark.parametrize("case", _create_cases(), ids=lambda c: c[0])
def test_create_validation_is_422(api, org, case):
    _, payload, code, field = case
    before = _live(org)
    expect_error(api.post(BASE, key=org.settings, json=payload), 422, code, field)
    assert _live(org) == before


@pytest.mark.parametrize("which", ["created", "seeded", "lead"])
def test_duplicate_name_is_422(api, org, which):
    if which == "created":
        name = _create(api, org)["name"]
    elif which == "seeded":
        name = "Communications Lead"
    else:
        name = _show(api, org, org.role_by_type["lead"])["name"]
    before = _live(org)
    expect_error(api.post(BASE, key=org.settings, json=_payload(name=name)), 422, field="name")
    assert _live(org) == before


def test_names_are_unique_per_organisation_only(api, org, other_org):
    name = _u("Shared role")
    _create(api, org, name=name)
    assert _create(api, other_org, name=name)["name"] == name


@pytest.mark.parametrize("data", [b"{", b"", b"[]", b'"role"', b"42", b"null", b"\xc3\x28"], ids=repr)
def test_create_invalid_json_is_400(api, org, data):
    before = _live(org)
    expect_error(api.post(BASE, key=org.settings, data=data), 400, "invalid_json")
    assert _live(org) == before


# ---------------------------------------------------------------------------
# update

def test_update_returns_the_object(api, org):
    role = _create(api, org)
    new = _payload(name=_u("Renamed role"), shortform="ren", description="New purpose", instructions="New steps")
    r = api.put(BASE + "/" + role["id"], key=org.settings, json=new)
    assert r.status == 200, r.describe()
    assert set(r.body) == {"incident_role"}
    got = r.body["incident_role"]
    _check_shape(got)
    assert {k: got[k] for k in FIELDS} == new
    assert (got["id"], got["role_type"], got["created_at"]) == (role["id"], "custom", role["created_at"])
    assert got["updated_at"] >= role["updated_at"]
    assert _show(api, org, role["id"]) == got


def test_lead_role_can_be_updated_and_stays_lead(api, org):
    lead = org.role_by_type["lead"]
    before = _show(api, org, lead)
    new = {"name": _u("Commander"), "shortform": "lead", "description": "Runs the incident",
           "instructions": "Coordinate"}
    r = api.put(BASE + "/" + lead, key=org.settings, json=new)
    assert r.status == 200, r.describe()
    got = r.body["incident_role"]
    assert got["role_type"] == "lead" and got["id"] == lead and got["name"] == new["name"]
    # put it back as it was
    r = api.put(BASE + "/" + lead, key=org.settings, json={k: before[k] for k in FIELDS})
    assert r.status == 200, r.describe()


def test_update_body_cannot_change_role_type(api, org):
    role = _create(api, org)
    r = api.put(BASE + "/" + role["id"], key=org.settings, json=_payload(role_type="lead"))
    assert r.status == 200, r.describe()
    assert r.body["incident_role"]["role_type"] == "custom"


def _update_cases():
    cases = []
    for f in FIELDS:
        p = _payload()
        del p[f]
        cases.append(("missing-" + f, p, "is_required", f))
    cases += [
        ("empty-name", _payload(name=""), None, "name"),
        ("empty-description", _payload(description=""), None, "description"),
        ("name-bool", _payload(name=False), None, "name"),
        ("shortform-number", _payload(shortform=3), None, "shortform"),
        ("description-nul", _payload(description="a\u0000"), "invalid_value", "description"),
        ("dup-seeded", _payload(name="Reporter"), None, "name"),
    ]
    return cases


@pytest.mark.parametrize("case", _update_cases(), ids=lambda c: c[0])
def test_update_validation_is_422(api, org, case):
    _, payload, code, field = case
    role = _create(api, org)
    expect_error(api.put(BASE + "/" + role["id"], key=org.settings, json=payload), 422, code, field)
    assert _show(api, org, role["id"]) == role


@pytest.mark.parametrize("data", [b"{", b"[]", b'"x"', b"null"], ids=repr)
def test_update_invalid_json_is_400(api, org, data):
    role = _create(api, org)
    expect_error(api.put(BASE + "/" + role["id"], key=org.settings, data=data), 400, "invalid_json")
    assert _show(api, org, role["id"]) == role


@pytest.mark.parametrize("ident", JUNK_IDS)
def test_update_unknown_is_404(api, org, ident):
    expect_error(api.put(BASE + "/" + ident, key=org.settings, json=_payload()), 404, "not_found")


# ---------------------------------------------------------------------------
# delete

def test_delete_is_204_and_hides_it(api, org):
    role = _create(api, org)
    r = api.delete(BASE + "/" + role["id"], key=org.settings)
    assert r.status == 204, r.describe()
    assert r.raw == b""
    expect_error(api.get(BASE + "/" + role["id"], key=org.viewer), 404, "not_found")
    expect_error(api.put(BASE + "/" + role["id"], key=org.settings, json=_payload()), 404, "not_found")
    expect_error(api.delete(BASE + "/" + role["id"], key=org.settings), 404, "not_found")
    assert role["id"] not in {r["id"] for r in _list(api, org.viewer)}
    assert role["id"] not in _live(org)


def test_deleted_role_name_can_be_reused(api, org):
    role = _create(api, org)
    assert api.delete(BASE + "/" + role["id"], key=org.settings).status == 204
    assert _create(api, org, name=role["name"])["id"] != role["id"]


def test_lead_role_cannot_be_deleted(api, org):
    lead = org.role_by_type["lead"]
    before = _show(api, org, lead)
    r = api.delete(BASE + "/" + lead, key=org.settings)
    expect_error(r, 422)
    assert _show(api, org, lead) == before
    assert lead in {r["id"] for r in _list(api, org.viewer)}
    # still usable
    inc = org.create_incident(incident_role_assignments=[
        {"incident_role_id": lead, "assignee": {"id": org.user["Bob"]["id"]}}])
    assert any(a["role"]["id"] == lead for a in inc["incident_role_assignments"])


@pytest.mark.parametrize("ident", JUNK_IDS)
def test_delete_unknown_is_404(api, org, ident):
    expect_error(api.delete(BASE + "/" + ident, key=org.settings), 404, "not_found")


# ---------------------------------------------------------------------------
# authentication, roles, isolation

def test_no_key_is_401_on_every_operation(api, org):
    role = _create(api, org)
    for method, path, body in [("GET", BASE, None), ("POST", BASE, _payload()),
                               ("GET", BASE + "/" + role["id"], None),
                               ("PUT", BASE + "/" + role["id"], _payload()),
                               ("DELETE", BASE + "/" + role["id"], None)]:
        kw = {"json": body} if body is not None else {}
        expect_error(api.request(method, path, **kw), 401, "missing_authorization_material")
    assert _show(api, org, role["id"]) == role


@pytest.mark.parametrize("who", ["viewer", "creator", "admin"])
def test_writes_without_manage_settings_are_403(api, org, who):
    key = {"viewer": org.viewer, "creator": org.creator, "admin": org.admin}[who]
    role = _create(api, org)
    before = _live(org)
    expect_error(api.post(BASE, key=key, json=_payload()), 403, "missing_permissions")
    expect_error(api.put(BASE + "/" + role["id"], key=key, json=_payload()), 403, "missing_permissions")
    expect_error(api.delete(BASE + "/" + role["id"], key=key), 403, "missing_permissions")
    expect_error(api.delete(BASE + "/" + org.role_by_type["lead"], key=key), 403, "missing_permissions")
    assert _live(org) == before


def test_reads_need_viewer(api, org):
    k = org.key("creator-only", "incident_creator")
    expect_error(api.get(BASE, key=k), 403, "missing_permissions")
    expect_error(api.get(BASE + "/" + org.role_by_type["lead"], key=k), 403, "missing_permissions")


def test_manage_settings_alone_can_write(api, org):
    k = org.key("settings-only", "manage_settings")
    role = _create(api, org, key=k)
    assert api.put(BASE + "/" + role["id"], key=k, json=_payload()).status == 200
    assert api.delete(BASE + "/" + role["id"], key=k).status == 204


def test_other_org_role_is_404_and_never_listed(api, org, other_org):
    b = _create(api, other_org, name=_u("Only B role"))
    b_lead = other_org.role_by_type["lead"]
    for rid in (b["id"], b_lead):
        path = BASE + "/" + rid
        for key in (org.viewer, org.admin, org.settings):
            expect_error(api.get(path, key=key), 404, "not_found")
        expect_error(api.put(path, key=org.settings, json=_payload()), 404, "not_found")
        expect_error(api.delete(path, key=org.settings), 404, "not_found")
    ids = {r["id"] for r in _list(api, org.viewer)}
    assert b["id"] not in ids and b_lead not in ids
    assert ids == set(_live(org))
    assert expect_ok(api.get(BASE + "/" + b["id"], key=other_org.viewer)) == {"incident_role": b}


@pytest.mark.parametrize("method,path,allowed", [
    ("PATCH", BASE + "/" + UNKNOWN, {"GET", "PUT", "DELETE"}),
    ("DELETE", BASE, {"GET", "POST"}),
])
def test_wrong_method_is_405_with_allow(api, org, method, path, allowed):
    kw = {"json": {}} if method in ("PUT", "PATCH", "POST") else {}
    r = api.request(method, path, key=org.settings, **kw)
    expect_error(r, 405, "method_not_allowed")
    got = {m.strip().upper() for m in (r.header("Allow") or "").split(",") if m.strip()}
    assert allowed <= got, r.header("Allow")
