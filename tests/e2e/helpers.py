"""Shared helpers of the end-to-end suite: environment, HTTP client with
automatic contract checks, psql and incidentctl wrappers, per-test-module
organisations.

Only the standard library (plus jsonschema through validate.py) is used so
the suite runs on Debian's /usr/bin/python3.
"""

import hashlib
import http.client
import json as jsonlib
import os
import re
import select
import shlex
import subprocess
import threading
import time
import urllib.parse
import uuid
from concurrent.futures import ThreadPoolExecutor

ULID_RE = re.compile(r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$")
ULID_FIND_RE = re.compile(r"\b[0-7][0-9A-HJKMNP-TV-Z]{25}\b")
TOKEN_FIND_RE = re.compile(r"\binc_[0-9a-f]{64}\b")
# The contract's timestamp format: RFC 3339, UTC, microseconds, "Z".
TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
JSON_CT = "application/json; charset=utf-8"

# HTTP status -> error "type" (CONTRACT.md, Errors).
ERROR_TYPES = {
    400: "bad_request",
    401: "authentication_error",
    403: "resource_forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
    422: "validation_error",
    429: "too_many_requests",
    500: "internal_error",
    503: "service_unavailable",
}

# The rate limit every key the fixtures make gets (requests per minute): far
# above what any test sends, so no test is throttled by accident, yet a
# limit, so that every response of the suite carries the X-RateLimit-*
# headers and Api.check validates them. test_rate_limit.py makes keys with
# small limits, the default (1200) and none (0) explicitly.
FIXTURE_RATE_LIMIT = 1000000
# Ask incidentctl for its default limit (no --rate-limit).
DEFAULT_RATE_LIMIT = None

RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Used",
                "X-RateLimit-Reset")
RATE_LIMIT_RE = re.compile(r"^(\d+), (\d+);window=60$")
RFC3339_SECONDS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")

# Strings that must never reach a client (internal detail goes to the log).
LEAKS = ("SQLSTATE", "ERROR:  ", "syntax error at", "violates ", "relation \"",
         "Traceback", "libpq", "PGRES_", "segfault")

_UNSET = object()


# ---------------------------------------------------------------------------
# environment

class Env:
    """The variables scripts/test.sh exports (docs/DESIGN.md)."""

    def __init__(self, environ=None):
        e = os.environ if environ is None else environ
        self.url = e.get("INCIDENTD_URL", "").rstrip("/")
        self.database_url = e.get("DATABASE_URL", "")
        self.incidentctl = e.get("INCIDENTCTL", "")
        self.master_pid = int(e["INCIDENTD_MASTER_PID"]) if e.get("INCIDENTD_MASTER_PID", "").strip().isdigit() else None
        self.log = e.get("INCIDENTD_LOG", "")
        self.pg_ctl = e.get("INCIDENTD_PG_CTL", "")
        self.public_url = e.get("INCIDENTD_PUBLIC_URL", "").rstrip("/")
        spec = e.get("INCIDENTD_SPEC", "")
        if not spec:
            here = os.path.dirname(os.path.abspath(__file__))
            for cand in (os.path.join(here, "..", "..", "..", "shared", "spec", "incidentio-openapi.json"),
                         "/work/shared/spec/incidentio-openapi.json"):
                if os.path.exists(cand):
                    spec = os.path.abspath(cand)
                    break
        self.spec = spec

    def log_tail(self, lines=40):
        if not self.log or not os.path.exists(self.log):
            return ""
        try:
            with open(self.log, "rb") as f:
                f.seek(0, 2)
                size = f.tell()
                f.seek(max(0, size - 64 * 1024))
                data = f.read().decode("utf-8", "replace")
        except OSError:
            return ""
        return "\n".join(data.splitlines()[-lines:])


# ---------------------------------------------------------------------------
# HTTP

