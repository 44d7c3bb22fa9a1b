"""Source health: rules over recorded crawl runs, so a broken source is noticed before a company does.

The rules (pure functions; `now`/`today` are parameters):

- **failed**: the run was judged failed (`monitor.crawl.runs.judge`: incomplete, errors, lost
  pages, nothing from what was listed...);
- **errors**: a run that succeeded yet logged errors (kept apart so the message says so);
- **zero items**: a run that got no notice at all;
- **few items**: fewer than half the median of the last `HISTORY` (7) successful runs, once
  there are at least `MIN_HISTORY` (3) of them to compare with;
- **coverage**: under `MIN_COVERAGE` (95 %) of the run's items had a title, deadline, buyer or
  CPV code; a field is only asked of a source that has it (present in this run or in one of
  the successful runs compared with), so a portal that never gives CPV codes is not failing;
- **stale**: the source's newest publication date is older than twice its usual gap between
  publication dates (the median gap, at least a day; needs `MIN_HISTORY` distinct dates).

A run with any finding is *unhealthy*; `streak` counts the unhealthy runs in a row up to the
newest. Interrupted (stopped scheduler) and running crawls are neither. `assess` stores the
findings of every run not judged yet (`CrawlRun.health`) and returns each source's state;
`monitor.operators` turns long streaks into operator alerts.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.crawl.runs import CrawlRun, field_counts
from monitor.models import NoticeRow

HISTORY: Final = 7
MIN_HISTORY: Final = 3
MIN_COVERAGE: Final = 0.95
CHECKED_FIELDS: Final = ("title", "deadline", "buyer", "cpv_codes")
_LABELS: Final = {"title": "title", "deadline": "deadline", "buyer": "buyer", "cpv_codes": "CPV code"}
_SKIPPED_STATES: Final = frozenset({"running", "interrupted"})


def run_problems(run: CrawlRun, history: Sequence[CrawlRun]) -> list[str]:
    """The findings on `run`; `history`: the source's earlier runs, newest first (any state)."""
    if run.state == "failed":
        return ["failed: " + ("; ".join(str(r) for r in run.failure_reasons) or "no reason recorded")]
    problems: list[str] = []
    if run.errors:
        problems.append(f"{run.errors} error(s) logged")
    if run.items_scraped == 0:
        problems.append("zero items")
        return problems
    successful = [r for r in history if r.state == "succeeded"][:HISTORY]
    if len(successful) >= MIN_HISTORY:
        median = statistics.median(r.items_scraped for r in successful)
        if run.items_scraped < median / 2:
            problems.append(
                f"{run.items_scraped} items, below half the median of the last {len(successful)} "
                f"successful runs ({median:g})"
            )
    counts = field_counts(run.stats or {})
    earlier = [field_counts(r.stats or {}) for r in successful]
    for name in CHECKED_FIELDS:
        has_it = name == "title" or counts[name] > 0 or any(c[name] > 0 for c in earlier)
        if not has_it:
            continue
        share = counts[name] / run.items_scraped
        if share < MIN_COVERAGE:
            problems.append(f"{_LABELS[name]} in {share:.0%} of the items (under {MIN_COVERAGE:.0%})")
    return problems


def usual_gap_days(published: Sequence[date]) -> float | None:
    """The median gap in days between the distinct publication dates; None with too few dates."""
    days = sorted(set(published))
    if len(days) < MIN_HISTORY:
        return None
    gaps = [(later - earlier).days for earlier, later in itertools.pairwise(days)]
    return max(1.0, float(statistics.median(gaps)))


def stale_problem(published: Sequence[date], today: date) -> str | None:
    """A finding when the newest publication is older than twice the usual gap, else None."""
    gap = usual_gap_days(published)
    if gap is None:
        return None
    newest = max(published)
    age = (today - newest).days
    if age > 2 * gap:
        return f"newest publication {newest.isoformat()} is {age} days old (usual gap {gap:g} days)"
    return None


def streak(runs: Sequence[CrawlRun]) -> int:
    """Unhealthy runs in a row, newest first (judged runs only; interrupted ones are skipped)."""
    count = 0
    for run in runs:
        if run.state in _SKIPPED_STATES or run.health is None:
            continue
        if not run.health:
            break
        count += 1
    return count


@dataclass
class SourceHealth:
    """A source's state for the operators and `ilo-monitor status`."""

    source: str
    latest: CrawlRun | None
    problems: list[str] = field(default_factory=list)
    streak: int = 0
    # The streak before the newest run, to tell that a source has just recovered.
    previous_streak: int = 0

    @property
    def state(self) -> str:
        if self.latest is None:
            return "never run"
        return "unhealthy" if self.problems else "healthy"


def recent_runs(session: Session, source: str, limit: int = 50) -> list[CrawlRun]:
    """The newest runs of `source`, newest first."""
    query = (
        select(CrawlRun)
        .where(CrawlRun.source == source)
        .order_by(CrawlRun.started_at.desc(), CrawlRun.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def publication_dates(session: Session, source: str, today: date, days: int = 120) -> list[date]:
    """Publication dates of the source's stored notices over the last `days`."""
    since = date.fromordinal(today.toordinal() - days)
    query = select(NoticeRow.published_on).where(
        NoticeRow.source == source, NoticeRow.published_on.is_not(None), NoticeRow.published_on >= since
    )
    return [d for d in session.scalars(query) if d is not None and d <= today]


def judge_runs(runs: Sequence[CrawlRun]) -> None:
    """Fill `health` of every finished run not judged yet (`runs` newest first; the caller commits)."""
    for index, run in enumerate(runs):
        if run.health is None and run.state not in _SKIPPED_STATES:
            run.health = run_problems(run, runs[index + 1 :])


def assess(session: Session, source: str, now: datetime) -> SourceHealth:
    """Judge `source`'s unjudged runs, check its publications' freshness; its state now."""
    runs = recent_runs(session, source)
    judge_runs(runs)
    finished = [r for r in runs if r.state not in _SKIPPED_STATES]
    latest = finished[0] if finished else None
    if latest is None:
        return SourceHealth(source, None)
    problems = list(latest.health or [])
    stale = stale_problem(publication_dates(session, source, now.date()), now.date())
    if stale is not None and latest.state == "succeeded":
        # Freshness belongs to the source, not to one run: recorded on the newest run so that it
        # counts in the streak, once.
        if not any(p.startswith("newest publication") for p in problems):
            problems.append(stale)
            latest.health = problems
    session.flush()
    return SourceHealth(source, latest, problems, streak(finished), streak(finished[1:]))
