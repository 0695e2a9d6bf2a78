"""Least privilege (docs/SCHEMA.md, "Roles and privileges").

incidentd serves as the runtime role: it may call the functions of schema
api and read incidents and config_versions, and nothing else; every write
goes through a SECURITY DEFINER function. The rest of the suite, which runs
through that incidentd, is the proof that the API still works; this file
checks what the role cannot do, that incidentd refuses to run as a
superuser or as the owner, and incidentctl roles setup on databases of its
own.
"""

import glob
import os
import re
import shlex
import signal
import socket
import struct
import subprocess
import tempfile
import time
import urllib.parse
import uuid

import pytest

from helpers import DB, wait_until

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

# The reads PostgreSQL inlines into the worker's statements: SECURITY
# INVOKER on purpose (sql/code/90_grants.sql).
INLINED = {"incident_show", "incident_replay", "incident_show_v2"}
# What the runtime role may read.
READABLE = {"incidents", "config_versions"}


def app_url():
    url = os.environ.get("INCIDENTD_APP_DATABASE_URL", "")
    if not url:
        pytest.skip("INCIDENTD_APP_DATABASE_URL is not set (scripts/test.sh sets it)")
    return url


def owner_url():
    url = os.environ.get("INCIDENTD_OWNER_DATABASE_URL", "")
    if not url:
        pytest.skip("INCIDENTD_OWNER_DATABASE_URL is not set (scripts/test.sh sets it)")
    return url


def user_of(url):
    return urllib.parse.unquote(urllib.parse.urlsplit(url).username or "")


def with_user(url, user, dbname=None):
    u = urllib.parse.urlsplit(url)
    netloc = "%s@%s" % (urllib.parse.quote(user), u.netloc.rsplit("@", 1)[-1])
    return urllib.parse.urlunsplit(u._replace(netloc=netloc, path="/" + dbname if dbname else u.path))


@pytest.fixture(scope="module")
def app():
    db = DB(app_url())
    yield db
    db.close()


@pytest.fixture(scope="module")
def org(ctx):
    return ctx.new_org("privileges")


def denied(db, sql, match="permission denied|must be owner"):
    with pytest.raises(AssertionError, match=match):
        db.query(sql)


# ---------------------------------------------------------------------------
# the runtime role

def test_runtime_role_attributes(ctx, app):
    me, superuser, createdb, createrole, inherit, bypassrls = app.query(
        "select current_user, rolsuper, rolcreatedb, rolcreaterole, rolinherit, rolbypassrls "
        "from pg_roles where rolname = current_user")[0]
    assert me == user_of(app_url())
    assert (superuser, createdb, createrole, inherit, bypassrls) == ("f", "f", "f", "f", "f")
    owner = ctx.db.scalar("select nspowner::regrole from pg_namespace where nspname = 'api'")
    assert owner == user_of(owner_url())
    assert app.scalar("select pg_has_role(current_user, :'o', 'MEMBER')", o=owner) == "f"
    assert ctx.db.scalar("select role_name from schema_roles where purpose = 'app'") == me


@pytest.mark.parametrize("sql", [
    "create table priv_t (a int)",
    "create temp table priv_t (a int)",
    "create function priv_f() returns int language sql as 'select 1'",
    "create function api.priv_f() returns int language sql as 'select 1'",
    "create schema priv_s",
    "create view priv_v as select 1",
    "drop table incidents",
    "drop function api.incident_show(text, text, boolean)",
    "drop schema api cascade",
    "alter table incidents add column priv_x int",
    "truncate incidents",
    "create or replace function api.incident_show(p_org text, p_id text, p_can_see_private boolean) "
    "returns table (frame text, config_version bigint) language sql as 'select null::text, 0::bigint'",
    "grant select on api_keys to public",
])
def test_runtime_role_cannot_create_or_drop(app, sql):
    denied(app, sql)


@pytest.mark.parametrize("sql", [
    "select token_sha256 from api_keys limit 1",
    "select id, name from api_keys limit 1",
    "select count(*) from api_key_roles",
    "select * from schema_migrations",
    "select * from schema_code",
    "select * from schema_roles",
    "select * from organisations limit 1",
    "select * from users limit 1",
    "select * from severities limit 1",
    "select * from incident_custom_field_values limit 1",
    "select * from pg_authid",
    "select incidentd_fill_frames(1)",
    "select incidentd_rebuild_incident_counts()",
    "select incidentd_apply_grants()",
    "select incidentd_ulid()",
])
def test_runtime_role_cannot_read_or_call(app, sql):
    denied(app, sql)


