"""When digests are due and under which period key: Amsterdam wall-clock time across DST, frozen `now`."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from alerts.schedule import Week, describe, digest_period


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_weekly_is_due_from_monday_07_amsterdam_in_winter_and_summer() -> None:
    # Winter (CET, UTC+1): 07:00 local is 06:00 UTC.
    assert digest_period(5, "weekly", utc(2026, 11, 30, 5, 59)) is None
    assert digest_period(5, "weekly", utc(2026, 11, 30, 6, 0)) == "profile-5/weekly/2026-W49"
    assert digest_period(5, "weekly", utc(2026, 11, 30, 22, 59)) == "profile-5/weekly/2026-W49"
    assert digest_period(5, "weekly", utc(2026, 11, 30, 23, 0)) is None  # Tuesday 00:00 in Amsterdam
    # Summer (CEST, UTC+2): 07:00 local is 05:00 UTC.
    assert digest_period(5, "weekly", utc(2026, 6, 1, 4, 59)) is None
    assert digest_period(5, "weekly", utc(2026, 6, 1, 5, 0)) == "profile-5/weekly/2026-W23"
    assert digest_period(5, "weekly", utc(2026, 12, 3, 9, 0), weekday=4, hour=9) == "profile-5/weekly/2026-W49"


def test_daily_follows_the_amsterdam_date() -> None:
    # 23:30 UTC on 30 November is already 1 December in Amsterdam, but before 07:00 there.
    assert digest_period(1, "daily", utc(2026, 11, 30, 23, 30)) is None
    assert digest_period(1, "daily", utc(2026, 12, 1, 6, 0)) == "profile-1/daily/2026-12-01"
    # Spring forward (29 March 2026): 02:00 does not exist; a 02:00 digest goes at 03:00 CEST.
    assert digest_period(1, "daily", utc(2026, 3, 29, 0, 59), hour=2) is None
    assert digest_period(1, "daily", utc(2026, 3, 29, 1, 0), hour=2) == "profile-1/daily/2026-03-29"
    # Fall back (25 October 2026): 07:00 CET is 06:00 UTC, no longer 05:00.
    assert digest_period(1, "daily", utc(2026, 10, 25, 5, 30)) is None
    assert digest_period(1, "daily", utc(2026, 10, 25, 6, 0)) == "profile-1/daily/2026-10-25"


def test_instant_and_forced_use_the_utc_minute() -> None:
    assert digest_period(2, "instant", utc(2026, 11, 30, 13, 5, 59)) == "profile-2/now/2026-11-30T13:05Z"
    assert digest_period(2, "weekly", utc(2026, 12, 2, 13, 5), force=True) == "profile-2/now/2026-12-02T13:05Z"
    with pytest.raises(ValueError, match="unknown digest frequency"):
        digest_period(2, "hourly", utc(2026, 12, 2, 13, 5))


def test_an_ilo_week_runs_from_monday_to_monday_amsterdam_time() -> None:
    week = Week.parse("2026-W48")
    assert week.start == utc(2026, 11, 22, 23, 0) and week.end == utc(2026, 11, 29, 23, 0)
    assert str(Week.parse("2027-W01").previous()) == "2026-W53"
    for bad in ("2026-48", "2026-W54", "W48"):
        with pytest.raises(ValueError):
            Week.parse(bad)


def test_schedule_in_words() -> None:
    assert describe("weekly", 1, 7) == "weekly, Mondays at 07:00 Amsterdam time"
    assert describe("daily", 1, 8) == "daily at 08:00 Amsterdam time"
    assert describe("instant", 1, 7) == "as soon as new notices arrive"
