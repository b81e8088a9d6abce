"""Fixtures of the browser journeys: one real stack for the whole folder (see ``stack.py``) and a watched
``Journey`` per test (see ``harness.py``). The journeys run in the PostgreSQL pass of ``make test``
(each module is marked ``postgres_only``): the stack is the production one.

Screenshots and the stack's logs go to ``test-output/journeys`` (BLOG_TEST_OUTPUT overrides the folder).
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import claimed_redis_database, scratch_database
from tests.journeys import stack as stack_module
from tests.journeys.harness import Journey

OUTPUT = Path(os.environ.get("BLOG_TEST_OUTPUT") or stack_module.ROOT / "test-output") / "journeys"


@pytest.fixture(scope="package")
def stack():
    shutil.rmtree(OUTPUT, ignore_errors=True)
    OUTPUT.mkdir(parents=True)
    with scratch_database("blog_journeys") as database_url, claimed_redis_database() as redis_url, \
            stack_module.running(database_url, redis_url, OUTPUT) as running:
        yield running


@pytest.fixture(scope="package")
def seed(stack):
    """Run ``function()`` inside the stack's app (same database, Redis and storage) and return its result:
    the journeys' starting data. Writes go through the same listeners as the app's, so cached pages change."""
    from blog.extensions import db

    def _seed(function):
        with stack.app.app_context():
            try:
                return function()
            finally:
                db.session.remove()

    return _seed


@pytest.fixture
def journey(stack, browser, request):
    watched = Journey(browser, stack.base, OUTPUT, request.node.name)
    yield watched
    problems = watched.finish()
    assert not problems, "the journey saw problems:\n  " + "\n  ".join(problems)
