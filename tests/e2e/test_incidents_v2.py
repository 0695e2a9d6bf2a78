"""Incidents V2: create, show, edit, incident updates, timestamps, and the
one store V1 and V2 share (CONTRACT, "The incident lifecycle (v2)")."""

import threading

import pytest

from helpers import burst, expect_error, expect_ok, new_idem, ref_number


# ---------------------------------------------------------------------------
# fixtures

@pytest.fixture(scope="module")
def editor(org):
    return org.key("editor", "viewer", "incident_creator", "incident_editor", "global_access")


@pytest.fixture(scope="module")
def public_editor(org):
    """May edit, but not see private incidents."""
    return org.key("pub-editor", "viewer", "incident_editor")


@pytest.fixture(scope="module")
def statuses(org, db):
    """name -> (id, category) of the organisation's statuses, with one
    created learning status (Post-incident) and one more live one."""
    for name, cat, rank in (("Post-incident", "learning", 45), ("Paused work", "live", 41)):
        db.query("insert into incident_statuses (organisation_id, name, description, rank, category) "
                 "values (:'o', :'n', 'x', :'r', :'c') returning id", o=org.id, n=name, r=str(rank), c=cat)
    rows = db.query("select name, id, category from incident_statuses where organisation_id = :'o'", o=org.id)
    return {n: (i, c) for n, i, c in rows}


@pytest.fixture(scope="module")
def timestamps(org, db):
    rows = db.query("select lifecycle, id from incident_timestamps where organisation_id = :'o'", o=org.id)
    return dict(rows)


@pytest.fixture(scope="module")
def sev(org):
    return org.severity


def create_v2(api, key, expect=200, **payload):
    body = {"idempotency_key": new_idem(), "visibility": "public"}
    body.update(payload)
    r = api.post("/v2/incidents", key=key, json=body)
    assert r.status == expect, r.describe()
    return r.body["incident"] if expect == 200 else r


def edit(api, key, ident, expect=200, **incident):
    r = api.post("/v2/incidents/%s/actions/edit" % ident, key=key,
                 json={"incident": incident, "notify_incident_channel": False})
    assert r.status == expect, r.describe()
    return r.body["incident"] if expect == 200 else r


def ts_values(inc):
    return {t["incident_timestamp"]["name"]: (t.get("value") or {}).get("value")
            for t in inc["incident_timestamp_values"]}


def updates_of(api, key, incident_id):
    out, after = [], None
    while True:
        params = {"incident_id": incident_id, "page_size": 2}
        if after:
            params["after"] = after
        body = expect_ok(api.get("/v2/incident_updates", key=key, params=params))
        out.extend(body["incident_updates"])
        after = body["pagination_meta"].get("after")
        if not after:
            return out


# ---------------------------------------------------------------------------
# create and show

def test_create_defaults_to_first_live_status(api, org, editor, statuses, sev):
    inc = create_v2(api, editor, name="Checkout down", severity_id=sev["Major"])
    assert inc["incident_status"]["id"] == statuses["Investigating"][0]
    assert inc["incident_status"]["category"] == "live"
    assert inc["mode"] == "standard"
    assert inc["severity"]["id"] == sev["Major"]
    assert inc["creator"]["api_key"]["id"] == editor.id
    values = ts_values(inc)
    assert sorted(values) == ["Accepted at", "Closed at", "Declined at", "Reported at", "Resolved at"]
    assert values["Reported at"] == inc["created_at"]
    assert values["Accepted at"] == inc["created_at"], "created past triage: accepted at creation"
    assert values["Resolved at"] is None and values["Closed at"] is None
    assert [t["incident_timestamp"]["rank"] for t in inc["incident_timestamp_values"]] == [1, 2, 3, 4, 5]
    assert "status" not in inc and "timestamps" not in inc

    v1 = expect_ok(api.get("/v1/incidents/" + inc["id"], key=editor))["incident"]
    assert v1["status"] == "investigating" and v1["mode"] == "real"
    assert v1["name"] == inc["name"] and v1["reference"] == inc["reference"]


