"""Where the real network data lives (``../shared/data`` next to the repository by default).

Standard library only: Mininet-side code imports this under Debian's bare ``/usr/bin/python3``.
The data is never copied into the repository; set ``QROUTE_DATA_DIR`` to point elsewhere.
"""
from __future__ import annotations

import os
import pathlib

DATA_DIR_ENV = "QROUTE_DATA_DIR"
_REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent


class DataUnavailableError(FileNotFoundError):
    """The real-data directory (or a file in it) is missing."""


def data_dir() -> pathlib.Path:
    """The data directory: ``$QROUTE_DATA_DIR`` if set, else ``<repo root>/../shared/data``."""
    configured = os.environ.get(DATA_DIR_ENV)
    if configured:
        return pathlib.Path(configured).expanduser()
    return _REPO_ROOT.parent / "shared" / "data"


def require_data(*parts: str) -> pathlib.Path:
    """Path of ``data_dir()/parts...``; raises :class:`DataUnavailableError` if it does not exist."""
    path = data_dir().joinpath(*parts)
    if not path.exists():
        raise DataUnavailableError(
            f"real data not found at {path}: set {DATA_DIR_ENV} to the directory holding "
            f"abilene/ and geant/ (default <repo>/../shared/data)"
        )
    return path
