"""Custom fields v2: GET/POST /v2/custom_fields, GET/PUT/DELETE
/v2/custom_fields/{id}.

field_type is one of the spec's five types (422 on field_type otherwise)
and is fixed at creation; names are at most 50 characters and unique per
organisation; delete is 204 with no body and also retires the field's
options; reads need viewer, writes manage_settings.
"""

import uuid

import pytest

from helpers import TS_RE, ULID_RE, expect_error, expect_ok

BASE = "/v2/custom_fields"
OPTIONS = "/v1/custom_field_options"
UNKNOWN = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
JUNK_IDS = ["not-a-ulid", UNKNOWN, "0" * 26, "%27%3B--", "x" * 300]
TYPES = ["single_select", "multi_select", "text", "link", "numeric"]


def _u(prefix="Field"):
    return "%s %s" % (prefix, uuid.uuid4().hex[:8])


def _payload(**over):
    body = {"name": _u(), "description": "Made by the e2e suite", "field_type": "single_select"}
    body.update(over)
    return body


def _create(api, org, key=None, **over):
    r = api.post(BASE, key=key or org.settings, json=_payload(**over))
    assert r.status == 201, r.describe()
    return r.body["custom_field"]


def _live(org):
    return {r[0]: r[1:] for r in org.ctx.db.query(
        "select id, name, coalesce(description, ''), field_type from custom_fields "
        "where organisation_id = :'o' and archived_at is null", o=org.id)}


def _as_row(f):
    return (f["name"], f["description"], f["field_type"])


def _check_shape(f):
    assert {"id", "name", "description", "field_type", "created_at", "updated_at"} <= set(f), f
    assert ULID_RE.match(f["id"]), f
    assert TS_RE.match(f["created_at"]) and TS_RE.match(f["updated_at"]), f
    assert f["updated_at"] >= f["created_at"]
    assert f["field_type"] in TYPES


def _list(api, key):
    body = expect_ok(api.get(BASE, key=key))
    assert set(body) == {"custom_fields"}
    return body["custom_fields"]


def _show(api, org, fid):
    return expect_ok(api.get(BASE + "/" + fid, key=org.viewer))["custom_field"]


# ---------------------------------------------------------------------------
# list and show

def test_list_matches_db(api, org):
    got = _list(api, org.viewer)
    for f in got:
        _check_shape(f)
    assert len(got) == len({f["id"] for f in got})
    assert {f["id"]: _as_row(f) for f in got} == _live(org)
    by_name = {f["name"]: f["field_type"] for f in got}
    assert by_name["Affected Team"] == "single_select"
    assert by_name["Services"] == "multi_select"
    assert by_name["Notes"] == "text"
    assert by_name["Runbook"] == "link"
    assert by_name["Customers affected"] == "numeric"


def test_show_each_listed_field(api, org):
    for f in _list(api, org.viewer):
        assert expect_ok(api.get(BASE + "/" + f["id"], key=org.viewer)) == {"custom_field": f}


@pytest.mark.parametrize("ident", JUNK_IDS)
def test_show_unknown_is_404(api, org, ident):
    expect_error(api.get(BASE + "/" + ident, key=org.viewer), 404, "not_found")


def test_unseeded_org_lists_nothing(api, ctx):
    o = ctx.new_org("fields-bare", seed=False)
    assert _list(api, o.viewer) == []


# ---------------------------------------------------------------------------
# create

@pytest.mark.parametrize("field_type", TYPES)
def test_create_each_type_is_201(api, db, org, field_type):
    payload = _payload(name=_u("F " + field_type[:6]), description="What \u00fcber " + field_type,
                       field_type=field_type)
    r = api.post(BASE, key=org.settings, json=payload)
    assert r.status == 201, r.describe()
    assert set(r.body) == {"custom_field"}
    f = r.body["custom_field"]
    _check_shape(f)
    assert _as_row(f) == (payload["name"], payload["description"], field_type)
    assert _show(api, org, f["id"]) == f
    assert f in _list(api, org.viewer)
    assert db.query("select organisation_id, field_type from custom_fields where id = :'i'", i=f["id"]) == [
        (org.id, field_type)]


