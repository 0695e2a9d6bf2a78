"""Strict input at the edges: JSON surrogate escapes, query parameters that
do not decode, show URLs that a client normalised, paths with a NUL. The
numbers of the sections are those of the findings of issue #14, part 3.

CONTRACT.md, Errors: a body that is not valid JSON or not UTF-8 is 400
invalid_json; a path or query the HTTP layer cannot decode is 400
bad_request; an unknown id or route is 404 not_found. README.md, "Decisions
where the contract is silent", records the choices made here.
"""

import json
import os
import re
import uuid

import pytest

from helpers import burst, expect_error, expect_ok, new_idem, wait_until

# A lone high, a lone low, a reversed pair, and a valid pair followed by a
# lone high; all as JSON escapes (the bytes backslash, u, four hex digits).
BAD_SURROGATES = [r"\ud800", r"\udc00", r"\udc00\ud800", r"\ud83d\ude00\ud83d", r"\uDBFF x"]


def _u(prefix="strict"):
    return "%s %s" % (prefix, uuid.uuid4().hex[:10])


# ---------------------------------------------------------------------------
# 1. surrogate escapes: 400 invalid_json on every endpoint that takes a body


def _body_endpoints(org):
    """(method, path, key, a body that would be accepted but for the text in
    its "name"/"value" field): every route that reads a JSON body."""
    field = next(n for n, t in org.field_type.items() if t == "single_select")
    option = next(iter(org.option[field].values()))
    sev = next(iter(org.severity.values()))
    role = next(iter(org.role.values()))
    fid = org.field[field]
    return [
        ("POST", "/v1/incidents", org.creator,
         {"idempotency_key": new_idem(), "visibility": "public", "name": "NAME"}),
        ("POST", "/v1/severities", org.settings, {"name": "NAME", "description": "d"}),
        ("PUT", "/v1/severities/" + sev, org.settings, {"name": "NAME", "description": "d"}),
        ("POST", "/v2/incident_roles", org.settings,
         {"name": "NAME", "shortform": "s", "description": "d", "instructions": "i"}),
        ("PUT", "/v2/incident_roles/" + role, org.settings,
         {"name": "NAME", "shortform": "s", "description": "d", "instructions": "i"}),
        ("POST", "/v2/custom_fields", org.settings,
         {"name": "NAME", "description": "d", "field_type": "text"}),
        ("PUT", "/v2/custom_fields/" + fid, org.settings, {"name": "NAME", "description": "d"}),
        ("POST", "/v1/custom_field_options", org.settings, {"custom_field_id": fid, "value": "NAME"}),
        ("PUT", "/v1/custom_field_options/" + option, org.settings, {"value": "NAME"}),
    ]


def _with_text(body, text):
    """body as JSON bytes with text (JSON escapes, written as they are) in
    place of the string "NAME"."""
    raw = json.dumps(body)
    assert raw.count('"NAME"') == 1, raw
    return raw.replace('"NAME"', '"%s"' % text).encode()


def _config_rows(db, org):
    return db.query(
        "select (select count(*) from severities where organisation_id = :'o'),"
        " (select count(*) from incident_roles where organisation_id = :'o'),"
        " (select count(*) from custom_fields where organisation_id = :'o'),"
        " (select count(*) from custom_field_options o join custom_fields f"
        "   on f.id = o.custom_field_id where f.organisation_id = :'o'),"
        " (select count(*) from incidents where organisation_id = :'o'),"
        " (select string_agg(name, ',' order by id) from severities where organisation_id = :'o')",
        o=org.id)


@pytest.mark.parametrize("text", BAD_SURROGATES, ids=lambda t: t.replace("\\", ""))
def test_surrogate_escapes_are_400_invalid_json_everywhere(api, db, org, text):
    before = _config_rows(db, org)
    for method, path, key, body in _body_endpoints(org):
        r = api.request(method, path, key=key, data=_with_text(body, "a" + text + "b"))
        expect_error(r, 400, "invalid_json")
        # In a member name as well as in a value.
        r = api.request(method, path, key=key,
                        data=_with_text(body, "n").replace(b'{', b'{"k' + text.encode() + b'": 1, ', 1))
        expect_error(r, 400, "invalid_json")
    assert _config_rows(db, org) == before


def test_surrogate_escape_is_not_a_replay(api, org):
    """The replay probe reads the idempotency key without a full parse; a
    body with a lone surrogate elsewhere is still refused, not replayed."""
    key = new_idem()
    org.create_incident(idempotency_key=key, name="first")
    body = b'{"idempotency_key": "%s", "visibility": "public", "name": "x\\ud800"}' % key.encode()
    r = api.post("/v1/incidents", key=org.creator, data=body)
    expect_error(r, 400, "invalid_json")
    assert r.header("Idempotent-Replayed") is None


