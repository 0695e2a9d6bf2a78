"""Authentication, roles/scopes, organisation isolation, private incidents."""

import time

import pytest

from helpers import burst, expect_error, expect_ok, new_idem, wait_until

UNKNOWN_TOKEN = "inc_" + "0" * 64


# ---------------------------------------------------------------------------
# authentication

@pytest.mark.parametrize("method,path", [("GET", "/v1/incidents"), ("POST", "/v1/incidents"),
                                         ("GET", "/v1/identity"),
                                         ("GET", "/v1/incidents/01ARZ3NDEKTSV4RRFFQ69G5FAV")])
def test_no_authorization_is_401_missing_material(api, method, path):
    kw = {"json": {"idempotency_key": new_idem(), "visibility": "public"}} if method == "POST" else {}
    r = api.request(method, path, **kw)
    expect_error(r, 401, "missing_authorization_material")


@pytest.mark.parametrize("header", [
    "Bearer " + UNKNOWN_TOKEN,
    "Bearer inc_" + "f" * 64,
    "Bearer not-a-token",
    "Bearer inc_" + "0" * 63,          # one digit short
    "Bearer inc_" + "G" * 64,          # not hex
    "Token " + UNKNOWN_TOKEN,
    "Basic dXNlcjpwYXNzd29yZA==",
])
def test_bad_token_or_malformed_header_is_401_invalid(api, header):
    r = api.get("/v1/incidents", auth=header)
    expect_error(r, 401, "access_token_invalid")


def test_valid_token_with_wrong_scheme_is_rejected(api, org):
    r = api.get("/v1/incidents", auth="Token " + org.viewer.token)
    expect_error(r, 401)
    r = api.get("/v1/incidents", auth=org.viewer.token)  # no scheme at all
    expect_error(r, 401)


def test_revoked_key_is_401(api, ctl, org):
    key = org.key("to-revoke", "viewer")
    expect_ok(api.get("/v1/identity", key=key))
    # cached by every worker first
    for r in burst(lambda: api.get("/v1/incidents", key=key), 40):
        expect_ok(r)
    ctl.api_key_revoke(key.id)
    # Workers cache keys; LISTEN/NOTIFY invalidates them. Allow a moment.
    r = wait_until(lambda: (lambda r: r if r.status == 401 else None)(
        api.get("/v1/incidents", key=key)), timeout=5.0, interval=0.1)
    assert r is not None and r.status == 401, "revoked key still accepted after 5 s"
    # Every worker must refuse it now, not only the one we reached.
    for r in burst(lambda: api.get("/v1/incidents", key=key), 40):
        expect_error(r, 401, "access_token_invalid")
    expect_error(api.get("/v1/identity", key=key), 401, "access_token_invalid")


# ---------------------------------------------------------------------------
# roles and scopes

def test_viewer_cannot_create(api, org):
    before = org.incident_count()
    r = api.post("/v1/incidents", key=org.viewer,
                 json={"idempotency_key": new_idem(), "visibility": "public"})
    expect_error(r, 403, "missing_permissions")
    assert org.incident_count() == before


def test_key_without_roles_relevant_scope(api, org):
    k = org.key("catalog-only", "catalog_viewer")
    expect_error(api.get("/v1/incidents", key=k), 403, "missing_permissions")
    expect_error(api.post("/v1/incidents", key=k,
                          json={"idempotency_key": new_idem(), "visibility": "public"}),
                 403, "missing_permissions")
    # identity needs only a valid key
    body = expect_ok(api.get("/v1/identity", key=k))
    assert body["identity"]["roles"] == ["catalog_viewer"]


def test_creator_without_viewer_creates_but_cannot_list(api, org):
    k = org.key("creator-only", "incident_creator")
    r = api.post("/v1/incidents", key=k, json={"idempotency_key": new_idem(), "visibility": "public"})
    assert r.status == 200, r.describe()
    expect_error(api.get("/v1/incidents", key=k), 403, "missing_permissions")


@pytest.mark.parametrize("roles", [("viewer",), ("viewer", "incident_creator"),
                                   ("viewer", "incident_creator", "global_access", "manage_settings")])
def test_identity_returns_name_and_roles(api, org, roles):
    k = org.key("ident", *roles)
    body = expect_ok(api.get("/v1/identity", key=k))
    ident = body["identity"]
    assert ident["name"] == k.name
    assert sorted(ident["roles"]) == sorted(roles)
    assert isinstance(ident["dashboard_url"], str)


# ---------------------------------------------------------------------------
# organisation isolation

@pytest.fixture(scope="module")
def b_incident(other_org):
    return other_org.create_incident(name="Org B incident", status="triage")


def test_other_org_incident_is_404_and_invisible(api, org, other_org, b_incident):
    org.create_incident(name="Org A incident")
    for key in (org.viewer, org.admin):
        expect_error(api.get("/v1/incidents/" + b_incident["id"], key=key), 404, "not_found")
        body = expect_ok(api.get("/v1/incidents", key=key, params={"page_size": 250}))
        ids = {i["id"] for i in body["incidents"]}
        assert b_incident["id"] not in ids
        want = org.incident_count() if key is org.admin else org.incident_count(visibility="public")
        assert body["pagination_meta"]["total_record_count"] == want
    # The owner sees it.
    expect_ok(api.get("/v1/incidents/" + b_incident["id"], key=other_org.viewer))


def test_other_org_incident_as_cursor_is_422(api, org, b_incident):
    r = api.get("/v1/incidents", key=org.admin, params={"after": b_incident["id"]})
    expect_error(r, 422, field="after")