class Response:
    """One HTTP response. Unpacks as (status, headers, body)."""

    def __init__(self, method, path, status, headers, raw, elapsed):
        self.method = method
        self.path = path
        self.status = status
        self.headers = headers  # http.client.HTTPMessage (case-insensitive)
        self.raw = raw
        self.elapsed = elapsed
        self.body = None
        self.json_error = None
        if raw:
            try:
                self.body = jsonlib.loads(raw.decode("utf-8"))
            except (ValueError, UnicodeDecodeError) as exc:
                self.json_error = str(exc)

    def __iter__(self):
        return iter((self.status, self.headers, self.body))

    def header(self, name, default=None):
        return self.headers.get(name, default)

    @property
    def request_id(self):
        return self.headers.get("X-Request-Id")

    @property
    def replayed(self):
        return (self.headers.get("Idempotent-Replayed") or "").strip().lower() == "true"

    def describe(self):
        text = self.raw[:1500].decode("utf-8", "replace") if self.raw else ""
        return "%s %s -> %s %s" % (self.method, self.path, self.status, text)

    def __repr__(self):
        return "<Response %s>" % self.describe()


def header_value(token_or_key):
    if token_or_key is None:
        return None
    token = getattr(token_or_key, "token", token_or_key)
    return "Bearer " + token