def test_runtime_role_cannot_write_tables(app, org):
    inc = org.create_incident(name="not by hand")
    denied(app, "insert into incidents (organisation_id, reference_number, idempotency_key, name, "
           "status, visibility) values ('%s', 999999, 'by-hand', 'x', 'triage', 'public')" % org.id)
    denied(app, "update incidents set name = 'changed by hand' where id = '%s'" % inc["id"])
    denied(app, "delete from incidents where id = '%s'" % inc["id"])
    denied(app, "update config_versions set version = version + 1")
    denied(app, "delete from api_keys")
    denied(app, "select set_config('role', 'postgres', false)", match="permission denied")
    assert app.scalar("select name from incidents where id = :'id'", id=inc["id"]) == "not by hand"


def test_runtime_role_privileges_are_exactly_these(ctx, app):
    """Every table of the schema: SELECT on the two the inlined reads read,
    nothing else of any kind; EXECUTE on every function of schema api and
    on none of schema public."""
    rows = ctx.db.query(
        "select c.relname, p.priv, has_table_privilege(:'r', c.oid, p.priv) "
        "from pg_class c cross join unnest(array['SELECT', 'INSERT', 'UPDATE', 'DELETE', "
        "'TRUNCATE', 'REFERENCES', 'TRIGGER']) p(priv) "
        "where c.relnamespace in ('api'::regnamespace, 'public'::regnamespace) "
        "and c.relkind in ('r', 'p', 'v', 'm')", r=user_of(app_url()))
    granted = {(t, p) for t, p, ok in rows if ok == "t"}
    assert granted == {(t, "SELECT") for t in READABLE}
    assert not ctx.db.query(
        "select c.relname from pg_attribute a join pg_class c on c.oid = a.attrelid "
        "where c.relname = 'api_keys' and a.attnum > 0 "
        "and has_column_privilege(:'r', c.oid, a.attnum, 'SELECT')", r=user_of(app_url()))
    funcs = ctx.db.query(
        "select n.nspname, p.oid::regprocedure, has_function_privilege(:'r', p.oid, 'EXECUTE'), "
        "has_function_privilege('public', p.oid, 'EXECUTE') "
        "from pg_proc p join pg_namespace n on n.oid = p.pronamespace "
        "where n.nspname in ('api', 'public') "
        "and p.proowner = (select nspowner from pg_namespace where nspname = 'api')",
        r=user_of(app_url()))
    assert len(funcs) > 100
    for schema, fn, runtime, public in funcs:
        assert public == "f", "PUBLIC may execute %s" % fn
        assert runtime == ("t" if schema == "api" else "f"), (fn, runtime)


def worker_functions():
    """The api functions the worker's statements call (src/api, src/daemon)."""
    names = set()
    for path in glob.glob(os.path.join(ROOT, "src", "*", "*.c")):
        with open(path, encoding="utf-8") as f:
            for literal in re.findall(r'"(?:[^"\\\n]|\\.)*"', f.read()):
                names.update(re.findall(r"\bapi\.([a-z0-9_]+)\(", literal))
    return names


def test_worker_calls_definer_or_inlined_functions(ctx):
    called = worker_functions()
    assert {"incident_show", "incident_create_by_key", "authenticate", "config_objects"} <= called
    rows = ctx.db.query(
        "select p.proname, bool_and(p.prosecdef), bool_and(coalesce("
        "'search_path=public, pg_temp' = any (p.proconfig), false)) "
        "from pg_proc p where p.pronamespace = 'api'::regnamespace group by p.proname")
    info = {name: (d == "t", sp == "t") for name, d, sp in rows}
    for name in sorted(called):
        assert name in info, "the worker calls api.%s, which does not exist" % name
        definer, fixed_path = info[name]
        if name in INLINED:
            assert not definer, "api.%s must stay SECURITY INVOKER: it is inlined" % name
        else:
            assert definer and fixed_path, \
                "api.%s runs with the runtime role's rights: make it SECURITY DEFINER " \
                "set search_path = public, pg_temp (sql/code/90_grants.sql)" % name
    # Nothing else in the schema is a definer, and each definer fixes its path.
    for name, (definer, fixed_path) in info.items():
        assert not definer or fixed_path, name
        assert not definer or name in called or name in ("incident_frame_of", "incident_frame_v2_of"), \
            "api.%s is SECURITY DEFINER but the worker does not call it" % name


