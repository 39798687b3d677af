"""Shared test helpers: skip data-dependent tests when the real data directory is absent.

Use ``@pytest.mark.data`` on the test and take the ``data_dir`` fixture (or call
``require_data_or_skip("geant", "tm-dev.hist")``) to get a path or a clear skip reason.
"""
from __future__ import annotations

import pytest

from topologies.datadir import DATA_DIR_ENV, DataUnavailableError, data_dir as _data_dir, require_data


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