class Api:
    """HTTP client for the service behind nginx.

    Every response is checked against the contract's cross-cutting rules:
    X-Request-Id present, JSON content type, a JSON body, the error shape
    for 4xx/5xx, and — for 2xx responses of an operation the spec knows —
    the spec's response schema, plain and strict.
    """

    def __init__(self, base_url, spec, timeout=20.0):
        u = urllib.parse.urlsplit(base_url)
        if u.scheme != "http":
            raise ValueError("INCIDENTD_URL must be http://host:port, got %r" % base_url)
        self.host = u.hostname
        self.port = u.port or 80
        self.prefix = u.path.rstrip("/")
        self.spec = spec
        self.timeout = timeout

    # -- raw ---------------------------------------------------------------
    def raw_request(self, method, path, body=None, headers=None, timeout=None, chunked=False):
        """Sends one request on a fresh connection; returns a Response with
        no checks applied. Tolerates the server closing the connection while
        the body is still being sent (nginx's early 413)."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout or self.timeout)
        hdrs = dict(headers or {})
        t0 = time.monotonic()
        try:
            send_error = None
            try:
                if chunked:
                    def gen(data=body, n=64 * 1024):
                        for i in range(0, len(data), n):
                            yield data[i:i + n]
                    conn.request(method, self.prefix + path, body=gen(), headers=hdrs,
                                 encode_chunked=True)
                else:
                    conn.request(method, self.prefix + path, body=body, headers=hdrs)
            except (BrokenPipeError, ConnectionResetError) as exc:
                send_error = exc
            try:
                r = conn.getresponse()
                raw = r.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                if send_error is not None:
                    raise send_error
                raise
            return Response(method, path, r.status, r.headers, raw, time.monotonic() - t0)
        finally:
            conn.close()

    # -- checked -----------------------------------------------------------
    def request(self, method, path, key=None, json=_UNSET, data=None, params=None,
                headers=None, auth=_UNSET, validate=True, timeout=None, chunked=False):
        """Sends a request and applies the contract checks.

        key: a Key (or a token string) sent as a Bearer token.
        auth: a raw Authorization header value (overrides key; None omits it).
        json: an object serialised as the body; data: raw body bytes.
        params: dict or list of pairs for the query string (repeatable).
        """
        if params:
            path = path + ("&" if "?" in path else "?") + urllib.parse.urlencode(params, doseq=True)
        hdrs = {"Accept": "application/json"}
        if auth is not _UNSET:
            if auth is not None:
                hdrs["Authorization"] = auth
        elif key is not None:
            hdrs["Authorization"] = header_value(key)
        body = None
        if json is not _UNSET:
            body = jsonlib.dumps(json).encode("utf-8")
            hdrs["Content-Type"] = "application/json"
        elif data is not None:
            body = data if isinstance(data, bytes) else data.encode("utf-8")
            hdrs["Content-Type"] = "application/json"
        if headers:
            hdrs.update(headers)
        resp = self.raw_request(method, path, body=body, headers=hdrs, timeout=timeout, chunked=chunked)
        self.check(resp, validate=validate)
        return resp

    def get(self, path, key=None, **kw):
        return self.request("GET", path, key=key, **kw)

    def post(self, path, key=None, **kw):
        return self.request("POST", path, key=key, **kw)

    def put(self, path, key=None, **kw):
        return self.request("PUT", path, key=key, **kw)

    def delete(self, path, key=None, **kw):
        return self.request("DELETE", path, key=key, **kw)

    def check(self, resp, validate=True):
        """The checks every response must pass."""
        where = resp.describe()
        rid = resp.request_id
        assert rid and rid.strip(), "no X-Request-Id header: " + where
        check_rate_headers(resp)
        if resp.status == 204:
            assert not resp.raw, "204 with a body: " + where
            return
        if (200 <= resp.status < 300 and not resp.raw and self.spec is not None
                and self.spec.declares_no_body(resp.method, resp.path, resp.status)):
            return  # e.g. 202 of DELETE /v1/severities/{id}: the spec gives no content
        ct = resp.header("Content-Type") or ""
        assert _norm_ct(ct) == JSON_CT, "Content-Type %r, want %r: %s" % (ct, JSON_CT, where)
        assert resp.raw, "empty body: " + where
        assert resp.json_error is None, "body is not JSON (%s): %s" % (resp.json_error, where)
        if resp.status >= 400:
            check_error_shape(resp)
        elif 200 <= resp.status < 300 and validate and self.spec is not None:
            self.spec.validate_response(resp.method, resp.path, resp.status, resp.body)


def rate_limit_of(resp):
    """The X-RateLimit-* headers as ints: (limit, remaining, used, reset), or
    None when the response has none."""
    if resp.header("X-RateLimit-Limit") is None:
        return None
    m = RATE_LIMIT_RE.match(resp.header("X-RateLimit-Limit"))
    assert m, "X-RateLimit-Limit %r: %s" % (resp.header("X-RateLimit-Limit"), resp.describe())
    return (int(m.group(1)), int(resp.header("X-RateLimit-Remaining")),
            int(resp.header("X-RateLimit-Used")), int(resp.header("X-RateLimit-Reset")))


def check_rate_headers(resp):
    """CONTRACT.md, "Rate limits": the four headers come together or not at
    all, agree with each other, never on a 401 (no key, not counted); a 429
    has them all, Retry-After and the spec's rate_limit body member."""
    where = resp.describe()
    present = [h for h in RATE_HEADERS if resp.header(h) is not None]
    assert not present or len(present) == len(RATE_HEADERS), (
        "some X-RateLimit headers but not all (%s): %s" % (present, where))
    if resp.status == 401:
        assert not present, "a 401 with rate limit headers: " + where
    if resp.status == 429:
        assert present, "a 429 without rate limit headers: " + where
    if resp.status not in (429, 503):
        assert resp.header("Retry-After") is None, "Retry-After on a %s: %s" % (resp.status, where)
    if not present:
        return
    m = RATE_LIMIT_RE.match(resp.header("X-RateLimit-Limit"))
    assert m and m.group(1) == m.group(2), "X-RateLimit-Limit %r: %s" % (
        resp.header("X-RateLimit-Limit"), where)
    for h in RATE_HEADERS[1:]:
        assert re.match(r"^\d+$", resp.header(h)), "%s %r: %s" % (h, resp.header(h), where)
    limit, remaining, used, reset = rate_limit_of(resp)
    assert limit > 0, where
    assert remaining + used == limit, "Remaining + Used != Limit: " + where
    now = time.time()
    # Reset: when the bucket is full again, at most a minute away (the
    # clocks are the same machine's; slack for a slow response).
    assert now - 30 <= reset <= now + 61, "X-RateLimit-Reset %s, now %.0f: %s" % (reset, now, where)
    if resp.status != 429:
        assert used >= 1, "an allowed request used nothing: " + where
        return
    assert remaining == 0 and used == limit, where
    retry = resp.header("Retry-After")
    assert retry and re.match(r"^[1-9]\d*$", retry), "Retry-After %r: %s" % (retry, where)
    assert int(retry) <= 60, where
    rl = (resp.body or {}).get("rate_limit")
    assert isinstance(rl, dict), "a 429 without the rate_limit member: " + where
    assert isinstance(rl.get("name"), str) and rl["name"], where
    assert rl.get("limit") == limit and rl.get("remaining") == 0, where
    assert isinstance(rl.get("retry_after"), str) and RFC3339_SECONDS_RE.match(rl["retry_after"]), where
    errs = resp.body.get("errors") or [{}]
    assert errs[0].get("code") == "too_many_requests", where


