"""The scheduler: one APScheduler 3.x `BackgroundScheduler` per database, and the `run` cycle.

Start-up, in this order (`SchedulerService.start`):

1. take the single-instance lock (`monitor.scheduling.lock`): a second scheduler on the same
   database refuses to start, and a crashed one's lock lapses after a few minutes;
2. start APScheduler *paused* on a `SQLAlchemyJobStore` in the same database (its own table,
   `apscheduler_jobs`, created by APScheduler), so the stored jobs are readable before any runs;
3. reconcile the stored jobs with the configuration (`reconcile`): ids derived from the
   configuration ("crawl:ted", "digests"...), missing jobs added *without* `replace_existing`,
   changed ones modified in place keeping a run that was missed while down, stale ones removed.
   Recreating every job with `replace_existing=True` (the usual recipe) would recompute the
   next run from now and silently drop the runs missed during downtime;
4. resume: jobs whose run time passed while the scheduler was down fire once (`coalesce`) when
   they are at most `misfire_grace_time` late; later ones are reported as missed.

Every job has `max_instances=1` (a crawl still running when its next slot comes is skipped, not
doubled) and `coalesce=True`. A job that fails, misses its slot or is skipped is reported to the
operators at once (`monitor.operators.job_alert`).

SIGTERM (`serve`): the running crawl's child process is asked to stop (Scrapy closes the spider
cleanly), its run is recorded as `interrupted`, the other running jobs finish
(`shutdown(wait=True)`), and the lock is released.

`run_cycle` is `ilo-monitor run`: the due crawls, catch-up, due digests and the health check,
once, under the same lock, for users who prefer cron.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy import Engine

from monitor.contract import utcnow
from monitor.crawl.runs import CrawlRun, last_run
from monitor.db import session_scope
from monitor.scheduling import jobs, lock
from monitor.scheduling.config import JobSpec, Schedule

logger = logging.getLogger(__name__)

JOBS_TABLE = "apscheduler_jobs"
WORKERS = 4


@dataclass
class Reconciled:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"{len(self.kept)} job(s) kept, {len(self.added)} added, {len(self.updated)} updated, "
            f"{len(self.removed)} removed"
        )


def make_scheduler(
    schedule: Schedule,
    engine: Engine,
    *,
    executors: dict[str, Any] | None = None,
    scheduler_class: type[BaseScheduler] = BackgroundScheduler,
) -> BaseScheduler:
    """A scheduler on `engine`'s database with the project's job defaults (not started).

    `scheduler_class`: tests drive a scheduler without a thread of its own, calling its job
    processing under a frozen clock; everything else is the same.
    """
    return scheduler_class(
        jobstores={"default": SQLAlchemyJobStore(engine=engine, tablename=JOBS_TABLE)},
        executors=executors or {"default": ThreadPoolExecutor(max_workers=WORKERS)},
        job_defaults={
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": schedule.misfire_grace_time,
        },
        timezone=schedule.timezone,
    )


def reconcile(scheduler: BaseScheduler, specs: Sequence[JobSpec], now: datetime) -> Reconciled:
    """Make the started scheduler's stored jobs those of `specs` (see the module docstring, step 3)."""
    report = Reconciled()
    existing = {job.id: job for job in scheduler.get_jobs()}
    for spec in specs:
        job = existing.pop(spec.id, None)
        if job is None:
            scheduler.add_job(
                spec.func, spec.trigger(), id=spec.id, name=spec.name, kwargs=spec.kwargs, replace_existing=False
            )
            report.added.append(spec.id)
        elif job.name != spec.name:
            trigger = spec.trigger()
            # A run already due (missed while down) stays due under the new settings; otherwise
            # the new trigger says when.
            pending = job.next_run_time
            next_run = pending if pending is not None and pending <= now else trigger.get_next_fire_time(None, now)
            scheduler.modify_job(
                spec.id, func=spec.func, kwargs=spec.kwargs, name=spec.name, trigger=trigger, next_run_time=next_run
            )
            report.updated.append(spec.id)
        else:
            report.kept.append(spec.id)
    for stale in existing:
        scheduler.remove_job(stale)
        report.removed.append(stale)
    return report


def crawl_children() -> list[int]:
    """Process ids of this process's `scrapy crawl` children (Linux /proc; empty elsewhere)."""
    me = os.getpid()
    found: list[int] = []
    proc = Path("/proc")
    if not proc.is_dir():
        return found
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            # The second field (the command name) may hold spaces: the parent id follows its ')'.
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid != me:
                continue
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError, IndexError):
            continue
        if b"scrapy" in command and b"crawl" in command:
            found.append(int(entry.name))
    return found


