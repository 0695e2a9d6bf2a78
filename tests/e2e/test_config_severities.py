"""Severities v1: GET/POST /v1/severities, GET/PUT/DELETE /v1/severities/{id}.

Reads need viewer, writes manage_settings; 201 on create, 202 (no body) on
delete; names unique among the organisation's live severities
(case-insensitive) and at most 50 characters; rank optional (default: after
the existing ones); the list is ordered by rank. Deleted severities
disappear from these endpoints (incidents that use them: test_config_archive).
"""

import uuid

import pytest

from helpers import TS_RE, ULID_RE, expect_error, expect_ok

BASE = "/v1/severities"
UNKNOWN = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
JUNK_IDS = ["not-a-ulid", UNKNOWN, "0" * 26, "%27%3B--", "x" * 300]


def _u(prefix="Sev"):
    return "%s %s" % (prefix, uuid.uuid4().hex[:8])


def _create(api, org, expect=201, key=None, **payload):
    body = {"name": _u(), "description": "made by the e2e suite"}
    body.update(payload)
    r = api.post(BASE, key=key or org.settings, json=body)
    assert r.status == expect, r.describe()
    return r.body["severity"] if expect == 201 else r


def _live(org):
    """The organisation's live severities from the database, by rank."""
    return [(i, n, d, int(rk)) for i, n, d, rk in org.ctx.db.query(
        "select id, name, coalesce(description, ''), rank from severities "
        "where organisation_id = :'o' and archived_at is null order by rank, id", o=org.id)]


def _check_shape(sev):
    assert set(sev) == {"id", "name", "description", "rank", "created_at", "updated_at"}, sev
    assert ULID_RE.match(sev["id"]), sev
    assert TS_RE.match(sev["created_at"]) and TS_RE.match(sev["updated_at"]), sev
    assert sev["updated_at"] >= sev["created_at"]
    assert isinstance(sev["rank"], int) and not isinstance(sev["rank"], bool)


def _list(api, key):
    body = expect_ok(api.get(BASE, key=key))
    assert set(body) == {"severities"}
    return body["severities"]


# ---------------------------------------------------------------------------
# list and show

def test_list_matches_db_ordered_by_rank(api, org):
    got = _list(api, org.viewer)
    for s in got:
        _check_shape(s)
    ranks = [s["rank"] for s in got]
    assert ranks == sorted(ranks), "severities must be listed by rank: %r" % ranks
    assert sorted((s["id"], s["name"], s["description"], s["rank"]) for s in got) == sorted(_live(org))
    names = [s["name"] for s in got]
    for seeded in ("Minor", "Major", "Critical"):
        assert seeded in names
    assert names.index("Minor") < names.index("Major") < names.index("Critical")


def test_show_each_listed_severity(api, org):
    for s in _list(api, org.viewer):
        body = expect_ok(api.get(BASE + "/" + s["id"], key=org.viewer))
        assert body == {"severity": s}


@pytest.mark.parametrize("ident", JUNK_IDS)
def test_show_unknown_is_404(api, org, ident):
    expect_error(api.get(BASE + "/" + ident, key=org.viewer), 404, "not_found")


# ---------------------------------------------------------------------------
# create

def test_create_is_201_and_shows_and_lists(api, db, org):
    name = _u("Sev one")
    r = api.post(BASE, key=org.settings, json={"name": name, "description": "Hello \u2014 w\u00f6rld", "rank": 70})
    assert r.status == 201, r.describe()
    assert set(r.body) == {"severity"}
    sev = r.body["severity"]
    _check_shape(sev)
    assert (sev["name"], sev["description"], sev["rank"]) == (name, "Hello \u2014 w\u00f6rld", 70)
    assert expect_ok(api.get(BASE + "/" + sev["id"], key=org.viewer)) == {"severity": sev}
    assert sev in _list(api, org.viewer)
    assert db.query("select organisation_id, name, rank from severities where id = :'i'", i=sev["id"]) == [
        (org.id, name, "70")]


def test_create_without_rank_goes_after_the_existing_ones(api, org):
    before = _list(api, org.viewer)
    sev = _create(api, org)
    assert all(sev["rank"] > s["rank"] for s in before), (sev, [s["rank"] for s in before])
    after = _list(api, org.viewer)
    assert after[-1] == sev
    sev2 = _create(api, org)
    assert sev2["rank"] > sev["rank"]
    assert _list(api, org.viewer)[-2:] == [sev, sev2]