def _norm_ct(ct):
    return "; ".join(p.strip() for p in ct.lower().split(";") if p.strip())


def check_error_shape(resp):
    """The contract's error body: {type, status, request_id, errors[]}."""
    where = resp.describe()
    b = resp.body
    assert isinstance(b, dict), "error body is not an object: " + where
    for k in ("type", "status", "request_id", "errors"):
        assert k in b, "error body lacks %r: %s" % (k, where)
    assert b["status"] == resp.status, "error body status %r != HTTP %s: %s" % (b["status"], resp.status, where)
    want_type = ERROR_TYPES.get(resp.status)
    if want_type:
        assert b["type"] == want_type, "error type %r, want %r: %s" % (b["type"], want_type, where)
    assert b["request_id"] == resp.request_id, (
        "request_id %r != X-Request-Id %r: %s" % (b["request_id"], resp.request_id, where))
    errs = b["errors"]
    assert isinstance(errs, list) and errs, "errors must be a non-empty list: " + where
    for e in errs:
        assert isinstance(e, dict), where
        assert isinstance(e.get("code"), str) and e["code"], "error without code: " + where
        assert isinstance(e.get("message"), str) and e["message"], "error without message: " + where
        if "source" in e:
            assert isinstance(e["source"], dict) and isinstance(e["source"].get("field"), str), (
                "source must be {field: string}: " + where)
    text = resp.raw.decode("utf-8", "replace")
    for leak in LEAKS:
        assert leak not in text, "error body leaks internal detail (%r): %s" % (leak, where)


def error_fields(resp):
    return [((e.get("source") or {}).get("field")) for e in resp.body.get("errors", [])]


def expect_error(resp, status, code=None, field=None, field_prefix=None, message=None):
    """Asserts an error response: HTTP status, the status's type, and that
    one entry of errors[] has the code (and the exact source.field, or one
    starting with field_prefix, and the exact message) asked for."""
    where = resp.describe()
    assert resp.status == status, "want HTTP %s, got: %s" % (status, where)
    check_error_shape(resp)
    for e in resp.body["errors"]:
        f = (e.get("source") or {}).get("field")
        if code is not None and e.get("code") != code:
            continue
        if field is not None and f != field:
            continue
        if field_prefix is not None and not (isinstance(f, str) and f.startswith(field_prefix)):
            continue
        if message is not None and e.get("message") != message:
            continue
        return e
    raise AssertionError("no error entry with code=%r field=%r prefix=%r message=%r: %s"
                         % (code, field, field_prefix, message, where))


def expect_ok(resp, status=200):
    assert resp.status == status, "want HTTP %s, got: %s" % (status, resp.describe())
    return resp.body


# ---------------------------------------------------------------------------
# database

