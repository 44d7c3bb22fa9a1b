"""Crawl runs: every crawl recorded in the database, judged, and the cursor derived from them.

A `CrawlRun` row is written by `monitor.crawl.extensions.CrawlRunExtension` inside the crawl
process (opened when the spider opens, completed from Scrapy's stats when it closes) or created
beforehand by `monitor.crawl.jobs.crawl_source`, which hands its id to the crawl and marks it
failed itself when the crawl process dies before closing it.

A run is `succeeded` only when the crawl got the data (Scrapy's exit code and a `finished` close
reason do not say so, see `judge`): the *cursor* of a source is the end of the window of its last
succeeded run, so a window cut short by an error is read again next time, never skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final

from sqlalchemy import JSON, Date, Index, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from monitor.db import UTCDateTime
from monitor.models import Base

# `interrupted`: the scheduler was stopped (SIGTERM) during the crawl; neither a success nor a
# failure of the source, so health checks skip it (monitor.health).
STATES: Final = ("running", "succeeded", "failed", "interrupted")
STATS_PREFIX: Final = "ilo_monitor"
# Close reasons of a crawl that ran to its end (`closespider_*` limits are used by
# `sources check`, where a capped crawl is the intent).
COMPLETE_REASONS: Final = frozenset({"finished", "closespider_itemcount", "closespider_pagecount"})
# Fields whose presence is counted per scraped item (stats `ilo_monitor/field/<name>`, written
# by `CrawlRunExtension`), for the field-coverage health rule (monitor.health).
COVERAGE_FIELDS: Final = ("title", "deadline", "buyer", "cpv_codes", "published_on")


def field_counts(stats: dict[str, Any]) -> dict[str, int]:
    """{field: items that had it} of a run's stats (0 for fields never seen)."""
    return {name: _int(stats, f"{STATS_PREFIX}/field/{name}") for name in COVERAGE_FIELDS}