def test_list_order_follows_explicit_ranks(api, org):
    hi = _create(api, org, rank=500)
    lo = _create(api, org, rank=-5)
    mid = _create(api, org, rank=250)
    got = _list(api, org.viewer)
    ids = [s["id"] for s in got]
    assert ids.index(lo["id"]) < ids.index(mid["id"]) < ids.index(hi["id"])
    ranks = [s["rank"] for s in got]
    assert ranks == sorted(ranks)


def test_unknown_fields_are_ignored(api, org):
    sev = _create(api, org, extra_field={"x": 1}, id=UNKNOWN, created_at="2000-01-01T00:00:00Z")
    assert sev["id"] != UNKNOWN
    assert not sev["created_at"].startswith("2000")


def test_name_of_exactly_50_characters_is_accepted(api, org):
    # characters, not bytes: 40 two-byte characters + 10 ASCII
    name = "\u00e9" * 40 + " " + uuid.uuid4().hex[:9]
    assert len(name) == 50
    sev = _create(api, org, name=name)
    assert sev["name"] == name


def test_names_are_unique_per_organisation_only(api, org, other_org):
    name = _u("Shared")
    _create(api, org, name=name)
    b = _create(api, other_org, name=name)
    assert b["name"] == name


# ---------------------------------------------------------------------------
# create: validation (422 with source.field; nothing written)

def _create_cases():
    long = "n" * 51
    return [
        ("missing-name", {"description": "d"}, "is_required", "name"),
        ("missing-description", {"name": _u()}, "is_required", "description"),
        ("empty-object", {}, "is_required", None),
        ("name-51", {"name": long, "description": "d"}, None, "name"),
        ("name-51-multibyte", {"name": "\u00e9" * 51, "description": "d"}, None, "name"),
        ("name-number", {"name": 5, "description": "d"}, None, "name"),
        ("name-null", {"name": None, "description": "d"}, None, "name"),
        ("name-object", {"name": {"x": 1}, "description": "d"}, None, "name"),
        ("description-array", {"name": _u(), "description": []}, None, "description"),
        ("description-bool", {"name": _u(), "description": True}, None, "description"),
        ("rank-string", {"name": _u(), "description": "d", "rank": "1"}, None, "rank"),
        ("rank-float", {"name": _u(), "description": "d", "rank": 1.5}, None, "rank"),
        ("rank-bool", {"name": _u(), "description": "d", "rank": True}, None, "rank"),
        ("rank-huge", {"name": _u(), "description": "d", "rank": 2 ** 70}, None, "rank"),
        ("name-nul", {"name": "a\u0000b", "description": "d"}, "invalid_value", "name"),
        ("description-nul", {"name": _u(), "description": "x\u0000"}, "invalid_value", "description"),
    ]


@pytest.mark.parametrize("case", _create_cases(), ids=lambda c: c[0])
def test_create_validation_is_422(api, org, case):
    _, payload, code, field = case
    before = _live(org)
    r = api.post(BASE, key=org.settings, json=payload)
    expect_error(r, 422, code, field)
    assert _live(org) == before


@pytest.mark.parametrize("variant", ["exact", "upper", "lower"])
def test_duplicate_live_name_is_422(api, org, variant):
    existing = _create(api, org, name=_u("Dup Name"))
    name = {"exact": existing["name"], "upper": existing["name"].upper(),
            "lower": existing["name"].lower()}[variant]
    before = _live(org)
    r = api.post(BASE, key=org.settings, json={"name": name, "description": "again"})
    expect_error(r, 422, field="name")
    assert _live(org) == before
    # a seeded name, in another case
    expect_error(api.post(BASE, key=org.settings, json={"name": "mInOr", "description": "x"}), 422, field="name")


def test_deleted_name_can_be_reused(api, org):
    sev = _create(api, org, name=_u("Reuse"))
    assert api.delete(BASE + "/" + sev["id"], key=org.settings).status == 202
    again = _create(api, org, name=sev["name"])
    assert again["id"] != sev["id"]


@pytest.mark.parametrize("data", [b"{", b"", b"not json", b"[]", b'[{"name": "x", "description": "y"}]',
                                  b'"a string"', b"5", b"null", b"true",
                                  b'{"name": "x", "description": "y",}', b"\xff\xfe"],
                         ids=lambda d: repr(d[:20]))
def test_create_invalid_json_is_400(api, org, data):
    before = _live(org)
    expect_error(api.post(BASE, key=org.settings, data=data), 400, "invalid_json")
    assert _live(org) == before


