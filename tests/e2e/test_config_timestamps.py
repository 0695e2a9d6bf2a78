"""Incident timestamps v2: GET /v2/incident_timestamps, GET
/v2/incident_timestamps/{id} (docs/CONFIG.md, "Incident timestamps").

Read only: every organisation has Reported at, Accepted at, Resolved at,
Closed at and Declined at, listed by rank. Reads need viewer; another
organisation's ids are 404. Every 2xx body is validated against the spec
by the Api client (helpers.Api.check).
"""

import pytest

from helpers import ULID_RE, expect_error, expect_ok

BASE = "/v2/incident_timestamps"
UNKNOWN = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
JUNK_IDS = ["not-a-ulid", UNKNOWN, "0" * 26, "%27%3B--", "x" * 300]
SEEDED = ["Reported at", "Accepted at", "Resolved at", "Closed at", "Declined at"]


def _list(api, key):
    body = expect_ok(api.get(BASE, key=key))
    assert set(body) == {"incident_timestamps"}
    return body["incident_timestamps"]


def _rows(org):
    return [(i, n, int(r)) for i, n, r in org.ctx.db.query(
        "select id, name, rank from incident_timestamps where organisation_id = :'o' order by rank, id", o=org.id)]


def test_new_organisation_has_the_lifecycle_timestamps(api, ctx):
    fresh = ctx.new_org("timestamps-fresh", seed=False)
    got = _list(api, fresh.viewer)
    for t in got:
        assert set(t) == {"id", "name", "rank"}, t
        assert ULID_RE.match(t["id"]), t
        assert isinstance(t["rank"], int) and not isinstance(t["rank"], bool)
    assert [t["name"] for t in got] == SEEDED
    assert [t["rank"] for t in got] == [1, 2, 3, 4, 5]
    assert [(t["id"], t["name"], t["rank"]) for t in got] == _rows(fresh)


def test_list_matches_db_ordered_by_rank(api, org):
    got = _list(api, org.viewer)
    assert [(t["id"], t["name"], t["rank"]) for t in got] == _rows(org)
    ranks = [t["rank"] for t in got]
    assert ranks == sorted(ranks)


def test_show_each_listed_timestamp(api, org):
    for t in _list(api, org.viewer):
        assert expect_ok(api.get(BASE + "/" + t["id"], key=org.viewer)) == {"incident_timestamp": t}


@pytest.mark.parametrize("ident", JUNK_IDS)
def test_show_unknown_is_404(api, org, ident):
    expect_error(api.get(BASE + "/" + ident, key=org.viewer), 404, "not_found")


def test_other_org_timestamp_is_404_and_never_listed(api, org, other_org):
    mine = {t["id"] for t in _list(api, org.viewer)}
    theirs = _list(api, other_org.viewer)
    assert [t["name"] for t in theirs] == SEEDED
    for t in theirs:
        assert t["id"] not in mine
        for key in (org.viewer, org.admin):
            expect_error(api.get(BASE + "/" + t["id"], key=key), 404, "not_found")
        assert expect_ok(api.get(BASE + "/" + t["id"], key=other_org.viewer)) == {"incident_timestamp": t}


def test_reads_need_viewer(api, org):
    t = _list(api, org.viewer)[0]
    k = org.key("creator-only", "incident_creator")
    for path in (BASE, BASE + "/" + t["id"]):
        expect_error(api.get(path, key=k), 403, "missing_permissions")
        expect_error(api.get(path), 401, "missing_authorization_material")
        expect_error(api.get(path, auth="Bearer inc_" + "0" * 64), 401, "access_token_invalid")
        for key in (org.viewer, org.creator, org.admin, org.key("settings-only", "manage_settings", "viewer")):
            expect_ok(api.get(path, key=key))


@pytest.mark.parametrize("method,path", [
    ("POST", BASE), ("PUT", BASE), ("DELETE", BASE),
    ("POST", BASE + "/" + UNKNOWN), ("PUT", BASE + "/" + UNKNOWN), ("DELETE", BASE + "/" + UNKNOWN),
])
def test_writes_are_405_with_allow_get(api, org, method, path):
    before = _rows(org)
    kw = {"json": {"name": "x", "rank": 1}} if method in ("PUT", "POST") else {}
    r = api.request(method, path, key=org.settings, **kw)
    expect_error(r, 405, "method_not_allowed")
    got = {m.strip().upper() for m in (r.header("Allow") or "").split(",") if m.strip()}
    assert got == {"GET"}, r.header("Allow")
    assert _rows(org) == before