@pytest.mark.parametrize("case", ["severity", "type", "role", "user_id", "user_email",
                                  "user_slack", "field", "option"])
def test_referencing_other_org_config_is_422(api, db, ctx, org, other_org, case):
    a, b = org, other_org
    payload = {"idempotency_key": new_idem(), "visibility": "public", "status": "triage"}
    if case == "severity":
        payload.update(status="investigating", severity_id=b.severity["Minor"])
        field = "severity_id"
    elif case == "type":
        payload["incident_type_id"] = b.incident_type["Default"]
        field = "incident_type_id"
    elif case == "role":
        payload["incident_role_assignments"] = [{"incident_role_id": b.role_by_type["lead"],
                                                 "assignee": {"id": a.user["Lisa"]["id"]}}]
        field = "incident_role_assignments[0].incident_role_id"
    elif case in ("user_id", "user_email", "user_slack"):
        uniq = new_idem()[-10:]
        uid = ctx.ctl.user_create(b.id, "Only In B " + uniq, email="onlyb-%s@example.com" % uniq,
                                  slack_user_id="UB" + uniq.upper())
        ref = {"user_id": {"id": uid},
               "user_email": {"email": "onlyb-%s@example.com" % uniq},
               "user_slack": {"slack_user_id": "UB" + uniq.upper()}}[case]
        payload["incident_role_assignments"] = [{"incident_role_id": a.role_by_type["lead"],
                                                 "assignee": ref}]
        field = "incident_role_assignments[0].assignee"
    elif case == "field":
        payload["custom_field_entries"] = [{"custom_field_id": b.field["Notes"],
                                            "values": [{"value_text": "x"}]}]
        field = "custom_field_entries[0].custom_field_id"
    else:
        payload["custom_field_entries"] = [{"custom_field_id": a.field["Affected Team"],
                                            "values": [{"value_option_id": b.option["Affected Team"]["Product"]}]}]
        field = "custom_field_entries[0].values[0].value_option_id"
    before = a.incident_count()
    r = api.post("/v1/incidents", key=a.creator, json=payload)
    expect_error(r, 422, field=field)
    assert a.incident_count() == before
    assert db.count("select count(*) from incidents where idempotency_key = :'k'",
                    k=payload["idempotency_key"]) == 0


def test_same_email_resolves_within_own_org(api, org, other_org):
    # seed-demo gives both organisations a lisa@example.com: each key must
    # resolve the email to its own organisation's user.
    inc = org.create_incident(incident_role_assignments=[{
        "incident_role_id": org.role_by_type["lead"], "assignee": {"email": "lisa@example.com"}}])
    got = [x["assignee"]["id"] for x in inc["incident_role_assignments"] if x.get("assignee")]
    assert got == [org.user["Lisa"]["id"]]


# ---------------------------------------------------------------------------
# private incidents

def test_private_incidents_need_global_access(api, ctx):
    o = ctx.new_org("auth-private")
    pub = o.create_incident(name="public one", key=o.admin)
    priv = o.create_incident(name="private one", visibility="private", key=o.admin)
    priv_fixing = o.create_incident(name="private fixing", visibility="private", status="fixing",
                                    severity_id=o.severity["Minor"],
                                    incident_type_id=_optional_type(ctx, o), key=o.admin)
    assert priv["visibility"] == "private"

    # viewer: not in list, not in the total, 404 on show, 422 as a cursor
    body = expect_ok(api.get("/v1/incidents", key=o.viewer))
    ids = [i["id"] for i in body["incidents"]]
    assert ids == [pub["id"]]
    assert body["pagination_meta"]["total_record_count"] == 1 == o.incident_count(visibility="public")
    body = expect_ok(api.get("/v1/incidents", key=o.viewer, params={"status": ["fixing"]}))
    assert body["incidents"] == [] and body["pagination_meta"]["total_record_count"] == 0
    for inc in (priv, priv_fixing):
        expect_error(api.get("/v1/incidents/" + inc["id"], key=o.viewer), 404, "not_found")
        expect_error(api.get("/v1/incidents/" + inc["id"], key=o.creator), 404, "not_found")
        expect_error(api.get("/v1/incidents", key=o.viewer, params={"after": inc["id"]}), 422,
                     field="after")

    # global_access: sees everything
    body = expect_ok(api.get("/v1/incidents", key=o.admin))
    assert {i["id"] for i in body["incidents"]} == {pub["id"], priv["id"], priv_fixing["id"]}
    assert body["pagination_meta"]["total_record_count"] == 3 == o.incident_count()
    body = expect_ok(api.get("/v1/incidents", key=o.admin, params={"status": ["fixing"]}))
    assert [i["id"] for i in body["incidents"]] == [priv_fixing["id"]]
    assert body["pagination_meta"]["total_record_count"] == 1
    got = expect_ok(api.get("/v1/incidents/" + priv["id"], key=o.admin))["incident"]
    assert got == priv
    # viewer + global_access without incident_creator also sees them
    g = o.key("global-viewer", "viewer", "global_access")
    expect_ok(api.get("/v1/incidents/" + priv["id"], key=g))


def _optional_type(ctx, o):
    """An incident type that does not force triage."""
    name = "Optional " + new_idem()[-6:]
    return ctx.ctl.incident_type_create(o.id, name, create_in_triage="optional")


def test_revocation_does_not_affect_other_keys(api, ctl, org):
    k1 = org.key("keep", "viewer")
    k2 = org.key("drop", "viewer")
    ctl.api_key_revoke(k2.id)
    time.sleep(0.2)
    for _ in range(5):
        expect_ok(api.get("/v1/incidents", key=k1))