def test_create_in_triage_when_the_type_says_always(api, org, ctl, editor, statuses):
    always = ctl.incident_type_create(org.id, "Always triage v2", create_in_triage="always")
    inc = create_v2(api, editor, incident_type_id=always)
    assert inc["incident_status"]["id"] == statuses["Triage"][0]
    assert "severity" not in inc
    assert ts_values(inc)["Accepted at"] is None
    # an explicit status still wins in V2
    inc = create_v2(api, editor, incident_type_id=always, incident_status_id=statuses["Declined"][0])
    assert inc["incident_status"]["category"] == "declined"
    assert ts_values(inc)["Declined at"] == inc["created_at"]


def test_create_with_status_and_explicit_timestamps(api, editor, statuses, timestamps, sev):
    inc = create_v2(api, editor, severity_id=sev["Minor"], incident_status_id=statuses["Fixing"][0],
                    incident_timestamp_values=[
                        {"incident_timestamp_id": timestamps["reported"], "value": "2024-05-01T10:00:00Z"}])
    assert inc["incident_status"]["name"] == "Fixing"
    assert ts_values(inc)["Reported at"] == "2024-05-01T10:00:00.000000Z"
    assert expect_ok(api.get("/v1/incidents/" + inc["id"], key=editor))["incident"]["status"] == "fixing"


def test_create_validation(api, editor, statuses, other_org, timestamps, sev):
    m = sev["Minor"]
    r = create_v2(api, editor, expect=422, incident_status_id=other_org.id)
    expect_error(r, 422, "invalid_value", "incident_status_id")
    r = create_v2(api, editor, expect=422, incident_status_id=statuses["Fixing"][0])
    expect_error(r, 422, "is_required", "severity_id")
    r = create_v2(api, editor, expect=422, severity_id=m, mode="real")
    expect_error(r, 422, "invalid_value", "mode")
    r = create_v2(api, editor, expect=422, severity_id=m, retrospective_incident_options={"slack_channel_id": "C1"})
    expect_error(r, 422, "invalid_value", "retrospective_incident_options")
    r = create_v2(api, editor, expect=422, mode="retrospective", severity_id=sev["Minor"],
                  retrospective_incident_options={"external_id": 123})
    expect_error(r, 422, "invalid_value", "retrospective_incident_options.external_id")
    r = create_v2(api, editor, expect=422, severity_id=m, incident_timestamp_values=[
        {"incident_timestamp_id": timestamps["accepted"], "value": "yesterday"}])
    expect_error(r, 422, "invalid_value", "incident_timestamp_values[0].value")
    r = create_v2(api, editor, expect=422, severity_id=m, incident_timestamp_values=[{"incident_timestamp_id": "01H00000000000000000000000"}])
    expect_error(r, 422, "invalid_value", "incident_timestamp_values[0].incident_timestamp_id")
    r = create_v2(api, editor, expect=422, severity_id=m, slack_channel_name_override="x" * 81)
    expect_error(r, 422, "invalid_value", "slack_channel_name_override")
    r = api.post("/v2/incidents", key=editor, json={"visibility": "public"})
    expect_error(r, 422, "is_required", "idempotency_key")


def test_modes(api, editor, sev):
    retro = create_v2(api, editor, mode="retrospective", severity_id=sev["Minor"],
                      retrospective_incident_options={"postmortem_document_url": "https://docs.example/pm",
                                                      "slack_channel_id": "C024BE91L"})
    assert retro["mode"] == "retrospective"
    assert retro["postmortem_document_url"] == "https://docs.example/pm"
    assert retro["slack_channel_id"] == "C024BE91L"
    assert expect_ok(api.get("/v1/incidents/" + retro["id"], key=editor))["incident"]["mode"] == "real"
    for mode in ("test", "tutorial"):
        inc = create_v2(api, editor, mode=mode, severity_id=sev["Minor"])
        assert inc["mode"] == mode


