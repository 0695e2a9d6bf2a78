"""Custom field options v1: GET/POST /v1/custom_field_options, GET/PUT/DELETE
/v1/custom_field_options/{id}.

The list needs custom_field_id (422 on custom_field_id without it) and is
paginated: page_size default 25, max 250 (more is served as 250), < 1 or
not an integer is 422 on page_size; `after` is an option id (422 on after
otherwise); pagination_meta.after only when another page exists; options
come ordered by sort_key. Values may not start or end with whitespace nor
contain tabs or newlines, and are unique within a field
(case-insensitive); sort_key defaults to 1000.
"""

import uuid

import pytest

from helpers import ULID_RE, expect_error, expect_ok

BASE = "/v1/custom_field_options"
FIELDS = "/v2/custom_fields"
UNKNOWN = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
JUNK_IDS = ["not-a-ulid", UNKNOWN, "0" * 26, "%27%3B--", "x" * 300]
N_PAGED = 30


def _u(prefix="Opt"):
    return "%s %s" % (prefix, uuid.uuid4().hex[:8])


def _new_field(api, org, field_type="single_select"):
    r = api.post(FIELDS, key=org.settings,
                 json={"name": _u("Field"), "description": "for options", "field_type": field_type})
    assert r.status == 201, r.describe()
    return r.body["custom_field"]["id"]


def _create(api, org, field_id, key=None, **over):
    body = {"custom_field_id": field_id, "value": _u()}
    body.update(over)
    r = api.post(BASE, key=key or org.settings, json=body)
    assert r.status == 201, r.describe()
    return r.body["custom_field_option"]


def _live(org, field_id=None):
    sql = ("select id, custom_field_id, value, sort_key from custom_field_options "
           "where organisation_id = :'o' and archived_at is null")
    params = {"o": org.id}
    if field_id:
        sql += " and custom_field_id = :'f'"
        params["f"] = field_id
    return {r[0]: (r[1], r[2], int(r[3])) for r in org.ctx.db.query(sql, **params)}


def _as_row(o):
    return (o["custom_field_id"], o["value"], o["sort_key"])


def _check_shape(o):
    assert set(o) == {"id", "custom_field_id", "value", "sort_key"}, o
    assert ULID_RE.match(o["id"]), o
    assert isinstance(o["sort_key"], int) and not isinstance(o["sort_key"], bool)


def _page(api, key, field_id, **params):
    p = {"custom_field_id": field_id}
    p.update(params)
    body = expect_ok(api.get(BASE, key=key, params=p))
    assert set(body) == {"custom_field_options", "pagination_meta"}
    return body


def _walk(api, key, field_id, page_size, max_pages=200):
    """Every page; checks the pagination contract on each. Returns (options, pages)."""
    got, pages, after = [], [], None
    for _ in range(max_pages):
        params = {"page_size": page_size}
        if after:
            params["after"] = after
        body = _page(api, key, field_id, **params)
        pages.append(body)
        opts = body["custom_field_options"]
        meta = body["pagination_meta"]
        assert meta["page_size"] == min(page_size, 250)
        assert len(opts) <= min(page_size, 250)
        got.extend(opts)
        if "after" not in meta:
            return got, pages
        assert len(opts) == min(page_size, 250), "a short page announces another page: %r" % meta
        assert meta["after"] == opts[-1]["id"], "pagination_meta.after must be the last option of the page"
        after = meta["after"]
    raise AssertionError("more than %d pages" % max_pages)


@pytest.fixture(scope="module")
def paged(api, org):
    """A field with N_PAGED options; sort keys with ties and out of creation order."""
    fid = _new_field(api, org)
    made = []
    for i in range(N_PAGED):
        made.append(_create(api, org, fid, value="Paged %02d" % i, sort_key=((i * 7) % 5) * 10))
    return fid, made


# ---------------------------------------------------------------------------
# list

