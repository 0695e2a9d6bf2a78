"""GET /v2/incidents: every filter of the contract, filter_mode all/any,
both sort orders, keyset pagination and exact totals, each compared with
the answer computed here from the incidents themselves."""

import datetime
import itertools

import pytest

from helpers import expect_error, expect_ok, new_idem


@pytest.fixture(scope="module")
def world(ctx, api):
    """A fresh organisation with incidents in every combination the filters
    tell apart; returns (org, key, incidents as V2 shows them, config)."""
    org = ctx.new_org("v2list")
    key = org.key("all", "viewer", "incident_creator", "incident_editor", "global_access")
    db = ctx.db
    st = dict(db.query("select name, id from incident_statuses where organisation_id = :'o'", o=org.id))
    learning = db.scalar("insert into incident_statuses (organisation_id, name, description, rank, category) "
                         "values (:'o', 'Learning', 'x', 45, 'learning') returning id", o=org.id)
    st["Learning"] = learning
    sev = org.severity
    types = [org.incident_type["Default"]] + [i for n, i in sorted(org.incident_type.items()) if n != "Default"][:1]
    select_field = next(n for n in org.field if org.field_type[n] == "single_select")
    multi_field = next(n for n in org.field if org.field_type[n] == "multi_select")
    opts = list(org.option[select_field].values())
    mopts = list(org.option[multi_field].values())
    lead = org.role_by_type["lead"]
    users = [u["id"] for u in org.user.values()]
    ids = []
    plan = [
        # status, severity, type index, visibility, mode, option, multi options, lead user
        ("Investigating", "Minor", 0, "public", "standard", opts[0], [], users[0]),
        ("Fixing", "Major", 0, "public", "standard", opts[1], [mopts[0]], None),
        ("Triage", None, 0, "public", "standard", None, [mopts[0], mopts[1]], users[1]),
        ("Closed", "Critical", 0, "private", "standard", opts[0], [], None),
        ("Monitoring", "Critical", 0, "public", "retrospective", None, [mopts[1]], users[0]),
        ("Declined", None, 0, "public", "standard", opts[1], [], None),
        ("Learning", "Major", 0, "public", "standard", opts[0], [mopts[0]], users[1]),
        ("Investigating", "Minor", 0, "public", "test", opts[0], [], None),
        ("Investigating", "Major", 0, "public", "tutorial", None, [], None),
        ("Fixing", "Minor", 1, "private", "standard", None, [mopts[1]], users[0]),
    ]
    for s, v, t, vis, mode, opt, mo, user in plan:
        body = {"idempotency_key": new_idem(), "visibility": vis, "mode": mode,
                "incident_status_id": st[s], "incident_type_id": types[t], "custom_field_entries": [],
                "incident_role_assignments": []}
        if v:
            body["severity_id"] = sev[v]
        if opt:
            body["custom_field_entries"].append({"custom_field_id": org.field[select_field],
                                                 "values": [{"value_option_id": opt}]})
        if mo:
            body["custom_field_entries"].append({"custom_field_id": org.field[multi_field],
                                                 "values": [{"value_option_id": o} for o in mo]})
        if user:
            body["incident_role_assignments"].append({"incident_role_id": lead, "assignee": {"id": user}})
        r = api.post("/v2/incidents", key=key, json=body)
        assert r.status == 200, r.describe()
        ids.append(r.body["incident"]["id"])
    # one edit, so updated_at and the status of an incident differ from its creation
    r = api.post("/v2/incidents/%s/actions/edit" % ids[0], key=key,
                 json={"incident": {"incident_status_id": st["Fixing"]}, "notify_incident_channel": False})
    assert r.status == 200, r.describe()
    # a V1 incident from "before statuses": NULL incident_status_id
    v1 = org.create_incident(key=key, status="monitoring", severity_id=sev["Minor"])
    db.query("update incidents set incident_status_id = null, frame = null, frame_v2 = null "
             "where id = :'i' returning id", i=v1["id"])
    ids.append(v1["id"])
    incidents = [expect_ok(api.get("/v2/incidents/" + i, key=key))["incident"] for i in ids]
    cfg = {"st": st, "sev": sev, "types": types, "select_field": org.field[select_field],
           "multi_field": org.field[multi_field], "opts": opts, "mopts": mopts, "lead": lead, "users": users,
           "sev_rank": dict(db.query("select id, rank from severities where organisation_id = :'o'", o=org.id)),
           "cat": dict(db.query("select id, category from incident_statuses where organisation_id = :'o'", o=org.id))}
    return org, key, incidents, cfg


