"""Incident statuses v1: GET/POST /v1/incident_statuses, GET/PUT/DELETE
/v1/incident_statuses/{id} (docs/CONFIG.md, "Incident statuses").

Every organisation starts with Triage, Investigating, Fixing, Monitoring,
Closed, Declined, in that order. Created statuses are live, learning or
closed and are ranked after the statuses of their own and earlier
categories, before the later ones. Names are unique among the live statuses
(ignoring case), 1-50 characters. Updates change name and description only;
the triage and declined statuses cannot be modified or deleted; the last
live and the last closed status cannot be deleted; a status an incident is
in cannot be deleted. Delete is 202 without a body and archives. Reads need
viewer, writes manage_settings. Every 2xx body is validated against the
spec by the Api client (helpers.Api.check).
"""

import threading
import uuid

import pytest

from helpers import TS_RE, ULID_RE, expect_error, expect_ok

BASE = "/v1/incident_statuses"
UNKNOWN = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
JUNK_IDS = ["not-a-ulid", UNKNOWN, "0" * 26, "%27%3B--", "x" * 300]
# The order of the categories in the list (docs/CONFIG.md).
CATEGORY_ORDER = {"triage": 1, "live": 2, "paused": 2, "learning": 3, "closed": 4,
                  "declined": 5, "merged": 5, "canceled": 5}
SEEDED = [("Triage", "triage"), ("Investigating", "live"), ("Fixing", "live"),
          ("Monitoring", "live"), ("Closed", "closed"), ("Declined", "declined")]


def _u(prefix="Status"):
    return "%s %s" % (prefix, uuid.uuid4().hex[:8])


def _create(api, org, key=None, **payload):
    body = {"name": _u(), "description": "made by the e2e suite", "category": "live"}
    body.update(payload)
    r = api.post(BASE, key=key or org.settings, json=body)
    assert r.status == 201, r.describe()
    assert set(r.body) == {"incident_status"}
    return r.body["incident_status"]


def _live(org):
    """The organisation's live statuses from the database, by rank."""
    return [(i, n, d, int(rk), c) for i, n, d, rk, c in org.ctx.db.query(
        "select id, name, description, rank, category from incident_statuses "
        "where organisation_id = :'o' and archived_at is null order by rank, id", o=org.id)]


def _check_shape(st):
    assert set(st) == {"id", "name", "description", "rank", "category", "created_at", "updated_at"}, st
    assert ULID_RE.match(st["id"]), st
    assert TS_RE.match(st["created_at"]) and TS_RE.match(st["updated_at"]), st
    assert st["updated_at"] >= st["created_at"]
    assert isinstance(st["rank"], int) and not isinstance(st["rank"], bool)
    assert st["category"] in CATEGORY_ORDER


def _list(api, key):
    body = expect_ok(api.get(BASE, key=key))
    assert set(body) == {"incident_statuses"}
    return body["incident_statuses"]


def _check_order(statuses):
    """By rank (strictly: no two live statuses share one), and so by
    category."""
    ranks = [s["rank"] for s in statuses]
    assert ranks == sorted(ranks) and len(set(ranks)) == len(ranks), ranks
    cats = [CATEGORY_ORDER[s["category"]] for s in statuses]
    assert cats == sorted(cats), [(s["name"], s["category"], s["rank"]) for s in statuses]


def _by_name(statuses):
    return {s["name"]: s for s in statuses}


def _delete(api, org, sid, key=None):
    return api.delete(BASE + "/" + sid, key=key or org.settings)


@pytest.fixture
def fresh(ctx):
    """An organisation of its own (no demo configuration): its statuses are
    exactly the seeded ones."""
    return ctx.new_org("statuses-fresh", seed=False)


# ---------------------------------------------------------------------------
# the seeded set, list and show