def test_created_fields_work_in_incidents(api, org):
    text = _create(api, org, field_type="text")
    num = _create(api, org, field_type="numeric")
    sel = _create(api, org, field_type="single_select")
    r = api.post(OPTIONS, key=org.settings, json={"custom_field_id": sel["id"], "value": "Only"})
    assert r.status == 201, r.describe()
    opt = r.body["custom_field_option"]
    inc = org.create_incident(custom_field_entries=[
        {"custom_field_id": text["id"], "values": [{"value_text": "hello"}]},
        {"custom_field_id": num["id"], "values": [{"value_numeric": "42"}]},
        {"custom_field_id": sel["id"], "values": [{"value_option_id": opt["id"]}]},
    ])
    by_id = {e["custom_field"]["id"]: e for e in inc["custom_field_entries"]}
    for f in (text, num, sel):
        cf = by_id[f["id"]]["custom_field"]
        assert (cf["name"], cf["description"], cf["field_type"]) == _as_row(f)
    assert by_id[text["id"]]["values"] == [{"value_text": "hello"}]
    assert by_id[num["id"]]["values"] == [{"value_numeric": "42"}]
    assert by_id[sel["id"]]["values"] == [{"value_option": opt}]
    assert by_id[sel["id"]]["custom_field"]["options"] == [opt]


def test_name_of_exactly_50_characters_is_accepted(api, org):
    name = "\u00fc" * 41 + " " + uuid.uuid4().hex[:8]
    assert len(name) == 50
    assert _create(api, org, name=name)["name"] == name


def test_unknown_fields_are_ignored(api, org):
    f = _create(api, org, extra={"a": [1, 2]}, options=["x"], id=UNKNOWN)
    assert f["id"] != UNKNOWN


def _create_cases():
    cases = []
    for k in ("name", "description", "field_type"):
        p = _payload()
        del p[k]
        cases.append(("missing-" + k, p, "is_required", k))
    cases += [
        ("name-51", _payload(name="x" * 51), None, "name"),
        ("name-51-multibyte", _payload(name="\u00fc" * 51), None, "name"),
        ("field_type-unknown", _payload(field_type="dropdown"), None, "field_type"),
        ("field_type-case", _payload(field_type="TEXT"), None, "field_type"),
        ("field_type-empty", _payload(field_type=""), None, "field_type"),
        ("field_type-number", _payload(field_type=1), None, "field_type"),
        ("name-number", _payload(name=12), None, "name"),
        ("name-null", _payload(name=None), None, "name"),
        ("description-array", _payload(description=["d"]), None, "description"),
        ("name-nul", _payload(name="x\u0000y"), "invalid_value", "name"),
        ("description-nul", _payload(description="\u0000"), "invalid_value", "description"),
        ("dup-seeded", _payload(name="Notes"), None, "name"),
    ]
    return cases


@pytest.mark.parametrize("case", _create_cases(), ids=lambda c: c[0])
def test_create_validation_is_422(api, org, case):
    _, payload, code, field = case
    before = _live(org)
    expect_error(api.post(BASE, key=org.settings, json=payload), 422, code, field)
    assert _live(org) == before


def test_duplicate_name_is_422(api, org):
    f = _create(api, org)
    before = _live(org)
    expect_error(api.post(BASE, key=org.settings, json=_payload(name=f["name"], field_type="text")),
                 422, field="name")
    assert _live(org) == before


def test_names_are_unique_per_organisation_only(api, org, other_org):
    name = _u("Shared field")
    _create(api, org, name=name)
    assert _create(api, other_org, name=name)["name"] == name


@pytest.mark.parametrize("data", [b"{", b"", b"[]", b'"field"', b"3.5", b"null", b"{\"name\": }"], ids=repr)
def test_create_invalid_json_is_400(api, org, data):
    before = _live(org)
    expect_error(api.post(BASE, key=org.settings, data=data), 400, "invalid_json")
    assert _live(org) == before


# ---------------------------------------------------------------------------
# update