def test_idempotency_is_one_key_space_across_both_apis(api, org, editor, sev):
    key = new_idem()
    v1 = org.create_incident(key=editor, idempotency_key=key, status="fixing", severity_id=sev["Minor"])
    r = api.post("/v2/incidents", key=editor, json={"idempotency_key": key, "visibility": "private",
                                                    "name": "other"})
    assert r.status == 200 and r.replayed, r.describe()
    assert r.body["incident"]["id"] == v1["id"] and r.body["incident"]["incident_status"]["name"] == "Fixing"
    key = new_idem()
    v2 = create_v2(api, editor, idempotency_key=key, severity_id=sev["Minor"])
    r = api.post("/v1/incidents", key=editor, json={"idempotency_key": key, "visibility": "public"})
    assert r.status == 200 and r.replayed and r.body["incident"]["id"] == v2["id"], r.describe()
    assert r.body["incident"]["status"] == "investigating"


def test_idempotency_race_across_both_apis(api, org, editor, sev):
    key = new_idem()

    def one(i=[0]):
        i[0] += 1
        path = "/v2/incidents" if i[0] % 2 else "/v1/incidents"
        return api.post(path, key=editor, json={"idempotency_key": key, "visibility": "public",
                                                 "severity_id": sev["Minor"], "status": "fixing"})
    results = burst(one, 16, parallel=8)
    assert all(r.status == 200 for r in results), [r.describe() for r in results if r.status != 200]
    assert len({r.body["incident"]["id"] for r in results}) == 1
    assert org.ctx.db.count("select count(*) from incidents where organisation_id = :'o' and idempotency_key = :'k'",
                            o=org.id, k=key) == 1


def test_show_by_id_and_by_reference_number(api, org, other_org, editor, sev):
    inc = create_v2(api, editor, severity_id=sev["Minor"])
    by_id = expect_ok(api.get("/v2/incidents/" + inc["id"], key=org.viewer))["incident"]
    by_number = expect_ok(api.get("/v2/incidents/%d" % ref_number(inc), key=org.viewer))["incident"]
    assert by_id == by_number == inc
    for bad in ("999999999", "0", "01H00000000000000000000000", "12345678901234567890", "x.y"):
        expect_error(api.get("/v2/incidents/" + bad, key=org.viewer), 404, "not_found")
    expect_error(api.get("/v2/incidents/" + inc["id"], key=other_org.viewer), 404, "not_found")
    private = create_v2(api, editor, visibility="private", severity_id=sev["Minor"])
    expect_error(api.get("/v2/incidents/" + private["id"], key=org.viewer), 404, "not_found")
    expect_ok(api.get("/v2/incidents/" + private["id"], key=org.admin))


def test_v1_create_shows_in_v2_with_its_status(api, org, editor, statuses, sev):
    for v1_status, name in (("triage", "Triage"), ("fixing", "Fixing"), ("monitoring", "Monitoring"),
                            ("closed", "Closed"), ("declined", "Declined")):
        v1 = org.create_incident(key=editor, status=v1_status, severity_id=sev["Minor"])
        v2 = expect_ok(api.get("/v2/incidents/" + v1["id"], key=editor))["incident"]
        assert v2["incident_status"]["id"] == statuses[name][0], v1_status
        assert v2["name"] == v1["name"] and v2["created_at"] == v1["created_at"]


# ---------------------------------------------------------------------------
# edit

