"""Fixtures of the end-to-end suite (run by scripts/test.sh).

The environment comes from scripts/test.sh (docs/DESIGN.md, "Process
environment for tests"). Without INCIDENTD_URL every test is skipped.
Each module gets its own organisation, created through incidentctl.
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from helpers import Context, Env  # noqa: E402
from validate import load_spec  # noqa: E402

_ENV = Env()
_SKIP_REASON = ("INCIDENTD_URL is not set: the end-to-end suite needs a running "
                "stack; run it through scripts/test.sh")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "resilience: kills workers / restarts the database; runs last")
    config.addinivalue_line(
        "markers", "oracle: compares every incident the other tests made; runs after them")


def pytest_collection_modifyitems(session, config, items):
    if not _ENV.url:
        skip = pytest.mark.skip(reason=_SKIP_REASON)
        for item in items:
            item.add_marker(skip)
        return
    # The oracle after everything that makes incidents, disruptive tests
    # last, whatever order the files were given in.
    def rank(it):
        if it.get_closest_marker("resilience"):
            return 2
        return 1 if it.get_closest_marker("oracle") else 0
    items.sort(key=rank)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.when == "call" and rep.failed and _ENV.url:
        tail = _ENV.log_tail(40)
        if tail:
            rep.sections.append(("incidentd log (last lines)", tail))


@pytest.fixture(scope="session")
def env():
    if not _ENV.url:
        pytest.skip(_SKIP_REASON)
    missing = [n for n, v in (("DATABASE_URL", _ENV.database_url),
                              ("INCIDENTCTL", _ENV.incidentctl),
                              ("INCIDENTD_SPEC", _ENV.spec)) if not v]
    if missing:
        pytest.fail("scripts/test.sh did not export: " + ", ".join(missing))
    return _ENV


@pytest.fixture(scope="session")
def spec(env):
    return load_spec(env.spec)


@pytest.fixture(scope="session")
def ctx(env, spec):
    return Context(env, spec)


@pytest.fixture(scope="session")
def api(ctx):
    return ctx.api


@pytest.fixture(scope="session")
def db(ctx):
    return ctx.db


@pytest.fixture(scope="session")
def ctl(ctx):
    return ctx.ctl


@pytest.fixture(scope="module")
def org(ctx, request):
    """A fresh, seeded organisation for this test module."""
    label = request.module.__name__.rsplit(".", 1)[-1].replace("test_", "")
    return ctx.new_org(label)


@pytest.fixture(scope="module")
def other_org(ctx, request):
    """A second seeded organisation, for isolation checks."""
    label = request.module.__name__.rsplit(".", 1)[-1].replace("test_", "") + "-b"
    return ctx.new_org(label)