# ---------------------------------------------------------------------------
# update

def test_update_returns_the_object(api, org):
    sev = _create(api, org, rank=900)
    name = _u("Renamed")
    r = api.put(BASE + "/" + sev["id"], key=org.settings,
                json={"name": name, "description": "new description", "rank": 901})
    assert r.status == 200, r.describe()
    assert set(r.body) == {"severity"}
    got = r.body["severity"]
    _check_shape(got)
    assert (got["id"], got["name"], got["description"], got["rank"]) == (sev["id"], name, "new description", 901)
    assert got["created_at"] == sev["created_at"]
    assert got["updated_at"] >= sev["updated_at"]
    assert expect_ok(api.get(BASE + "/" + sev["id"], key=org.viewer)) == {"severity": got}
    assert got in _list(api, org.viewer)


def test_update_without_rank_is_accepted(api, org):
    sev = _create(api, org)
    r = api.put(BASE + "/" + sev["id"], key=org.settings, json={"name": sev["name"], "description": "only text"})
    assert r.status == 200, r.describe()
    assert r.body["severity"]["description"] == "only text"


def test_update_may_change_the_case_of_its_own_name(api, org):
    sev = _create(api, org, name=_u("case me"))
    r = api.put(BASE + "/" + sev["id"], key=org.settings,
                json={"name": sev["name"].upper(), "description": sev["description"]})
    assert r.status == 200, r.describe()
    assert r.body["severity"]["name"] == sev["name"].upper()


def _update_cases():
    return [
        ("missing-name", {"description": "d"}, "is_required", "name"),
        ("missing-description", {"name": _u()}, "is_required", "description"),
        ("name-51", {"name": "m" * 51, "description": "d"}, None, "name"),
        ("name-number", {"name": 1, "description": "d"}, None, "name"),
        ("description-object", {"name": _u(), "description": {}}, None, "description"),
        ("rank-string", {"name": _u(), "description": "d", "rank": "2"}, None, "rank"),
        ("rank-float", {"name": _u(), "description": "d", "rank": 0.5}, None, "rank"),
        ("name-nul", {"name": "\u0000", "description": "d"}, "invalid_value", "name"),
        ("dup-seeded", {"name": "MAJOR", "description": "d"}, None, "name"),
    ]


@pytest.mark.parametrize("case", _update_cases(), ids=lambda c: c[0])
def test_update_validation_is_422(api, org, case):
    _, payload, code, field = case
    sev = _create(api, org)
    r = api.put(BASE + "/" + sev["id"], key=org.settings, json=payload)
    expect_error(r, 422, code, field)
    assert expect_ok(api.get(BASE + "/" + sev["id"], key=org.viewer)) == {"severity": sev}


@pytest.mark.parametrize("data", [b"{", b"", b"[]", b'"x"', b"null", b"7"], ids=repr)
def test_update_invalid_json_is_400(api, org, data):
    sev = _create(api, org)
    expect_error(api.put(BASE + "/" + sev["id"], key=org.settings, data=data), 400, "invalid_json")
    assert expect_ok(api.get(BASE + "/" + sev["id"], key=org.viewer)) == {"severity": sev}


@pytest.mark.parametrize("ident", JUNK_IDS)
def test_update_unknown_is_404(api, org, ident):
    r = api.put(BASE + "/" + ident, key=org.settings, json={"name": _u(), "description": "d"})
    expect_error(r, 404, "not_found")


# ---------------------------------------------------------------------------
# delete

def test_delete_is_202_without_body_and_hides_it(api, org):
    sev = _create(api, org)
    r = api.delete(BASE + "/" + sev["id"], key=org.settings)
    assert r.status == 202, r.describe()
    assert r.raw == b"", "DELETE /v1/severities/{id} -> 202 with no body, got %r" % r.raw[:200]
    expect_error(api.get(BASE + "/" + sev["id"], key=org.viewer), 404, "not_found")
    expect_error(api.put(BASE + "/" + sev["id"], key=org.settings,
                         json={"name": _u(), "description": "d"}), 404, "not_found")
    expect_error(api.delete(BASE + "/" + sev["id"], key=org.settings), 404, "not_found")
    assert sev["id"] not in [s["id"] for s in _list(api, org.viewer)]
    assert sev["id"] not in [row[0] for row in _live(org)]


