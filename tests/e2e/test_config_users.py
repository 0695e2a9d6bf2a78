"""Users v2: GET /v2/users (filters email, slack_user_id; page_size / after)
and GET /v2/users/{id}.

Users come from the directory (incidentctl user create), never from the
API. page_size: default 25, up to 10000 (more is served as 10000), < 1 or
not an integer is 422 on page_size; the order is stable across pages;
email matches exactly but case-insensitively, slack_user_id exactly.
"""

import copy
import uuid

import pytest

from helpers import ULID_RE, expect_error, expect_ok

BASE = "/v2/users"
UNKNOWN = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
N_USERS = 12


def _tag():
    return uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def people(org, ctl):
    """N_USERS users made by incidentctl (emails in mixed case), plus one
    with neither email nor Slack id. Returns {id: (name, email, slack)}."""
    made = {}
    for i in range(N_USERS):
        t = _tag()
        name, email, slack = "Person %02d %s" % (i, t), "Person.%02d.%s@Example.COM" % (i, t), "UP%02d%s" % (i, t.upper())
        made[ctl.user_create(org.id, name, email=email, slack_user_id=slack)] = (name, email, slack)
    name = "No Contact " + _tag()
    made[ctl.user_create(org.id, name)] = (name, None, None)
    return made


def _db_users(org):
    return {r[0]: (r[1], r[2] or None, r[3] or None, r[4]) for r in org.ctx.db.query(
        "select id, name, coalesce(email, ''), coalesce(slack_user_id, ''), role from users "
        "where organisation_id = :'o'", o=org.id)}


def _as_row(u):
    return (u["name"], u.get("email") or None, u.get("slack_user_id") or None, u["role"])


def _check_shape(u):
    assert ULID_RE.match(u["id"]), u
    assert u["is_active"] is True, "directory users are active (the list hides inactive ones by default): %r" % u
    assert isinstance(u["custom_roles"], list)


def _validate_big_page(spec, body):
    """UsersListResultV2 declares pagination_meta.page_size <= 250 while the
    operation accepts page_size up to 10000 (the contract's decision): the
    body is validated with that one number clamped."""
    b = copy.deepcopy(body)
    if isinstance(b.get("pagination_meta", {}).get("page_size"), int):
        b["pagination_meta"]["page_size"] = min(b["pagination_meta"]["page_size"], 250)
    spec.validate(b, "UsersListResultV2", what="GET /v2/users body (page_size clamped)")
    spec.validate(b, "UsersListResultV2", strict=True, what="GET /v2/users body (page_size clamped)")


def _get_list(api, spec, key, **params):
    big = int(params.get("page_size", 0) or 0) > 250 if str(params.get("page_size", "")).isdigit() else False
    r = api.get(BASE, key=key, params=params or None, validate=not big)
    body = expect_ok(r)
    if big:
        _validate_big_page(spec, body)
    assert set(body) == {"users", "pagination_meta"}
    return body


def _walk(api, spec, key, page_size, max_pages=500):
    got, pages, after = [], [], None
    for _ in range(max_pages):
        params = {"page_size": page_size}
        if after:
            params["after"] = after
        body = _get_list(api, spec, key, **params)
        pages.append(body)
        users, meta = body["users"], body["pagination_meta"]
        assert meta["page_size"] == min(page_size, 10000)
        assert len(users) <= page_size
        got.extend(users)
        if "after" not in meta:
            return got, pages
        assert len(users) == page_size, "a short page announces another page: %r" % meta
        assert meta["after"] == users[-1]["id"], "pagination_meta.after must be the last user of the page"
        after = meta["after"]
    raise AssertionError("more than %d pages" % max_pages)


# ---------------------------------------------------------------------------
# list

def test_list_matches_db(api, spec, org, people):
    body = _get_list(api, spec, org.viewer, page_size=250)
    users = body["users"]
    for u in users:
        _check_shape(u)
    assert {u["id"]: _as_row(u) for u in users} == _db_users(org)
    assert len(users) == len({u["id"] for u in users})
    assert "after" not in body["pagination_meta"]
    by_id = {u["id"]: u for u in users}
    for uid, (name, email, slack) in people.items():
        assert (by_id[uid]["name"], by_id[uid].get("email") or None, by_id[uid].get("slack_user_id") or None) == (
            name, email, slack)
    assert by_id[org.user["Lisa"]["id"]]["email"] == "lisa@example.com"