def test_edit_changes_only_what_is_given_and_records_updates(api, org, editor, statuses, sev):
    inc = create_v2(api, editor, name="Before", summary="S", severity_id=sev["Minor"])
    after = edit(api, editor, inc["id"], name="After", severity_id=sev["Major"],
                 incident_status_id=statuses["Fixing"][0], call_url="https://meet.example/x")
    assert after["name"] == "After" and after["summary"] == "S"
    assert after["severity"]["id"] == sev["Major"] and after["incident_status"]["name"] == "Fixing"
    assert after["call_url"] == "https://meet.example/x"
    assert after["updated_at"] > inc["updated_at"] and after["created_at"] == inc["created_at"]
    assert expect_ok(api.get("/v2/incidents/" + inc["id"], key=editor))["incident"] == after
    v1 = expect_ok(api.get("/v1/incidents/" + inc["id"], key=editor))["incident"]
    assert v1["status"] == "fixing" and v1["name"] == "After" and v1["severity"]["id"] == sev["Major"]
    assert v1["updated_at"] == after["updated_at"]

    ups = updates_of(api, editor, inc["id"])
    assert len(ups) == 1
    u = ups[0]
    assert u["incident_id"] == inc["id"] and u["new_incident_status"]["name"] == "Fixing"
    assert u["new_severity"]["id"] == sev["Major"] and u["updater"]["api_key"]["id"] == editor.id
    assert u["created_at"] == after["updated_at"]

    # a name-only edit changes the incident but appends no update
    again = edit(api, editor, inc["id"], name="Renamed")
    assert len(updates_of(api, editor, inc["id"])) == 1
    # an edit that changes nothing writes nothing
    same = edit(api, editor, inc["id"], name="Renamed", severity_id=sev["Major"],
                incident_status_id=statuses["Fixing"][0])
    assert same == again
    assert len(updates_of(api, editor, inc["id"])) == 1


def test_edit_by_reference_number(api, editor, statuses, sev):
    inc = create_v2(api, editor, severity_id=sev["Minor"])
    out = edit(api, editor, str(ref_number(inc)), incident_status_id=statuses["Monitoring"][0])
    assert out["id"] == inc["id"] and out["incident_status"]["name"] == "Monitoring"


TRANSITIONS = [
    # from, to, allowed
    ("Triage", "Investigating", True), ("Triage", "Declined", True), ("Triage", "Post-incident", True),
    ("Triage", "Closed", True), ("Investigating", "Fixing", True), ("Investigating", "Post-incident", True),
    ("Investigating", "Closed", True), ("Post-incident", "Closed", True),
    ("Investigating", "Triage", False), ("Investigating", "Declined", False), ("Post-incident", "Fixing", False),
    ("Post-incident", "Triage", False), ("Closed", "Investigating", False), ("Closed", "Post-incident", False),
    ("Declined", "Triage", False), ("Declined", "Investigating", False), ("Closed", "Declined", False),
]


@pytest.mark.parametrize("src,dst,allowed", TRANSITIONS)
def test_transitions(api, org, editor, statuses, sev, src, dst, allowed):
    inc = create_v2(api, editor, severity_id=sev["Minor"], incident_status_id=statuses[src][0])
    before = org.ctx.db.count("select count(*) from incident_updates where incident_id = :'i'", i=inc["id"])
    if allowed:
        out = edit(api, editor, inc["id"], incident_status_id=statuses[dst][0])
        assert out["incident_status"]["name"] == dst
        assert len(updates_of(api, editor, inc["id"])) == before + 1
    else:
        r = edit(api, editor, inc["id"], expect=422, incident_status_id=statuses[dst][0], name="not written")
        expect_error(r, 422, "invalid_value", "incident.incident_status_id")
        now = expect_ok(api.get("/v2/incidents/" + inc["id"], key=editor))["incident"]
        assert now == inc, "a refused edit wrote something"
        assert org.ctx.db.count("select count(*) from incident_updates where incident_id = :'i'", i=inc["id"]) == before