def test_seeded_options_in_sort_key_order(api, org):
    body = _page(api, org.viewer, org.field["Affected Team"])
    opts = body["custom_field_options"]
    for o in opts:
        _check_shape(o)
    assert [(o["value"], o["sort_key"]) for o in opts] == [("Product", 10), ("Platform", 20), ("Payments", 30)]
    assert all(o["custom_field_id"] == org.field["Affected Team"] for o in opts)
    assert [o["id"] for o in opts] == [org.option["Affected Team"][v] for v in ("Product", "Platform", "Payments")]
    assert body["pagination_meta"] == {"page_size": 25}


def test_field_without_options_lists_nothing(api, org):
    body = _page(api, org.viewer, org.field["Notes"])
    assert body["custom_field_options"] == []
    assert "after" not in body["pagination_meta"]


def test_list_matches_db_and_is_ordered(api, org, paged):
    fid, made = paged
    body = _page(api, org.viewer, fid, page_size=250)
    opts = body["custom_field_options"]
    assert {o["id"]: _as_row(o) for o in opts} == _live(org, fid)
    assert len(opts) == N_PAGED
    keys = [o["sort_key"] for o in opts]
    assert keys == sorted(keys), "options must come ordered by sort_key: %r" % keys
    assert "after" not in body["pagination_meta"]


def test_default_page_size_is_25(api, org, paged):
    fid, _ = paged
    body = _page(api, org.viewer, fid)
    assert len(body["custom_field_options"]) == 25
    assert body["pagination_meta"]["page_size"] == 25
    assert body["pagination_meta"]["after"] == body["custom_field_options"][-1]["id"]


