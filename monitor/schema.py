"""The whole database schema in one place: every module that declares tables on `Base`.

Alembic's environment and the migration tests load the metadata from here, so that a new model
module is registered once and autogenerate never misses (or proposes to drop) its tables.
APScheduler's own `apscheduler_jobs` table is not ours and is not listed.
"""

from __future__ import annotations

import importlib
from typing import Final

from sqlalchemy import MetaData

MODEL_MODULES: Final = (
    "monitor.models",
    "monitor.matching.models",
    "monitor.crawl.runs",
    "monitor.scheduling.models",
    "alerts.models",
    "monitor.web.models",
)


def metadata() -> MetaData:
    """`Base.metadata` with the tables of every model module declared on it."""
    for module in MODEL_MODULES:
        importlib.import_module(module)
    from monitor.models import Base

    return Base.metadata
