"""GET /v1/incidents and GET /v1/incidents/{id}: order, paging, filters,
totals, cursors, and a page walk during concurrent creates."""

import threading
import time

import pytest

from helpers import expect_error, expect_ok, new_idem

# 40 incidents: statuses cycle, every 5th private (seen only with global_access).
N = 40
CYCLE = ["triage", "investigating", "fixing", "monitoring", "closed", "declined", "triage", "fixing"]


@pytest.fixture(scope="module")
def populated(org, ctl):
    t = ctl.incident_type_create(org.id, "List Optional", create_in_triage="optional")
    made = []
    for i in range(N):
        status = CYCLE[i % len(CYCLE)]
        vis = "private" if i % 5 == 4 else "public"
        made.append(org.create_incident(key=org.admin, name="List %02d" % i, status=status, visibility=vis,
                                        severity_id=org.severity["Minor"], incident_type_id=t))
    return made


def _db_ids(org, visibility=None, statuses=None):
    sql = "select id from incidents where organisation_id = :'o'"
    params = {"o": org.id}
    if visibility:
        sql += " and visibility = :'v'"
        params["v"] = visibility
    if statuses:
        sql += " and status = any (string_to_array(:'s', ','))"
        params["s"] = ",".join(statuses)
    sql += " order by created_at desc, id desc"
    return [r[0] for r in org.ctx.db.query(sql, **params)]


def _walk(api, key, page_size, params=None, hook=None, max_pages=500):
    """All pages; returns (ids, pages). Checks the after/page_size contract
    on every page."""
    ids, pages, after = [], [], None
    for _ in range(max_pages):
        p = dict(params or {})
        p["page_size"] = page_size
        if after:
            p["after"] = after
        body = expect_ok(api.get("/v1/incidents", key=key, params=p))
        pages.append(body)
        got = [i["id"] for i in body["incidents"]]
        meta = body["pagination_meta"]
        assert meta["page_size"] == min(page_size, 250)
        assert len(got) <= page_size
        ids.extend(got)
        if hook:
            hook()
        if "after" not in meta:
            return ids, pages
        assert got, "empty page that announces another page"
        assert meta["after"] == got[-1], "pagination_meta.after must be the last id of the page"
        after = meta["after"]
    raise AssertionError("more than %d pages" % max_pages)


def test_newest_first_and_matches_db(api, org, populated):
    body = expect_ok(api.get("/v1/incidents", key=org.admin, params={"page_size": 250}))
    ids = [i["id"] for i in body["incidents"]]
    assert ids == _db_ids(org)
    created = [i["created_at"] for i in body["incidents"]]
    assert created == sorted(created, reverse=True)
    # creation order is reverse list order
    mine = [i["id"] for i in populated]
    assert [x for x in ids if x in set(mine)] == mine[::-1]
    assert "after" not in body["pagination_meta"]


def test_default_page_size_is_25(api, org, populated):
    body = expect_ok(api.get("/v1/incidents", key=org.admin))
    assert body["pagination_meta"]["page_size"] == 25
    assert len(body["incidents"]) == 25
    assert body["pagination_meta"]["after"] == body["incidents"][-1]["id"]
    assert body["pagination_meta"]["total_record_count"] == org.incident_count()


@pytest.mark.parametrize("size", ["251", "1000", "100000000"])
def test_page_size_over_250_is_served_as_250(api, org, populated, size):
    body = expect_ok(api.get("/v1/incidents", key=org.admin, params={"page_size": size}))
    assert body["pagination_meta"]["page_size"] == 250
    assert len(body["incidents"]) == min(250, org.incident_count())


@pytest.mark.parametrize("size", ["0", "-1", "abc", "1.5", "10abc", "0x10"])
def test_bad_page_size_is_422(api, org, populated, size):
    r = api.get("/v1/incidents", key=org.admin, params={"page_size": size})
    expect_error(r, 422, field="page_size")


def test_page_size_one_and_exact_fit(api, org, populated):
    body = expect_ok(api.get("/v1/incidents", key=org.admin, params={"page_size": 1}))
    assert len(body["incidents"]) == 1
    assert body["pagination_meta"]["after"] == body["incidents"][0]["id"]
    total = org.incident_count()
    body = expect_ok(api.get("/v1/incidents", key=org.admin, params={"page_size": total}))
    assert len(body["incidents"]) == total
    assert "after" not in body["pagination_meta"], "after present although no further page exists"


@pytest.mark.parametrize("page_size", [7, 10, 25])
def test_walk_pages_sees_everything_once(api, org, populated, page_size):
    ids, pages = _walk(api, org.admin, page_size)
    assert ids == _db_ids(org)
    assert all(p["pagination_meta"]["total_record_count"] == len(ids) for p in pages)
    assert all(len(p["incidents"]) == page_size for p in pages[:-1])


def test_walk_as_viewer_excludes_private(api, org, populated):
    ids, pages = _walk(api, org.viewer, 7)
    assert ids == _db_ids(org, visibility="public")
    assert all(p["pagination_meta"]["total_record_count"] == len(ids) for p in pages)
    private = {i["id"] for i in populated if i["visibility"] == "private"}
    assert private and not private & set(ids)


@pytest.mark.parametrize("statuses", [["triage"], ["triage", "fixing"], ["closed", "declined", "monitoring"],
                                      ["investigating"]])
def test_status_filter(api, org, populated, statuses):
    for key, vis in ((org.admin, None), (org.viewer, "public")):
        body = expect_ok(api.get("/v1/incidents", key=key, params={"status": statuses, "page_size": 250}))
        got = body["incidents"]
        assert all(i["status"] in statuses for i in got)
        assert [i["id"] for i in got] == _db_ids(org, visibility=vis, statuses=statuses)
        assert body["pagination_meta"]["total_record_count"] == org.incident_count(visibility=vis, statuses=statuses)
        # paging with a filter keeps the filter and the total
        ids, pages = _walk(api, key, 3, params={"status": statuses})
        assert ids == [i["id"] for i in got]
        assert {p["pagination_meta"]["total_record_count"] for p in pages} == {len(ids)}


