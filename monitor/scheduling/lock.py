"""The single-instance lock: one scheduler (or one `run` cycle) per database.

A row of `scheduler_locks` names its holder (host and process) and an expiry. Taking it is one
conditional UPDATE (free, lapsed, or already ours) or one INSERT; both are atomic on SQLite and
PostgreSQL, so two processes starting at once cannot both win. The holder renews the expiry
from a heartbeat thread; a crashed holder stops renewing and its lock lapses after `TTL`, so
nobody has to clear it by hand. The clock is a parameter (`now`) everywhere but in the thread.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import Engine, delete, or_, update
from sqlalchemy.exc import IntegrityError

from monitor.contract import utcnow
from monitor.db import session_scope
from monitor.errors import IloMonitorError
from monitor.scheduling.models import SchedulerLock

logger = logging.getLogger(__name__)

NAME: Final = "scheduler"
TTL: Final = timedelta(minutes=3)
HEARTBEAT: Final = timedelta(seconds=30)


class SchedulerBusyError(IloMonitorError):
    """Another scheduler (or `run` cycle) holds the lock of this database.

    Raised by `acquire` when `ilo-monitor serve` or `ilo-monitor run` starts.
    """


def this_process() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def acquire(engine: Engine, now: datetime, *, holder: str | None = None, name: str = NAME, ttl: timedelta = TTL) -> str:
    """Take the lock `name` for `holder` (default: this host and process); `SchedulerBusyError` if held."""
    holder = holder or this_process()
    values = {"holder": holder, "pid": os.getpid(), "acquired_at": now, "heartbeat_at": now, "expires_at": now + ttl}
    with session_scope(engine) as session:
        result = session.execute(
            update(SchedulerLock)
            .where(
                SchedulerLock.name == name,
                or_(SchedulerLock.expires_at <= now, SchedulerLock.holder == holder),
            )
            .values(**values)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            return holder
        current = session.get(SchedulerLock, name)
        if current is None:
            session.add(SchedulerLock(name=name, **values))
            try:
                session.flush()
                return holder
            except IntegrityError:
                session.rollback()  # another process inserted it between our two statements
                current = session.get(SchedulerLock, name)
        assert current is not None
        raise SchedulerBusyError(
            f"another scheduler runs on this database: {current.holder}, alive at "
            f"{current.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC (its lock lapses at {current.expires_at:%H:%M:%S} UTC "
            "if it has died); stop it first, or use its `ilo-monitor status`"
        )


def renew(engine: Engine, holder: str, now: datetime, *, name: str = NAME, ttl: timedelta = TTL) -> bool:
    """Push the expiry forward; False when the lock is no longer ours (we stalled and lost it)."""
    with session_scope(engine) as session:
        result = session.execute(
            update(SchedulerLock)
            .where(SchedulerLock.name == name, SchedulerLock.holder == holder)
            .values(heartbeat_at=now, expires_at=now + ttl)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def release(engine: Engine, holder: str, *, name: str = NAME) -> None:
    with session_scope(engine) as session:
        session.execute(delete(SchedulerLock).where(SchedulerLock.name == name, SchedulerLock.holder == holder))


def current(engine: Engine, *, name: str = NAME) -> SchedulerLock | None:
    with session_scope(engine) as session:
        row = session.get(SchedulerLock, name)
        if row is not None:
            session.expunge(row)
        return row


class Heartbeat:
    """Renews the lock every `interval` from a daemon thread; calls `on_lost` if it was taken from us."""

    def __init__(
        self,
        engine: Engine,
        holder: str,
        on_lost: Callable[[], None],
        *,
        interval: timedelta = HEARTBEAT,
        ttl: timedelta = TTL,
    ) -> None:
        self.engine = engine
        self.holder = holder
        self.on_lost = on_lost
        self.interval = interval
        self.ttl = ttl
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="scheduler-heartbeat", daemon=True)

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.interval.total_seconds()):
            try:
                still_ours = renew(self.engine, self.holder, utcnow(), ttl=self.ttl)
            except Exception:  # a database hiccup: try again at the next beat, the TTL covers it
                logger.exception("could not renew the scheduler lock")
                continue
            if not still_ours:
                logger.error("the scheduler lock was taken over by another process: stopping")
                self.on_lost()
                return
