"""Incident types v1: GET /v1/incident_types and GET /v1/incident_types/{id}.

Types are created by incidentctl (not through the API); reads need viewer;
everything is scoped to the key's organisation. Archived types
(test_config_archive) disappear from these endpoints.
"""

import uuid

import pytest

from helpers import TS_RE, ULID_RE, expect_error, expect_ok

BASE = "/v1/incident_types"
UNKNOWN = "01ARZ3NDEKTSV4RRFFQ69G5FAV"


def _u(prefix="Type"):
    return "%s %s" % (prefix, uuid.uuid4().hex[:8])


def _live(org):
    return {r[0]: (r[1], r[2], r[3] == "t", r[4] == "t", r[5]) for r in org.ctx.db.query(
        "select id, name, coalesce(description, ''), is_default, private_incidents_only, create_in_triage "
        "from incident_types where organisation_id = :'o' and archived_at is null", o=org.id)}


def _as_row(t):
    return (t["name"], t["description"], t["is_default"], t["private_incidents_only"], t["create_in_triage"])


def _check_shape(t):
    assert ULID_RE.match(t["id"]), t
    assert TS_RE.match(t["created_at"]) and TS_RE.match(t["updated_at"]), t
    assert t["updated_at"] >= t["created_at"]
    assert t["create_in_triage"] in ("always", "optional")
    assert set(t) <= {"id", "name", "description", "is_default", "private_incidents_only",
                      "create_in_triage", "created_at", "updated_at", "owning_team_ids"}, t


def _list(api, key):
    body = expect_ok(api.get(BASE, key=key))
    assert set(body) == {"incident_types"}
    return body["incident_types"]


@pytest.fixture(scope="module")
def made(org, ctl):
    """Types created through incidentctl, one per flag combination."""
    return {
        "always": ctl.incident_type_create(org.id, _u("Always"), create_in_triage="always"),
        "optional": ctl.incident_type_create(org.id, _u("Optional"), create_in_triage="optional"),
        "private": ctl.incident_type_create(org.id, _u("Private"), private_only=True,
                                            create_in_triage="optional"),
    }


def test_list_matches_db(api, org, made):
    got = _list(api, org.viewer)
    for t in got:
        _check_shape(t)
    ids = [t["id"] for t in got]
    assert len(ids) == len(set(ids)), "a type listed twice"
    assert {t["id"]: _as_row(t) for t in got} == _live(org)
    assert set(made.values()) <= set(ids)
    by_name = {t["name"]: t for t in got}
    assert by_name["Default"]["is_default"] is True
    assert by_name["Security"]["private_incidents_only"] is True
    assert sum(1 for t in got if t["is_default"]) == 1


def test_flags_from_incidentctl_are_rendered(api, org, made):
    always = expect_ok(api.get(BASE + "/" + made["always"], key=org.viewer))["incident_type"]
    assert always["create_in_triage"] == "always"
    assert always["private_incidents_only"] is False and always["is_default"] is False
    opt = expect_ok(api.get(BASE + "/" + made["optional"], key=org.viewer))["incident_type"]
    assert opt["create_in_triage"] == "optional"
    priv = expect_ok(api.get(BASE + "/" + made["private"], key=org.viewer))["incident_type"]
    assert priv["private_incidents_only"] is True


def test_show_each_listed_type_and_the_incident_rendering(api, org, made):
    for t in _list(api, org.viewer):
        body = expect_ok(api.get(BASE + "/" + t["id"], key=org.viewer))
        assert body == {"incident_type": t}
    # an incident renders the same IncidentTypeV1 as the show endpoint
    inc = org.create_incident(incident_type_id=made["optional"])
    shown = expect_ok(api.get(BASE + "/" + made["optional"], key=org.viewer))["incident_type"]
    assert inc["incident_type"] == shown


@pytest.mark.parametrize("ident", ["not-a-ulid", UNKNOWN, "0" * 26, "%27%3B--", "x" * 300])
def test_show_unknown_is_404(api, org, ident):
    expect_error(api.get(BASE + "/" + ident, key=org.viewer), 404, "not_found")


def test_unseeded_org_lists_nothing(api, ctx):
    o = ctx.new_org("types-bare", seed=False)
    assert _list(api, o.viewer) == []


# ---------------------------------------------------------------------------
# authentication, roles, isolation

def test_no_key_is_401(api, org, made):
    expect_error(api.get(BASE), 401, "missing_authorization_material")
    expect_error(api.get(BASE + "/" + made["always"]), 401, "missing_authorization_material")


def test_reads_need_viewer(api, org, made):
    k = org.key("creator-only", "incident_creator")
    expect_error(api.get(BASE, key=k), 403, "missing_permissions")
    expect_error(api.get(BASE + "/" + made["always"], key=k), 403, "missing_permissions")
    for key in (org.viewer, org.creator, org.admin, org.settings):
        expect_ok(api.get(BASE, key=key))
        expect_ok(api.get(BASE + "/" + made["always"], key=key))


def test_other_org_type_is_404_and_never_listed(api, org, other_org, ctl):
    b = ctl.incident_type_create(other_org.id, _u("Only B"))
    for key in (org.viewer, org.admin):
        expect_error(api.get(BASE + "/" + b, key=key), 404, "not_found")
        expect_error(api.get(BASE + "/" + other_org.incident_type["Default"], key=key), 404, "not_found")
        ids = {t["id"] for t in _list(api, key)}
        assert b not in ids and other_org.incident_type["Default"] not in ids
        assert ids == set(_live(org))
    expect_ok(api.get(BASE + "/" + b, key=other_org.viewer))


@pytest.mark.parametrize("method,path,allowed", [
    ("POST", BASE, {"GET"}),
    ("DELETE", BASE, {"GET"}),
    ("PUT", BASE + "/" + UNKNOWN, {"GET"}),
    ("DELETE", BASE + "/" + UNKNOWN, {"GET"}),
])
def test_types_are_read_only_405(api, org, method, path, allowed):
    kw = {"json": {"name": "x", "description": "y"}} if method in ("PUT", "POST") else {}
    before = _live(org)
    r = api.request(method, path, key=org.settings, **kw)
    expect_error(r, 405, "method_not_allowed")
    got = {m.strip().upper() for m in (r.header("Allow") or "").split(",") if m.strip()}
    assert allowed <= got and method not in got, r.header("Allow")
    assert _live(org) == before
