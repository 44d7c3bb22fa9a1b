"""The scheduler's jobs: module-level functions that the job store refers to by text.

APScheduler stores each job as "monitor.scheduling.jobs:crawl" plus its keyword arguments, so
the functions here must stay importable under these names and take only plain values: the
database URL (`db_url`) and the schedule file (`config`) they open themselves, and the source
or timeout of a crawl. Every job is idempotent and driven by the database: a crawl continues
from the source's cursor, digests and alerts are keyed in the outbox by recipient and period,
health findings are stored on the runs. Running a job twice, or once more after a restart,
does no harm.

The same steps make up `ilo-monitor run` (`monitor.scheduling.service.run_cycle`); each takes
the `now` it works with, read once by its caller.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, or_, select

from monitor.contract import utcnow
from monitor.crawl.runs import CrawlRun, fail_run
from monitor.db import open_database, session_scope
from monitor.scheduling.config import Cron, Schedule, load_schedule

logger = logging.getLogger(__name__)

# Set when the scheduler is stopping (SIGTERM): a crawl that ends now was cut short on purpose
# and is recorded as `interrupted`, not as a failure of its source.
STOPPING = threading.Event()

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()

Crawler = Callable[..., tuple[CrawlRun, Any]]


def engine_for(db_url: str) -> Engine:
    """One engine per database URL for the life of the process (migrations run once, at first use)."""
    with _engines_lock:
        engine = _engines.get(db_url)
        if engine is None:
            engine = _engines[db_url] = open_database(db_url)
        return engine


def _schedule(config: str | None) -> Schedule:
    return load_schedule(Path(config) if config else None)


# -- the steps -------------------------------------------------------------------------------------


def crawl_once(
    engine: Engine, source: str, *, now: datetime, timeout: float, crawler: Crawler | None = None
) -> CrawlRun | None:
    """Crawl `source` unless a crawl of it is already running; the recorded run (None: skipped).

    A `running` run younger than `timeout` belongs to a crawl in progress (this scheduler's, or
    an `ilo-monitor crawl` by hand): no second one on top. An older one was abandoned by a
    process that died; it is closed as failed so that it stops blocking.
    """
    if crawler is None:
        from monitor.crawl.jobs import crawl_source

        crawler = crawl_source
    with session_scope(engine) as session:
        running = session.scalars(select(CrawlRun).where(CrawlRun.source == source, CrawlRun.state == "running")).all()
        for run in running:
            if run.started_at > now - timedelta(seconds=timeout):
                logger.warning("crawl of %s skipped: run %s is still running", source, run.id)
                return None
            fail_run(run, "abandoned: its crawl process never closed it", now=now)
    run, _result = crawler(source, engine, now=now, timeout=timeout, stop=STOPPING)
    if STOPPING.is_set() and run.state != "succeeded":
        with session_scope(engine) as session:
            stored = session.get_one(CrawlRun, run.id)
            stored.state = "interrupted"
            stored.note = "interrupted: the scheduler was stopped during the crawl"
            session.flush()
            session.expunge(stored)
            run = stored
    return run


@dataclass
class CatchUp:
    seen: int = 0
    changed: int = 0
    matches: str = ""


def catch_up(engine: Engine, now: datetime) -> CatchUp:
    """Classify again the notices of an older classifier version, and match those whose areas moved.

    Notices are classified and matched when they are stored (monitor.store); this catches up
    after a classifier, taxonomy or model change, as `ilo-monitor classify --outdated` does.
    """
    from monitor.classifier import CLASSIFIER_VERSION
    from monitor.models import NoticeRow
    from monitor.store import NoticeStore

    summary = CatchUp()
    with session_scope(engine) as session:
        store = NoticeStore(session, now)
        query = (
            select(NoticeRow)
            .where(or_(NoticeRow.classifier_version.is_(None), NoticeRow.classifier_version != CLASSIFIER_VERSION))
            .order_by(NoticeRow.id)
        )
        moved = []
        for row in session.scalars(query):
            summary.seen += 1
            if store.reclassify(row):
                summary.changed += 1
                moved.append(row)
        store.rematch(moved)
        summary.matches = str(store.matches)
    return summary


def ilo_week_due(cron: Cron, now: datetime) -> Any:
    """The week whose ILO digest is due at `now` by the configured time, else None (for `run`)."""
    from alerts.schedule import Week, local, local_midnight

    week = Week.of(local(now).date())
    fire = cron.next_after(local_midnight(week.monday) - timedelta(seconds=1))
    if fire is not None and fire <= now and Week.of(local(fire).date()) == week:
        return week.previous()
    return None


@dataclass
class DigestRun:
    planned: str = ""
    delivered: str = ""
    problems: list[str] = field(default_factory=list)


def ilo_digest_approved(engine: Engine, week: Any) -> bool:
    """Whether an ILO approved the digest of `week` on the review page (`ilo-monitor web`)."""
    from monitor.web.review import is_approved

    with session_scope(engine) as session:
        return is_approved(session, week)


def send_digests(engine: Engine, now: datetime, *, ilo_week: Any = None) -> DigestRun:
    """Write the company digests due at `now` (instant ones: whatever is new) and deliver the outbox.

    The ILO weekly digest is the scheduler's own job at its configured time (`ilo_digest`), so
    it is left out here unless `ilo_week` names the week to send and an ILO approved it.
    """
    from alerts.outbox import Mailer, plan, plan_ilo
    from alerts.send import RateLimit, deliver, transport_for

    mailer = Mailer.from_environment()
    companies_only = Mailer(replace(mailer.settings, ilo_emails=()), mailer.signer)
    planned = plan(engine, now, companies_only)
    if ilo_week is not None and mailer.settings.ilo_emails and ilo_digest_approved(engine, ilo_week):
        plan_ilo(engine, ilo_week, now, mailer, planned)
    settings = mailer.settings
    delivered = deliver(engine, transport_for(settings), now, mailer.sender, rate=RateLimit(settings.rate))
    return DigestRun(str(planned), str(delivered), [*planned.failed, *delivered.problems])


def check_health(engine: Engine, schedule: Schedule, now: datetime, sources: Sequence[str] | None = None) -> list[Any]:
    """Judge the sources' runs and tell the operators about failing or recovered ones; the states."""
    from monitor import operators
    from monitor.health import assess

    names = list(sources) if sources is not None else [c.source for c in schedule.crawls]
    with session_scope(engine) as session:
        healths = [assess(session, name, now) for name in names]
        for health in healths:
            if health.latest is not None:
                session.expunge(health.latest)
    operators.source_alerts(
        engine, healths, emails=schedule.operator_emails, failing_runs=schedule.failing_runs, now=now
    )
    return healths


