#!/usr/bin/env python3
"""Validates what the api.* functions render against the OpenAPI spec.

For every organisation in the database: walks the first 20 pages of 100
of the incident list (private included, and the public-only view), shows up to 50
incidents, replays the create of up to 20 of them, and checks each body
against IncidentsListResultV1 / IncidentsShowResultV1 /
IncidentsCreateResultV1. Run it after tests/sql/smoke.sql, e.g.

    PGHOST=/tmp/sqlh PGPORT=55501 PGUSER=postgres PGDATABASE=smoke \
        python3 tests/sql/validate_spec.py

Needs psql and the Python packages openapi-schema-validator and
referencing. Exits 1 if any body is invalid.
"""
import json
import os
import subprocess
import sys

from openapi_schema_validator import OAS30Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

HERE = os.path.dirname(os.path.abspath(__file__))
SPEC = os.environ.get("INCIDENTD_SPEC",
                      os.path.join(HERE, "..", "..", "..", "shared", "spec", "incidentio-openapi.json"))
if not os.path.exists(SPEC):
    SPEC = "/work/shared/spec/incidentio-openapi.json"

spec = json.load(open(SPEC))
registry = Registry().with_resource("spec.json", Resource.from_contents(spec, default_specification=DRAFT4))


def validator(name):
    return OAS30Validator({"$ref": "spec.json#/components/schemas/" + name}, registry=registry)


ENV = dict(os.environ, PGOPTIONS="-c incidentd.public_url=https://incidents.example.com")


def query(sql, *params):
    """One value from psql; params are passed as psql variables (:'p1'...)."""
    args = ["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1"]
    for i, p in enumerate(params, 1):
        args += ["-v", "p%d=%s" % (i, p)]
    out = subprocess.run(args, input=sql, env=ENV, check=True, capture_output=True, text=True)
    return out.stdout.rstrip("\n")


failures = 0
checked = 0


def check(v, body, what):
    global failures, checked
    checked += 1
    errors = list(v.iter_errors(body))
    for e in errors[:5]:
        print("INVALID %s: %s at %s" % (what, e.message, "/".join(map(str, e.path))))
    if errors:
        failures += 1


list_v, show_v, create_v = (validator("IncidentsListResultV1"), validator("IncidentsShowResultV1"),
                            validator("IncidentsCreateResultV1"))

orgs = query("select string_agg(id, ' ') from organisations;").split()
for org in orgs:
    for private in ("true", "false"):
        after = ""
        shown = 0
        for _page in range(20):  # the first 2000 incidents are plenty
            body = json.loads(query(
                "select api.incident_list(:'p1', :'p2'::boolean, null, nullif(:'p3', ''), 100);",
                org, private, after))
            check(list_v, body, "list %s private=%s after=%s" % (org, private, after))
            for inc in body["incidents"]:
                if shown < 50:
                    show = json.loads(query("select api.incident_show(:'p1', :'p2', :'p3'::boolean);",
                                            org, inc["id"], private))
                    check(show_v, show, "show %s" % inc["id"])
                    shown += 1
            after = body.get("pagination_meta", {}).get("after")
            if not after:
                break
    replays = query(
        "select string_agg(i.idempotency_key || chr(9) || r.body, chr(10)) from ("
        " select * from incidents where organisation_id = :'p1' order by created_at desc limit 20) i,"
        " api.incident_create(i.organisation_id, i.creator_api_key_id, incidentd_ulid(),"
        "   jsonb_build_object('idempotency_key', i.idempotency_key, 'visibility', 'public')) r;", org)
    for line in filter(None, replays.split("\n")):
        key, body = line.split("\t", 1)
        check(create_v, json.loads(body), "create replay %s" % key)

print("validate_spec: %d bodies checked, %d invalid" % (checked, failures))
sys.exit(1 if failures else 0)
