#!/usr/bin/env python3
"""The upgrade test's fixture (tests/upgrade/README.md).

    fixture.py populate --url URL --ctl INCIDENTCTL --out STATE.json
        fills an empty incidentd through its API (and incidentctl, for what
        has no API: organisations, keys, users, incident types) with every
        kind of data, and writes the keys and the read-only requests to ask
        again after the upgrade;
    fixture.py capture --url URL --state STATE.json --out RENDERS.jsonl
        asks those requests and records each answer: status, the headers a
        client reads, and the body, byte for byte;
    fixture.py compare --url URL --state STATE.json --renders RENDERS.jsonl
        asks them again and fails on any difference;
    fixture.py lifecycle --url URL --state STATE.json --editor-token TOKEN
        checks what the lifecycle migration (007) gives an upgraded
        database: the seeded statuses and timestamps of every organisation,
        every recorded incident in the seeded status of its v1 status with
        Reported at = created_at, V2 lists and filters over them, and an
        edit of one (it writes: run it after compare).

Only the v1 API of the release the fixture is made from is used, and the
recorded requests never write (GETs, and creates whose idempotency key is
already used, which are replays).
"""

import argparse
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request

# Fields that a migration since the fixture was made adds on purpose to a
# rendered object, as {"why": ..., "path": [keys from the body's root, "*"
# for every element of an array]}: compare drops them from the new answer
# before comparing it with the recorded one, and fails if one is missing.
# Empty: no migration so far changes what an existing object renders.
ADDED_FIELDS = []

READ_HEADERS = ("content-type", "idempotent-replayed")


class Api:
    def __init__(self, url):
        self.url = url.rstrip("/")

    def call(self, method, path, token=None, body=None):
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if token:
            req.add_header("Authorization", "Bearer " + token)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict((k.lower(), v) for k, v in e.headers.items()), e.read()

    def ok(self, method, path, token, body=None, status=(200, 201, 202, 204)):
        st, _, raw = self.call(method, path, token, body)
        if st not in status:
            raise SystemExit("%s %s: %s %s" % (method, path, st, raw[:500].decode("utf-8", "replace")))
        return json.loads(raw) if raw else None


def ctl(path, *args):
    p = subprocess.run([path] + list(args), capture_output=True, text=True, check=False)
    if p.returncode != 0:
        raise SystemExit("incidentctl %s: %s %s" % (" ".join(args), p.stdout, p.stderr))
    return p.stdout.strip(), p.stderr.strip()