class DB:
    """psql wrapper. Parameters are psql variables quoted by psql itself
    (use :'name' in the SQL), never interpolated into the SQL by hand.

    One long-lived psql process serves all queries (a process per query
    costs ~0.1-0.3 s on a loaded 2-core machine); it is restarted when it
    dies, e.g. after the resilience tests restart PostgreSQL. Results are
    rows of strings (NULL as ''); values must not contain newlines."""

    SEP = "\x1f"

    def __init__(self, url):
        self.url = url
        self._proc = None
        self._lock = threading.Lock()
        self._n = 0

    def _spawn(self):
        self.close()
        self._proc = subprocess.Popen(
            ["psql", "-X", "-q", "-A", "-t", "-F", self.SEP, "-v", "ON_ERROR_STOP=0", "-d", self.url],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)

    def close(self):
        p, self._proc = self._proc, None
        if p is not None:
            try:
                p.stdin.close()
            except OSError:
                pass
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            p.stdout.close()

    @staticmethod
    def _meta_quote(value):
        v = str(value)
        assert "\x00" not in v
        v = v.replace("\\", "\\\\").replace("'", "''")
        v = v.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
        return "'" + v + "'"

    def _roundtrip(self, script, marker, timeout):
        if self._proc is None or self._proc.poll() is not None:
            self._spawn()
        fd = self._proc.stdout.fileno()
        self._proc.stdin.write(script.encode("utf-8"))
        self._proc.stdin.flush()
        buf = b""
        deadline = time.monotonic() + timeout
        end = marker.encode()
        while True:
            i = buf.find(end)
            if i >= 0 and buf.find(b"\n", i) >= 0:
                break
            left = deadline - time.monotonic()
            if left <= 0:
                self.close()
                raise AssertionError("psql gave no answer within %ss" % timeout)
            r, _, _ = select.select([fd], [], [], left)
            if r:
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise EOFError("psql exited")
                buf += chunk
        out, tail = buf[:i].decode("utf-8"), buf[i + len(end):buf.find(b"\n", i)].decode("utf-8")
        return out, tail.strip()

    def query(self, sql, timeout=30, **params):
        assert ";" not in sql.rstrip().rstrip(";"), "one statement per query"
        with self._lock:
            self._n += 1
            marker = "__e2e_end_%d_%s__" % (self._n, uuid.uuid4().hex[:8])
            lines = ["\\set %s %s" % (k, self._meta_quote(v)) for k, v in params.items()]
            lines.append(sql.rstrip().rstrip(";") + ";")
            lines.append("\\echo %s :ERROR :LAST_ERROR_MESSAGE" % marker)
            script = "\n".join(lines) + "\n"
            for attempt in (1, 2):
                try:
                    out, status = self._roundtrip(script, marker, timeout)
                    break
                except (EOFError, BrokenPipeError, OSError):
                    self.close()
                    if attempt == 2:
                        raise
                    time.sleep(0.2)
        if status.startswith("true"):
            raise AssertionError("SQL failed: %s\nSQL: %s" % (status[4:].strip(), sql))
        out = out.rstrip("\n")
        if not out:
            return []
        return [tuple(line.split(self.SEP)) for line in out.split("\n")]

    def scalar(self, sql, **params):
        rows = self.query(sql, **params)
        assert rows, "no row for: " + sql
        return rows[0][0]

    def count(self, sql, **params):
        return int(self.scalar(sql, **params))


# ---------------------------------------------------------------------------
# incidentctl

