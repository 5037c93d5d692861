"""Shared test configuration: hypothesis profiles (registered once, here) and markers."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# "ci" is derandomised and sized for a 2-core machine; "dev" explores more.
settings.register_profile(
    "ci",
    max_examples=20,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile("dev", max_examples=200, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# `grader check` leaves its worker templates running for the next check (grader.sandbox.daemon);
# tests start checks as subprocesses and look for what they left running: no daemons here, but
# in tests/sandbox/test_daemon.py, which turns them on in a folder of its own
os.environ.setdefault("GRADER_DAEMON", "off")
# A topic's planned calls (grader.judge.plan) are recorded by grading the reference once per
# course, secret and process: tests make many courses, and most grade each once, so the plan
# would double their time. It is off here, and on where it is tested: tests/judge/test_plan.py
# (the same results with it as without), the robustness batch and the determinism tests.
os.environ.setdefault("GRADER_PLAN", "off")


@pytest.fixture
def planned(monkeypatch):
    """Planned calls on for this test (``GRADER_PLAN`` unset: the kit's default)."""
    monkeypatch.delenv("GRADER_PLAN", raising=False)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", help="run tests marked slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--runslow"):
        return
    skip_slow = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)


# -- the course under test -------------------------------------------------------------------------
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def course():
    """The course as autograder.yml defines it (repository root)."""
    from grader import config

    return config.load(REPO / "autograder.yml")


@pytest.fixture(scope="session")
def fast_course(course):
    """The same course with short deadlines, so timeout cases cost seconds, not minutes."""
    limits = course.config.limits.model_copy(
        update={"call_timeout_s": 2.0, "import_timeout_s": 2.0}
    )
    return replace(course, config=course.config.model_copy(update={"limits": limits}))


def pytest_configure(config: pytest.Config) -> None:
    from tests import early

    early.configure(config)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    """pytest-xdist's controller: its workers share its folder of early jobs (tests/early.py)."""
    from tests import early

    node.workerinput[early.WORKER_KEY] = str(early.folder())


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the notebooks' runs when a collected test uses ``executed`` (tests/early.py)."""
    if session.config.option.collectonly:
        return
    if not any("executed" in getattr(item, "fixturenames", ()) for item in session.items):
        return
    from tests import early, test_notebooks

    wanted = test_notebooks.jobs(session.config.getoption("--runslow"))
    script = Path(__file__).with_name("run_notebooks.py")
    early.start("notebooks", script, *(f"{topic}:{variant}" for topic, variant in wanted))


def pytest_sessionfinish(session: pytest.Session) -> None:
    from tests import early

    early.stop_all()