def list_all(api, key, params, page_size=3):
    """Every page; returns (ids in order, totals seen)."""
    out, totals, after = [], set(), None
    while True:
        p = list(params) + [("page_size", page_size)] + ([("after", after)] if after else [])
        body = expect_ok(api.get("/v2/incidents", key=key, params=p))
        out.extend(i["id"] for i in body["incidents"])
        totals.add(body["pagination_meta"]["total_record_count"])
        after = body["pagination_meta"].get("after")
        if not after:
            return out, totals


def day(ts):
    return ts[:10]


# predicates over a V2 incident, keyed like the query parameters
def clause(cfg, param, values):
    name, _, rest = param.partition("[")
    parts = rest.rstrip("]").split("][")
    if name in ("incident_role", "custom_field"):
        key, op = parts
    else:
        key, op = None, parts[0]
    if name == "status":
        return lambda i: (i["incident_status"]["id"] in values) == (op == "one_of")
    if name == "status_category":
        return lambda i: (i["incident_status"]["category"] in values) == (op == "one_of")
    if name == "severity":
        sid = lambda i: (i.get("severity") or {}).get("id")
        if op in ("gte", "lte"):
            r = cfg["sev_rank"][values[0]]
            return lambda i: sid(i) is not None and (
                int(cfg["sev_rank"][sid(i)]) >= int(r) if op == "gte" else int(cfg["sev_rank"][sid(i)]) <= int(r))
        return lambda i: (sid(i) in values) == (op == "one_of")
    if name == "incident_type":
        return lambda i: (i["incident_type"]["id"] in values) == (op == "one_of")
    if name in ("created_at", "updated_at"):
        lo, hi = "0000", "9999"
        if op == "gte":
            lo = values[0]
        elif op == "lte":
            hi = values[0]
        else:
            lo, hi = values[0].split("~")
        return lambda i: lo <= day(i[name]) <= hi
    if name == "incident_role":
        holders = lambda i: [a["assignee"]["id"] for a in i["incident_role_assignments"] if a["role"]["id"] == key]
        if op == "is_blank":
            return lambda i: (not holders(i)) == (values[0] == "true")
        return lambda i: any(h in values for h in holders(i))
    if name == "custom_field":
        chosen = lambda i: [v["value_option"]["id"] for e in i["custom_field_entries"]
                            if e["custom_field"]["id"] == key for v in e["values"] if "value_option" in v]
        present = lambda i: any(e["custom_field"]["id"] == key for e in i["custom_field_entries"])
        if op == "is_blank":
            return lambda i: (not present(i)) == (values[0] == "true")
        return lambda i: any(c in values for c in chosen(i)) == (op == "one_of")
    raise AssertionError(param)


def expected(world, params, can_see_private=True, modes=None):
    _, _, incidents, cfg = world
    modes = [v for k, v in params if k == "mode[one_of]"] or ["standard", "retrospective"]
    grouped = {}
    any_mode = False
    newest = True
    for k, v in params:
        if k == "filter_mode":
            any_mode = v == "any"
        elif k == "sort_by":
            newest = v == "created_at_newest_first"
        elif k == "mode[one_of]":
            pass
        elif k.endswith("[one_of]") or k.endswith("[not_in]"):
            grouped.setdefault(k, []).append(v)
        else:
            grouped[k] = [v]
    preds = [clause(cfg, k, v) for k, v in grouped.items()]
    out = [i for i in incidents
           if (can_see_private or i["visibility"] == "public") and i["mode"] in modes
           and (not preds or (any(p(i) for p in preds) if any_mode else all(p(i) for p in preds)))]
    out.sort(key=lambda i: (i["created_at"], i["id"]), reverse=newest)
    return [i["id"] for i in out]


