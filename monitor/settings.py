"""Settings from the environment: every variable is prefixed `ILO_MONITOR_` and documented here.

- `ILO_MONITOR_DB`: SQLAlchemy database URL (also `--db` on every command); default: a SQLite
  file in the user's data directory.
- `ILO_MONITOR_REAL_DATA`: folder of real third-party data for the real-data tests and the demo;
  default: `<checkout>/../shared/data` when present.
- `ILO_MONITOR_CONTACT`: contact (URL or email) put in the crawler's User-Agent.

Values are read when asked for, never at import time, so tests and child processes can set them.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PREFIX = "ILO_MONITOR_"


def env(name: str, default: str | None = None) -> str | None:
    """`ILO_MONITOR_<name>` from the environment; empty counts as unset."""
    value = os.environ.get(PREFIX + name, "").strip()
    return value or default


def data_dir() -> Path:
    """Where the embedded default keeps its files (database, outbox)."""
    return Path(platformdirs.user_data_dir("ilo-monitor", appauthor=False))


def default_db_url() -> str:
    """`ILO_MONITOR_DB`, else a SQLite file in the user's data directory (created on first use)."""
    url = env("DB")
    if url:
        return url
    path = data_dir() / "ilo-monitor.sqlite"
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def real_data_dir() -> Path | None:
    """The folder of real third-party data (`../shared/data`), or None when this machine has none."""
    configured = env("REAL_DATA")
    candidates = [Path(configured)] if configured else [PROJECT_ROOT.parent / "shared" / "data"]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    return None