# -- the jobs (what the job store names) ------------------------------------------------------------


def crawl(db_url: str, source: str, timeout: float = 3600, config: str | None = None) -> str:
    """Job: crawl one source, then catch up, send what became due (instant alerts) and judge its health."""
    engine = engine_for(db_url)
    schedule = _schedule(config)
    now = utcnow()
    run = crawl_once(engine, source, now=now, timeout=timeout)
    if run is None:
        return f"{source}: skipped, a crawl is running"
    if run.state == "interrupted":
        return run.summary()
    after = utcnow()
    catch_up(engine, after)
    send_digests(engine, after)
    check_health(engine, schedule, after, [source])
    return run.summary()


def catch_up_job(db_url: str, config: str | None = None) -> str:
    summary = catch_up(engine_for(db_url), utcnow())
    return f"{summary.seen} outdated notice(s) classified, {summary.changed} changed; {summary.matches}"


def digests(db_url: str, config: str | None = None) -> str:
    """Job: due company digests to the outbox, and every pending message delivered."""
    result = send_digests(engine_for(db_url), utcnow())
    for problem in result.problems:
        logger.warning("digest: %s", problem)
    return f"{result.planned}; {result.delivered}"


def ilo_digest(db_url: str, config: str | None = None) -> str:
    """Job: the ILO weekly digest of the week before (once per week: keyed by the week)."""
    from alerts.outbox import Mailer, plan_ilo
    from alerts.schedule import Week, local
    from alerts.send import RateLimit, deliver, transport_for

    engine = engine_for(db_url)
    now = utcnow()
    mailer = Mailer.from_environment()
    if not mailer.settings.ilo_emails:
        return "ILO_MONITOR_ILO_EMAILS is empty: no ILO digest sent"
    week = Week.of(local(now).date()).previous()
    if not ilo_digest_approved(engine, week):
        # ILOs review the week's digest before it goes out; approving it sends it at once.
        return f"ILO digest {week}: waiting for ILO approval at {mailer.settings.base_url}/ilo/digest"
    planned = plan_ilo(engine, week, now, mailer)
    settings = mailer.settings
    delivered = deliver(engine, transport_for(settings), now, mailer.sender, rate=RateLimit(settings.rate), kind="ilo")
    return f"ILO digest {week}: {planned}; {delivered}"


def health_check(db_url: str, config: str | None = None) -> str:
    """Job: the daily health check of every scheduled source."""
    healths = check_health(engine_for(db_url), _schedule(config), utcnow())
    return ", ".join(f"{h.source} {h.state}" for h in healths)