def test_surrogate_pair_is_one_character(api, org):
    name = _u("pair") + " \\ud83d\\ude00"
    r = api.post("/v1/incidents", key=org.creator,
                 data=('{"idempotency_key": "%s", "visibility": "public", "name": "%s"}'
                       % (new_idem(), name)).encode())
    inc = expect_ok(r)["incident"]
    assert inc["name"] == name.replace("\\ud83d\\ude00", "\U0001F600")
    r = api.post("/v1/severities", key=org.settings,
                 data=('{"name": "%s", "description": "\\uD800\\uDC00"}' % name).encode())
    sev = expect_ok(r, 201)["severity"]
    assert sev["description"] == "\U00010000"


@pytest.mark.parametrize("escaped,char", [(r"\ud836\udc00", "\U0001D800"), (r"\ud837\ude00", "\U0001DE00"),
                                          (r"\uD876\uDC01", "\U0002D801"), (r"\udbf7\udfff", "\U0010DFFF")])
def test_pairs_json_c_took_for_surrogates(api, org, escaped, char):
    """json-c stored U+FFFD for pairs whose code point's low 16 bits look
    like a surrogate (U+1D800..U+1DFFF, CJK extension F's U+2D800.., ...);
    found by tests/fuzz."""
    name = _u("pair") + " " + escaped
    r = api.post("/v1/incidents", key=org.creator,
                 data=('{"idempotency_key": "%s", "visibility": "public", "name": "%s"}'
                       % (new_idem(), name)).encode())
    inc = expect_ok(r)["incident"]
    assert inc["name"] == name.replace(escaped, char)
    shown = expect_ok(api.get("/v1/incidents/" + inc["id"], key=org.admin))["incident"]
    assert shown["name"] == inc["name"]



# ---------------------------------------------------------------------------
# 2. a query the HTTP layer cannot decode: 400 bad_request, source.field
#    naming the parameter (as sent, when its name is what does not decode)

QUERY_CASES = [
    ("%zz=1", "%zz"),
    ("%00=5&x=1", "%00"),
    ("x=1&%4=2", "%4"),
    ("st%E9tus=triage", "st%E9tus"),
    ("status=%zz", "status"),
    ("page_size=%00", "page_size"),
    ("after=%E9", "after"),
    ("unknown=a%00b", "unknown"),
    ("caf%C3%A9=%ff", "caf\u00e9"),
]


@pytest.mark.parametrize("base", ["/v1/incidents", "/v1/severities", "/v2/users",
                                  "/v1/custom_field_options", "/v1/incidents/01ARZ3NDEKTSV4RRFFQ69G5FAV",
                                  "/v1/identity", "/healthz"])
@pytest.mark.parametrize("query,field", QUERY_CASES, ids=[q for q, _ in QUERY_CASES])
def test_undecodable_query_is_400_with_field(api, org, base, query, field):
    r = api.get(base + "?" + query, key=org.admin)
    e = expect_error(r, 400, "bad_request", field=json.loads('"%s"' % field))
    assert e["message"]


def test_undecodable_query_before_authentication_and_writes(api, org):
    expect_error(api.get("/v1/incidents?%zz=1"), 400, "bad_request", field="%zz")
    before = org.incident_count()
    r = api.post("/v1/incidents?%00=1", key=org.creator,
                 json={"idempotency_key": new_idem(), "visibility": "public"})
    expect_error(r, 400, "bad_request", field="%00")
    assert org.incident_count() == before


def test_decodable_queries_still_work(api, org):
    org.create_incident(status="triage")
    body = expect_ok(api.get("/v1/incidents?status=tri%61ge&page%5Fsize=1&x=caf%C3%A9&%F0%9F%98%80",
                             key=org.admin))
    assert body["incidents"] and body["pagination_meta"]["page_size"] == 1


@pytest.mark.parametrize("query,field", [("page_size=0", "page_size"), ("status=nope", "status"),
                                         ("after=x", "after")])
def test_query_validation_errors_name_the_parameter(api, org, query, field):
    expect_error(api.get("/v1/incidents?" + query, key=org.admin), 422, "invalid_value", field=field)


# ---------------------------------------------------------------------------
# 3. a show URL never answers with a list
#
# curl, urllib3 and browsers remove dot segments before sending, so
# "/v1/incidents/." and "/v1/incidents/x/.." leave the client as
# "/v1/incidents/": the show route with its id removed. Clients that send
# the path as written reach incidentd with the dots in place.

COLLECTIONS = ["/v1/incidents", "/v1/severities", "/v1/incident_types", "/v2/incident_roles",
               "/v2/custom_fields", "/v1/custom_field_options", "/v2/users"]

LIST_KEYS = {"incidents", "severities", "incident_types", "incident_roles", "custom_fields",
             "custom_field_options", "users", "pagination_meta"}


def _never_a_list(r):
    expect_error(r, 404, "not_found")
    assert not (LIST_KEYS & set(r.body)), r.describe()


@pytest.mark.parametrize("base", COLLECTIONS)
def test_collection_with_trailing_slash_is_404(api, org, base):
    _never_a_list(api.get(base + "/", key=org.admin))


@pytest.mark.parametrize("base", COLLECTIONS)
@pytest.mark.parametrize("tail", ["/.", "/..", "/./", "/%2e", "/%2E%2e", "/x/..", "/x/../", "//",
                                  "/./.", "/x/%2e%2e"])
