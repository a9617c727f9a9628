"""Fixtures and hooks of the end-to-end tests (the harness is harness.py): `start_daemon`, a
factory of reflexd processes stopped with SIGTERM (exit 0 required) at the end of the test, and
a report hook that appends the stderr of every daemon a failing test used."""
from pathlib import Path

import pytest

from .harness import _DAEMONS, REFLEXD, Daemon, stopped_cleanly


def pytest_collection_modifyitems(config, items):
    # A missing reflexd is a failure, never a skip: these tests are the daemon's.
    if not REFLEXD.exists() and any(Path(item.path).is_relative_to(Path(__file__).parent) for item in items):
        raise pytest.UsageError(f"reflexd not built at {REFLEXD}: run `swift build` or set $REFLEXD_BIN")


@pytest.fixture
def start_daemon():
    """A factory: start_daemon(config_overrides, env=..., wait=True) -> Daemon; each one is
    stopped with SIGTERM at the end of the test and must exit 0."""
    started: list[Daemon] = []

    def start(config: dict | None = None, env: dict | None = None, wait: bool = True) -> Daemon:
        daemon = Daemon(config, env)
        started.append(daemon)
        return daemon.start(wait=wait)

    yield start
    failures = []
    for daemon in started:
        try:
            stopped_cleanly(daemon)
        except AssertionError as error:
            failures.append(str(error))
    assert not failures, "\n".join(failures)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for daemon in _DAEMONS:
            if daemon.proc is not None:
                report.sections.append((f"reflexd stderr ({daemon.dir})", daemon.log()[-20000:]))


def pytest_runtest_setup(item):
    # Daemons that finished before this test are not its business; drop them from the list.
    _DAEMONS[:] = [d for d in _DAEMONS if d.proc is not None and d.proc.poll() is None]