def test_update_returns_the_object(api, org):
    f = _create(api, org, field_type="multi_select")
    new = {"name": _u("Renamed field"), "description": "New description"}
    r = api.put(BASE + "/" + f["id"], key=org.settings, json=new)
    assert r.status == 200, r.describe()
    assert set(r.body) == {"custom_field"}
    got = r.body["custom_field"]
    _check_shape(got)
    assert _as_row(got) == (new["name"], new["description"], "multi_select")
    assert (got["id"], got["created_at"]) == (f["id"], f["created_at"])
    assert got["updated_at"] >= f["updated_at"]
    assert _show(api, org, f["id"]) == got


def test_update_cannot_change_field_type(api, org):
    # field_type is not part of the update payload: ignored like any unknown field
    f = _create(api, org, field_type="text")
    r = api.put(BASE + "/" + f["id"], key=org.settings,
                json={"name": f["name"], "description": "x", "field_type": "numeric"})
    assert r.status == 200, r.describe()
    assert r.body["custom_field"]["field_type"] == "text"
    assert _show(api, org, f["id"])["field_type"] == "text"


def test_update_may_keep_its_own_name(api, org):
    f = _create(api, org)
    r = api.put(BASE + "/" + f["id"], key=org.settings, json={"name": f["name"], "description": "same name"})
    assert r.status == 200, r.describe()


def _update_cases():
    return [
        ("missing-name", {"description": "d"}, "is_required", "name"),
        ("missing-description", {"name": _u()}, "is_required", "description"),
        ("name-51", {"name": "y" * 51, "description": "d"}, None, "name"),
        ("name-number", {"name": 0, "description": "d"}, None, "name"),
        ("description-object", {"name": _u(), "description": {}}, None, "description"),
        ("name-nul", {"name": "\u0000", "description": "d"}, "invalid_value", "name"),
        ("dup-seeded", {"name": "Runbook", "description": "d"}, None, "name"),
    ]


@pytest.mark.parametrize("case", _update_cases(), ids=lambda c: c[0])
def test_update_validation_is_422(api, org, case):
    _, payload, code, field = case
    f = _create(api, org)
    expect_error(api.put(BASE + "/" + f["id"], key=org.settings, json=payload), 422, code, field)
    assert _show(api, org, f["id"]) == f


@pytest.mark.parametrize("data", [b"{", b"[]", b'"x"', b"null"], ids=repr)
def test_update_invalid_json_is_400(api, org, data):
    f = _create(api, org)
    expect_error(api.put(BASE + "/" + f["id"], key=org.settings, data=data), 400, "invalid_json")
    assert _show(api, org, f["id"]) == f


@pytest.mark.parametrize("ident", JUNK_IDS)
def test_update_unknown_is_404(api, org, ident):
    expect_error(api.put(BASE + "/" + ident, key=org.settings, json={"name": _u(), "description": "d"}),
                 404, "not_found")


# ---------------------------------------------------------------------------
# delete

def test_delete_is_204_and_retires_the_options(api, org):
    f = _create(api, org)
    opts = []
    for v in ("One", "Two"):
        r = api.post(OPTIONS, key=org.settings, json={"custom_field_id": f["id"], "value": v})
        assert r.status == 201, r.describe()
        opts.append(r.body["custom_field_option"])
    r = api.delete(BASE + "/" + f["id"], key=org.settings)
    assert r.status == 204, r.describe()
    assert r.raw == b""
    expect_error(api.get(BASE + "/" + f["id"], key=org.viewer), 404, "not_found")
    expect_error(api.put(BASE + "/" + f["id"], key=org.settings, json={"name": _u(), "description": "d"}),
                 404, "not_found")
    expect_error(api.delete(BASE + "/" + f["id"], key=org.settings), 404, "not_found")
    assert f["id"] not in {x["id"] for x in _list(api, org.viewer)}
    assert f["id"] not in _live(org)
    # the options went with it
    for o in opts:
        expect_error(api.get(OPTIONS + "/" + o["id"], key=org.viewer), 404, "not_found")
        expect_error(api.put(OPTIONS + "/" + o["id"], key=org.settings, json={"value": "Again", "sort_key": 1}),
                     404, "not_found")
        expect_error(api.delete(OPTIONS + "/" + o["id"], key=org.settings), 404, "not_found")
    r = api.get(OPTIONS, key=org.viewer, params={"custom_field_id": f["id"]})
    assert r.status in (404, 422), r.describe()
    if r.status == 422:
        expect_error(r, 422, field="custom_field_id")
    r = api.post(OPTIONS, key=org.settings, json={"custom_field_id": f["id"], "value": "Three"})
    expect_error(r, 422, field="custom_field_id")