def test_inlined_reads_stay_inlined_for_the_runtime_role(app, org):
    """The runtime role's show is the index scan the owner's is (a SECURITY
    DEFINER function, or a missing privilege, would make it a Function Scan)."""
    inc = org.create_incident(name="inlined")
    stmts = {
        "show": ("select frame, config_version from api.incident_show(:'o', :'i', true)", {}),
        "show_v2": ("select frame, config_version from api.incident_show_v2(:'o', :'i', null, true)", {}),
        "show_v2_by_number": ("select frame, config_version from "
                              "api.incident_show_v2(:'o', null, :'n'::bigint, true)", {}),
        "replay": ("select frame, config_version from api.incident_replay(:'o', 'nope')", {}),
    }
    n = inc["reference"].split("-")[1]
    for label, (sql, _) in stmts.items():
        plan = "\n".join(r[0] for r in app.query("explain " + sql, o=org.id, i=inc["id"], n=n))
        assert "Function Scan" not in plan and "on incidents" in plan, (label, plan)
    assert app.scalar("select length(frame) > 0 from api.incident_show(:'o', :'i', true)",
                      o=org.id, i=inc["id"]) == "t"


def test_writes_and_their_triggers_run_as_the_owner(ctx, api, org):
    """A definer's writes fire the triggers (config version, counts, NOTIFY,
    seeding) with the owner's rights: what the runtime role cannot do by
    hand happens through the API."""
    admin = org.key("priv admin", "viewer", "manage_settings", "incident_creator")
    before = int(ctx.db.scalar(
        "select coalesce((select version from config_versions where organisation_id = :'o'), 0)",
        o=org.id))
    r = api.post("/v1/severities", key=admin, json={"name": "Priv %s" % uuid.uuid4().hex[:6],
                                                     "description": "d", "rank": 77})
    assert r.status == 201, r.describe()
    after = int(ctx.db.scalar("select version from config_versions where organisation_id = :'o'",
                              o=org.id))
    assert after > before
    counted = int(ctx.db.scalar("select coalesce(sum(incident_count), 0) from incident_counts "
                                "where organisation_id = :'o'", o=org.id))
    org.create_incident(key=admin, name="counted")
    assert int(ctx.db.scalar("select sum(incident_count) from incident_counts "
                             "where organisation_id = :'o'", o=org.id)) == counted + 1


# ---------------------------------------------------------------------------
# incidentd refuses a superuser and the owner

def incidentd_bin():
    path = os.environ.get("INCIDENTD_BIN", "")
    if not path:
        pytest.skip("INCIDENTD_BIN is not set (scripts/test.sh sets it)")
    return path


def short_tmpdir():
    # A unix socket path must stay short (sockaddr_un).
    return tempfile.mkdtemp(prefix="incd-priv-", dir="/tmp")


def start_incidentd(url, *flags, env_extra=None):
    tmp = short_tmpdir()
    sock = os.path.join(tmp, "s")
    env = {k: v for k, v in os.environ.items() if not k.startswith("INCIDENTD_")}
    env.pop("DATABASE_URL", None)
    env.update(env_extra or {})
    p = subprocess.Popen([incidentd_bin(),
        "--database-url", url, "--listen", sock, "--workers", "2", "--log-level", "info",
        *flags], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env=env, text=True)
    return p, sock


def run_refused(url, *flags, env_extra=None):
    p, sock = start_incidentd(url, *flags, env_extra=env_extra)
    try:
        out, _ = p.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
        pytest.fail("incidentd did not exit: " + out)
    assert not os.path.exists(sock), "it bound its socket before refusing"
    assert_clean(out)
    return p.returncode, out


def run_started(url, *flags, env_extra=None):
    """Starts incidentd, waits until it listens, stops it; returns its log."""
    p, sock = start_incidentd(url, *flags, env_extra=env_extra)
    try:
        assert wait_until(lambda: os.path.exists(sock) or p.poll() is not None, timeout=20)
        assert p.poll() is None, "incidentd exited: %s" % p.communicate()[0]
    finally:
        p.send_signal(signal.SIGTERM)
        out, _ = p.communicate(timeout=30)
    assert p.returncode == 0, out
    assert_clean(out)
    return out


def assert_clean(out):
    assert not re.search(r"ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:", out), out


def test_incidentd_refuses_a_superuser(env):
    rc, out = run_refused(env.database_url)
    assert rc == 1, out
    assert re.search(r'error: refusing to run as database role "postgres": it is a superuser; '
                     r'connect as the runtime role .*or pass --allow-owner', out), out


def test_incidentd_refuses_the_owner():
    rc, out = run_refused(owner_url())
    assert rc == 1, out
    assert ('refusing to run as database role "%s": it owns the database\'s schema api'
            % user_of(owner_url())) in out, out


