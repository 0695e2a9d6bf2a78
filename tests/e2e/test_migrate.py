"""incidentctl migrate: checksums, --status, --dry-run, refusals, one
transaction, nothing changed on a re-run (docs/SCHEMA.md, "Migrating").

Each test works on scratch databases of its own in the stack's cluster.
"""

import concurrent.futures
import glob
import hashlib
import os
import re
import shlex
import subprocess
import urllib.parse
import uuid

import pytest

from helpers import DB

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MIGRATIONS = sorted(glob.glob(os.path.join(ROOT, "sql", "migrations", "*.sql")))
CODE = sorted(glob.glob(os.path.join(ROOT, "sql", "code", "*.sql")))


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def version(path):
    return os.path.basename(path)[:-len(".sql")]


class Scratch:
    """A database of its own, dropped at the end."""

    def __init__(self, env, admin):
        self.name = "mig_" + uuid.uuid4().hex[:12]
        self.admin = admin
        admin.query("create database " + self.name)
        u = urllib.parse.urlsplit(env.database_url)
        self.url = urllib.parse.urlunsplit(u._replace(path="/" + self.name))
        self.db = DB(self.url)
        self.ctl = shlex.split(env.incidentctl)

    def migrate(self, *args):
        p = subprocess.run(self.ctl + ["--database-url", self.url, "migrate"] + list(args),
                           capture_output=True, text=True, timeout=120)
        return p.returncode, p.stdout, p.stderr

    def migrate_ok(self, *args):
        rc, out, err = self.migrate(*args)
        assert rc == 0, (rc, out, err)
        return out

    def drop(self):
        self.db.close()
        self.admin.query("drop database if exists %s with (force)" % self.name)


@pytest.fixture
def scratch(env, db):
    made = []

    def make():
        s = Scratch(env, db)
        made.append(s)
        return s

    yield make
    for s in made:
        s.drop()


def catalog(db):
    """Every function and trigger of the project with its OID and the
    transaction that last wrote its catalog row, and the bookkeeping rows."""
    procs = db.query(
        "select p.oid::regprocedure::text, p.oid, p.xmin from pg_proc p "
        "where p.pronamespace in ('api'::regnamespace, 'public'::regnamespace) order by 1")
    trigs = db.query("select tgname, oid, xmin from pg_trigger where not tgisinternal order by 1")
    books = db.query("select version, checksum, xmin from schema_migrations order by 1")
    code = db.query("select file, checksum, xmin from schema_code order by 1")
    return procs, trigs, books, code


def test_fresh_database(scratch):
    s = scratch()
    rc, out, _ = s.migrate("--status")
    assert rc == 3, out
    for m in MIGRATIONS:
        assert re.search(r"^migration\s+%s\s+pending$" % version(m), out, re.M), out
    for c in CODE:
        assert re.search(r"^code\s+%s\s+new$" % re.escape(os.path.basename(c)), out, re.M), out

    out = s.migrate_ok()
    applied = re.findall(r"^applied (\S+)$", out, re.M)
    assert applied == [version(m) for m in MIGRATIONS], out
    code = re.findall(r"^applied code (\S+) \(new\)$", out, re.M)
    assert code == [os.path.basename(c) for c in CODE], out

    # Each migration and code file recorded with the SHA-256 of its file.
    assert s.db.query("select version, checksum from schema_migrations order by 1") == [
        (version(m), sha256(m)) for m in MIGRATIONS]
    assert s.db.query("select file, checksum from schema_code order by 1") == [
        (os.path.basename(c), sha256(c)) for c in CODE]

    rc, out, _ = s.migrate("--status")
    assert rc == 0 and out.rstrip().endswith("status: up to date"), out
    assert "pending" not in out and "new" not in out
    out = s.migrate_ok("--dry-run")
    assert "-- nothing: the database is up to date" in out