def test_default_page_size_is_25(api, spec, org, people):
    body = _get_list(api, spec, org.viewer)
    assert body["pagination_meta"]["page_size"] == 25
    total = len(_db_users(org))
    assert len(body["users"]) == min(25, total)
    assert ("after" in body["pagination_meta"]) == (total > 25)


@pytest.mark.parametrize("page_size", [1, 5, 7, N_USERS + 3, 10000])
def test_walk_returns_every_user_once_in_a_stable_order(api, spec, org, people, page_size):
    total = len(_db_users(org))
    assert total == N_USERS + 3  # + seed-demo's Lisa and Bob
    got, pages = _walk(api, spec, org.viewer, page_size)
    ids = [u["id"] for u in got]
    assert len(ids) == len(set(ids)), "a user returned twice"
    assert set(ids) == set(_db_users(org))
    full = [u["id"] for u in _get_list(api, spec, org.viewer, page_size=250)["users"]]
    assert ids == full, "page walk order differs from the one-page order"
    assert len(pages) == max(1, -(-total // page_size))
    again, _ = _walk(api, spec, org.viewer, page_size)
    assert [u["id"] for u in again] == ids


@pytest.mark.parametrize("size,served", [(251, 251), (10000, 10000), (10001, 10000), (10 ** 8, 10000)])
def test_page_size_up_to_10000(api, spec, org, people, size, served):
    body = _get_list(api, spec, org.viewer, page_size=size)
    assert body["pagination_meta"]["page_size"] == served
    assert len(body["users"]) == len(_db_users(org))
    assert "after" not in body["pagination_meta"]


@pytest.mark.parametrize("value", ["0", "-1", "abc", "1.5", "10abc", "0x10", "1e3"])
def test_bad_page_size_is_422(api, org, value):
    expect_error(api.get(BASE, key=org.viewer, params={"page_size": value}), 422, field="page_size")


@pytest.mark.parametrize("value", ["nope", UNKNOWN, "%"])
def test_bad_after_is_422(api, org, people, value):
    expect_error(api.get(BASE, key=org.viewer, params={"after": value}), 422, field="after")


# ---------------------------------------------------------------------------
# filters

def test_filter_by_email(api, spec, org, people):
    uid, (name, email, slack) = next(iter(people.items()))
    for variant in (email, email.lower(), email.upper()):
        body = _get_list(api, spec, org.viewer, email=variant)
        assert [u["id"] for u in body["users"]] == [uid], variant
        assert "after" not in body["pagination_meta"]
    for miss in (email[:-1], email + "x", " " + email, email.split("@")[0], "nobody@example.com"):
        assert _get_list(api, spec, org.viewer, email=miss)["users"] == [], miss


def test_filter_by_slack_user_id(api, spec, org, people):
    uid, (name, email, slack) = next(iter(people.items()))
    body = _get_list(api, spec, org.viewer, slack_user_id=slack)
    assert [u["id"] for u in body["users"]] == [uid]
    for miss in (slack.lower(), slack[:-1], slack + "0", "U404"):
        assert _get_list(api, spec, org.viewer, slack_user_id=miss)["users"] == [], miss


def test_filters_combine(api, spec, org, people):
    items = [x for x in people.items() if x[1][1]]
    (u1, (_, e1, s1)), (u2, (_, e2, s2)) = items[0], items[1]
    assert [u["id"] for u in _get_list(api, spec, org.viewer, email=e1, slack_user_id=s1)["users"]] == [u1]
    assert _get_list(api, spec, org.viewer, email=e1, slack_user_id=s2)["users"] == []
    body = _get_list(api, spec, org.viewer, email=e2, page_size=1)
    assert [u["id"] for u in body["users"]] == [u2]
    assert "after" not in body["pagination_meta"]


def test_filters_stay_inside_the_organisation(api, spec, org, other_org, ctl):
    # seed-demo gives both organisations lisa@example.com / U001
    got = _get_list(api, spec, org.viewer, email="lisa@example.com")["users"]
    assert [u["id"] for u in got] == [org.user["Lisa"]["id"]]
    got = _get_list(api, spec, org.viewer, slack_user_id="U001")["users"]
    assert [u["id"] for u in got] == [org.user["Lisa"]["id"]]
    t = _tag()
    ctl.user_create(other_org.id, "Only B " + t, email="onlyb-%s@example.com" % t, slack_user_id="UB" + t)
    assert _get_list(api, spec, org.viewer, email="onlyb-%s@example.com" % t)["users"] == []
    assert _get_list(api, spec, org.viewer, slack_user_id="UB" + t)["users"] == []
    assert len(_get_list(api, spec, other_org.viewer, email="onlyb-%s@example.com" % t)["users"]) == 1


# ---------------------------------------------------------------------------
# show

def test_show_each_listed_user(api, spec, org, people):
    for u in _get_list(api, spec, org.viewer, page_size=250)["users"]:
        assert expect_ok(api.get(BASE + "/" + u["id"], key=org.viewer)) == {"user": u}


def test_user_without_contact_details(api, org, people):
    uid = [i for i, v in people.items() if v[1] is None][0]
    u = expect_ok(api.get(BASE + "/" + uid, key=org.viewer))["user"]
    assert not u.get("email") and not u.get("slack_user_id")
    assert u["name"] == people[uid][0]


def test_show_renders_the_same_user_as_incidents(api, org, people):
    uid = next(iter(people))
    lead = org.role_by_type["lead"]
    inc = org.create_incident(incident_role_assignments=[{"incident_role_id": lead, "assignee": {"id": uid}}])
    assignee = [a["assignee"] for a in inc["incident_role_assignments"] if a.get("assignee")][0]
    u = expect_ok(api.get(BASE + "/" + uid, key=org.viewer))["user"]
    for k in ("id", "name", "email", "slack_user_id", "role"):
        assert u.get(k) == assignee.get(k), k


@pytest.mark.parametrize("ident", ["not-a-ulid", UNKNOWN, "0" * 26, "%27%3B--", "x" * 300])
def test_show_unknown_is_404(api, org, ident):
    expect_error(api.get(BASE + "/" + ident, key=org.viewer), 404, "not_found")


# ---------------------------------------------------------------------------
# authentication, roles, isolation

def test_no_key_is_401(api, org, people):
    expect_error(api.get(BASE), 401, "missing_authorization_material")
    expect_error(api.get(BASE + "/" + next(iter(people))), 401, "missing_authorization_material")


def test_reads_need_viewer(api, org, people):
    k = org.key("creator-only", "incident_creator")
    expect_error(api.get(BASE, key=k), 403, "missing_permissions")
    expect_error(api.get(BASE + "/" + next(iter(people)), key=k), 403, "missing_permissions")
    for key in (org.viewer, org.creator, org.admin, org.settings):
        expect_ok(api.get(BASE, key=key))


def test_other_org_users_are_404_and_never_listed(api, spec, org, other_org, people):
    b_ids = [u["id"] for u in other_org.user.values()]
    assert b_ids
    for uid in b_ids:
        for key in (org.viewer, org.admin):
            expect_error(api.get(BASE + "/" + uid, key=key), 404, "not_found")
        expect_error(api.get(BASE, key=org.viewer, params={"after": uid}), 422, field="after")
    got, _ = _walk(api, spec, org.admin, 4)
    assert not {u["id"] for u in got} & set(b_ids)
    assert {u["id"] for u in got} == set(_db_users(org))
    expect_ok(api.get(BASE + "/" + b_ids[0], key=other_org.viewer))


@pytest.mark.parametrize("method,path,allowed", [
    ("POST", BASE, {"GET"}),
    ("PUT", BASE + "/" + UNKNOWN, {"GET"}),
    ("DELETE", BASE + "/" + UNKNOWN, {"GET"}),
])
def test_users_are_read_only_405(api, org, method, path, allowed):
    kw = {"json": {"name": "x", "email": "x@example.com"}} if method in ("PUT", "POST") else {}
    before = _db_users(org)
    r = api.request(method, path, key=org.settings, **kw)
    expect_error(r, 405, "method_not_allowed")
    got = {m.strip().upper() for m in (r.header("Allow") or "").split(",") if m.strip()}
    assert allowed <= got and method not in got, r.header("Allow")
    assert _db_users(org) == before