def test_new_organisation_has_the_seeded_statuses(api, fresh):
    got = _list(api, fresh.viewer)
    for s in got:
        _check_shape(s)
    assert [(s["name"], s["category"]) for s in got] == SEEDED
    _check_order(got)
    assert all(s["description"] for s in got)
    rows = _live(fresh)
    assert [(s["id"], s["name"], s["description"], s["rank"], s["category"]) for s in got] == rows
    seeded_as = dict(fresh.ctx.db.query(
        "select name, seeded_as from incident_statuses where organisation_id = :'o'", o=fresh.id))
    assert seeded_as == {n: n.lower() for n, _ in SEEDED}


def test_list_matches_db_ordered_by_rank(api, org):
    _create(api, org, category="learning")
    got = _list(api, org.viewer)
    for s in got:
        _check_shape(s)
    _check_order(got)
    assert [(s["id"], s["name"], s["description"], s["rank"], s["category"]) for s in got] == _live(org)


def test_show_each_listed_status(api, org):
    for s in _list(api, org.viewer):
        body = expect_ok(api.get(BASE + "/" + s["id"], key=org.viewer))
        assert body == {"incident_status": s}


@pytest.mark.parametrize("ident", JUNK_IDS)
def test_show_unknown_is_404(api, org, ident):
    expect_error(api.get(BASE + "/" + ident, key=org.viewer), 404, "not_found")


# ---------------------------------------------------------------------------
# create

def test_create_is_201_and_shows_and_lists(api, db, org):
    name = _u("Mitigated")
    r = api.post(BASE, key=org.settings,
                 json={"name": name, "description": "Hello \u2014 w\u00f6rld", "category": "learning"})
    assert r.status == 201, r.describe()
    assert set(r.body) == {"incident_status"}
    st = r.body["incident_status"]
    _check_shape(st)
    assert (st["name"], st["description"], st["category"]) == (name, "Hello \u2014 w\u00f6rld", "learning")
    assert expect_ok(api.get(BASE + "/" + st["id"], key=org.viewer)) == {"incident_status": st}
    assert st in _list(api, org.viewer)
    assert db.query("select organisation_id, name, category, coalesce(seeded_as, '-') from incident_statuses "
                    "where id = :'i'", i=st["id"]) == [(org.id, name, "learning", "-")]


def test_empty_description_is_accepted(api, org):
    st = _create(api, org, description="")
    assert st["description"] == ""


def test_rank_places_each_category(api, fresh):
    """live after Monitoring, learning between the live and closed ones,
    closed after Closed and before Declined; each after its category's
    earlier statuses."""
    live1 = _create(api, fresh, name="Live one", category="live")
    learning1 = _create(api, fresh, name="Learning one", category="learning")
    closed1 = _create(api, fresh, name="Closed one", category="closed")
    live2 = _create(api, fresh, name="Live two", category="live")
    learning2 = _create(api, fresh, name="Learning two", category="learning")
    closed2 = _create(api, fresh, name="Closed two", category="closed")
    got = _list(api, fresh.viewer)
    _check_order(got)
    assert [s["name"] for s in got] == [
        "Triage", "Investigating", "Fixing", "Monitoring", "Live one", "Live two",
        "Learning one", "Learning two", "Closed", "Closed one", "Closed two", "Declined"]
    mine = _by_name(got)
    for st in (live1, learning1, closed1, live2, learning2, closed2):
        assert mine[st["name"]]["id"] == st["id"]


def test_ranks_stay_in_category_order_past_the_seeded_gaps(api, fresh):
    """More statuses than the gaps between the seeded ranks hold: the later
    categories move up, and the list keeps its order."""
    made = []
    for i in range(12):
        made.append(_create(api, fresh, name="Live %02d" % i, category="live"))
        made.append(_create(api, fresh, name="Closed %02d" % i, category="closed"))
        made.append(_create(api, fresh, name="Learning %02d" % i, category="learning"))
    got = _list(api, fresh.viewer)
    _check_order(got)
    names = [s["name"] for s in got]
    assert names == (["Triage", "Investigating", "Fixing", "Monitoring"]
                     + ["Live %02d" % i for i in range(12)]
                     + ["Learning %02d" % i for i in range(12)]
                     + ["Closed"] + ["Closed %02d" % i for i in range(12)] + ["Declined"])
    # what show says is what the list says (moved statuses included)
    for s in got:
        assert expect_ok(api.get(BASE + "/" + s["id"], key=fresh.viewer)) == {"incident_status": s}