def test_rerun_changes_nothing(scratch):
    s = scratch()
    s.migrate_ok()
    before = catalog(s.db)
    assert len(before[0]) > 40 and len(before[1]) >= 6
    assert s.migrate_ok().strip() == "nothing to apply: the database is up to date"
    # Not a catalog row rewritten: same OIDs, same xmin.
    assert catalog(s.db) == before

    # --reapply-code runs every file again: CREATE OR REPLACE keeps each
    # function's and trigger's OID (so nothing that refers to one breaks),
    # though it writes new catalog rows.
    out = s.migrate_ok("--reapply-code")
    assert len(re.findall(r"^applied code \S+ \(current\)$", out, re.M)) == len(CODE), out
    after = catalog(s.db)
    assert [(n, oid) for n, oid, _ in after[0]] == [(n, oid) for n, oid, _ in before[0]]
    assert [(n, oid) for n, oid, _ in after[1]] == [(n, oid) for n, oid, _ in before[1]]
    assert after[0] != before[0], "the functions were not re-created"
    assert after[2] == before[2] and after[3] == before[3]


def test_changed_migration_is_refused(scratch):
    s = scratch()
    s.migrate_ok()
    s.db.query("update schema_migrations set checksum = repeat('0', 64) where version = '002_api'")
    # A code change that would otherwise be applied: it must not be.
    s.db.query("update schema_code set checksum = repeat('1', 64) where file = '00_helpers.sql'")
    before = catalog(s.db)

    rc, out, err = s.migrate()
    assert rc == 1, (out, err)
    assert "sql/migrations/002_api.sql has changed since it was applied" in err, err
    assert "nothing was changed" in err
    assert out == ""
    assert catalog(s.db) == before

    rc, out, err = s.migrate("--status")
    assert rc == 1
    assert re.search(r"^migration\s+002_api\s+CHANGED .*sql/migrations/002_api.sql differs", out, re.M), out
    assert re.search(r"^code\s+00_helpers.sql\s+changed$", out, re.M), out
    rc, out, err = s.migrate("--dry-run")
    assert rc == 1 and "002_api.sql has changed" in err and "create or replace" not in out


def test_unknown_migration_is_refused(scratch):
    s = scratch()
    s.migrate_ok()
    s.db.query("insert into schema_migrations (version, checksum) values ('999_future', repeat('a', 64))")
    rc, out, err = s.migrate()
    assert rc == 1
    assert "the database has migration 999_future, which this incidentctl does not have" in err, err
    rc, out, _ = s.migrate("--status")
    assert rc == 1 and re.search(r"^migration\s+999_future\s+UNKNOWN", out, re.M), out


def test_out_of_order_is_refused(scratch):
    s = scratch()
    s.migrate_ok()
    second_last = version(MIGRATIONS[-2])
    s.db.query("delete from schema_migrations where version = :'v'", v=second_last)
    rc, out, err = s.migrate()
    assert rc == 1
    assert "sql/migrations/%s.sql is not applied but a later migration is" % second_last in err, err
    assert s.db.count("select count(*) from schema_migrations") == len(MIGRATIONS) - 1


def restore_fixture(s):
    """Loads the upgrade test's database of the last release (tests/upgrade)
    into s; returns the migrations it has."""
    dump = os.path.join(ROOT, "tests", "upgrade", "fixture", "dump.sql")
    p = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", s.url, "-f", dump],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return [v for (v,) in s.db.query("select version from schema_migrations order by 1")]


