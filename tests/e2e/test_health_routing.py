"""Health check, routing, cross-cutting headers and the body-size cap."""

import json

import pytest

from helpers import expect_error, new_idem

ONE_MIB = 1024 * 1024


def test_healthz_ok_without_auth(api):
    r = api.get("/healthz")
    assert r.status == 200, r.describe()
    assert r.request_id


@pytest.mark.parametrize("path", ["/v1/nope", "/", "/v1", "/v2/incidents-ish",
                                  "/v1/incidents/01ARZ3NDEKTSV4RRFFQ69G5FAV/extra"])
def test_unknown_route_is_json_404(api, org, path):
    r = api.get(path, key=org.viewer)
    expect_error(r, 404, "not_found")


def test_unknown_incident_id_shapes_are_404_not_500(api, org):
    for ident in ("not-a-ulid", "01ARZ3NDEKTSV4RRFFQ69G5FAV", "0" * 26, "%27%3B--", "x" * 300):
        r = api.get("/v1/incidents/" + ident, key=org.viewer)
        expect_error(r, 404, "not_found")


@pytest.mark.parametrize("method,path,allowed", [
    ("DELETE", "/v1/incidents", {"GET", "POST"}),
    ("PUT", "/v1/incidents", {"GET", "POST"}),
    ("PATCH", "/v1/incidents", {"GET", "POST"}),
    ("PUT", "/v1/identity", {"GET"}),
    ("POST", "/v1/identity", {"GET"}),
    ("DELETE", "/v1/incidents/01ARZ3NDEKTSV4RRFFQ69G5FAV", {"GET"}),
    ("POST", "/healthz", {"GET"}),
])
def test_wrong_method_is_405_with_allow(api, org, method, path, allowed):
    kw = {"json": {}} if method in ("PUT", "PATCH", "POST") else {}
    r = api.request(method, path, key=org.admin, **kw)
    expect_error(r, 405, "method_not_allowed")
    allow = r.header("Allow")
    assert allow, "405 without Allow header: " + r.describe()
    got = {m.strip().upper() for m in allow.split(",") if m.strip()}
    assert allowed <= got, "Allow %r lacks %s" % (allow, allowed - got)
    assert method not in got, "Allow %r names the refused method %s" % (allow, method)


def test_request_ids_unique_and_repeated_in_errors(api, org):
    ids = []
    for i in range(10):
        ids.append(api.get("/healthz").request_id)
        ids.append(api.get("/v1/incidents", key=org.viewer).request_id)
        r = api.get("/v1/incidents")  # 401: error body repeats the id
        assert r.status == 401
        assert r.body["request_id"] == r.request_id
        ids.append(r.request_id)
        r = api.get("/v1/does-not-exist", key=org.viewer)
        assert r.body["request_id"] == r.request_id
        ids.append(r.request_id)
    assert all(ids), ids
    assert len(set(ids)) == len(ids), "X-Request-Id repeated across requests: %r" % ids


def _big_create_body(size):
    """A syntactically valid create body of exactly size bytes."""
    base = {"idempotency_key": new_idem(), "visibility": "public", "padding": ""}
    overhead = len(json.dumps(base).encode())
    base["padding"] = "a" * (size - overhead)
    data = json.dumps(base).encode()
    assert len(data) == size
    return data


def test_body_over_one_mib_is_json_413(api, db, org):
    before = org.incident_count()
    r = api.post("/v1/incidents", key=org.creator, data=_big_create_body(ONE_MIB + 4096))
    expect_error(r, 413, "request_too_large")
    r = api.post("/v1/incidents", key=org.creator, data=_big_create_body(3 * ONE_MIB))
    expect_error(r, 413, "request_too_large")
    assert org.incident_count() == before


def test_chunked_body_over_one_mib_is_json_413(api, org):
    before = org.incident_count()
    r = api.post("/v1/incidents", key=org.creator, data=_big_create_body(ONE_MIB + 100_000),
                 chunked=True)
    expect_error(r, 413, "request_too_large")
    assert org.incident_count() == before


def test_body_just_under_one_mib_is_served(api, org):
    # Unknown fields are ignored, so a padded body under the cap is a normal create.
    r = api.post("/v1/incidents", key=org.creator, data=_big_create_body(ONE_MIB - 4096))
    assert r.status == 200, r.describe()