def populate(a):
    api = Api(a.url)
    keys = {}

    def key(label, org, name, *roles):
        args = ["api-key", "create", "--org", org, "--name", name]
        for r in roles:
            args += ["--role", r]
        token, err = ctl(a.ctl, *args)
        keys[label] = {"token": token, "id": err.split()[2]}
        return token

    org, _ = ctl(a.ctl, "org", "create", "Acme Ünïcödé 🚒")
    other, _ = ctl(a.ctl, "org", "create", "Other organisation")
    ctl(a.ctl, "seed-demo", "--org", org)
    ctl(a.ctl, "seed-demo", "--org", other)
    admin = key("admin", org, "admin — everything", "viewer", "incident_creator", "global_access",
                "manage_settings")
    key("viewer", org, "viewer only", "viewer")
    creator = key("creator", org, "creator only", "incident_creator")
    leaving = key("revoked", org, "revoked later", "incident_creator", "viewer")
    other_key = key("other admin", other, "other admin", "viewer", "incident_creator", "global_access")

    ctl(a.ctl, "user", "create", "--org", org, "--name", "Zoë Ångström-Łukasiewicz",
        "--email", "Zoe@Example.com", "--slack-user-id", "U0ZOE", "--role", "responder")
    ctl(a.ctl, "user", "create", "--org", org, "--name", "مريم (no email)", "--role", "administrator")
    ctl(a.ctl, "user", "create", "--org", org, "--name", "Ops bot", "--slack-user-id", "B0T", "--role", "owner")
    triage_type, _ = ctl(a.ctl, "incident-type", "create", "--org", org, "--name", "Always triage",
                         "--description", "starts in triage", "--create-in-triage", "always")

    cfg = lambda path: api.ok("GET", path, admin)  # noqa: E731
    sev = {s["name"]: s["id"] for s in cfg("/v1/severities")["severities"]}
    types = {t["name"]: t["id"] for t in cfg("/v1/incident_types")["incident_types"]}
    roles = {r["name"]: r["id"] for r in cfg("/v2/incident_roles")["incident_roles"]}
    fields = {f["name"]: f for f in cfg("/v2/custom_fields")["custom_fields"]}
    options = {}
    for f in fields.values():
        for o in cfg("/v1/custom_field_options?custom_field_id=" + f["id"])["custom_field_options"]:
            options[(f["name"], o["value"])] = o["id"]
    users = {u["name"]: u for u in cfg("/v2/users?page_size=250")["users"]}

    # Configuration made through the API, some of it changed again later.
    s = api.ok("POST", "/v1/severities", admin, {"name": "Sev ✨ ünïcode", "description": "emoji 🔥 and \"quotes\"", "rank": 7})
    sev["Sev ✨ ünïcode"] = s["severity"]["id"]
    s = api.ok("POST", "/v1/severities", admin, {"name": "Doomed", "description": "archived after use", "rank": 9})
    sev["Doomed"] = s["severity"]["id"]
    r = api.ok("POST", "/v2/incident_roles", admin, {"name": "Scribe", "shortform": "scribe",
                                                     "description": "Writes it down", "instructions": "Keep the timeline — up to date"})
    roles["Scribe"] = r["incident_role"]["id"]
    r = api.ok("POST", "/v2/incident_roles", admin, {"name": "Doomed role", "shortform": "",
                                                     "description": "archived after use", "instructions": ""})
    roles["Doomed role"] = r["incident_role"]["id"]
    f = api.ok("POST", "/v2/custom_fields", admin, {"name": "Region", "description": "Where", "field_type": "single_select"})
    fields["Region"] = f["custom_field"]
    for value, sort_key in (("eu-west-1", 10), ("us-east-1", 20), ("ap-south-1 ☀", 5), ("doomed", 30)):
        o = api.ok("POST", "/v1/custom_field_options", admin,
                   {"custom_field_id": fields["Region"]["id"], "value": value, "sort_key": sort_key})
        options[("Region", value)] = o["custom_field_option"]["id"]
    f = api.ok("POST", "/v2/custom_fields", admin, {"name": "Doomed field", "description": "archived after use", "field_type": "text"})
    fields["Doomed field"] = f["custom_field"]

    lead, reporter = roles["Incident Lead"], roles["Reporter"]
    team, services = fields["Affected Team"]["id"], fields["Services"]["id"]
    notes, runbook = fields["Notes"]["id"], fields["Runbook"]["id"]
    customers, region = fields["Customers affected"]["id"], fields["Region"]["id"]

    incidents = []

    def create(token, **payload):
        payload.setdefault("visibility", "public")
        payload.setdefault("idempotency_key", "fixture-%d" % len(incidents))
        body = api.ok("POST", "/v1/incidents", token, payload)
        incidents.append({"id": body["incident"]["id"], "key": payload["idempotency_key"]})
        return body["incident"]["id"]

    create(admin, name="Checkout is failing", status="investigating", severity_id=sev["Major"],
           summary="Payments time out for EU customers.",
           custom_field_entries=[
               {"custom_field_id": team, "values": [{"value_option_id": options[("Affected Team", "Payments")]}]},
               {"custom_field_id": services, "values": [{"value_option_id": options[("Services", o)]} for o in ("Database", "API", "Web")]},
               {"custom_field_id": notes, "values": [{"value_text": "Ünïcödé notes: 🚒🔥 \"quoted\" \\ back\nslash\ttab \u2028"}]},
               {"custom_field_id": runbook, "values": [{"value_link": "https://runbooks.example.com/checkout?step=1#top"}]},
               {"custom_field_id": customers, "values": [{"value_numeric": "-12.50"}]},
               {"custom_field_id": region, "values": [{"value_option_id": options[("Region", "doomed")]}]},
               {"custom_field_id": fields["Doomed field"]["id"], "values": [{"value_text": "kept after the field is archived"}]},
           ],
           incident_role_assignments=[
               {"incident_role_id": lead, "assignee": {"id": users["Lisa"]["id"]}},
               {"incident_role_id": reporter, "assignee": {"email": "zoe@example.com"}},
               {"incident_role_id": roles["Scribe"], "assignee": {"slack_user_id": "B0T"}},
               {"incident_role_id": roles["Doomed role"], "assignee": {"id": users["Bob"]["id"]}},
           ],
           slack_team_id="T0123", source_message_channel_id="C42", source_message_timestamp="1700000000.000100")
    for i, status in enumerate(("triage", "investigating", "fixing", "monitoring", "closed", "declined")):
        for visibility in ("public", "private"):
            create(admin, name="%s %s incident nº%d — ✓" % (status, visibility, i), status=status,
                   visibility=visibility,
                   severity_id=[sev["Minor"], sev["Critical"], sev["Sev ✨ ünïcode"], sev["Doomed"]][i % 4]
                   if status not in ("triage",) else None,
                   incident_type_id=types["Default"] if i % 2 else None,
                   custom_field_entries=[{"custom_field_id": region, "values": [
                       {"value_option_id": options[("Region", ["eu-west-1", "us-east-1", "ap-south-1 ☀"][i % 3])]}]}])
    create(admin, status="fixing", severity_id=sev["Minor"], mode="test")  # Untitled, test mode
    create(admin, name="n" * 500, summary="s" * 50000, severity_id=sev["Critical"], status="monitoring",
           custom_field_entries=[{"custom_field_id": notes, "values": [{"value_text": "t" * 10000}]}])
    create(admin, name="Security breach", visibility="private", incident_type_id=types["Security"],
           status="investigating", severity_id=sev["Critical"])
    create(admin, name="Forced into triage", incident_type_id=triage_type, status="fixing",
           severity_id=sev["Major"])
    create(admin, name="   lots   of   ---   dashes and ÜPPER case   ", status="declined")
    create(admin, name="Empty values", status="triage",
           custom_field_entries=[{"custom_field_id": services, "values": []}],
           incident_role_assignments=[])
    create(creator, name="Made by the creator-only key", status="triage")
    create(leaving, name="Made by a key that was revoked later", status="triage")
    for i in range(12):
        create(admin, name="Filler %02d" % i, status=["triage", "fixing", "closed"][i % 3],
               severity_id=sev["Minor"], idempotency_key="alert-%02d ⚠ same key text?" % i)
    incidents_other = api.ok("POST", "/v1/incidents", other_key,
                             {"idempotency_key": "fixture-0", "visibility": "private", "name": "Other org's"})

    # Changed after incidents used them: renamed, archived, options added.
    api.ok("PUT", "/v1/severities/" + sev["Major"], admin, {"name": "Major (renamed)", "description": "renamed later", "rank": 2})
    api.ok("DELETE", "/v1/severities/" + sev["Doomed"], admin)
    api.ok("PUT", "/v2/incident_roles/" + roles["Scribe"], admin,
           {"name": "Scribe (renamed)", "shortform": "scr", "description": "Writes it all down", "instructions": "Timeline"})
    api.ok("DELETE", "/v2/incident_roles/" + roles["Doomed role"], admin)
    api.ok("PUT", "/v1/custom_field_options/" + options[("Region", "eu-west-1")], admin,
           {"value": "eu-west-1 (Ireland)", "sort_key": 11})
    api.ok("DELETE", "/v1/custom_field_options/" + options[("Region", "doomed")], admin)
    api.ok("POST", "/v1/custom_field_options", admin, {"custom_field_id": region, "value": "added later", "sort_key": 1})
    api.ok("PUT", "/v2/custom_fields/" + region, admin, {"name": "Region (renamed)", "description": "Where, renamed"})
    api.ok("DELETE", "/v2/custom_fields/" + fields["Doomed field"]["id"], admin)
    ctl(a.ctl, "api-key", "revoke", keys["revoked"]["id"])

    # The read-only requests to ask again after the upgrade.
    probes = []

    def probe(path, who="admin", method="GET", body=None):
        probes.append({"method": method, "path": path, "key": who, "body": body})

    for who in ("admin", "viewer"):
        probe("/v1/incidents?page_size=250", who)
        for st in ("triage", "fixing", "closed&status=declined"):
            probe("/v1/incidents?page_size=250&status=" + st, who)
    page = api.ok("GET", "/v1/incidents?page_size=7", admin)
    probe("/v1/incidents?page_size=7")
    while page["pagination_meta"].get("after"):
        path = "/v1/incidents?page_size=7&after=" + page["pagination_meta"]["after"]
        probe(path)
        page = api.ok("GET", path, admin)
    probe("/v1/incidents", "other admin")
    for inc in incidents:
        probe("/v1/incidents/" + inc["id"])
        probe("/v1/incidents", "admin", "POST",
              {"idempotency_key": inc["key"], "visibility": "public", "name": "ignored: a replay"})
    probe("/v1/incidents", "other admin", "POST",
          {"idempotency_key": "fixture-0", "visibility": "public"})
    probe("/v1/incidents/" + incidents_other["incident"]["id"], "other admin")
    for label in keys:
        if label != "revoked":
            probe("/v1/identity", label)
    for who in ("admin", "viewer", "other admin"):
        probe("/v1/severities", who)
        probe("/v1/incident_types", who)
        probe("/v2/incident_roles", who)
        probe("/v2/custom_fields", who)
        probe("/v2/users", who)
    for s in cfg("/v1/severities")["severities"]:
        probe("/v1/severities/" + s["id"])
    for t in cfg("/v1/incident_types")["incident_types"]:
        probe("/v1/incident_types/" + t["id"])
    for r in cfg("/v2/incident_roles")["incident_roles"]:
        probe("/v2/incident_roles/" + r["id"])
    for f in cfg("/v2/custom_fields")["custom_fields"]:
        probe("/v2/custom_fields/" + f["id"])
        probe("/v1/custom_field_options?custom_field_id=" + f["id"])
        probe("/v1/custom_field_options?page_size=2&custom_field_id=" + f["id"])
        for o in cfg("/v1/custom_field_options?custom_field_id=" + f["id"])["custom_field_options"]:
            probe("/v1/custom_field_options/" + o["id"])
    for u in cfg("/v2/users?page_size=250")["users"]:
        probe("/v2/users/" + u["id"])
    probe("/v2/users?page_size=2")
    probe("/v2/users?email=zoe@example.com")
    probe("/v2/users?slack_user_id=U0ZOE")

    with open(a.out, "w", encoding="utf-8") as f:
        json.dump({"keys": keys, "probes": probes}, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print("populated: %d incidents, %d probes" % (len(incidents), len(probes)))


def ask(api, state, p):
    token = state["keys"][p["key"]]["token"]
    status, headers, raw = api.call(p["method"], p["path"], token, p["body"])
    return {"request": "%s %s as %s" % (p["method"], p["path"], p["key"]), "status": status,
            "headers": {h: headers[h] for h in READ_HEADERS if h in headers},
            "body": raw.decode("utf-8")}


def capture(a):
    api = Api(a.url)
    state = json.load(open(a.state, encoding="utf-8"))
    with open(a.out, "w", encoding="utf-8") as f:
        for p in state["probes"]:
            r = ask(api, state, p)
            if r["status"] != 200:
                raise SystemExit("%s: %s %s" % (r["request"], r["status"], r["body"][:300]))
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print("captured %d answers" % len(state["probes"]))


def drop_added(doc, path):
    """Removes path from doc; False when it was not there."""
    if not path:
        return True
    head, rest = path[0], path[1:]
    if head == "*":
        return isinstance(doc, list) and all(drop_added(x, rest) for x in doc)
    if not isinstance(doc, dict) or head not in doc:
        return False
    if not rest:
        del doc[head]
        return True
    return drop_added(doc[head], rest)


def compare(a):
    api = Api(a.url)
    state = json.load(open(a.state, encoding="utf-8"))
    with open(a.renders, encoding="utf-8") as f:
        recorded = [json.loads(line) for line in f]
    assert len(recorded) == len(state["probes"]), "renders and probes differ in number"
    failures = 0
    for p, want in zip(state["probes"], recorded):
        got = ask(api, state, p)
        body = got["body"]
        if ADDED_FIELDS and got["status"] == 200:
            doc = json.loads(body)
            for added in ADDED_FIELDS:
                if not drop_added(doc, added["path"]):
                    got["headers"]["x-missing-added-field"] = "/".join(added["path"])
            body = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
            want = dict(want, body=json.dumps(json.loads(want["body"]), ensure_ascii=False,
                                              separators=(",", ":")))
        if (got["status"], got["headers"], body) != (want["status"], want["headers"], want["body"]):
            failures += 1
            print("DIFFERENT: %s" % want["request"], file=sys.stderr)
            print("  before: %s %s %s" % (want["status"], want["headers"], want["body"][:400]), file=sys.stderr)
            print("  now:    %s %s %s" % (got["status"], got["headers"], body[:400]), file=sys.stderr)
            i = next((k for k in range(min(len(body), len(want["body"]))) if body[k] != want["body"][k]), None)
            if i is not None:
                print("  first difference at byte %d: ...%s... vs ...%s..." % (
                    i, want["body"][max(0, i - 60):i + 60], body[max(0, i - 60):i + 60]), file=sys.stderr)
    print("compared %d answers: %d different" % (len(recorded), failures))
    return 1 if failures else 0


SEEDED = [("Triage", "triage"), ("Investigating", "live"), ("Fixing", "live"), ("Monitoring", "live"),
          ("Closed", "closed"), ("Declined", "declined")]


def lifecycle(a):
    api = Api(a.url)
    state = json.load(open(a.state, encoding="utf-8"))
    admin = state["keys"]["admin"]["token"]
    failures = []

    def expect(cond, what):
        if not cond:
            failures.append(what)

    for label in ("admin", "other admin"):
        tok = state["keys"][label]["token"]
        sts = api.ok("GET", "/v1/incident_statuses", tok)["incident_statuses"]
        expect([(s["name"], s["category"]) for s in sts] == SEEDED, "%s: seeded statuses %r" % (label, sts))
        tss = api.ok("GET", "/v2/incident_timestamps", tok)["incident_timestamps"]
        expect([t["name"] for t in tss] == ["Reported at", "Accepted at", "Resolved at", "Closed at", "Declined at"],
               "%s: seeded timestamps %r" % (label, tss))
    ids = sorted({p["path"].rsplit("/", 1)[1] for p in state["probes"]
                  if p["key"] == "admin" and p["method"] == "GET"
                  and p["path"].startswith("/v1/incidents/") and "?" not in p["path"]})
    by_status = {}
    for i in ids:
        v1 = api.ok("GET", "/v1/incidents/" + i, admin)["incident"]
        v2 = api.ok("GET", "/v2/incidents/" + i, admin)["incident"]
        by_status.setdefault(v1["status"], []).append(i)
        expect(v2["incident_status"]["name"].lower() == v1["status"], "%s: status %s vs %s" % (
            i, v2["incident_status"]["name"], v1["status"]))
        for k in ("id", "reference", "name", "visibility", "created_at", "updated_at"):
            expect(v2[k] == v1[k], "%s: %s differs" % (i, k))
        values = {t["incident_timestamp"]["name"]: t.get("value", {}).get("value")
                  for t in v2["incident_timestamp_values"]}
        expect(values == {"Reported at": v1["created_at"], "Accepted at": None, "Resolved at": None,
                          "Closed at": None, "Declined at": None}, "%s: timestamps %r" % (i, values))
    expect(len(ids) >= 10, "too few recorded incidents: %d" % len(ids))
    sts = {s["name"]: s["id"] for s in api.ok("GET", "/v1/incident_statuses", admin)["incident_statuses"]}
    for name, _ in SEEDED:
        v1 = api.ok("GET", "/v1/incidents?page_size=250&status=" + name.lower(), admin)
        v2 = api.ok("GET", "/v2/incidents?page_size=250&mode[one_of]=standard&mode[one_of]=test"
                    "&mode[one_of]=tutorial&mode[one_of]=retrospective&status[one_of]=" + sts[name], admin)
        expect(sorted(x["id"] for x in v1["incidents"]) == sorted(x["id"] for x in v2["incidents"]),
               "status %s: v1 and v2 lists differ" % name)
        expect(v1["pagination_meta"]["total_record_count"] == v2["pagination_meta"]["total_record_count"],
               "status %s: totals differ" % name)
    old = by_status.get("investigating", [None])[0]
    expect(old is not None, "no recorded investigating incident")
    if old:
        out = api.ok("POST", "/v2/incidents/%s/actions/edit" % old, a.editor_token,
                     {"incident": {"incident_status_id": sts["Fixing"]}, "notify_incident_channel": False})
        expect(out["incident"]["incident_status"]["name"] == "Fixing", "edit of an old incident")
        expect(api.ok("GET", "/v1/incidents/" + old, admin)["incident"]["status"] == "fixing", "v1 after the edit")
        ups = api.ok("GET", "/v2/incident_updates?incident_id=" + old, admin)["incident_updates"]
        expect(len(ups) == 1 and ups[0]["new_incident_status"]["name"] == "Fixing", "updates after the edit")
    for f in failures:
        print("LIFECYCLE: " + f, file=sys.stderr)
    print("lifecycle: %d incidents checked, %d problems" % (len(ids), len(failures)))
    return 1 if failures else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("populate")
    p.add_argument("--url", required=True)
    p.add_argument("--ctl", required=True)
    p.add_argument("--out", required=True)
    p = sub.add_parser("capture")
    p.add_argument("--url", required=True)
    p.add_argument("--state", required=True)
    p.add_argument("--out", required=True)
    p = sub.add_parser("lifecycle")
    p.add_argument("--url", required=True)
    p.add_argument("--state", required=True)
    p.add_argument("--editor-token", required=True)
    p = sub.add_parser("compare")
    p.add_argument("--url", required=True)
    p.add_argument("--state", required=True)
    p.add_argument("--renders", required=True)
    a = ap.parse_args()
    return {"populate": populate, "capture": capture, "compare": compare,
            "lifecycle": lifecycle}[a.cmd](a) or 0


if __name__ == "__main__":
    sys.exit(main())
