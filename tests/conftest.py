"""Shared test helpers: skip data-dependent tests when the real data directory is absent, and
refuse such skips in CI.

Use ``@pytest.mark.data`` on the test and take the ``data_dir`` fixture (or call
``require_data_or_skip("geant", "tm-dev.hist")``) to get a path or a clear skip reason.

With ``CI=true`` in the environment a skipped test marked ``mininet`` or ``data`` fails instead
(as does a test module marked so that skips as a whole): a CI run that lacks root, Mininet or
the data must go red, not green with those tiers silently left out. Deselecting a tier
(``-m "not mininet"``) is not skipping it and stays allowed.
"""
from __future__ import annotations

import os
import re

import pytest
from hypothesis import settings as hypothesis_settings

from topologies.datadir import DATA_DIR_ENV, DataUnavailableError, data_dir as _data_dir, require_data

# Property tests draw the same examples on every run: a failure is reproducible, never a
# one-off of whatever the random draw was that day.
hypothesis_settings.register_profile("qroute", derandomize=True)
hypothesis_settings.load_profile("qroute")

TIERS_CI_MUST_RUN = ("mininet", "data")
_TIER_MARK = re.compile(r"\bmark\.(" + "|".join(TIERS_CI_MUST_RUN) + r")\b")


def require_data_or_skip(*parts: str):
    """The path ``data_dir()/parts`` or ``pytest.skip`` naming what is missing and the env var."""
    try:
        return require_data(*parts)
    except DataUnavailableError as err:
        pytest.skip(f"real data unavailable ({err}); set {DATA_DIR_ENV}")


@pytest.fixture
def data_dir():
    """The real data directory; skips the test when it does not exist."""
    require_data_or_skip()
    return _data_dir()


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def _skip_reason(report) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # (file, line, "Skipped: why")
        return str(longrepr[2])
    return str(longrepr)


def _refuse(report, tier: str) -> None:
    report.outcome = "failed"
    report.longrepr = (f"CI=true: the {tier} tier must run in CI, but it was skipped "
                       f"({_skip_reason(report)}); give the CI machine what it needs instead")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not report.skipped or hasattr(report, "wasxfail") or not in_ci():
        return
    tier = next((name for name in TIERS_CI_MUST_RUN if item.get_closest_marker(name)), None)
    if tier:
        _refuse(report, tier)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    report = outcome.get_result()
    if not report.skipped or not isinstance(collector, pytest.Module) or not in_ci():
        return
    # a module that skips while importing has no items whose marks could be asked
    found = _TIER_MARK.search(collector.path.read_text(errors="replace"))
    if found:
        _refuse(report, found.group(1))