class Ctl:
    def __init__(self, path, database_url):
        self.path = path
        self.database_url = database_url

    def run(self, *args, timeout=60):
        env = dict(os.environ)
        if self.database_url:
            env["DATABASE_URL"] = self.database_url
        cmd = shlex.split(self.path) + [str(a) for a in args]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
        if p.returncode != 0:
            raise AssertionError("incidentctl %s failed (%s): %s %s" % (
                " ".join(map(str, args)), p.returncode, p.stdout.strip(), p.stderr.strip()))
        self.last_stderr = p.stderr
        return p.stdout

    @staticmethod
    def _id(out, what):
        m = ULID_FIND_RE.search(out)
        assert m, "incidentctl %s printed no ULID: %r" % (what, out)
        return m.group(0)

    def org_create(self, name):
        return self._id(self.run("org", "create", name), "org create")

    def seed_demo(self, org):
        return self.run("seed-demo", "--org", org)

    def api_key_create(self, org, name, roles, rate_limit=FIXTURE_RATE_LIMIT):
        """rate_limit: requests per minute, 0 unlimited, DEFAULT_RATE_LIMIT
        (None) for incidentctl's default."""
        args = ["api-key", "create", "--org", org, "--name", name]
        for r in roles:
            args += ["--role", r]
        if rate_limit is not None:
            args += ["--rate-limit", rate_limit]
        out = self.run(*args)
        m = TOKEN_FIND_RE.search(out)
        assert m, "api-key create printed no inc_ token: %r" % out
        return m.group(0)

    def api_key_create_with_id(self, org, name, roles, rate_limit=FIXTURE_RATE_LIMIT):
        """(token, key id or None): the id is read from stderr's "api key ID
        created" when incidentctl prints it."""
        token = self.api_key_create(org, name, roles, rate_limit=rate_limit)
        m = ULID_FIND_RE.search(getattr(self, "last_stderr", "") or "")
        return token, (m.group(0) if m else None)

    def api_key_revoke(self, key_id):
        return self.run("api-key", "revoke", key_id)

    def user_create(self, org, name, email=None, slack_user_id=None):
        args = ["user", "create", "--org", org, "--name", name]
        if email is not None:
            args += ["--email", email]
        if slack_user_id is not None:
            args += ["--slack-user-id", slack_user_id]
        return self._id(self.run(*args), "user create")

    def incident_type_create(self, org, name, default=False, create_in_triage=None, private_only=False):
        args = ["incident-type", "create", "--org", org, "--name", name]
        if default:
            args.append("--default")
        if create_in_triage:
            args += ["--create-in-triage", create_in_triage]
        if private_only:
            args.append("--private-only")
        return self._id(self.run(*args), "incident-type create")


# ---------------------------------------------------------------------------
# organisations and keys

class Key:
    def __init__(self, token, key_id, name, roles, org_id):
        self.token = token
        self.id = key_id
        self.name = name
        self.roles = list(roles)
        self.org_id = org_id
        self.rate_limit = None  # set by Org.key

    def __repr__(self):
        return "<Key %s %s %s>" % (self.name, self.id, ",".join(self.roles))