def check(api, world, params, key=None, **kw):
    org, k, _, _ = world
    got, totals = list_all(api, key or k, params)
    want = expected(world, params, **kw)
    assert got == want, params
    assert totals == {len(want)}, (params, totals, len(want))
    return got


def test_unfiltered_newest_and_oldest_first(api, world):
    ids = check(api, world, [])
    assert len(ids) == 9, "test and tutorial incidents are left out by default"
    assert check(api, world, [("sort_by", "created_at_oldest_first")]) == list(reversed(ids))


def test_status_and_category(api, world):
    st = world[3]["st"]
    check(api, world, [("status[one_of]", st["Fixing"])])
    check(api, world, [("status[one_of]", st["Fixing"]), ("status[one_of]", st["Monitoring"])])
    check(api, world, [("status[not_in]", st["Fixing"])])
    for cat in ("triage", "live", "learning", "closed", "declined", "paused"):
        check(api, world, [("status_category[one_of]", cat)])
        check(api, world, [("status_category[not_in]", cat)])


def test_severity(api, world):
    sev = world[3]["sev"]
    for name in ("Minor", "Major", "Critical"):
        for op in ("one_of", "not_in", "gte", "lte"):
            check(api, world, [("severity[%s]" % op, sev[name])])


def test_incident_type_role_and_fields(api, world):
    cfg = world[3]
    check(api, world, [("incident_type[one_of]", cfg["types"][0])])
    check(api, world, [("incident_type[not_in]", cfg["types"][0])])
    check(api, world, [("incident_type[one_of]", cfg["types"][1])])
    role = "incident_role[%s]" % cfg["lead"]
    check(api, world, [(role + "[one_of]", cfg["users"][0])])
    check(api, world, [(role + "[one_of]", cfg["users"][0]), (role + "[one_of]", cfg["users"][1])])
    check(api, world, [(role + "[is_blank]", "true")])
    check(api, world, [(role + "[is_blank]", "false")])
    for field, opts in ((cfg["select_field"], cfg["opts"]), (cfg["multi_field"], cfg["mopts"])):
        f = "custom_field[%s]" % field
        check(api, world, [(f + "[one_of]", opts[0])])
        check(api, world, [(f + "[one_of]", opts[0]), (f + "[one_of]", opts[1])])
        check(api, world, [(f + "[not_in]", opts[0])])
        check(api, world, [(f + "[is_blank]", "true")])
        check(api, world, [(f + "[is_blank]", "false")])


def test_dates(api, world):
    today = datetime.datetime.now(datetime.timezone.utc).date()
    days = [str(today + datetime.timedelta(days=d)) for d in (-1, 0, 1)]
    for name in ("created_at", "updated_at"):
        for d in days:
            check(api, world, [("%s[gte]" % name, d)])
            check(api, world, [("%s[lte]" % name, d)])
        check(api, world, [("%s[date_range]" % name, "%s~%s" % (days[0], days[1]))])
        check(api, world, [("%s[date_range]" % name, "%s~%s" % (days[2], days[2]))])


def test_modes_and_visibility(api, world):
    org = world[0]
    check(api, world, [("mode[one_of]", "test")], modes=["test"])
    check(api, world, [("mode[one_of]", "test"), ("mode[one_of]", "tutorial")], modes=["test", "tutorial"])
    viewer = org.key("viewer2", "viewer")
    check(api, world, [], key=viewer, can_see_private=False)
    check(api, world, [("status_category[one_of]", "closed")], key=viewer, can_see_private=False)


