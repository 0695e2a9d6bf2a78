"""Response-body validation against incident.io's OpenAPI document.

Two validators share one loaded spec:

- the plain one checks a body against the schema the spec gives for an
  operation's response (refs resolved over the whole document, date-time
  checked as RFC 3339, int64 checked for range);
- the STRICT one validates against a copy of the component schemas in which
  every object schema with ``properties`` has ``additionalProperties: false``,
  so the service may not emit a field the spec does not define.

OpenAPI 3.0 schemas are closest to JSON Schema draft 4, so Draft4Validator is
used; the schemas this suite touches use no OpenAPI-only keywords (nullable,
discriminator).
"""

import copy
import datetime
import json
import re

import jsonschema
from jsonschema import Draft4Validator, FormatChecker, RefResolver

_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?"
    r"([Zz]|[+-](\d{2}):(\d{2}))$"
)


def is_rfc3339(value):
    """True when value is an RFC 3339 date-time (section 5.6)."""
    if not isinstance(value, str):
        return True  # formats only constrain strings
    m = _RFC3339.match(value)
    if not m:
        return False
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    try:
        datetime.datetime(year, month, day, hour, minute, min(second, 59))
    except ValueError:
        return False
    if second > 60:
        return False
    if m.group(9) is not None:
        if int(m.group(9)) > 23 or int(m.group(10)) > 59:
            return False
    return True


def _format_checker():
    checker = FormatChecker(formats=())

    @checker.checks("date-time", raises=ValueError)
    def _date_time(value):  # noqa: ANN001
        return is_rfc3339(value)

    @checker.checks("int64")
    def _int64(value):  # noqa: ANN001
        if isinstance(value, bool) or not isinstance(value, int):
            return True
        return -(2**63) <= value < 2**63

    @checker.checks("int32")
    def _int32(value):  # noqa: ANN001
        if isinstance(value, bool) or not isinstance(value, int):
            return True
        return -(2**31) <= value < 2**31

    return checker


def _strictify(schema):
    """Sets additionalProperties: false on every object schema (in place)."""
    if isinstance(schema, list):
        for s in schema:
            _strictify(s)
        return
    if not isinstance(schema, dict):
        return
    props = schema.get("properties")
    if isinstance(props, dict) and props:
        schema["additionalProperties"] = False
        for sub in props.values():
            _strictify(sub)
    for key in ("items", "additionalProperties", "not"):
        if isinstance(schema.get(key), (dict, list)):
            _strictify(schema[key])
    for key in ("allOf", "anyOf", "oneOf"):
        if isinstance(schema.get(key), list):
            _strictify(schema[key])


def _path_regex(template):
    parts = re.split(r"(\{[^}/]+\})", template)
    out = []
    for p in parts:
        if p.startswith("{") and p.endswith("}"):
            out.append(r"[^/]+")
        else:
            out.append(re.escape(p))
    return re.compile("^" + "".join(out) + "$")


class SchemaError(AssertionError):
    pass


class Spec:
    """The loaded OpenAPI document and its two validators."""

    def __init__(self, path):
        with open(path, "rb") as f:
            self.doc = json.load(f)
        schemas = self.doc["components"]["schemas"]
        strict_schemas = copy.deepcopy(schemas)
        for s in strict_schemas.values():
            _strictify(s)
        self.strict_doc = {"components": {"schemas": strict_schemas}}
        self.format_checker = _format_checker()
        self._resolver = RefResolver.from_schema(self.doc)
        self._strict_resolver = RefResolver.from_schema(self.strict_doc)
        # Literal paths first, then fewer parameters, so /v1/incidents/{id}
        # never shadows a literal sibling.
        self._paths = sorted(
            ((t, _path_regex(t)) for t in self.doc.get("paths", {})),
            key=lambda tr: (tr[0].count("{"), -len(tr[0])),
        )

    # -- lookups -----------------------------------------------------------
    def operation_for(self, method, path):
        """The spec's path template matching a concrete request path and
        method, or None."""
        path = path.split("?", 1)[0]
        method = method.lower()
        for template, rx in self._paths:
            if rx.match(path) and method in self.doc["paths"][template]:
                return template
        return None

    def response_schema(self, template, method, status):
        """The JSON schema for a response, or None when the spec gives none."""
        op = self.doc["paths"].get(template, {}).get(method.lower())
        if op is None:
            return None
        resp = op.get("responses", {}).get(str(status))
        if resp is None:
            return None
        return resp.get("content", {}).get("application/json", {}).get("schema")

    def declares_no_body(self, method, path, status):
        """True when the spec's operation for this request has a response
        for status that defines no content (e.g. 202 Accepted, 204)."""
        template = self.operation_for(method, path)
        if template is None:
            return False
        op = self.doc["paths"][template].get(method.lower(), {})
        resp = op.get("responses", {}).get(str(status))
        return resp is not None and not resp.get("content")

    # -- validation --------------------------------------------------------
    def _validator(self, schema, strict):
        resolver = self._strict_resolver if strict else self._resolver
        return Draft4Validator(schema, resolver=resolver,
                               format_checker=self.format_checker)

    def validate(self, instance, schema, strict=False, what="body"):
        """Validates instance against schema (a schema dict or a component
        name); raises SchemaError listing the first few violations."""
        if isinstance(schema, str):
            schema = {"$ref": "#/components/schemas/" + schema}
        v = self._validator(schema, strict)
        errors = sorted(v.iter_errors(instance), key=lambda e: list(e.absolute_path))
        if errors:
            lines = []
            for e in errors[:8]:
                loc = "/".join(str(p) for p in e.absolute_path) or "(root)"
                lines.append("  at %s: %s" % (loc, e.message[:300]))
            raise SchemaError(
                "%s does not match the %sspec schema %s:\n%s" % (
                    what, "STRICT " if strict else "", schema.get("$ref", schema),
                    "\n".join(lines)))

    def validate_response(self, method, path, status, body):
        """Validates a response body for a concrete request, plain then
        strict. Returns the matched template, or None when the spec has no
        such operation or no schema for that status."""
        template = self.operation_for(method, path)
        if template is None:
            return None
        schema = self.response_schema(template, method, status)
        if schema is None:
            return None
        what = "%s %s -> %s body" % (method.upper(), template, status)
        self.validate(body, schema, strict=False, what=what)
        self.validate(body, schema, strict=True, what=what)
        return template


_SPEC_CACHE = {}


def load_spec(path):
    """Loads (once per path) and returns a Spec."""
    if path not in _SPEC_CACHE:
        _SPEC_CACHE[path] = Spec(path)
    return _SPEC_CACHE[path]


__all__ = ["Spec", "SchemaError", "load_spec", "is_rfc3339", "jsonschema"]