def test_incidentd_starts_as_owner_or_superuser_when_allowed(env):
    out = run_started(owner_url(), "--allow-owner")
    assert "--allow-owner permits it" in out and "listening" in out, out
    out = run_started(env.database_url, env_extra={"INCIDENTD_ALLOW_OWNER": "1"})
    assert "it is a superuser; --allow-owner permits it" in out, out


def test_incidentd_starts_as_the_runtime_role():
    out = run_started(app_url())
    assert "listening" in out and "refusing" not in out and "permits" not in out, out


def fcgi_get(sock, path, timeout=10):
    """One FastCGI GET on the unix socket; returns what came back (empty
    when the worker went away)."""
    def record(kind, content):
        return struct.pack(">BBHHBx", 1, kind, 1, len(content), 0) + content

    def pair(k, v):
        k, v = k.encode(), v.encode()
        return bytes([len(k), len(v)]) + k + v

    params = b"".join(pair(k, v) for k, v in (
        ("REQUEST_METHOD", "GET"), ("REQUEST_URI", path), ("DOCUMENT_URI", path),
        ("QUERY_STRING", ""), ("CONTENT_LENGTH", ""), ("SERVER_PROTOCOL", "HTTP/1.1")))
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(sock)
        s.sendall(record(1, struct.pack(">HB5x", 1, 0)) + record(4, params) + record(4, b"")
                  + record(5, b""))
        data = b""
        while True:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            data += chunk
        return data
    finally:
        s.close()


def test_worker_refuses_a_role_that_became_superuser(ctx):
    """The master checked at start-up; a worker that reconnects as a role
    that has become a superuser since exits, and the master stops (exit 1)
    instead of respawning it."""
    role = "priv_" + uuid.uuid4().hex[:10]
    ctx.db.query("create role %s login" % role)
    p = None
    try:
        url = with_user(app_url(), role)
        p, sock = start_incidentd(url)
        assert wait_until(lambda: os.path.exists(sock) or p.poll() is not None, timeout=20)
        assert p.poll() is None
        assert b"200" in fcgi_get(sock, "/healthz")
        ctx.db.query("alter role %s superuser" % role)
        ctx.db.query("select count(pg_terminate_backend(pid)) from pg_stat_activity "
                     "where usename = :'r'", r=role)
        # Requests make the workers reconnect; the first that does exits.
        deadline = time.monotonic() + 20
        while p.poll() is None and time.monotonic() < deadline:
            try:
                fcgi_get(sock, "/healthz", timeout=3)
            except OSError:
                pass
            time.sleep(0.2)
        out, _ = p.communicate(timeout=30)
        assert p.returncode == 1, out
        assert 'refusing to run as database role "%s": it is a superuser' % role in out, out
        assert "stopping" in out, out
    finally:
        if p is not None and p.poll() is None:
            p.kill()
            p.communicate()
        wait_until(lambda: ctx.db.scalar(
            "select count(*) = 0 from pg_stat_activity where usename = :'r'", r=role) == "t",
            timeout=10)
        ctx.db.query("drop role if exists %s" % role)


# ---------------------------------------------------------------------------
# incidentctl roles setup, on databases of its own

class Scratch:
    """A database of its own and two roles of its own, dropped at the end."""

    def __init__(self, env):
        tag = uuid.uuid4().hex[:10]
        self.env = env
        self.admin = DB(env.database_url)
        self.name = "priv_" + tag
        self.owner = "priv_owner_" + tag
        self.app = "priv_app_" + tag
        self.roles = [self.owner, self.app]
        self.admin.query("create database " + self.name)
        self.url = with_user(env.database_url, user_of(env.database_url), self.name)
        self.db = DB(self.url)

    def ctl(self, *args, url=None):
        p = subprocess.run(shlex.split(self.env.incidentctl) + ["--database-url", url or self.url]
                           + list(args), capture_output=True, text=True, timeout=120)
        return p.returncode, p.stdout, p.stderr

    def ok(self, *args, url=None):
        rc, out, err = self.ctl(*args, url=url)
        assert rc == 0, (args, rc, out, err)
        return out

    def setup(self, *extra):
        return self.ok("roles", "setup", "--owner-role", self.owner, "--app-role", self.app, *extra)

    def as_user(self, user):
        return with_user(self.url, user)

    def others(self):
        """Objects of schemas api and public not owned by the owner."""
        return self.db.query(
            "select c.oid::regclass::text from pg_class c where c.relnamespace in "
            "('api'::regnamespace, 'public'::regnamespace) and c.relkind in ('r', 'v', 'S') "
            "and pg_get_userbyid(c.relowner) <> :'o' "
            "union all select p.oid::regprocedure::text from pg_proc p where p.pronamespace in "
            "('api'::regnamespace, 'public'::regnamespace) and pg_get_userbyid(p.proowner) <> :'o'",
            o=self.owner)

    def drop(self):
        self.db.close()
        self.admin.query("drop database if exists %s with (force)" % self.name)
        for r in self.roles:
            self.admin.query("drop role if exists %s" % r)
        self.admin.close()