class Org:
    """One organisation created for a test module, with seeded config
    (when seeded) and ready-made keys:

    creator: viewer + incident_creator; viewer: viewer only;
    admin: viewer + incident_creator + global_access;
    settings (created on first use): viewer + manage_settings.
    """

    def __init__(self, ctx, label, seed=True):
        self.ctx = ctx
        self._settings = None
        self.name = "e2e-%s-%s" % (label, uuid.uuid4().hex[:8])
        self.id = ctx.ctl.org_create(self.name)
        assert ULID_RE.match(self.id), self.id
        self.severity = {}
        self.incident_type = {}
        self.role = {}
        self.role_by_type = {}
        self.field = {}
        self.field_type = {}
        self.option = {}
        self.user = {}
        if seed:
            ctx.ctl.seed_demo(self.id)
        self.reload()
        self.creator = self.key("creator", "viewer", "incident_creator")
        self.viewer = self.key("viewer", "viewer")
        self.admin = self.key("admin", "viewer", "incident_creator", "global_access")

    def reload(self):
        """Loads the ids of the organisation's configuration (one query)."""
        rows = self.ctx.db.query(
            "select 'severity', id, name, '', '' from severities where organisation_id = :'o' "
            "union all select 'type', id, name, '', '' from incident_types where organisation_id = :'o' "
            "union all select 'role', id, name, role_type, '' from incident_roles where organisation_id = :'o' "
            "union all select 'field', id, name, field_type, '' from custom_fields where organisation_id = :'o' "
            "union all select 'option', o.id, f.name, o.value, '' from custom_field_options o "
            "  join custom_fields f on f.id = o.custom_field_id where f.organisation_id = :'o' "
            "union all select 'user', id, name, coalesce(email, ''), coalesce(slack_user_id, '') "
            "  from users where organisation_id = :'o'", o=self.id)
        self.severity, self.incident_type, self.role, self.role_by_type = {}, {}, {}, {}
        self.field, self.field_type, self.option, self.user = {}, {}, {}, {}
        for kind, i, name, a, b in sorted(rows):
            if kind == "severity":
                self.severity[name] = i
            elif kind == "type":
                self.incident_type[name] = i
            elif kind == "role":
                self.role[name] = i
                self.role_by_type.setdefault(a, i)
            elif kind == "field":
                self.field[name] = i
                self.field_type[name] = a
            elif kind == "option":
                self.option.setdefault(name, {})[a] = i
            elif kind == "user":
                self.user[name] = {"id": i, "name": name, "email": a, "slack_user_id": b}

    def key(self, name, *roles, rate_limit=FIXTURE_RATE_LIMIT):
        """A new key of the organisation (rate_limit: see Ctl.api_key_create)."""
        name = "%s-%s" % (name, uuid.uuid4().hex[:6])
        token, key_id = self.ctx.ctl.api_key_create_with_id(self.id, name, roles,
                                                            rate_limit=rate_limit)
        if key_id is None:
            digest = hashlib.sha256(token.encode()).hexdigest()
            key_id = self.ctx.db.scalar(
                "select id from api_keys where token_sha256 = decode(:'h', 'hex')", h=digest)
        key = Key(token, key_id, name, roles, self.id)
        key.rate_limit = rate_limit
        return key

    @property
    def settings(self):
        """A viewer + manage_settings key (configuration writes), created on
        first use."""
        if self._settings is None:
            self._settings = self.key("settings", "viewer", "manage_settings")
        return self._settings

    def user_named(self, name):
        return self.user[name]

    def incident_count(self, visibility=None, statuses=None):
        sql = "select count(*) from incidents where organisation_id = :'o'"
        params = {"o": self.id}
        if visibility:
            sql += " and visibility = :'v'"
            params["v"] = visibility
        if statuses:
            sql += " and status = any (string_to_array(:'s', ','))"
            params["s"] = ",".join(statuses)
        return self.ctx.db.count(sql, **params)

    def create_incident(self, key=None, expect=200, **payload):
        """Creates an incident (public, fresh idempotency key unless given)
        and returns the incident object."""
        body = {"idempotency_key": "e2e-" + uuid.uuid4().hex, "visibility": "public"}
        body.update(payload)
        r = self.ctx.api.post("/v1/incidents", key=key or self.creator, json=body)
        assert r.status == expect, r.describe()
        return r.body["incident"] if expect == 200 else r


class Context:
    """Everything a test needs, built once per session."""

    def __init__(self, env, spec):
        self.env = env
        self.spec = spec
        self.api = Api(env.url, spec)
        self.db = DB(env.database_url)
        self.ctl = Ctl(env.incidentctl, env.database_url)

    def new_org(self, label, seed=True):
        return Org(self, label, seed=seed)


# ---------------------------------------------------------------------------
# small utilities

def wait_until(fn, timeout=5.0, interval=0.1, max_tries=1000):
    """Calls fn until it returns a truthy value, timeout seconds or
    max_tries calls pass; returns the last value (exceptions count as
    falsy and the last one is re-raised at the end)."""
    deadline = time.monotonic() + timeout
    last_exc = None
    value = None
    for _ in range(max_tries):
        try:
            value = fn()
            last_exc = None
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - retried, re-raised below
            last_exc = exc
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    if last_exc is not None:
        raise last_exc
    return value


def burst(fn, n, parallel=8):
    """Calls fn() n times, `parallel` at a time, and returns the results.
    Concurrent requests make nginx open more upstream connections, so they
    reach every incidentd worker (sequential ones may stay on the one or two
    workers that nginx's kept-alive connections are pinned to)."""
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        futures = [pool.submit(fn) for _ in range(n)]
        return [f.result(timeout=60) for f in futures]


def new_idem():
    return "e2e-" + uuid.uuid4().hex


def ref_number(incident):
    m = re.match(r"^INC-(\d+)$", incident["reference"])
    assert m, "reference %r is not INC-<n>" % incident["reference"]
    return int(m.group(1))