class CrawlRun(Base):
    """One crawl of one source: when, what it covered, what happened, and the verdict."""

    __tablename__ = "crawl_runs"
    __table_args__ = (Index("ix_crawl_runs_source_started", "source", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(20), default="running")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finish_reason: Mapped[str | None] = mapped_column(String(64))
    # The publication window asked of the source (inclusive dates).
    window_since: Mapped[date | None] = mapped_column(Date)
    window_until: Mapped[date | None] = mapped_column(Date)
    requests: Mapped[int] = mapped_column(Integer, default=0)
    # {"200": 12, "429": 1}: responses by HTTP status.
    responses: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    items_scraped: Mapped[int] = mapped_column(Integer, default=0)
    items_stored: Mapped[int] = mapped_column(Integer, default=0)
    items_new: Mapped[int] = mapped_column(Integer, default=0)
    items_changed: Mapped[int] = mapped_column(Integer, default=0)
    items_dropped: Mapped[int] = mapped_column(Integer, default=0)
    # {"deadline": 1, "title": 2}: dropped items by reason (the contract field at fault).
    drops: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    # The first ERROR lines of the crawl's log, and why the run was judged failed.
    error_messages: Mapped[list[Any]] = mapped_column(JSON, default=list)
    failure_reasons: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # Scrapy's stats as they were at close (JSON-ready), for whatever the columns do not hold.
    stats: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Spider arguments of the run (since/until, query...), to reproduce it.
    arguments: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    note: Mapped[str | None] = mapped_column(Text)
    # The health check's findings on this run (monitor.health): [] healthy, None not judged yet.
    health: Mapped[list[Any] | None] = mapped_column(JSON, default=None)

    @property
    def succeeded(self) -> bool:
        return self.state == "succeeded"

    def summary(self) -> str:
        """One line for the terminal."""
        window = f"{self.window_since or '?'}..{self.window_until or '?'}"
        line = (
            f"{self.source} run {self.id}: {self.state} ({self.finish_reason or '-'}), window {window}, "
            f"{self.requests} requests, {self.items_scraped} scraped, {self.items_new} new, "
            f"{self.items_changed} changed, {self.items_dropped} dropped, {self.errors} errors"
        )
        if self.failure_reasons:
            line += "; failed because: " + "; ".join(str(r) for r in self.failure_reasons)
        return line


@dataclass(frozen=True)
class Counts:
    """What the columns of a run hold, read from Scrapy's stats."""

    requests: int
    responses: dict[str, int]
    items_scraped: int
    items_new: int
    items_changed: int
    items_unchanged: int
    store_errors: int
    items_dropped: int
    drops: dict[str, int]
    errors: int


def _int(stats: dict[str, Any], key: str) -> int:
    value = stats.get(key, 0)
    return int(value) if isinstance(value, int | float) else 0


def counts(stats: dict[str, Any]) -> Counts:
    """The run's figures from the stats of a crawl (keys of Scrapy and of our pipelines)."""
    status_prefix = "downloader/response_status_count/"
    drop_prefix = f"{STATS_PREFIX}/dropped/"
    return Counts(
        requests=_int(stats, "downloader/request_count"),
        responses={k[len(status_prefix) :]: _int(stats, k) for k in sorted(stats) if k.startswith(status_prefix)},
        items_scraped=_int(stats, "item_scraped_count"),
        items_new=_int(stats, f"{STATS_PREFIX}/store/new"),
        items_changed=_int(stats, f"{STATS_PREFIX}/store/changed"),
        items_unchanged=_int(stats, f"{STATS_PREFIX}/store/unchanged"),
        store_errors=_int(stats, f"{STATS_PREFIX}/store/error"),
        items_dropped=_int(stats, "item_dropped_count"),
        drops={k[len(drop_prefix) :]: _int(stats, k) for k in sorted(stats) if k.startswith(drop_prefix)},
        errors=_int(stats, "log_count/ERROR") + _int(stats, "log_count/CRITICAL"),
    )


def judge(stats: dict[str, Any], finish_reason: str | None) -> list[str]:
    """Why a crawl with these stats failed; empty when it succeeded.

    A run fails when it did not run to its end, logged an error (a lost page, a malformed or
    unexpected answer, a request given up), could not store a notice, or listed entries and yet
    produced nothing from them (a parser that silently stopped matching).
    """
    reasons: list[str] = []
    figures = counts(stats)
    if finish_reason not in COMPLETE_REASONS:
        reasons.append(f"finish reason {finish_reason or 'unknown'}")
    if figures.errors:
        reasons.append(f"{figures.errors} error(s) logged")
    lost = _int(stats, f"{STATS_PREFIX}/page_lost")
    if lost:
        reasons.append(f"{lost} page(s) of results lost")
    schema = _int(stats, f"{STATS_PREFIX}/schema_error")
    if schema:
        reasons.append(f"{schema} answer(s) not in the expected schema")
    if figures.store_errors:
        reasons.append(f"{figures.store_errors} notice(s) could not be stored")
    listed = _int(stats, f"{STATS_PREFIX}/listed")
    accounted = (
        figures.items_scraped
        + figures.items_dropped
        + _int(stats, f"{STATS_PREFIX}/not_selected")
        + _int(stats, f"{STATS_PREFIX}/outside_window")
        + _int(stats, f"{STATS_PREFIX}/invalid_document")
    )
    if listed and not accounted:
        reasons.append(f"the source listed {listed} entries but no notice came of them")
    return reasons


def complete_run(
    run: CrawlRun,
    stats: dict[str, Any],
    finish_reason: str | None,
    *,
    now: datetime,
    error_messages: list[str] | None = None,
) -> CrawlRun:
    """Fill `run` from the crawl's stats and judge it (the caller commits)."""
    figures = counts(stats)
    run.finished_at = now
    run.finish_reason = finish_reason
    run.requests = figures.requests
    run.responses = dict(figures.responses)
    run.items_scraped = figures.items_scraped
    run.items_new = figures.items_new
    run.items_changed = figures.items_changed
    run.items_stored = figures.items_new + figures.items_changed + figures.items_unchanged
    run.items_dropped = figures.items_dropped
    run.drops = dict(figures.drops)
    run.errors = figures.errors
    run.error_messages = list(error_messages or [])[:20]
    run.failure_reasons = judge(stats, finish_reason)
    run.state = "failed" if run.failure_reasons else "succeeded"
    run.stats = dict(stats)
    return run


def fail_run(run: CrawlRun, reason: str, *, now: datetime, error_messages: list[str] | None = None) -> CrawlRun:
    """Mark a run that never completed (the crawl process died or could not start) as failed."""
    run.state = "failed"
    run.finished_at = run.finished_at or now
    run.failure_reasons = [*run.failure_reasons, reason]
    if error_messages:
        run.error_messages = [*run.error_messages, *error_messages][:20]
        run.errors = max(run.errors, len(error_messages))
    return run


# -- the cursor ------------------------------------------------------------------------------------


def last_run(session: Session, source: str, *, succeeded: bool = False) -> CrawlRun | None:
    """The newest run of `source` (only succeeded ones with `succeeded=True`)."""
    query = select(CrawlRun).where(CrawlRun.source == source)
    if succeeded:
        query = query.where(CrawlRun.state == "succeeded", CrawlRun.window_until.is_not(None))
    return session.scalars(query.order_by(CrawlRun.started_at.desc(), CrawlRun.id.desc()).limit(1)).first()


def cursor(session: Session, source: str) -> date | None:
    """The end of the window of `source`'s last succeeded run: covered up to here, no further."""
    run = last_run(session, source, succeeded=True)
    return run.window_until if run is not None else None


def next_window(
    session: Session,
    source: str,
    *,
    today: date,
    overlap_days: int,
    backfill_days: int,
    since: date | None = None,
    until: date | None = None,
) -> tuple[date, date]:
    """The (since, until) a crawl of `source` should ask for.

    Explicit `since`/`until` win (a backfill). Otherwise the window starts `overlap_days` before
    the cursor (publications that arrive late still fall in it) or, with no succeeded run yet,
    `backfill_days` before `until`; it ends today.
    """
    end = until or today
    if since is None:
        last = cursor(session, source)
        since = last - timedelta(days=overlap_days) if last is not None else end - timedelta(days=backfill_days)
    return min(since, end), end


def runs_by_source(session: Session) -> dict[str, CrawlRun]:
    """The newest run of every source that has one."""
    newest: dict[str, CrawlRun] = {}
    for run in session.scalars(select(CrawlRun).order_by(CrawlRun.started_at, CrawlRun.id)):
        newest[run.source] = run
    return newest