@pytest.mark.parametrize("page_size", [1, 7, 10, 29, 30, 31, 250])
def test_walk_returns_every_option_once_in_order(api, org, paged, page_size):
    fid, made = paged
    got, pages = _walk(api, org.viewer, fid, page_size)
    ids = [o["id"] for o in got]
    assert len(ids) == len(set(ids)), "an option returned twice"
    assert set(ids) == {o["id"] for o in made}
    keys = [o["sort_key"] for o in got]
    assert keys == sorted(keys)
    # one full listing gives the same order as the walk
    assert ids == [o["id"] for o in _page(api, org.viewer, fid, page_size=250)["custom_field_options"]]
    want_pages = max(1, -(-N_PAGED // page_size))
    assert len(pages) == want_pages, "%d pages for page_size %d, want %d (after only when another page exists)" % (
        len(pages), page_size, want_pages)


def test_page_size_over_250_is_served_as_250(api, org, paged):
    fid, _ = paged
    for size in (251, 1000, 10 ** 9):
        body = _page(api, org.viewer, fid, page_size=size)
        assert body["pagination_meta"]["page_size"] == 250
        assert len(body["custom_field_options"]) == N_PAGED


@pytest.mark.parametrize("value", ["0", "-1", "abc", "1.5", "25x", "1e2", "0x10"])
def test_bad_page_size_is_422(api, org, paged, value):
    fid, _ = paged
    r = api.get(BASE, key=org.viewer, params={"custom_field_id": fid, "page_size": value})
    expect_error(r, 422, field="page_size")


@pytest.mark.parametrize("value", ["nope", UNKNOWN, "", "%"])
def test_bad_after_is_422(api, org, paged, value):
    fid, _ = paged
    r = api.get(BASE, key=org.viewer, params={"custom_field_id": fid, "after": value})
    if value == "" and r.status == 200:
        return  # an empty after may be read as no cursor
    expect_error(r, 422, field="after")


def test_after_from_another_organisation_is_422(api, org, other_org, paged):
    fid, _ = paged
    b_opt = other_org.option["Affected Team"]["Product"]
    r = api.get(BASE, key=org.viewer, params={"custom_field_id": fid, "after": b_opt})
    expect_error(r, 422, field="after")


def test_deleted_option_as_after_is_422(api, org):
    # A deleted option is not an option of the field any more.
    fid = _new_field(api, org)
    opts = [_create(api, org, fid, value="D%d" % i, sort_key=i) for i in range(3)]
    assert api.delete(BASE + "/" + opts[0]["id"], key=org.settings).status == 204
    r = api.get(BASE, key=org.viewer, params={"custom_field_id": fid, "after": opts[0]["id"]})
    expect_error(r, 422, field="after")


def test_missing_custom_field_id_is_422(api, org):
    expect_error(api.get(BASE, key=org.viewer), 422, field="custom_field_id")
    expect_error(api.get(BASE, key=org.viewer, params={"page_size": 5}), 422, field="custom_field_id")


@pytest.mark.parametrize("value", [UNKNOWN, "not-a-ulid", ""])
def test_unknown_custom_field_id_in_list(api, org, value):
    r = api.get(BASE, key=org.viewer, params={"custom_field_id": value})
    assert r.status in (404, 422), r.describe()
    if r.status == 422:
        expect_error(r, 422, field="custom_field_id")


# ---------------------------------------------------------------------------
# show

def test_show_each_listed_option(api, org, paged):
    fid, _ = paged
    for o in _page(api, org.viewer, fid, page_size=250)["custom_field_options"]:
        assert expect_ok(api.get(BASE + "/" + o["id"], key=org.viewer)) == {"custom_field_option": o}


@pytest.mark.parametrize("ident", JUNK_IDS)
def test_show_unknown_is_404(api, org, ident):
    expect_error(api.get(BASE + "/" + ident, key=org.viewer), 404, "not_found")


# ---------------------------------------------------------------------------
# create

def test_create_is_201_with_default_sort_key(api, db, org):
    fid = _new_field(api, org, "multi_select")
    r = api.post(BASE, key=org.settings, json={"custom_field_id": fid, "value": "Caf\u00e9 \u2014 one"})
    assert r.status == 201, r.describe()
    assert set(r.body) == {"custom_field_option"}
    o = r.body["custom_field_option"]
    _check_shape(o)
    assert _as_row(o) == (fid, "Caf\u00e9 \u2014 one", 1000)
    assert expect_ok(api.get(BASE + "/" + o["id"], key=org.viewer)) == {"custom_field_option": o}
    assert _page(api, org.viewer, fid)["custom_field_options"] == [o]
    assert db.query("select organisation_id, custom_field_id, value, sort_key from custom_field_options "
                    "where id = :'i'", i=o["id"]) == [(org.id, fid, "Caf\u00e9 \u2014 one", "1000")]


def test_explicit_sort_keys_order_the_list(api, org):
    fid = _new_field(api, org)
    c = _create(api, org, fid, value="C", sort_key=30)
    a = _create(api, org, fid, value="A", sort_key=-10)
    d = _create(api, org, fid, value="D")  # 1000
    b = _create(api, org, fid, value="B", sort_key=0)
    got = _page(api, org.viewer, fid)["custom_field_options"]
    assert [o["id"] for o in got] == [a["id"], b["id"], c["id"], d["id"]]
    assert [o["sort_key"] for o in got] == [-10, 0, 30, 1000]


def test_created_option_appears_in_incidents(api, org):
    fid = _new_field(api, org)
    o = _create(api, org, fid, value="Usable", sort_key=5)
    inc = org.create_incident(custom_field_entries=[
        {"custom_field_id": fid, "values": [{"value_option_id": o["id"]}]}])
    entry = [e for e in inc["custom_field_entries"] if e["custom_field"]["id"] == fid]
    assert entry and entry[0]["values"] == [{"value_option": o}]
    assert o in entry[0]["custom_field"]["options"]


def test_same_value_in_another_field_is_fine(api, org):
    f1, f2 = _new_field(api, org), _new_field(api, org)
    _create(api, org, f1, value="Shared value")
    assert _create(api, org, f2, value="Shared value")["value"] == "Shared value"


def test_inner_spaces_and_unicode_are_fine(api, org):
    fid = _new_field(api, org)
    for v in ("two  spaces inside", "\u00dcn\u00efc\u00f8de \u2603", "a", "x" * 200):
        assert _create(api, org, fid, value=v)["value"] == v


BAD_VALUES = [" leading", "trailing ", "  both  ", "\tlead-tab", "tab\tinside", "trail-tab\t",
              "new\nline", "\nlead-newline", "trail-newline\n", "cr\r\nlf", " "]


@pytest.mark.parametrize("value", BAD_VALUES, ids=repr)
def test_bad_value_is_422(api, org, value):
    fid = _new_field(api, org)
    r = api.post(BASE, key=org.settings, json={"custom_field_id": fid, "value": value})
    expect_error(r, 422, field="value")
    assert _live(org, fid) == {}


@pytest.mark.parametrize("variant", ["exact", "upper", "lower"])
def test_duplicate_value_in_a_field_is_422(api, org, variant):
    fid = _new_field(api, org)
    o = _create(api, org, fid, value="Mixed Case")
    value = {"exact": "Mixed Case", "upper": "MIXED CASE", "lower": "mixed case"}[variant]
    r = api.post(BASE, key=org.settings, json={"custom_field_id": fid, "value": value})
    expect_error(r, 422, field="value")
    assert list(_live(org, fid)) == [o["id"]]


def test_deleted_value_can_be_reused(api, org):
    fid = _new_field(api, org)
    o = _create(api, org, fid, value="Again")
    assert api.delete(BASE + "/" + o["id"], key=org.settings).status == 204
    assert _create(api, org, fid, value="Again")["id"] != o["id"]


def _create_cases(fid):
    return [
        ("missing-custom_field_id", {"value": "v"}, "is_required", "custom_field_id"),
        ("missing-value", {"custom_field_id": fid}, "is_required", "value"),
        ("value-number", {"custom_field_id": fid, "value": 3}, None, "value"),
        ("value-null", {"custom_field_id": fid, "value": None}, None, "value"),
        ("custom_field_id-number", {"custom_field_id": 1, "value": "v"}, None, "custom_field_id"),
        ("custom_field_id-unknown", {"custom_field_id": UNKNOWN, "value": "v"}, None, "custom_field_id"),
        ("custom_field_id-junk", {"custom_field_id": "nope", "value": "v"}, None, "custom_field_id"),
        ("sort_key-string", {"custom_field_id": fid, "value": "v", "sort_key": "10"}, None, "sort_key"),
        ("sort_key-float", {"custom_field_id": fid, "value": "v", "sort_key": 1.25}, None, "sort_key"),
        ("sort_key-bool", {"custom_field_id": fid, "value": "v", "sort_key": False}, None, "sort_key"),
        ("sort_key-huge", {"custom_field_id": fid, "value": "v", "sort_key": 2 ** 64}, None, "sort_key"),
        ("value-nul", {"custom_field_id": fid, "value": "a\u0000b"}, "invalid_value", "value"),
    ]


@pytest.mark.parametrize("case", [c[0] for c in _create_cases("F")])
def test_create_validation_is_422(api, org, case):
    fid = _new_field(api, org)
    _, payload, code, field = [c for c in _create_cases(fid) if c[0] == case][0]
    before = _live(org)
    expect_error(api.post(BASE, key=org.settings, json=payload), 422, code, field)
    assert _live(org) == before


@pytest.mark.parametrize("data", [b"{", b"", b"[]", b'"opt"', b"0", b"null", b'{"value": "x"'], ids=repr)
def test_create_invalid_json_is_400(api, org, data):
    before = _live(org)
    expect_error(api.post(BASE, key=org.settings, data=data), 400, "invalid_json")
    assert _live(org) == before


# ---------------------------------------------------------------------------
# update

def test_update_returns_the_object(api, org):
    fid = _new_field(api, org)
    o = _create(api, org, fid, value="Before", sort_key=5)
    r = api.put(BASE + "/" + o["id"], key=org.settings, json={"value": "After", "sort_key": 7})
    assert r.status == 200, r.describe()
    assert set(r.body) == {"custom_field_option"}
    got = r.body["custom_field_option"]
    _check_shape(got)
    assert (got["id"], got["custom_field_id"], got["value"], got["sort_key"]) == (o["id"], fid, "After", 7)
    assert expect_ok(api.get(BASE + "/" + o["id"], key=org.viewer)) == {"custom_field_option": got}


def test_update_cannot_move_an_option_to_another_field(api, org):
    f1, f2 = _new_field(api, org), _new_field(api, org)
    o = _create(api, org, f1)
    r = api.put(BASE + "/" + o["id"], key=org.settings, json={"value": o["value"], "sort_key": 1,
                                                               "custom_field_id": f2})
    assert r.status in (200, 422), r.describe()
    got = expect_ok(api.get(BASE + "/" + o["id"], key=org.viewer))["custom_field_option"]
    assert got["custom_field_id"] == f1


def test_update_may_change_the_case_of_its_own_value(api, org):
    fid = _new_field(api, org)
    o = _create(api, org, fid, value="lower case")
    r = api.put(BASE + "/" + o["id"], key=org.settings, json={"value": "Lower Case", "sort_key": o["sort_key"]})
    assert r.status == 200, r.describe()
    assert r.body["custom_field_option"]["value"] == "Lower Case"


def test_update_to_a_sibling_value_is_422(api, org):
    fid = _new_field(api, org)
    a = _create(api, org, fid, value="Alpha")
    b = _create(api, org, fid, value="Beta")
    r = api.put(BASE + "/" + b["id"], key=org.settings, json={"value": "ALPHA", "sort_key": 1})
    expect_error(r, 422, field="value")
    assert expect_ok(api.get(BASE + "/" + b["id"], key=org.viewer))["custom_field_option"] == b
    assert a["id"] in _live(org, fid)


def _update_cases():
    return [
        ("missing-value", {"sort_key": 1}, "is_required", "value"),
        ("missing-sort_key", {"value": "v"}, "is_required", "sort_key"),
        ("value-leading-space", {"value": " v", "sort_key": 1}, None, "value"),
        ("value-tab", {"value": "a\tb", "sort_key": 1}, None, "value"),
        ("value-newline", {"value": "a\nb", "sort_key": 1}, None, "value"),
        ("value-number", {"value": 9, "sort_key": 1}, None, "value"),
        ("sort_key-string", {"value": "v", "sort_key": "1"}, None, "sort_key"),
        ("sort_key-float", {"value": "v", "sort_key": 2.5}, None, "sort_key"),
        ("value-nul", {"value": "\u0000", "sort_key": 1}, "invalid_value", "value"),
    ]


@pytest.mark.parametrize("case", _update_cases(), ids=lambda c: c[0])
def test_update_validation_is_422(api, org, case):
    _, payload, code, field = case
    fid = _new_field(api, org)
    o = _create(api, org, fid)
    expect_error(api.put(BASE + "/" + o["id"], key=org.settings, json=payload), 422, code, field)
    assert expect_ok(api.get(BASE + "/" + o["id"], key=org.viewer))["custom_field_option"] == o


@pytest.mark.parametrize("data", [b"{", b"[]", b'"x"', b"null"], ids=repr)
def test_update_invalid_json_is_400(api, org, data):
    o = _create(api, org, _new_field(api, org))
    expect_error(api.put(BASE + "/" + o["id"], key=org.settings, data=data), 400, "invalid_json")


@pytest.mark.parametrize("ident", JUNK_IDS)
def test_update_unknown_is_404(api, org, ident):
    expect_error(api.put(BASE + "/" + ident, key=org.settings, json={"value": "v", "sort_key": 1}),
                 404, "not_found")


# ---------------------------------------------------------------------------
# delete

def test_delete_is_204_and_hides_it(api, org):
    fid = _new_field(api, org)
    keep = _create(api, org, fid, value="Keep", sort_key=1)
    o = _create(api, org, fid, value="Drop", sort_key=2)
    r = api.delete(BASE + "/" + o["id"], key=org.settings)
    assert r.status == 204, r.describe()
    assert r.raw == b""
    expect_error(api.get(BASE + "/" + o["id"], key=org.viewer), 404, "not_found")
    expect_error(api.put(BASE + "/" + o["id"], key=org.settings, json={"value": "x", "sort_key": 1}),
                 404, "not_found")
    expect_error(api.delete(BASE + "/" + o["id"], key=org.settings), 404, "not_found")
    assert _page(api, org.viewer, fid)["custom_field_options"] == [keep]


@pytest.mark.parametrize("ident", JUNK_IDS)
def test_delete_unknown_is_404(api, org, ident):
    expect_error(api.delete(BASE + "/" + ident, key=org.settings), 404, "not_found")


# ---------------------------------------------------------------------------
# authentication, roles, isolation

def test_no_key_is_401_on_every_operation(api, org):
    fid = _new_field(api, org)
    o = _create(api, org, fid)
    for method, path, kw in [
            ("GET", BASE + "?custom_field_id=" + fid, {}),
            ("POST", BASE, {"json": {"custom_field_id": fid, "value": _u()}}),
            ("GET", BASE + "/" + o["id"], {}),
            ("PUT", BASE + "/" + o["id"], {"json": {"value": "x", "sort_key": 1}}),
            ("DELETE", BASE + "/" + o["id"], {})]:
        expect_error(api.request(method, path, **kw), 401, "missing_authorization_material")
    assert _live(org, fid) == {o["id"]: _as_row(o)}


@pytest.mark.parametrize("who", ["viewer", "creator", "admin"])
def test_writes_without_manage_settings_are_403(api, org, who):
    key = {"viewer": org.viewer, "creator": org.creator, "admin": org.admin}[who]
    fid = _new_field(api, org)
    o = _create(api, org, fid)
    before = _live(org)
    expect_error(api.post(BASE, key=key, json={"custom_field_id": fid, "value": _u()}), 403, "missing_permissions")
    expect_error(api.put(BASE + "/" + o["id"], key=key, json={"value": "x", "sort_key": 1}), 403,
                 "missing_permissions")
    expect_error(api.delete(BASE + "/" + o["id"], key=key), 403, "missing_permissions")
    assert _live(org) == before


def test_reads_need_viewer(api, org):
    k = org.key("creator-only", "incident_creator")
    fid = org.field["Affected Team"]
    expect_error(api.get(BASE, key=k, params={"custom_field_id": fid}), 403, "missing_permissions")
    expect_error(api.get(BASE + "/" + org.option["Affected Team"]["Product"], key=k), 403, "missing_permissions")
    for key in (org.viewer, org.creator, org.admin):
        expect_ok(api.get(BASE, key=key, params={"custom_field_id": fid}))


def test_manage_settings_alone_can_write(api, org):
    k = org.key("settings-only", "manage_settings")
    fid = _new_field(api, org)
    o = _create(api, org, fid, key=k)
    assert api.put(BASE + "/" + o["id"], key=k, json={"value": "Changed", "sort_key": 3}).status == 200
    assert api.delete(BASE + "/" + o["id"], key=k).status == 204


def test_other_org_options_are_404_and_never_listed(api, org, other_org):
    b_field = other_org.field["Affected Team"]
    b_opts = other_org.option["Affected Team"]
    for oid in b_opts.values():
        path = BASE + "/" + oid
        for key in (org.viewer, org.admin, org.settings):
            expect_error(api.get(path, key=key), 404, "not_found")
        expect_error(api.put(path, key=org.settings, json={"value": "Hijack", "sort_key": 1}), 404, "not_found")
        expect_error(api.delete(path, key=org.settings), 404, "not_found")
    # B's field in A's list: 422 on custom_field_id (or 404), never B's options
    r = api.get(BASE, key=org.admin, params={"custom_field_id": b_field})
    assert r.status in (404, 422), r.describe()
    if r.status == 422:
        expect_error(r, 422, field="custom_field_id")
    assert not any(oid in r.raw.decode("utf-8", "replace") for oid in b_opts.values())
    # B's field in A's create body: 422, nothing written anywhere
    before_b = _live(other_org)
    r = api.post(BASE, key=org.settings, json={"custom_field_id": b_field, "value": "Sneaky"})
    expect_error(r, 422, field="custom_field_id")
    assert _live(other_org) == before_b
    # B still sees its own
    got = _page(api, other_org.viewer, b_field)["custom_field_options"]
    assert {o["id"] for o in got} == set(b_opts.values())
    # A's own field never lists B's options either
    a_ids = {o["id"] for o in _page(api, org.viewer, org.field["Affected Team"])["custom_field_options"]}
    assert not a_ids & set(b_opts.values())


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