def test_lifecycle_timestamps_and_the_v1_view(api, org, editor, statuses, timestamps, sev):
    inc = create_v2(api, editor, incident_status_id=statuses["Triage"][0])
    assert ts_values(inc)["Accepted at"] is None
    accepted = edit(api, editor, inc["id"], incident_status_id=statuses["Investigating"][0], severity_id=sev["Minor"])
    assert ts_values(accepted)["Accepted at"] == accepted["updated_at"]
    resolved = edit(api, editor, inc["id"], incident_status_id=statuses["Post-incident"][0])
    v = ts_values(resolved)
    assert v["Resolved at"] == resolved["updated_at"] and v["Closed at"] is None
    assert v["Accepted at"] == accepted["updated_at"], "accepted is set once"
    assert expect_ok(api.get("/v1/incidents/" + inc["id"], key=editor))["incident"]["status"] == "closed"
    closed = edit(api, editor, inc["id"], incident_status_id=statuses["Closed"][0])
    v = ts_values(closed)
    assert v["Closed at"] == closed["updated_at"] and v["Resolved at"] == resolved["updated_at"]
    # explicit values win, and a value left out unsets a timestamp
    fixed = edit(api, editor, inc["id"], incident_timestamp_values=[
        {"incident_timestamp_id": timestamps["accepted"], "value": "2025-01-02T03:04:05.123456+01:00"},
        {"incident_timestamp_id": timestamps["declined"]}])
    assert ts_values(fixed)["Accepted at"] == "2025-01-02T02:04:05.123456Z"
    assert ts_values(fixed)["Declined at"] is None


def test_v1_list_sees_edits_with_exact_totals(api, ctx, editor, statuses, sev):
    org = ctx.new_org("v2-v1list")
    ed = org.key("ed", "viewer", "incident_creator", "incident_editor")
    ids = [create_v2(api, ed, severity_id=org.severity["Minor"])["id"] for _ in range(3)]
    closed = [s for s in ctx.db.query("select id from incident_statuses where organisation_id = :'o' "
                                      "and seeded_as = 'closed'", o=org.id)][0][0]
    edit(api, ed, ids[1], incident_status_id=closed)
    body = expect_ok(api.get("/v1/incidents", key=ed, params={"status": "closed"}))
    assert [i["id"] for i in body["incidents"]] == [ids[1]]
    assert body["pagination_meta"]["total_record_count"] == 1
    body = expect_ok(api.get("/v1/incidents", key=ed, params={"status": "investigating"}))
    assert sorted(i["id"] for i in body["incidents"]) == sorted([ids[0], ids[2]])
    assert body["pagination_meta"]["total_record_count"] == 2
    assert expect_ok(api.get("/v1/incidents", key=ed))["pagination_meta"]["total_record_count"] == 3


def test_v1_status_of_a_created_status_follows_its_category(api, org, editor, statuses, sev):
    inc = create_v2(api, editor, severity_id=sev["Minor"], incident_status_id=statuses["Paused work"][0])
    assert expect_ok(api.get("/v1/incidents/" + inc["id"], key=editor))["incident"]["status"] == "investigating"


def test_edit_fields_and_roles(api, org, editor, sev):
    fields = org.field
    text_field = next(i for n, i in fields.items() if org.field_type[n] == "text")
    select_field = next(n for n in fields if org.field_type[n] == "single_select")
    option = next(iter(org.option[select_field].values()))
    lead = org.role_by_type["lead"]
    user = next(iter(org.user.values()))
    inc = create_v2(api, editor, severity_id=sev["Minor"],
                    custom_field_entries=[{"custom_field_id": text_field, "values": [{"value_text": "one"}]}])
    out = edit(api, editor, inc["id"],
               custom_field_entries=[{"custom_field_id": fields[select_field], "values": [{"value_option_id": option}]},
                                     {"custom_field_id": text_field, "values": [{"value_text": "two"}]}],
               incident_role_assignments=[{"incident_role_id": lead, "assignee": {"id": user["id"]}}])
    entries = [(e["custom_field"]["id"], e["values"]) for e in out["custom_field_entries"]]
    assert entries[0] == (text_field, [{"value_text": "two"}]), "a field keeps its place"
    assert entries[1][0] == fields[select_field] and entries[1][1][0]["value_option"]["id"] == option
    assert [(a["role"]["id"], a["assignee"]["id"]) for a in out["incident_role_assignments"]] == [(lead, user["id"])]
    v1 = expect_ok(api.get("/v1/incidents/" + inc["id"], key=editor))["incident"]
    assert v1["custom_field_entries"] == out["custom_field_entries"]
    assert v1["incident_role_assignments"] == out["incident_role_assignments"]
    # no values clears a field; no assignee unassigns
    out = edit(api, editor, inc["id"], custom_field_entries=[{"custom_field_id": text_field, "values": []}],
               incident_role_assignments=[{"incident_role_id": lead}])
    assert [e["custom_field"]["id"] for e in out["custom_field_entries"]] == [fields[select_field]]
    assert out["incident_role_assignments"] == []
    r = edit(api, editor, inc["id"], expect=422,
             custom_field_entries=[{"custom_field_id": text_field, "values": [{"value_option_id": option}]}])
    expect_error(r, 422, "is_required", "incident.custom_field_entries[0].values[0].value_text")