@pytest.fixture
def scratch(env):
    s = Scratch(env)
    yield s
    s.drop()


def test_roles_setup_on_a_fresh_database(scratch):
    out = scratch.setup()
    assert "created role %s" % scratch.owner in out and "created role %s" % scratch.app in out
    assert "incidentctl migrate applies its privileges" in out
    # The owner migrates (it owns the database, so it may create in public).
    scratch.ok("migrate", url=scratch.as_user(scratch.owner))
    assert scratch.others() == []
    app = DB(scratch.as_user(scratch.app))
    try:
        assert app.scalar("select count(*) from incidents") == "0"
        assert app.scalar("select count(*) from api.incident_show('x', 'y', true)") == "0"
        denied(app, "select * from api_keys")
        denied(app, "create temp table t (a int)")
    finally:
        app.close()
    again = scratch.setup()
    assert "role %s exists" % scratch.owner in again and "privileges applied" in again
    assert "now owns" not in again


def test_roles_setup_moves_a_superuser_install(scratch):
    scratch.ok("migrate")  # as the superuser, the way installs before the roles did
    assert scratch.others() != []
    out = scratch.setup()
    assert re.search(r"%s now owns \d+ objects that belonged to postgres" % scratch.owner, out), out
    assert "privileges applied: %s is the runtime role" % scratch.app in out
    assert scratch.others() == []
    # A superuser's migrate creates as the owner from now on.
    scratch.db.query("drop function incidentd_fill_frames(integer)")
    scratch.ok("migrate", "--reapply-code")
    assert scratch.others() == []
    rc, out, err = scratch.ctl("migrate", "--status")
    assert rc == 0, (out, err)
    assert scratch.db.scalar("select has_function_privilege(:'a', 'api.incident_show(text, text, boolean)', "
                             "'EXECUTE')", a=scratch.app) == "t"


def test_roles_setup_replaces_the_runtime_role(scratch):
    scratch.setup()
    scratch.ok("migrate", url=scratch.as_user(scratch.owner))
    app2 = scratch.app + "_2"
    scratch.roles.append(app2)
    out = scratch.ok("roles", "setup", "--owner-role", scratch.owner, "--app-role", app2)
    assert "revoked the privileges of %s" % scratch.app in out, out
    q = "select has_table_privilege(:'r', 'incidents', 'SELECT')"
    assert scratch.db.scalar(q, r=scratch.app) == "f"
    assert scratch.db.scalar(q, r=app2) == "t"
    assert scratch.db.scalar("select role_name from schema_roles where purpose = 'app'") == app2


def test_roles_setup_refusals(scratch):
    rc, out, err = scratch.ctl("roles", "setup", "--owner-role", scratch.owner,
                               "--app-role", scratch.owner)
    assert rc == 2 and "must be two roles" in err, err
    # A superuser as the runtime role: refused, nothing changed.
    scratch.admin.query("create role %s login superuser" % scratch.app)
    rc, out, err = scratch.ctl("roles", "setup", "--owner-role", scratch.owner,
                               "--app-role", scratch.app)
    assert rc == 1 and "it is a superuser" in err and "nothing was changed" in err, err
    assert scratch.admin.scalar("select count(*) from pg_roles where rolname = :'o'",
                                o=scratch.owner) == "0"
    # A member of the owner.
    scratch.admin.query("alter role %s nosuperuser" % scratch.app)
    scratch.admin.query("create role %s login" % scratch.owner)
    scratch.admin.query("grant %s to %s" % (scratch.owner, scratch.app))
    rc, out, err = scratch.ctl("roles", "setup", "--owner-role", scratch.owner,
                               "--app-role", scratch.app)
    assert rc == 1 and "member of the owner role" in err, err
    # Not a superuser.
    scratch.admin.query("revoke %s from %s" % (scratch.owner, scratch.app))
    rc, out, err = scratch.ctl("roles", "setup", "--owner-role", scratch.owner,
                               "--app-role", scratch.app, url=scratch.as_user(scratch.app))
    assert rc == 1 and "must run as a superuser" in err, err