def test_pending_migrations_and_changed_code(scratch):
    """The last release's database: its migrations are recorded without
    checksums, the later ones are pending, and its functions are the old
    ones; one of them was even changed by hand."""
    s = scratch()
    have = restore_fixture(s)
    pending = [m for m in MIGRATIONS if version(m) not in have]
    assert pending, "no migration since the fixture's release: make the fixture from a newer one"
    s.db.query("create or replace function api.ts(p_at timestamptz) returns text "
               "language sql stable as $$ select 'tampered' $$")

    rc, out, _ = s.migrate("--status")
    assert rc == 3
    for m in pending:
        assert re.search(r"^migration\s+%s\s+pending$" % version(m), out, re.M), out
    assert out.count("no checksum recorded") == len(have), out

    out = s.migrate_ok("--dry-run")
    for m in pending:
        with open(m) as f:
            assert "-- migration %s (sql/migrations/%s)\n%s" % (
                version(m), os.path.basename(m), f.read()) in out
    assert out.count("\n-- code sql/code/") == len(CODE)
    assert s.db.query("select count(*) from schema_migrations") == [(str(len(have)),)]

    out = s.migrate_ok()
    assert re.findall(r"^applied (\S+)$", out, re.M) == [version(m) for m in pending], out
    assert re.findall(r"^recorded the checksum of (\S+)$", out, re.M) == have, out
    assert s.db.scalar("select api.ts('2021-08-17 13:28:57.801578+00')") == "2021-08-17T13:28:57.801578Z"
    assert s.migrate("--status")[0] == 0

    # A code file recorded as changed, and one that is gone.
    s.db.query("update schema_code set checksum = repeat('1', 64) where file = '00_helpers.sql'")
    s.db.query("insert into schema_code (file, checksum) values ('99_gone.sql', repeat('2', 64))")
    rc, out, _ = s.migrate("--status")
    assert rc == 3
    assert re.search(r"^code\s+00_helpers.sql\s+changed$", out, re.M), out
    assert re.search(r"^code\s+99_gone.sql\s+removed$", out, re.M), out
    out = s.migrate_ok()
    assert "applied code 00_helpers.sql (changed)" in out and "applied " + version(MIGRATIONS[-1]) not in out
    assert s.db.query("select file from schema_code where file = '99_gone.sql'") == []
    assert s.migrate("--status")[0] == 0


def test_failure_changes_nothing(scratch):
    s = scratch()
    # In the way of the last table 001_schema creates.
    s.db.query("create table incident_counts (x int)")
    rc, out, err = s.migrate()
    assert rc == 1
    assert "could not apply sql/migrations/001_schema.sql" in err, err
    assert "nothing was changed" in err
    assert out == ""
    assert s.db.query("select to_regclass('schema_migrations'), to_regclass('organisations'), "
                      "to_regnamespace('api')") == [("", "", "")]


def test_legacy_record_gets_checksums(scratch):
    """A database migrated before checksums were kept (no checksum column,
    no schema_code) has them recorded from the files, once."""
    s = scratch()
    s.migrate_ok()
    s.db.query("alter table schema_migrations drop column checksum")
    s.db.query("drop table schema_code")
    rc, out, _ = s.migrate("--status")
    assert rc == 3 and out.count("no checksum recorded") == len(MIGRATIONS), out
    out = s.migrate_ok()
    assert re.findall(r"^recorded the checksum of (\S+)$", out, re.M) == [version(m) for m in MIGRATIONS]
    assert s.db.query("select version, checksum from schema_migrations order by 1") == [
        (version(m), sha256(m)) for m in MIGRATIONS]
    assert s.migrate("--status")[0] == 0


def test_concurrent_migrates(scratch):
    s = scratch()
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: s.migrate(), range(4)))
    assert all(rc == 0 for rc, _, _ in results), results
    outs = [out for _, out, _ in results]
    assert sum("applied 001_schema" in o for o in outs) == 1, outs
    assert sum("nothing to apply" in o for o in outs) == 3, outs
    assert s.db.count("select count(*) from schema_migrations") == len(MIGRATIONS)


def test_usage(scratch, env):
    p = subprocess.run(shlex.split(env.incidentctl) + ["migrate", "--status", "--dry-run"],
                       capture_output=True, text=True)
    assert p.returncode == 2 and "exclude each other" in p.stderr