def test_edit_validation_and_roles(api, org, other_org, editor, public_editor, statuses, sev):
    inc = create_v2(api, editor, severity_id=sev["Minor"])
    r = api.post("/v2/incidents/%s/actions/edit" % inc["id"], key=editor, json={"incident": {"name": "x"}})
    expect_error(r, 422, "is_required", "notify_incident_channel")
    r = api.post("/v2/incidents/%s/actions/edit" % inc["id"], key=editor, json={"notify_incident_channel": True})
    expect_error(r, 422, "is_required", "incident")
    expect_error(edit(api, editor, inc["id"], expect=422, name=""), 422, None, "incident.name")
    expect_error(edit(api, editor, inc["id"], expect=422, severity_id=other_org.severity["Minor"]),
                 422, "invalid_value", "incident.severity_id")
    expect_error(edit(api, editor, inc["id"], expect=422, call_url="ftp://x"), 422, "invalid_value", "incident.call_url")
    expect_error(edit(api, org.viewer, inc["id"], expect=403), 403, "missing_permissions")
    expect_error(edit(api, org.creator, inc["id"], expect=403), 403, "missing_permissions")
    expect_error(edit(api, other_org.key("e", "incident_editor", "global_access"), inc["id"], expect=404), 404)
    private = create_v2(api, editor, visibility="private", severity_id=sev["Minor"])
    expect_error(edit(api, public_editor, private["id"], expect=404, name="x"), 404, "not_found")
    assert edit(api, public_editor, inc["id"], name="by a public editor")["name"] == "by a public editor"
    expect_error(edit(api, editor, "01H00000000000000000000000", expect=404, name="x"), 404, "not_found")


# ---------------------------------------------------------------------------
# incident updates

def test_updates_list_order_pagination_and_visibility(api, org, editor, statuses, sev):
    a = create_v2(api, editor, severity_id=sev["Minor"])
    b = create_v2(api, editor, severity_id=sev["Minor"], visibility="private")
    for name in ("Fixing", "Monitoring", "Investigating"):
        edit(api, editor, a["id"], incident_status_id=statuses[name][0])
        edit(api, editor, b["id"], incident_status_id=statuses[name][0])
    ups = updates_of(api, editor, a["id"])
    assert [u["new_incident_status"]["name"] for u in ups] == ["Investigating", "Monitoring", "Fixing"]
    assert [u["created_at"] for u in ups] == sorted((u["created_at"] for u in ups), reverse=True)
    # the viewer sees a's updates in the organisation's list, never b's
    seen, after = [], None
    while True:
        params = {"page_size": 250}
        if after:
            params["after"] = after
        body = expect_ok(api.get("/v2/incident_updates", key=org.viewer, params=params))
        seen.extend(u["incident_id"] for u in body["incident_updates"])
        after = body["pagination_meta"].get("after")
        if not after:
            break
    assert a["id"] in seen and b["id"] not in seen
    expect_error(api.get("/v2/incident_updates", key=org.viewer, params={"incident_id": b["id"]}), 404, "not_found")
    expect_error(api.get("/v2/incident_updates", key=org.viewer, params={"incident_id": "01H00000000000000000000000"}),
                 404, "not_found")
    expect_error(api.get("/v2/incident_updates", key=editor, params={"after": "01H00000000000000000000000"}),
                 422, "invalid_value", "after")
    expect_error(api.get("/v2/incident_updates", key=editor, params={"page_size": "0"}), 422, "invalid_value", "page_size")
    assert len(updates_of(api, org.admin, b["id"])) == 3