class SchedulerService:
    """The scheduler of `ilo-monitor serve`: lock, job store, reconciled jobs, operator alerts."""

    def __init__(
        self,
        schedule: Schedule,
        engine: Engine,
        *,
        executors: dict[str, Any] | None = None,
        holder: str | None = None,
        heartbeat: bool = True,
        scheduler_class: type[BaseScheduler] = BackgroundScheduler,
    ) -> None:
        self.schedule = schedule
        self.engine = engine
        self.db_url = engine.url.render_as_string(hide_password=False)
        self.scheduler = make_scheduler(schedule, engine, executors=executors, scheduler_class=scheduler_class)
        self.holder = holder or lock.this_process()
        self.use_heartbeat = heartbeat
        self.heartbeat: lock.Heartbeat | None = None
        self.lost = threading.Event()
        self.reconciled = Reconciled()

    def start(self, *, paused: bool = False) -> Reconciled:
        """Steps 1-4 of the module docstring; `paused=True` stops before 4 (tests, `status`)."""
        lock.acquire(self.engine, utcnow(), holder=self.holder)
        try:
            self.scheduler.add_listener(self._job_problem, EVENT_JOB_ERROR | EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)
            self.scheduler.start(paused=True)
            self.reconciled = reconcile(self.scheduler, self.schedule.jobs(self.db_url), datetime.now(UTC))
        except BaseException:
            lock.release(self.engine, self.holder)
            raise
        if self.use_heartbeat:
            self.heartbeat = lock.Heartbeat(self.engine, self.holder, self.lost.set).start()
        logger.info("scheduler started: %s", self.reconciled)
        if not paused:
            self.scheduler.resume()
        return self.reconciled

    def stop(self, *, wait: bool = True) -> None:
        """Stop cleanly: crawl children asked to stop, running jobs finished, the lock released."""
        jobs.STOPPING.set()
        try:
            for pid in crawl_children():
                logger.info("asking crawl process %s to stop", pid)
                try:
                    os.kill(pid, signal.SIGTERM)  # Scrapy closes the spider and the run cleanly
                except ProcessLookupError:
                    pass
            if self.scheduler.running:
                self.scheduler.shutdown(wait=wait)
        finally:
            if self.heartbeat is not None:
                self.heartbeat.stop()
            lock.release(self.engine, self.holder)
            jobs.STOPPING.clear()

    def _job_problem(self, event: JobEvent) -> None:
        # Heard at once: a job that failed, missed its slot or was skipped because its previous
        # run was still going. Mail errors must never take the scheduler down.
        if event.code == EVENT_JOB_ERROR:
            problem, detail = "failed", f"{type(event.exception).__name__}: {event.exception}"
        elif event.code == EVENT_JOB_MISSED:
            problem = "missed its slot"
            detail = (
                f"Scheduled at {event.scheduled_run_time:%Y-%m-%d %H:%M %Z} and not run within the misfire "
                f"grace time of {self.schedule.misfire_grace_time} s (the scheduler was down or busy)."
            )
        else:
            problem = "skipped while still running"
            detail = "Its previous run had not finished when the next slot came (max_instances=1)."
        logger.warning("job %s %s: %s", event.job_id, problem, detail)
        try:
            from monitor import operators

            operators.job_alert(
                self.engine, event.job_id, problem, detail, emails=self.schedule.operator_emails, now=utcnow()
            )
        except Exception:
            logger.exception("could not alert the operators about job %s", event.job_id)


def serve(service: SchedulerService, *, poll: float = 1.0) -> None:
    """Run until SIGTERM or SIGINT (or the lock is lost), then stop cleanly (the `serve` command)."""
    stop = threading.Event()

    def request_stop(signum: int, _frame: Any) -> None:
        logger.info("signal %s received: stopping after the running jobs", signum)
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        service.start()
        while not stop.wait(poll):
            if service.lost.is_set():
                break
    finally:
        service.stop(wait=True)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# -- one cycle -------------------------------------------------------------------------------------


@dataclass
class CycleReport:
    crawled: list[CrawlRun] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    catch_up: str = ""
    digests: str = ""
    health: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        lines = [run.summary() for run in self.crawled]
        lines += [f"{name}: not due" for name in self.skipped]
        lines += [f"catch-up: {self.catch_up}", f"digests: {self.digests}"]
        lines += [f"health: {line}" for line in self.health]
        return lines


def due_sources(engine: Engine, schedule: Schedule, now: datetime) -> list[str]:
    """Sources whose cron has fired since their last run started (or that never ran)."""
    due: list[str] = []
    with session_scope(engine) as session:
        for cadence in schedule.crawls:
            run = last_run(session, cadence.source)
            if run is None:
                due.append(cadence.source)
                continue
            fire = cadence.cron.next_after(run.started_at)
            if fire is not None and fire <= now:
                due.append(cadence.source)
    return due


def run_cycle(
    engine: Engine,
    schedule: Schedule,
    now: datetime,
    *,
    crawler: jobs.Crawler | None = None,
    sources: Sequence[str] | None = None,
) -> CycleReport:
    """One full cycle now: due crawls, catch-up, due digests (and the ILO one when due), health.

    Holds the scheduler lock meanwhile, so it never runs beside `serve` or beside itself.
    """
    holder = f"run:{lock.this_process()}"
    # The lock is about live processes: real time, whatever `now` the cycle works with.
    lock.acquire(engine, utcnow(), holder=holder)
    report = CycleReport()
    try:
        wanted = list(sources) if sources is not None else due_sources(engine, schedule, now)
        report.skipped = [c.source for c in schedule.crawls if c.source not in wanted]
        for source in wanted:
            cadence = schedule.cadence(source)
            timeout = cadence.timeout if cadence is not None else 3600
            run = jobs.crawl_once(engine, source, now=now, timeout=timeout, crawler=crawler)
            if run is not None:
                report.crawled.append(run)
        summary = jobs.catch_up(engine, now)
        report.catch_up = f"{summary.seen} outdated notice(s) classified, {summary.changed} changed; {summary.matches}"
        ilo_week = jobs.ilo_week_due(schedule.ilo_digest, now) if schedule.ilo_digest is not None else None
        digests = jobs.send_digests(engine, now, ilo_week=ilo_week)
        report.digests = f"{digests.planned}; {digests.delivered}"
        healths = jobs.check_health(engine, schedule, now)
        report.health = [
            f"{h.source} {h.state}" + (f" ({'; '.join(h.problems)})" if h.problems else "") for h in healths
        ]
    finally:
        lock.release(engine, holder)
    return report
