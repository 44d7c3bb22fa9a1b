"""Where the second tier of tests finds real third-party data (`../shared/data`).

A plain module, not a fixture, so that any test file can call `real_data_dir()` at collection
time and skip with one clear reason when the data is absent (a user's clone has no
`../shared`). `ILO_MONITOR_REAL_DATA` overrides the location.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SKIP_REASON = (
    "../shared/data not found: set ILO_MONITOR_REAL_DATA to the folder holding MANIFEST.md "
    "(ted-xml-r209/, ted-eforms-*, ted-xml-corpus/) to run the real-data tests"
)


def real_data_dir() -> Path | None:
    """The real-data folder, or None when this machine has none."""
    configured = os.environ.get("ILO_MONITOR_REAL_DATA")
    candidate = Path(configured) if configured else REPO_ROOT.parent / "shared" / "data"
    return candidate if candidate.is_dir() else None


def require_real_data() -> Path:
    """The real-data folder; skips the calling test with `SKIP_REASON` when there is none."""
    folder = real_data_dir()
    if folder is None:
        pytest.skip(SKIP_REASON)
    return folder