# ---------------------------------------------------------------------------
# concurrency

def test_concurrent_edits_lose_nothing(api, org, editor, statuses, sev):
    """Parallel edits of one incident: each 200 is one committed state; the
    updates are exactly the commits that changed status or severity, in
    commit order (each edit's updated_at, taken under the row lock)."""
    inc = create_v2(api, editor, severity_id=sev["Minor"])
    live = [statuses[n][0] for n in ("Investigating", "Fixing", "Monitoring")]
    sevs = [sev["Minor"], sev["Major"], sev["Critical"]]
    plans = [(live[i % 3], sevs[(i // 3) % 3], "edit-%d" % i) for i in range(24)]
    results = [None] * len(plans)

    def run(i):
        s, v, name = plans[i]
        results[i] = edit(api, editor, inc["id"], incident_status_id=s, severity_id=v, name=name)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(plans))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(results), "an edit failed"
    committed = sorted(results, key=lambda r: r["updated_at"])
    assert len({r["updated_at"] for r in committed}) == len(committed), "two commits share an updated_at"
    state = (inc["incident_status"]["id"], inc["severity"]["id"])
    want = []
    for r in committed:
        now = (r["incident_status"]["id"], r["severity"]["id"])
        if now != state:
            want.append((now, r["updated_at"]))
        state = now
    got = [((u["new_incident_status"]["id"], u["new_severity"]["id"]), u["created_at"])
           for u in reversed(updates_of(api, editor, inc["id"]))]
    assert got == want
    final = expect_ok(api.get("/v2/incidents/" + inc["id"], key=editor))["incident"]
    assert final == committed[-1]


def test_edits_racing_replays_see_consistent_incidents(api, org, editor, sev):
    key = new_idem()
    first = create_v2(api, editor, idempotency_key=key, name="v0", severity_id=sev["Minor"])
    names = {"v0"} | {"v%d" % i for i in range(1, 11)}
    replays = []

    def replayer():
        for _ in range(30):
            r = api.post("/v2/incidents", key=editor, json={"idempotency_key": key, "visibility": "public"})
            replays.append(r)

    t = threading.Thread(target=replayer)
    t.start()
    for i in range(1, 11):
        edit(api, editor, first["id"], name="v%d" % i)
    t.join()
    assert all(r.status == 200 and r.replayed for r in replays)
    for r in replays:
        inc = r.body["incident"]
        assert inc["id"] == first["id"] and inc["name"] in names
    final = expect_ok(api.get("/v2/incidents/" + first["id"], key=editor))["incident"]
    r = api.post("/v2/incidents", key=editor, json={"idempotency_key": key, "visibility": "public"})
    assert r.body["incident"] == final and final["name"] == "v10"


def test_v1_create_in_a_deleted_seeded_status_is_refused(api, ctx):
    org = ctx.new_org("v2-deleted-status")
    monitoring = ctx.db.scalar("select id from incident_statuses where organisation_id = :'o' "
                               "and seeded_as = 'monitoring'", o=org.id)
    r = api.delete("/v1/incident_statuses/" + monitoring, key=org.settings)
    assert r.status == 202, r.describe()
    r = org.create_incident(expect=422, status="monitoring", severity_id=org.severity["Minor"])
    expect_error(r, 422, "invalid_value", "status")
    assert org.create_incident(status="fixing", severity_id=org.severity["Minor"])["status"] == "fixing"