@pytest.mark.parametrize("ident", JUNK_IDS)
def test_delete_unknown_is_404(api, org, ident):
    expect_error(api.delete(BASE + "/" + ident, key=org.settings), 404, "not_found")


# ---------------------------------------------------------------------------
# authentication, roles, isolation

def test_no_key_is_401_on_every_operation(api, org):
    f = _create(api, org)
    for method, path, body in [("GET", BASE, None), ("POST", BASE, _payload()),
                               ("GET", BASE + "/" + f["id"], None),
                               ("PUT", BASE + "/" + f["id"], {"name": _u(), "description": "d"}),
                               ("DELETE", BASE + "/" + f["id"], None)]:
        kw = {"json": body} if body is not None else {}
        expect_error(api.request(method, path, **kw), 401, "missing_authorization_material")
    assert _show(api, org, f["id"]) == f


@pytest.mark.parametrize("who", ["viewer", "creator", "admin"])
def test_writes_without_manage_settings_are_403(api, org, who):
    key = {"viewer": org.viewer, "creator": org.creator, "admin": org.admin}[who]
    f = _create(api, org)
    before = _live(org)
    expect_error(api.post(BASE, key=key, json=_payload()), 403, "missing_permissions")
    expect_error(api.put(BASE + "/" + f["id"], key=key, json={"name": _u(), "description": "d"}),
                 403, "missing_permissions")
    expect_error(api.delete(BASE + "/" + f["id"], key=key), 403, "missing_permissions")
    assert _live(org) == before


def test_reads_need_viewer(api, org):
    k = org.key("creator-only", "incident_creator")
    expect_error(api.get(BASE, key=k), 403, "missing_permissions")
    expect_error(api.get(BASE + "/" + org.field["Notes"], key=k), 403, "missing_permissions")
    for key in (org.viewer, org.creator, org.admin):
        expect_ok(api.get(BASE + "/" + org.field["Notes"], key=key))


def test_manage_settings_alone_can_write(api, org):
    k = org.key("settings-only", "manage_settings")
    f = _create(api, org, key=k)
    assert api.put(BASE + "/" + f["id"], key=k, json={"name": f["name"], "description": "x"}).status == 200
    assert api.delete(BASE + "/" + f["id"], key=k).status == 204


def test_other_org_field_is_404_and_never_listed(api, org, other_org):
    b = _create(api, other_org, name=_u("Only B field"))
    for fid in (b["id"], other_org.field["Affected Team"]):
        path = BASE + "/" + fid
        for key in (org.viewer, org.admin, org.settings):
            expect_error(api.get(path, key=key), 404, "not_found")
        expect_error(api.put(path, key=org.settings, json={"name": _u(), "description": "d"}), 404, "not_found")
        expect_error(api.delete(path, key=org.settings), 404, "not_found")
    ids = {f["id"] for f in _list(api, org.viewer)}
    assert b["id"] not in ids and other_org.field["Affected Team"] not in ids
    assert ids == set(_live(org))
    assert _show(api, other_org, b["id"]) == b
    assert other_org.field["Affected Team"] in _live(other_org)


@pytest.mark.parametrize("method,path,allowed", [
    ("PATCH", BASE + "/" + UNKNOWN, {"GET", "PUT", "DELETE"}),
    ("POST", BASE + "/" + UNKNOWN, {"GET", "PUT", "DELETE"}),
    ("DELETE", BASE, {"GET", "POST"}),
])
def test_wrong_method_is_405_with_allow(api, org, method, path, allowed):
    kw = {"json": {}} if method in ("PUT", "PATCH", "POST") else {}
    r = api.request(method, path, key=org.settings, **kw)
    expect_error(r, 405, "method_not_allowed")
    got = {m.strip().upper() for m in (r.header("Allow") or "").split(",") if m.strip()}
    assert allowed <= got, r.header("Allow")
