"""The scheduler's own table: the single-instance lock (APScheduler keeps its jobs in `apscheduler_jobs`).

`apscheduler_jobs` is created and owned by APScheduler's `SQLAlchemyJobStore` in the same
database, not by our migrations: its layout is APScheduler's business and changes with it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from monitor.db import UTCDateTime
from monitor.models import Base


class SchedulerLock(Base):
    """Who holds a named lock ("scheduler"), since when, and until when it counts without a heartbeat.

    A holder renews `expires_at` while it lives; a crashed holder stops renewing, so its lock
    lapses after the expiry and a new scheduler can start without anyone clearing it by hand.
    """

    __tablename__ = "scheduler_locks"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
