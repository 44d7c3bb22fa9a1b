"""What every command of the `ilo-monitor` CLI shares: `--db`, error reporting, time display.

Kept apart from `monitor.cli` so that subsystem command groups (matching, crawling, classifier)
can use it without importing the root CLI that registers them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import click
from sqlalchemy import Engine

from monitor.db import open_database
from monitor.errors import IloMonitorError

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
F = TypeVar("F", bound=Callable[..., Any])


def db_option(function: F) -> F:
    """`--db URL` on every command, falling back to `ILO_MONITOR_DB` and then the default file."""
    return click.option(
        "--db",
        "db_url",
        envvar="ILO_MONITOR_DB",
        metavar="URL",
        help="SQLAlchemy database URL (env ILO_MONITOR_DB; default: SQLite file in the user data folder).",
    )(function)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn the project's own errors into one clear line and exit code 1."""
    try:
        yield
    except IloMonitorError as error:
        raise click.ClickException(str(error)) from error


class ErrorGroup(click.Group):
    """A command group whose commands report the project's errors as one line."""

    def invoke(self, ctx: click.Context) -> Any:
        with user_errors():
            return super().invoke(ctx)


def connect(db_url: str | None) -> Engine:
    return open_database(db_url)


def amsterdam(stamp: datetime | None) -> str:
    """A time as Dutch readers want it: local Amsterdam time with its zone abbreviation."""
    if stamp is None:
        return "-"
    return stamp.astimezone(AMSTERDAM).strftime("%Y-%m-%d %H:%M %Z")
