"""When digests are due, and the period key each one is sent under (pure: `now` is a parameter).

Schedules are read in Europe/Amsterdam wall-clock time, so "Monday 07:00" stays 07:00 across
daylight saving time. A digest is due from its scheduled moment until the end of that local
day; a run missed while the scheduler was down still sends later that day, and nothing is lost
after that either, because items not yet alerted roll into the next digest.

Period keys make the outbox unique per recipient and period:

- weekly: `profile-<id>/weekly/2026-W48` (ISO week of the Amsterdam date);
- daily: `profile-<id>/daily/2026-11-30` (Amsterdam date);
- instant, and `send --company` (now, whatever the schedule): `profile-<id>/now/2026-11-30T13:05Z`
  (the UTC minute); a second run in the same minute finds the period taken, a later one finds
  nothing new to send, so neither sends anything twice;
- the ILO weekly digest: `ilo/2026-W48`, due on Monday from 07:00 for the week before.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

AMSTERDAM: Final = ZoneInfo("Europe/Amsterdam")
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


@dataclass(frozen=True)
class Week:
    """An ISO week, as `2026-W48`, with its bounds in Amsterdam time (as aware UTC datetimes)."""

    year: int
    week: int

    @classmethod
    def parse(cls, text: str) -> Week:
        match = _WEEK.match(text.strip())
        if not match:
            raise ValueError(f"{text!r} is not an ISO week like 2026-W48")
        year, week = int(match.group(1)), int(match.group(2))
        try:
            date.fromisocalendar(year, week, 1)
        except ValueError as error:
            raise ValueError(f"{text!r}: {error}") from None
        return cls(year, week)

    @classmethod
    def of(cls, day: date) -> Week:
        year, week, _ = day.isocalendar()
        return cls(year, week)

    def __str__(self) -> str:
        return f"{self.year}-W{self.week:02d}"

    @property
    def monday(self) -> date:
        return date.fromisocalendar(self.year, self.week, 1)

    @property
    def start(self) -> datetime:
        """Monday 00:00 in Amsterdam, as UTC."""
        return local_midnight(self.monday)

    @property
    def end(self) -> datetime:
        """The next Monday 00:00 in Amsterdam, as UTC (exclusive)."""
        return local_midnight(self.monday + timedelta(days=7))

    def previous(self) -> Week:
        return Week.of(self.monday - timedelta(days=7))


def local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=AMSTERDAM).astimezone(UTC)


def local(now: datetime) -> datetime:
    """`now` on the Amsterdam wall clock."""
    return now.astimezone(AMSTERDAM)


def scheduled_today(now: datetime, hour: int) -> bool:
    """Whether the Amsterdam wall clock has reached `hour` today (the rest of the day counts)."""
    # On the spring-forward day 02:00 does not exist; `>=` makes a 02:00 digest go at 03:00.
    return local(now).hour >= hour


def digest_period(
    profile_id: int, frequency: str, now: datetime, *, weekday: int = 1, hour: int = 7, force: bool = False
) -> str | None:
    """The period key a profile's digest is due under at `now`, or None when it is not due.

    `force` (`send --company`): due now, whatever the schedule, under a key of its own.
    """
    prefix = f"profile-{profile_id}"
    if force or frequency == "instant":
        return f"{prefix}/now/{now.astimezone(UTC):%Y-%m-%dT%H:%MZ}"
    today = local(now)
    if frequency == "daily":
        return f"{prefix}/daily/{today.date().isoformat()}" if scheduled_today(now, hour) else None
    if frequency == "weekly":
        if today.isoweekday() != weekday or not scheduled_today(now, hour):
            return None
        return f"{prefix}/weekly/{Week.of(today.date())}"
    raise ValueError(f"unknown digest frequency {frequency!r}")


def ilo_period(week: Week) -> str:
    return f"ilo/{week}"


def describe(frequency: str, weekday: int, hour: int) -> str:
    """The schedule in words, for the footer ("weekly, Mondays at 07:00 Amsterdam time")."""
    if frequency == "instant":
        return "as soon as new notices arrive"
    if frequency == "daily":
        return f"daily at {hour:02d}:00 Amsterdam time"
    day = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")[weekday - 1]
    return f"weekly, {day}s at {hour:02d}:00 Amsterdam time"