def test_dot_segments_never_reach_a_list(api, org, base, tail):
    _never_a_list(api.get(base + tail, key=org.admin))


@pytest.mark.parametrize("path", ["/v1/./incidents", "/v1/x/../incidents", "/v1/incidents/x/../",
                                  "/x/../v1/incidents", "/v1//incidents", "/v1/severities/../incidents"])
def test_paths_that_normalise_to_a_list_are_404(api, org, path):
    _never_a_list(api.get(path, key=org.admin))


def test_absolute_form_request_target(api, org):
    """GET http://host/v1/incidents/. HTTP/1.1: the path as sent still counts."""
    base = "http://%s:%d" % (api.host, api.port)
    _never_a_list(api.get(base + "/v1/incidents/.", key=org.admin))
    _never_a_list(api.get(base + "/v1/incidents/", key=org.admin))
    assert "incidents" in expect_ok(api.get(base + "/v1/incidents", key=org.admin))


def test_trailing_slash_does_not_create(api, org):
    before = org.incident_count()
    body = {"idempotency_key": new_idem(), "visibility": "public"}
    expect_error(api.post("/v1/incidents/", key=org.creator, json=body), 404, "not_found")
    expect_error(api.post("/v1/incidents/.", key=org.creator, json=body), 405, "method_not_allowed")
    assert org.incident_count() == before


def test_collections_still_list(api, org):
    body = expect_ok(api.get("/v1/incidents", key=org.admin))
    assert "incidents" in body and "pagination_meta" in body


# ---------------------------------------------------------------------------
# 4. a NUL in a path names nothing: 404, like any unknown id or route
#
# nginx refuses "%00" in a path before any location (errors.conf maps that
# to the 404); a broken escape is a path that cannot be decoded (400).

ID_ROUTES = [("GET", p) for p in COLLECTIONS] + [
    ("PUT", "/v1/severities"), ("DELETE", "/v1/severities"), ("PUT", "/v2/incident_roles"),
    ("DELETE", "/v2/incident_roles"), ("PUT", "/v2/custom_fields"), ("DELETE", "/v2/custom_fields"),
    ("PUT", "/v1/custom_field_options"), ("DELETE", "/v1/custom_field_options")]


@pytest.mark.parametrize("method,base", ID_ROUTES, ids=lambda v: str(v))
@pytest.mark.parametrize("ident", ["%00", "ab%00cd", "%00%00", "01ARZ3NDEKTSV4RRFFQ69G5FA%00"])
def test_nul_in_id_is_404(api, org, method, base, ident):
    kw = {"json": {"name": "n"}} if method == "PUT" else {}
    r = api.request(method, base + "/" + ident, key=org.settings, **kw)
    expect_error(r, 404, "not_found")


@pytest.mark.parametrize("path", ["/v1/incidents/%00?page_size=1", "/v1/incid%00ents", "/v9/%00"])
def test_nul_anywhere_in_an_api_path_is_404(api, org, path):
    expect_error(api.get(path, key=org.admin), 404, "not_found")


@pytest.mark.parametrize("path", ["/v1/incidents/%zz", "/v1/incidents/%0", "/v1/incidents/%00%zz",
                                  "/v1/incidents/%g0"])
def test_undecodable_path_is_400(api, org, path):
    expect_error(api.get(path, key=org.admin), 400, "bad_request")


# ---------------------------------------------------------------------------
# 5. what PostgreSQL says outside a statement reaches the log as log lines
#
# A backend ended by pg_terminate_backend sends its FATAL to an idle
# connection, which libpq hands to the connection's notice receiver (so do
# a server's shutdown WARNINGs and RAISE NOTICEs). libpq's default one
# prints it raw to stderr, the log: no time, pid or level.

LOG_LINE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z \[\d+\] (error|warn|info|debug): \S")
TERMINATED = "terminating connection due to administrator command"


@pytest.mark.resilience
def test_database_notices_are_log_lines(api, db, env):
    assert env.log and os.path.exists(env.log), "INCIDENTD_LOG is not set"
    start = os.path.getsize(env.log)

    def new_text():
        with open(env.log, "rb") as f:
            f.seek(start)
            return f.read().decode("utf-8", "replace")

    # Every worker busy at once, so that each holds a connection.
    burst(lambda: api.get("/healthz"), 32)
    n = int(db.scalar("select count(pg_terminate_backend(pid)) from pg_stat_activity"
                      " where application_name = 'incidentd'"))
    assert n >= 1
    assert wait_until(lambda: new_text().count(TERMINATED) >= n, timeout=10), new_text()
    # The workers reconnect by themselves.
    assert wait_until(lambda: api.get("/healthz").status == 200, timeout=10)
    text = new_text()
    for line in text.splitlines():
        assert LOG_LINE.match(line), "not a log line: %r" % line
        if TERMINATED in line:
            assert " warn: database FATAL: " + TERMINATED + " sqlstate=57P01" in line, line