def test_status_filter_with_no_match(api, ctx):
    o = ctx.new_org("list-empty")
    body = expect_ok(api.get("/v1/incidents", key=o.viewer))
    assert body["incidents"] == []
    assert body["pagination_meta"]["total_record_count"] == 0
    assert "after" not in body["pagination_meta"]
    o.create_incident()
    body = expect_ok(api.get("/v1/incidents", key=o.viewer, params={"status": "closed"}))
    assert body["incidents"] == [] and body["pagination_meta"]["total_record_count"] == 0


@pytest.mark.parametrize("statuses", [["bogus"], ["triage", "bogus"], ["TRIAGE"]])
def test_unknown_status_is_422(api, org, populated, statuses):
    r = api.get("/v1/incidents", key=org.admin, params={"status": statuses})
    expect_error(r, 422, field="status")


def test_total_is_exact_for_each_key(api, org, populated):
    for key, vis in ((org.admin, None), (org.viewer, "public"), (org.creator, "public")):
        body = expect_ok(api.get("/v1/incidents", key=key, params={"page_size": 5}))
        assert body["pagination_meta"]["total_record_count"] == org.incident_count(visibility=vis)


@pytest.mark.parametrize("after", ["01ARZ3NDEKTSV4RRFFQ69G5FAV", "garbage", "x" * 300, "'; select 1; --"])
def test_bad_after_is_422(api, org, populated, after):
    r = api.get("/v1/incidents", key=org.admin, params={"after": after})
    expect_error(r, 422, field="after")


def test_after_of_private_incident_is_422_for_viewer(api, org, populated):
    priv = next(i for i in populated if i["visibility"] == "private")
    expect_error(api.get("/v1/incidents", key=org.viewer, params={"after": priv["id"]}), 422, field="after")
    expect_ok(api.get("/v1/incidents", key=org.admin, params={"after": priv["id"]}))


def test_after_of_filtered_out_incident(api, org, populated):
    """A cursor that is a visible incident but outside the status filter
    still positions the page (the cursor is the previous page's last id)."""
    ids = _db_ids(org)
    cursor = ids[10]
    row_status = org.ctx.db.scalar("select status from incidents where id = :'i'", i=cursor)
    other = "closed" if row_status != "closed" else "fixing"
    body = expect_ok(api.get("/v1/incidents", key=org.admin,
                             params={"after": cursor, "status": other, "page_size": 250}))
    want = [i for i in _db_ids(org, statuses=[other]) if ids.index(i) > 10]
    assert [i["id"] for i in body["incidents"]] == want


def test_show(api, org, populated):
    for inc in populated[:3]:
        body = expect_ok(api.get("/v1/incidents/" + inc["id"], key=org.admin))
        assert body == {"incident": inc}
    expect_error(api.get("/v1/incidents/01ARZ3NDEKTSV4RRFFQ69G5FAV", key=org.admin), 404, "not_found")


def test_walk_during_concurrent_creates(api, ctx):
    """Keyset paging returns every incident that existed when the walk began
    exactly once, while another client keeps creating incidents."""
    o = ctx.new_org("list-walk")
    for i in range(30):
        o.create_incident(name="Walk %02d" % i)
    start_ids = set(_db_ids(o))
    assert len(start_ids) == 30

    stop = threading.Event()
    created, errors = [], []

    def writer():
        deadline = time.monotonic() + 30
        while not stop.is_set() and time.monotonic() < deadline and len(created) < 200:
            try:
                r = api.post("/v1/incidents", key=o.admin,
                             json={"idempotency_key": new_idem(), "visibility": "public", "name": "During walk"})
                if r.status == 200:
                    created.append(r.body["incident"]["id"])
                else:
                    errors.append(r.describe())
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(repr(exc))

    def between_pages():
        # make sure creates really interleave with the walk
        for _ in range(2):
            o.create_incident(key=o.admin, name="Between pages")
        time.sleep(0.02)

    th = threading.Thread(target=writer, daemon=True)
    th.start()
    try:
        time.sleep(0.05)
        ids, _ = _walk(api, o.viewer, 7, hook=between_pages)
    finally:
        stop.set()
        th.join(timeout=35)
    assert not errors, errors[:3]
    assert len(ids) == len(set(ids)), "an incident appeared twice in one walk"
    missing = start_ids - set(ids)
    assert not missing, "%d incidents present at the start were skipped" % len(missing)


def test_large_pages_arrive_whole(api, ctx):
    """Responses leave the worker as FastCGI records of at most 65535 bytes
    in one writev() (src/daemon/fcgi_out.c), 32 records per call: a 2.6 MB page
    (25 summaries of 50,000 two-byte characters) crosses both limits and
    must arrive byte for byte, in order, at every page size."""
    o = ctx.new_org("list-large")
    made = []
    for i in range(25):
        summary = ("é%02d" % i) * (50000 // 3) + "é" * (50000 % 3)
        made.append(o.create_incident(key=o.admin, name="Large %02d" % i, summary=summary))
    want = [inc["id"] for inc in reversed(made)]
    for page_size in (1, 2, 25):
        body = expect_ok(api.get("/v1/incidents", key=o.admin, params={"page_size": page_size}))
        got = body["incidents"]
        assert [i["id"] for i in got] == want[:page_size]
        for inc in got:
            assert inc == next(m for m in made if m["id"] == inc["id"])
    assert len(got) == 25 and all(len(i["summary"]) == 50000 for i in got)