def test_concurrent_creates_get_distinct_ordered_ranks(api, fresh):
    results = []
    lock = threading.Lock()

    def make(i, category):
        r = api.post(BASE, key=fresh.settings,
                     json={"name": "Par %s %02d" % (category, i), "description": "", "category": category})
        with lock:
            results.append(r)

    threads = [threading.Thread(target=make, args=(i, c))
               for i in range(6) for c in ("live", "learning", "closed")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert [r.status for r in results] == [201] * 18, [r.describe() for r in results if r.status != 201]
    _check_order(_list(api, fresh.viewer))


def test_unknown_fields_are_ignored(api, org):
    st = _create(api, org, extra_field={"x": 1}, id=UNKNOWN, created_at="2000-01-01T00:00:00Z", rank=-7,
                 seeded_as="fixing")
    assert st["id"] != UNKNOWN
    assert not st["created_at"].startswith("2000")
    assert st["rank"] != -7
    assert org.ctx.db.scalar("select coalesce(seeded_as, '-') from incident_statuses where id = :'i'",
                             i=st["id"]) == "-"


def test_name_of_exactly_50_characters_is_accepted(api, org):
    name = "\u00e9" * 40 + " " + uuid.uuid4().hex[:9]
    assert len(name) == 50
    assert _create(api, org, name=name)["name"] == name


def test_names_are_unique_per_organisation_only(api, org, other_org):
    name = _u("Shared")
    _create(api, org, name=name)
    assert _create(api, other_org, name=name)["name"] == name


def _create_cases():
    return [
        ("missing-name", {"description": "d", "category": "live"}, "is_required", "name"),
        ("missing-description", {"name": _u(), "category": "live"}, "is_required", "description"),
        ("missing-category", {"name": _u(), "description": "d"}, "is_required", "category"),
        ("empty-object", {}, "is_required", None),
        ("name-empty", {"name": "", "description": "d", "category": "live"}, None, "name"),
        ("name-blank", {"name": "   ", "description": "d", "category": "live"}, None, "name"),
        ("name-51", {"name": "n" * 51, "description": "d", "category": "live"}, None, "name"),
        ("name-51-multibyte", {"name": "\u00e9" * 51, "description": "d", "category": "live"}, None, "name"),
        ("name-number", {"name": 5, "description": "d", "category": "live"}, None, "name"),
        ("name-null", {"name": None, "description": "d", "category": "live"}, None, "name"),
        ("name-object", {"name": {"x": 1}, "description": "d", "category": "live"}, None, "name"),
        ("name-nul", {"name": "a\u0000b", "description": "d", "category": "live"}, "invalid_value", "name"),
        ("description-array", {"name": _u(), "description": [], "category": "live"}, None, "description"),
        ("description-bool", {"name": _u(), "description": True, "category": "live"}, None, "description"),
        ("description-nul", {"name": _u(), "description": "x\u0000", "category": "live"},
         "invalid_value", "description"),
        ("description-10001", {"name": _u(), "description": "d" * 10001, "category": "live"}, None,
         "description"),
        ("category-triage", {"name": _u(), "description": "d", "category": "triage"}, "invalid_value",
         "category"),
        ("category-declined", {"name": _u(), "description": "d", "category": "declined"}, "invalid_value",
         "category"),
        ("category-paused", {"name": _u(), "description": "d", "category": "paused"}, "invalid_value",
         "category"),
        ("category-merged", {"name": _u(), "description": "d", "category": "merged"}, "invalid_value",
         "category"),
        ("category-canceled", {"name": _u(), "description": "d", "category": "canceled"}, "invalid_value",
         "category"),
        ("category-upper", {"name": _u(), "description": "d", "category": "LIVE"}, "invalid_value",
         "category"),
        ("category-empty", {"name": _u(), "description": "d", "category": ""}, None, "category"),
        ("category-number", {"name": _u(), "description": "d", "category": 2}, None, "category"),
        ("category-nul", {"name": _u(), "description": "d", "category": "live\u0000"}, None, "category"),
    ]


@pytest.mark.parametrize("case", _create_cases(), ids=lambda c: c[0])
def test_create_validation_is_422(api, org, case):
    _, payload, code, field = case
    before = _live(org)
    expect_error(api.post(BASE, key=org.settings, json=payload), 422, code, field)
    assert _live(org) == before


@pytest.mark.parametrize("variant", ["exact", "upper", "lower"])
def test_duplicate_live_name_is_422(api, org, variant):
    existing = _create(api, org, name=_u("Dup Name"))
    name = {"exact": existing["name"], "upper": existing["name"].upper(),
            "lower": existing["name"].lower()}[variant]
    before = _live(org)
    r = api.post(BASE, key=org.settings, json={"name": name, "description": "again", "category": "closed"})
    expect_error(r, 422, "invalid_value", "name")
    assert _live(org) == before
    # a seeded name, in another case
    expect_error(api.post(BASE, key=org.settings, json={"name": "fIxInG", "description": "x", "category": "live"}),
                 422, "invalid_value", "name")


def test_concurrent_creates_of_one_name_make_one(api, fresh):
    name = _u("Race")
    results = []
    lock = threading.Lock()

    def make(variant):
        r = api.post(BASE, key=fresh.settings, json={"name": variant, "description": "", "category": "live"})
        with lock:
            results.append(r)

    threads = [threading.Thread(target=make, args=(v,)) for v in (name, name.upper(), name.lower(), name) * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(r.status for r in results) == [201] + [422] * 7, [r.describe() for r in results]
    for r in results:
        if r.status == 422:
            expect_error(r, 422, "invalid_value", "name")
    assert fresh.ctx.db.count("select count(*) from incident_statuses where organisation_id = :'o' "
                              "and lower(name) = lower(:'n')", o=fresh.id, n=name) == 1


def test_deleted_name_can_be_reused(api, org):
    st = _create(api, org, name=_u("Reuse"))
    assert _delete(api, org, st["id"]).status == 202
    again = _create(api, org, name=st["name"])
    assert again["id"] != st["id"]


@pytest.mark.parametrize("data", [b"{", b"", b"not json", b"[]", b'"a string"', b"5", b"null",
                                  b'{"name": "x", "description": "y", "category": "live",}', b"\xff\xfe"],
                         ids=lambda d: repr(d[:20]))
def test_create_invalid_json_is_400(api, org, data):
    before = _live(org)
    expect_error(api.post(BASE, key=org.settings, data=data), 400, "invalid_json")
    assert _live(org) == before


# ---------------------------------------------------------------------------
# update

def test_update_returns_the_object(api, org):
    st = _create(api, org, category="closed")
    name = _u("Renamed")
    r = api.put(BASE + "/" + st["id"], key=org.settings, json={"name": name, "description": "new description"})
    assert r.status == 200, r.describe()
    assert set(r.body) == {"incident_status"}
    got = r.body["incident_status"]
    _check_shape(got)
    assert (got["id"], got["name"], got["description"], got["rank"], got["category"]) == (
        st["id"], name, "new description", st["rank"], "closed")
    assert got["created_at"] == st["created_at"]
    assert got["updated_at"] >= st["updated_at"]
    assert expect_ok(api.get(BASE + "/" + st["id"], key=org.viewer)) == {"incident_status": got}
    assert got in _list(api, org.viewer)


def test_rename_shows_at_once_and_bumps_the_configuration_version(api, db, org):
    """Every worker answers the new name right after the rename (the
    configuration version of the organisation moves with the write)."""
    st = _create(api, org)
    for _ in range(8):
        assert expect_ok(api.get(BASE + "/" + st["id"], key=org.viewer)) == {"incident_status": st}
    version = int(db.scalar("select coalesce((select version from config_versions "
                            "where organisation_id = :'o'), 0)", o=org.id))
    name = _u("Renamed at once")
    r = api.put(BASE + "/" + st["id"], key=org.settings, json={"name": name, "description": "changed"})
    assert r.status == 200, r.describe()
    assert int(db.scalar("select version from config_versions where organisation_id = :'o'", o=org.id)) > version
    for _ in range(8):
        got = expect_ok(api.get(BASE + "/" + st["id"], key=org.viewer))["incident_status"]
        assert (got["name"], got["description"]) == (name, "changed")
        assert got == r.body["incident_status"]
    assert r.body["incident_status"] in _list(api, org.viewer)


def test_update_ignores_category_and_rank(api, org):
    st = _create(api, org, category="learning")
    r = api.put(BASE + "/" + st["id"], key=org.settings,
                json={"name": st["name"], "description": "d", "category": "closed", "rank": 1})
    assert r.status == 200, r.describe()
    got = r.body["incident_status"]
    assert (got["category"], got["rank"]) == ("learning", st["rank"])


def test_seeded_live_and_closed_statuses_can_be_renamed(api, fresh):
    by = _by_name(_list(api, fresh.viewer))
    for old, new in (("Fixing", "Mitigating"), ("Closed", "Done")):
        st = by[old]
        r = api.put(BASE + "/" + st["id"], key=fresh.settings, json={"name": new, "description": "renamed"})
        assert r.status == 200, r.describe()
        assert (r.body["incident_status"]["name"], r.body["incident_status"]["category"]) == (new, st["category"])
    # still the seeded statuses: Incidents V1 keeps calling them fixing and closed
    assert dict(fresh.ctx.db.query("select name, seeded_as from incident_statuses where organisation_id = :'o' "
                                   "and name in ('Mitigating', 'Done')", o=fresh.id)) == {
        "Mitigating": "fixing", "Done": "closed"}


@pytest.mark.parametrize("name", ["Triage", "Declined"])
def test_triage_and_declined_cannot_be_modified(api, org, name):
    st = _by_name(_list(api, org.viewer))[name]
    r = api.put(BASE + "/" + st["id"], key=org.settings, json={"name": _u(), "description": "d"})
    expect_error(r, 422, "invalid_value", "id")
    assert expect_ok(api.get(BASE + "/" + st["id"], key=org.viewer)) == {"incident_status": st}


def test_update_may_change_the_case_of_its_own_name(api, org):
    st = _create(api, org, name=_u("case me"))
    r = api.put(BASE + "/" + st["id"], key=org.settings, json={"name": st["name"].upper(), "description": "d"})
    assert r.status == 200, r.describe()
    assert r.body["incident_status"]["name"] == st["name"].upper()


def _update_cases():
    return [
        ("missing-name", {"description": "d"}, "is_required", "name"),
        ("missing-description", {"name": _u()}, "is_required", "description"),
        ("name-blank", {"name": " \t ", "description": "d"}, None, "name"),
        ("name-51", {"name": "m" * 51, "description": "d"}, None, "name"),
        ("name-number", {"name": 1, "description": "d"}, None, "name"),
        ("description-object", {"name": _u(), "description": {}}, None, "description"),
        ("name-nul", {"name": "\u0000", "description": "d"}, "invalid_value", "name"),
        ("description-nul", {"name": _u(), "description": "\u0000"}, "invalid_value", "description"),
        ("dup-seeded", {"name": "MONITORING", "description": "d"}, "invalid_value", "name"),
    ]


@pytest.mark.parametrize("case", _update_cases(), ids=lambda c: c[0])
def test_update_validation_is_422(api, org, case):
    _, payload, code, field = case
    st = _create(api, org)
    expect_error(api.put(BASE + "/" + st["id"], key=org.settings, json=payload), 422, code, field)
    assert expect_ok(api.get(BASE + "/" + st["id"], key=org.viewer)) == {"incident_status": st}


def test_update_to_another_created_name_is_422(api, org):
    a = _create(api, org)
    b = _create(api, org)
    r = api.put(BASE + "/" + b["id"], key=org.settings, json={"name": a["name"].lower(), "description": "d"})
    expect_error(r, 422, "invalid_value", "name")
    assert expect_ok(api.get(BASE + "/" + b["id"], key=org.viewer)) == {"incident_status": b}


@pytest.mark.parametrize("data", [b"{", b"", b"[]", b'"x"', b"null", b"7"], ids=repr)
def test_update_invalid_json_is_400(api, org, data):
    st = _create(api, org)
    expect_error(api.put(BASE + "/" + st["id"], key=org.settings, data=data), 400, "invalid_json")
    assert expect_ok(api.get(BASE + "/" + st["id"], key=org.viewer)) == {"incident_status": st}


@pytest.mark.parametrize("ident", JUNK_IDS)
def test_update_unknown_is_404(api, org, ident):
    expect_error(api.put(BASE + "/" + ident, key=org.settings, json={"name": _u(), "description": "d"}),
                 404, "not_found")


# ---------------------------------------------------------------------------
# delete

def test_delete_is_202_without_body_and_hides_it(api, org):
    st = _create(api, org, category="learning")
    r = _delete(api, org, st["id"])
    assert r.status == 202, r.describe()
    assert r.raw == b"", "DELETE /v1/incident_statuses/{id} -> 202 with no body, got %r" % r.raw[:200]
    expect_error(api.get(BASE + "/" + st["id"], key=org.viewer), 404, "not_found")
    expect_error(api.put(BASE + "/" + st["id"], key=org.settings, json={"name": _u(), "description": "d"}),
                 404, "not_found")
    expect_error(_delete(api, org, st["id"]), 404, "not_found")
    assert st["id"] not in [s["id"] for s in _list(api, org.viewer)]
    assert st["id"] not in [row[0] for row in _live(org)]
    # archived, not removed; updated_at untouched
    assert org.ctx.db.query("select archived_at is not null, updated_at = created_at from incident_statuses "
                            "where id = :'i'", i=st["id"]) == [("t", "t")]


@pytest.mark.parametrize("ident", JUNK_IDS)
def test_delete_unknown_is_404(api, org, ident):
    expect_error(_delete(api, org, ident), 404, "not_found")


@pytest.mark.parametrize("name", ["Triage", "Declined"])
def test_triage_and_declined_cannot_be_deleted(api, org, name):
    st = _by_name(_list(api, org.viewer))[name]
    expect_error(_delete(api, org, st["id"]), 422, "invalid_value", "id")
    assert expect_ok(api.get(BASE + "/" + st["id"], key=org.viewer)) == {"incident_status": st}


def test_unused_seeded_live_and_closed_statuses_can_be_deleted(api, fresh):
    by = _by_name(_list(api, fresh.viewer))
    other_closed = _create(api, fresh, category="closed")
    for name in ("Fixing", "Closed"):
        r = _delete(api, fresh, by[name]["id"])
        assert r.status == 202, r.describe()
    names = [s["name"] for s in _list(api, fresh.viewer)]
    assert names == ["Triage", "Investigating", "Monitoring", other_closed["name"], "Declined"]


def test_the_last_live_status_cannot_be_deleted(api, fresh):
    by = _by_name(_list(api, fresh.viewer))
    assert _delete(api, fresh, by["Fixing"]["id"]).status == 202
    assert _delete(api, fresh, by["Investigating"]["id"]).status == 202
    e = expect_error(_delete(api, fresh, by["Monitoring"]["id"]), 422, "invalid_value", "id")
    assert "last live" in e["message"]
    # a new live status lets the old last one go, and is then the last
    made = _create(api, fresh, category="live")
    assert _delete(api, fresh, by["Monitoring"]["id"]).status == 202
    expect_error(_delete(api, fresh, made["id"]), 422, "invalid_value", "id")
    assert [s["category"] for s in _list(api, fresh.viewer)] == ["triage", "live", "closed", "declined"]


def test_the_last_closed_status_cannot_be_deleted(api, fresh):
    closed = _by_name(_list(api, fresh.viewer))["Closed"]
    e = expect_error(_delete(api, fresh, closed["id"]), 422, "invalid_value", "id")
    assert "last closed" in e["message"]
    made = _create(api, fresh, category="closed")
    assert _delete(api, fresh, closed["id"]).status == 202
    expect_error(_delete(api, fresh, made["id"]), 422, "invalid_value", "id")
    assert expect_ok(api.get(BASE + "/" + made["id"], key=fresh.viewer))["incident_status"]["category"] == "closed"


def test_the_last_learning_status_can_be_deleted(api, fresh):
    made = _create(api, fresh, category="learning")
    assert _delete(api, fresh, made["id"]).status == 202
    assert "learning" not in [s["category"] for s in _list(api, fresh.viewer)]


def test_concurrent_deletes_keep_one_live_status(api, fresh):
    by = _by_name(_list(api, fresh.viewer))
    assert _delete(api, fresh, by["Fixing"]["id"]).status == 202
    ids = [by["Investigating"]["id"], by["Monitoring"]["id"]] * 3
    results = []
    lock = threading.Lock()

    def go(sid):
        r = _delete(api, fresh, sid)
        with lock:
            results.append(r)

    threads = [threading.Thread(target=go, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(r.status for r in results).count(202) == 1, [r.describe() for r in results]
    assert all(r.status in (202, 404, 422) for r in results), [r.describe() for r in results]
    assert [s["category"] for s in _list(api, fresh.viewer)].count("live") == 1


def test_a_status_an_incident_is_in_cannot_be_deleted(api, db, org):
    by = _by_name(_list(api, org.viewer))
    inc = org.create_incident(status="fixing", severity_id=org.severity["Major"])
    assert db.scalar("select incident_status_id from incidents where id = :'i'", i=inc["id"]) == by["Fixing"]["id"]
    e = expect_error(_delete(api, org, by["Fixing"]["id"]), 422, "invalid_value", "id")
    assert "in use" in e["message"]
    assert expect_ok(api.get(BASE + "/" + by["Fixing"]["id"], key=org.viewer)) == {"incident_status": by["Fixing"]}


def test_a_seeded_status_an_old_incident_is_in_cannot_be_deleted(api, db, org):
    """Incidents from before statuses have no incident_status_id: their v1
    status names the seeded status they are in."""
    by = _by_name(_list(api, org.viewer))
    inc = org.create_incident(status="monitoring", severity_id=org.severity["Major"])
    db.query("update incidents set incident_status_id = null where id = :'i'", i=inc["id"])
    expect_error(_delete(api, org, by["Monitoring"]["id"]), 422, "invalid_value", "id")
    assert by["Monitoring"] in _list(api, org.viewer)


def test_a_created_status_an_incident_is_in_cannot_be_deleted(api, db, org):
    st = _create(api, org, category="live")
    inc = org.create_incident(status="investigating", severity_id=org.severity["Major"])
    # (no endpoint here moves an incident into a created status)
    db.query("update incidents set incident_status_id = :'s' where id = :'i'", s=st["id"], i=inc["id"])
    expect_error(_delete(api, org, st["id"]), 422, "invalid_value", "id")
    assert expect_ok(api.get(BASE + "/" + st["id"], key=org.viewer)) == {"incident_status": st}
    # a status no incident is in, made the same way, goes
    unused = _create(api, org, category="live")
    assert _delete(api, org, unused["id"]).status == 202


# ---------------------------------------------------------------------------
# authentication and roles

def _ops(sid):
    body = {"name": _u(), "description": "d", "category": "live"}
    return [("GET", BASE, None), ("POST", BASE, body), ("GET", BASE + "/" + sid, None),
            ("PUT", BASE + "/" + sid, body), ("DELETE", BASE + "/" + sid, None)]


def test_no_key_is_401_on_every_operation(api, org):
    st = _create(api, org)
    for method, path, body in _ops(st["id"]):
        kw = {"json": body} if body is not None else {}
        expect_error(api.request(method, path, **kw), 401, "missing_authorization_material")
        expect_error(api.request(method, path, auth="Bearer inc_" + "0" * 64, **kw), 401, "access_token_invalid")
    assert expect_ok(api.get(BASE + "/" + st["id"], key=org.viewer)) == {"incident_status": st}


@pytest.mark.parametrize("who", ["viewer", "creator", "admin", "all-but-settings"])
def test_writes_without_manage_settings_are_403(api, org, who):
    key = {"viewer": org.viewer, "creator": org.creator, "admin": org.admin}.get(who) or org.key(
        "no-settings", "viewer", "incident_creator", "global_access", "catalog_editor")
    st = _create(api, org)
    before = _live(org)
    expect_error(api.post(BASE, key=key, json={"name": _u(), "description": "d", "category": "live"}),
                 403, "missing_permissions")
    expect_error(api.put(BASE + "/" + st["id"], key=key, json={"name": _u(), "description": "d"}),
                 403, "missing_permissions")
    expect_error(_delete(api, org, st["id"], key=key), 403, "missing_permissions")
    assert _live(org) == before
    assert expect_ok(api.get(BASE + "/" + st["id"], key=org.viewer)) == {"incident_status": st}


def test_reads_need_viewer(api, org):
    st = _create(api, org)
    k = org.key("creator-only", "incident_creator")
    expect_error(api.get(BASE, key=k), 403, "missing_permissions")
    expect_error(api.get(BASE + "/" + st["id"], key=k), 403, "missing_permissions")
    for key in (org.viewer, org.creator, org.admin):
        expect_ok(api.get(BASE, key=key))
        expect_ok(api.get(BASE + "/" + st["id"], key=key))


def test_manage_settings_alone_can_write(api, org):
    k = org.key("settings-only", "manage_settings")
    st = _create(api, org, key=k)
    r = api.put(BASE + "/" + st["id"], key=k, json={"name": st["name"], "description": "by settings-only"})
    assert r.status == 200, r.describe()
    assert _delete(api, org, st["id"], key=k).status == 202


# ---------------------------------------------------------------------------
# organisation isolation

def test_other_org_status_is_404_and_never_listed(api, org, other_org):
    b = _create(api, other_org, name=_u("Only B"))
    seeded_b = _by_name(_list(api, other_org.viewer))["Investigating"]
    for sid in (b["id"], seeded_b["id"]):
        path = BASE + "/" + sid
        for key in (org.viewer, org.admin, org.settings):
            expect_error(api.get(path, key=key), 404, "not_found")
            assert sid not in [s["id"] for s in _list(api, key)]
        expect_error(api.put(path, key=org.settings, json={"name": _u(), "description": "hijack"}),
                     404, "not_found")
        expect_error(_delete(api, org, sid), 404, "not_found")
    assert expect_ok(api.get(BASE + "/" + b["id"], key=other_org.viewer)) == {"incident_status": b}
    assert expect_ok(api.get(BASE + "/" + seeded_b["id"], key=other_org.viewer)) == {"incident_status": seeded_b}
    assert [s["id"] for s in _list(api, org.viewer)] == [r[0] for r in _live(org)]


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