def test_combinations_all_and_any(api, world):
    cfg = world[3]
    clauses = [("status_category[one_of]", "live"), ("severity[gte]", cfg["sev"]["Major"]),
               ("custom_field[%s][one_of]" % cfg["select_field"], cfg["opts"][0]),
               ("incident_role[%s][is_blank]" % cfg["lead"], "true"),
               ("created_at[gte]", str(datetime.datetime.now(datetime.timezone.utc).date()))]
    for a, b in itertools.combinations(clauses, 2):
        for mode in ("all", "any"):
            for order in ("created_at_newest_first", "created_at_oldest_first"):
                check(api, world, [a, b, ("filter_mode", mode), ("sort_by", order)])


def test_totals_come_from_the_counters_and_stay_exact_after_edits(api, world, ctx):
    org, key, _, cfg = world
    before = expect_ok(api.get("/v2/incidents", key=key, params={"status_category[one_of]": "closed"}))
    n = before["pagination_meta"]["total_record_count"]
    target = next(i for i in world[2] if i["incident_status"]["category"] == "live" and i["mode"] == "standard")
    r = api.post("/v2/incidents/%s/actions/edit" % target["id"], key=key,
                 json={"incident": {"incident_status_id": cfg["st"]["Closed"]}, "notify_incident_channel": False})
    assert r.status == 200, r.describe()
    after = expect_ok(api.get("/v2/incidents", key=key, params={"status_category[one_of]": "closed"}))
    assert after["pagination_meta"]["total_record_count"] == n + 1
    assert target["id"] in [i["id"] for i in after["incidents"]]
    # the counters agree with a recount
    got = ctx.db.query("select visibility, mode, incident_status_id, coalesce(severity_id, ''), "
                       "coalesce(incident_type_id, ''), incident_count::text from incident_facet_counts "
                       "where organisation_id = :'o' and incident_count <> 0 order by 1, 2, 3, 4, 5", o=org.id)
    want = ctx.db.query("select visibility, case when retrospective then 'retrospective' when mode = 'real' "
                        "then 'standard' else mode end, coalesce(incident_status_id, (select s.id from "
                        "incident_statuses s where s.organisation_id = i.organisation_id and s.seeded_as = i.status)), "
                        "coalesce(severity_id, ''), coalesce(incident_type_id, ''), count(*)::text from incidents i "
                        "where organisation_id = :'o' group by 1, 2, 3, 4, 5 order by 1, 2, 3, 4, 5", o=org.id)
    assert got == want


@pytest.mark.parametrize("param,value", [
    ("status[one_of]", "01H00000000000000000000000"),
    ("status[among]", "x"),
    ("colour[one_of]", "red"),
    ("status_category[one_of]", "active"),
    ("severity[gte]", "01H00000000000000000000000"),
    ("created_at[gte]", "2024-13-01"),
    ("created_at[gte]", "yesterday"),
    ("created_at[date_range]", "2024-01-01"),
    ("custom_field[01H00000000000000000000000][one_of]", "01H00000000000000000000000"),
    ("incident_role[01H00000000000000000000000][is_blank]", "true"),
    ("incident_type[one_of]", ""),
    ("mode[one_of]", "real"),
    ("status", "x]"),
])
def test_bad_filters_name_the_parameter(api, world, param, value):
    r = api.get("/v2/incidents", key=world[1], params=[(param, value)])
    if param == "status":
        assert r.status == 200, "a plain unknown parameter is ignored"
        return
    expect_error(r, 422, "invalid_value", param)


def test_bad_paging_and_options(api, world):
    key = world[1]
    expect_error(api.get("/v2/incidents", key=key, params={"sort_by": "name"}), 422, "invalid_value", "sort_by")
    expect_error(api.get("/v2/incidents", key=key, params={"filter_mode": "some"}), 422, "invalid_value", "filter_mode")
    expect_error(api.get("/v2/incidents", key=key, params={"page_size": "0"}), 422, "invalid_value", "page_size")
    expect_error(api.get("/v2/incidents", key=key, params={"after": "01H00000000000000000000000"}),
                 422, "invalid_value", "after")
    body = expect_ok(api.get("/v2/incidents", key=key, params={"page_size": "100000"}))
    assert body["pagination_meta"]["page_size"] == 250