@pytest.mark.parametrize("ident", JUNK_IDS)
def test_delete_unknown_is_404(api, org, ident):
    expect_error(api.delete(BASE + "/" + ident, key=org.settings), 404, "not_found")


# ---------------------------------------------------------------------------
# authentication and roles

def _ops(sid):
    body = {"name": _u(), "description": "d"}
    return [("GET", BASE, None), ("POST", BASE, body), ("GET", BASE + "/" + sid, None),
            ("PUT", BASE + "/" + sid, body), ("DELETE", BASE + "/" + sid, None)]


def test_no_key_is_401_on_every_operation(api, org):
    sev = _create(api, org)
    for method, path, body in _ops(sev["id"]):
        kw = {"json": body} if body is not None else {}
        expect_error(api.request(method, path, **kw), 401, "missing_authorization_material")
    assert expect_ok(api.get(BASE + "/" + sev["id"], key=org.viewer)) == {"severity": sev}


@pytest.mark.parametrize("who", ["viewer", "creator", "admin", "all-but-settings"])
def test_writes_without_manage_settings_are_403(api, org, who):
    key = {"viewer": org.viewer, "creator": org.creator, "admin": org.admin}.get(who) or org.key(
        "no-settings", "viewer", "incident_creator", "global_access", "catalog_editor")
    sev = _create(api, org)
    before = _live(org)
    expect_error(api.post(BASE, key=key, json={"name": _u(), "description": "d"}), 403, "missing_permissions")
    expect_error(api.put(BASE + "/" + sev["id"], key=key, json={"name": _u(), "description": "d"}),
                 403, "missing_permissions")
    expect_error(api.delete(BASE + "/" + sev["id"], key=key), 403, "missing_permissions")
    assert _live(org) == before
    assert expect_ok(api.get(BASE + "/" + sev["id"], key=org.viewer)) == {"severity": sev}


def test_reads_need_viewer(api, org):
    sev = _create(api, org)
    k = org.key("creator-only", "incident_creator")
    expect_error(api.get(BASE, key=k), 403, "missing_permissions")
    expect_error(api.get(BASE + "/" + sev["id"], key=k), 403, "missing_permissions")
    for key in (org.viewer, org.creator, org.admin):
        expect_ok(api.get(BASE, key=key))
        expect_ok(api.get(BASE + "/" + sev["id"], key=key))


def test_manage_settings_alone_can_write(api, org):
    k = org.key("settings-only", "manage_settings")
    sev = _create(api, org, key=k)
    r = api.put(BASE + "/" + sev["id"], key=k, json={"name": sev["name"], "description": "by settings-only"})
    assert r.status == 200, r.describe()
    assert api.delete(BASE + "/" + sev["id"], key=k).status == 202


# ---------------------------------------------------------------------------
# organisation isolation

def test_other_org_severity_is_404_and_never_listed(api, org, other_org):
    b = _create(api, other_org, name=_u("Only B"))
    path = BASE + "/" + b["id"]
    for key in (org.viewer, org.admin, org.settings):
        expect_error(api.get(path, key=key), 404, "not_found")
        assert b["id"] not in [s["id"] for s in _list(api, key)]
    expect_error(api.put(path, key=org.settings, json={"name": _u(), "description": "hijack"}), 404, "not_found")
    expect_error(api.delete(path, key=org.settings), 404, "not_found")
    assert expect_ok(api.get(path, key=other_org.viewer)) == {"severity": b}
    # A's list holds exactly A's live severities
    assert sorted(s["id"] for s in _list(api, org.viewer)) == sorted(r[0] for r in _live(org))


# ---------------------------------------------------------------------------
# routing

@pytest.mark.parametrize("method,path,allowed", [
    ("PATCH", BASE + "/" + UNKNOWN, {"GET", "PUT", "DELETE"}),
    ("POST", BASE + "/" + UNKNOWN, {"GET", "PUT", "DELETE"}),
    ("DELETE", BASE, {"GET", "POST"}),
    ("PUT", BASE, {"GET", "POST"}),
])
def test_wrong_method_is_405_with_allow(api, org, method, path, allowed):
    kw = {"json": {}} if method in ("PUT", "PATCH", "POST") else {}
    r = api.request(method, path, key=org.settings, **kw)
    expect_error(r, 405, "method_not_allowed")
    got = {m.strip().upper() for m in (r.header("Allow") or "").split(",") if m.strip()}
    assert allowed <= got, "Allow %r lacks %s" % (r.header("Allow"), allowed - got)
