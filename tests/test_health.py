"""Health rules at their threshold edges, and `assess` over runs stored in a real database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import new_database_url
from sqlalchemy import select

from monitor.crawl.runs import CrawlRun
from monitor.db import open_database, session_scope
from monitor.health import assess, run_problems, stale_problem, streak, usual_gap_days
from monitor.models import NoticeRow

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def run(items: int = 100, state: str = "succeeded", fields: dict[str, int] | None = None, **extra: Any) -> CrawlRun:
    counts = {"title": items, "deadline": items, "buyer": items, "cpv_codes": items, **(fields or {})}
    stats = {f"ilo_monitor/field/{name}": value for name, value in counts.items()}
    values: dict[str, Any] = {"errors": 0, "failure_reasons": [], "error_messages": [], **extra}
    return CrawlRun(source="x", state=state, started_at=NOW, items_scraped=items, stats=stats, **values)


def history(*items: int) -> list[CrawlRun]:
    return [run(n) for n in items]


def test_a_clean_run_is_healthy() -> None:
    assert run_problems(run(100), history(100, 100, 100)) == []


def test_failed_and_zero_items() -> None:
    failed = run(0, state="failed", failure_reasons=["finish reason shutdown"])
    assert run_problems(failed, []) == ["failed: finish reason shutdown"]
    assert run_problems(run(0), history(10, 10, 10)) == ["zero items"]


def test_errors_logged_on_a_succeeded_run() -> None:
    assert run_problems(run(100, errors=2), []) == ["2 error(s) logged"]


@pytest.mark.parametrize(("items", "flagged"), [(50, False), (49, True)])
def test_items_below_half_the_median_of_the_last_seven_successful_runs(items: int, flagged: bool) -> None:
    # Median of the last 7 successful runs is 100 (the 8th, 1000, is too old to count; the
    # failed one never counts).
    earlier = [*history(100, 90, 110, 100, 100, 95, 105), run(0, state="failed"), run(1000)]
    earlier.insert(2, run(0, state="failed"))
    problems = run_problems(run(items), earlier)
    assert any("below half the median of the last 7 successful runs (100)" in p for p in problems) is flagged


def test_items_rule_waits_for_three_successful_runs() -> None:
    assert run_problems(run(1), history(100, 100)) == []


@pytest.mark.parametrize(("present", "flagged"), [(95, False), (94, True)])
def test_field_coverage_at_95_percent(present: int, flagged: bool) -> None:
    problems = run_problems(run(100, fields={"deadline": present}), [])
    assert ("deadline in 94% of the items (under 95%)" in problems) is flagged


def test_coverage_only_of_fields_the_source_has() -> None:
    # A portal that never gives CPV codes: not a coverage problem...
    no_cpv = [run(100, fields={"cpv_codes": 0}) for _ in range(3)]
    assert run_problems(run(100, fields={"cpv_codes": 0}), no_cpv) == []
    # ...but a source that had them and lost them is.
    problems = run_problems(run(100, fields={"cpv_codes": 0}), [run(100, fields={"cpv_codes": 90})])
    assert problems == ["CPV code in 0% of the items (under 95%)"]


def test_usual_gap_and_staleness_at_twice_the_gap() -> None:
    published = [date(2026, 11, 2), date(2026, 11, 5), date(2026, 11, 8), date(2026, 11, 11)]  # every 3 days
    assert usual_gap_days(published) == 3
    assert stale_problem(published, date(2026, 11, 17)) is None  # 6 days: exactly twice the gap
    assert stale_problem(published, date(2026, 11, 18)) == (
        "newest publication 2026-11-11 is 7 days old (usual gap 3 days)"
    )
    assert stale_problem(published[:2], date(2027, 1, 1)) is None  # too few dates to know a usual gap
    daily = [date(2026, 11, d) for d in (1, 1, 2, 3)]  # same-day publications: gap at least a day
    assert usual_gap_days(daily) == 1


def test_streak_counts_unhealthy_runs_in_a_row_skipping_interrupted_ones() -> None:
    runs = [run(health=["zero items"]), run(state="interrupted"), run(health=["failed: x"]), run(health=[]),
            run(health=["zero items"])]  # fmt: skip
    assert streak(runs) == 2
    assert streak(runs[3:]) == 0


def test_assess_judges_stored_runs_once_and_reports_the_streak(tmp_path: Path) -> None:
    engine = open_database(new_database_url(tmp_path, "h"))
    with session_scope(engine) as session:
        for hours, items in enumerate([100, 100, 100, 0, 0, 0]):
            stored = run(items)
            stored.started_at = NOW - timedelta(hours=10 - hours)
            session.add(stored)
        for day in (2, 5, 8, 11):
            session.add(NoticeRow(source="x", source_id=str(day), notice_type="contract_notice", status="open",
                                  title="t", published_on=date(2026, 11, day), first_seen_at=NOW,
                                  last_changed_at=NOW))  # fmt: skip
    with session_scope(engine) as session:
        state = assess(session, "x", NOW)
    assert state.streak == 3 and state.previous_streak == 2
    # Zero items, and the newest publication (11 Nov) is 13 days old at a usual gap of 3 days.
    assert state.problems == ["zero items", "newest publication 2026-11-11 is 13 days old (usual gap 3 days)"]
    with session_scope(engine) as session:
        again = assess(session, "x", NOW + timedelta(days=1))
        stored = sorted(session.scalars(select(CrawlRun)), key=lambda r: r.started_at)
        assert [r.health for r in stored[:3]] == [[], [], []]
    assert again.problems[0] == "zero items" and len(again.problems) == 2  # judged once, freshness not repeated
