"""The scheduler on a real job store, under a frozen clock: restarts, downtime, DST, overlap, the lock.

The scheduler is the project's own (`SchedulerService`: lock, `SQLAlchemyJobStore` in a temp
SQLite file, reconciled jobs, job defaults, operator alerts); only its thread is left out:
`ManualScheduler` is APScheduler's `BaseScheduler` whose wake-ups do nothing, and the tests call
its job processing (`_process_jobs`, what the thread calls) with the clock frozen by
time-machine, so nothing sleeps. Jobs run in APScheduler's `DebugExecutor` (in the calling
thread) unless the test is about overlap, where the real thread pool runs them.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from apscheduler.events import (
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    EVENT_JOB_SUBMITTED,
    JobEvent,
)
from apscheduler.executors.debug import DebugExecutor
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.base import BaseScheduler
from conftest import new_database_url
from sqlalchemy import func, select, text

from alerts.models import OutboxMessage
from monitor.crawl.runs import CrawlRun
from monitor.db import open_database, session_scope
from monitor.scheduling import jobs, lock
from monitor.scheduling.config import Cron, Schedule, parse_schedule
from monitor.scheduling.lock import SchedulerBusyError
from monitor.scheduling.service import SchedulerService, reconcile, run_cycle

AMS = ZoneInfo("Europe/Amsterdam")
SCHEDULE = """\
timezone: Europe/Amsterdam
misfire_grace_time: 21600
crawls:
  tenderned: {cron: "0 7 * * *", jitter: 0}
digests: {every_minutes: 60}
ilo_digest: {cron: "0 8 * * mon"}
operators: {emails: [ops@example.org], failing_runs: 3}
"""


class ManualScheduler(BaseScheduler):
    """APScheduler's scheduler without a thread: the test calls `_process_jobs` itself."""

    def shutdown(self, wait: bool = True) -> None:
        super().shutdown(wait)

    def wakeup(self) -> None:
        pass


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=AMS)  # type: ignore[misc]


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))  # file outbox and secret in tmp
    for name in ("SMTP_HOST", "ILO_EMAILS", "OPERATOR_EMAILS", "SCHEDULE"):
        monkeypatch.delenv(f"ILO_MONITOR_{name}", raising=False)
    return tmp_path


def schedule_of(tmp_path: Path, body: str = SCHEDULE) -> Schedule:
    path = tmp_path / "schedule.yaml"
    path.write_text(body, encoding="utf-8")
    from monitor.crawl.sources import SourceConfig

    return parse_schedule(body, path, {"tenderned": SourceConfig(name="tenderned")})


class Recorder:
    """Counts job events by (code, job id), with their scheduled times."""

    def __init__(self) -> None:
        self.events: list[tuple[int, str, Any]] = []
        self.lock = threading.Lock()

    def __call__(self, event: JobEvent) -> None:
        with self.lock:
            self.events.append((event.code, event.job_id, getattr(event, "scheduled_run_time", None)))

    def count(self, code: int, job_id: str) -> int:
        return sum(1 for c, j, _ in self.events if c == code and j == job_id)


@pytest.fixture
def no_crawls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The crawl job's crawl replaced by a recorder: these tests are about when jobs fire."""
    crawled: list[str] = []

    def fake_crawl(db_url: str, source: str, timeout: float = 3600, config: str | None = None) -> str:
        crawled.append(source)
        return source

    monkeypatch.setattr(jobs, "crawl", fake_crawl)
    return crawled


def service(schedule: Schedule, url: str, executor: Any = None, holder: str = "test") -> SchedulerService:
    return SchedulerService(
        schedule,
        open_database(url),
        executors={"default": executor or DebugExecutor()},
        holder=holder,
        heartbeat=False,
        scheduler_class=ManualScheduler,
    )


def stored_jobs(url: str) -> dict[str, float]:
    engine = open_database(url)
    with engine.connect() as connection:
        return {str(i): float(t) for i, t in connection.execute(text("SELECT id, next_run_time FROM apscheduler_jobs"))}


# -- DST -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("sunday", [datetime(2026, 3, 29), datetime(2026, 10, 25)])
def test_the_weekly_ilo_digest_fires_once_in_each_dst_week_at_0800(sunday: datetime) -> None:
    trigger = Cron("0 8 * * mon", "Europe/Amsterdam").trigger()
    # Walk as the scheduler does: every 10 minutes it asks for the next fire time after the last.
    start = datetime(sunday.year, sunday.month, sunday.day, tzinfo=AMS) - timedelta(days=6)  # that week's Monday
    now, previous, fires = start, None, []
    next_fire = trigger.get_next_fire_time(None, now)
    while now < start + timedelta(days=14):
        if next_fire is not None and next_fire <= now:
            fires.append(next_fire)
            previous = next_fire
            next_fire = trigger.get_next_fire_time(previous, now)
        now += timedelta(minutes=10)
    weeks = Counter(f.isocalendar()[:2] for f in fires)
    assert list(weeks.values()) == [1, 1]  # the week of the change and the week after
    assert all(f.astimezone(AMS).strftime("%a %H:%M") == "Mon 08:00" for f in fires)
    offsets = {f.astimezone(AMS).utcoffset() for f in fires}
    assert len(offsets) == 2  # one Monday before the change, one after: the wall clock held


# -- restarts ------------------------------------------------------------------------------------------


def test_ten_restarts_keep_the_same_jobs_and_their_next_runs(env: Path, no_crawls: list[str]) -> None:
    url = new_database_url(env, "jobs")
    schedule = schedule_of(env)
    expected = {spec.id for spec in schedule.jobs(url)}
    seen = []
    with time_machine.travel(at(2026, 11, 24, 10, 0), tick=False):
        for _ in range(10):
            s = service(schedule, url)
            report = s.start(paused=True)
            seen.append(stored_jobs(url))
            s.stop()
    assert set(seen[0]) == expected == {"crawl:tenderned", "digests", "catch-up", "ilo-digest", "health"}
    assert all(snapshot == seen[0] for snapshot in seen)  # same ids, same next run times: nothing recreated
    assert report.kept == sorted(expected, key=[spec.id for spec in schedule.jobs(url)].index)
    assert not report.added and not report.updated and not report.removed


def test_a_restart_after_downtime_across_a_fire_time_runs_it_exactly_once(env: Path, no_crawls: list[str]) -> None:
    url = new_database_url(env, "jobs")
    schedule = schedule_of(env)
    recorder = Recorder()
    with time_machine.travel(at(2026, 11, 23, 9, 0), tick=False) as clock:  # Monday, after 08:00
        first = service(schedule, url)
        first.start()
        first.scheduler._process_jobs()  # type: ignore[attr-defined]
        first.stop()
        # Down from Monday 09:00 to the next Monday 10:00: the 08:00 ILO digest and the 07:00
        # crawl were missed. Restarted two hours late, within the grace time.
        clock.move_to(at(2026, 11, 30, 10, 0))
        second = service(schedule, url)
        second.scheduler.add_listener(recorder, EVENT_JOB_SUBMITTED | EVENT_JOB_EXECUTED | EVENT_JOB_MISSED)
        second.start()
        for minutes in (0, 0, 1, 30):
            clock.shift(timedelta(minutes=minutes))
            second.scheduler._process_jobs()  # type: ignore[attr-defined]
        next_ilo = second.scheduler.get_job("ilo-digest").next_run_time
        second.stop()
    assert recorder.count(EVENT_JOB_EXECUTED, "ilo-digest") == 1
    assert recorder.count(EVENT_JOB_EXECUTED, "crawl:tenderned") == 1
    assert no_crawls == ["tenderned"]
    assert recorder.count(EVENT_JOB_MISSED, "ilo-digest") == 0
    scheduled = [t for c, j, t in recorder.events if c == EVENT_JOB_EXECUTED and j == "ilo-digest"]
    assert scheduled[0] == at(2026, 11, 30, 8, 0)  # the missed slot itself, coalesced into one run
    assert next_ilo == at(2026, 12, 7, 8, 0)


def test_a_run_missed_beyond_the_grace_time_is_reported_to_the_operators(env: Path, no_crawls: list[str]) -> None:
    url = new_database_url(env, "jobs")
    schedule = schedule_of(env)
    recorder = Recorder()
    with time_machine.travel(at(2026, 11, 23, 9, 0), tick=False) as clock:
        first = service(schedule, url)
        first.start(paused=True)
        first.stop()
        clock.move_to(at(2026, 11, 30, 16, 0))  # eight hours after 08:00: beyond six hours of grace
        second = service(schedule, url)
        second.scheduler.add_listener(recorder, EVENT_JOB_EXECUTED | EVENT_JOB_MISSED)
        second.start()
        second.scheduler._process_jobs()  # type: ignore[attr-defined]
        second.stop()
    assert recorder.count(EVENT_JOB_MISSED, "ilo-digest") == 1
    assert recorder.count(EVENT_JOB_EXECUTED, "ilo-digest") == 0
    engine = open_database(url)
    with session_scope(engine) as session:
        alerts = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "operator")).all()
        subjects = sorted(a.subject for a in alerts)
    assert "[ilo-monitor] job ilo-digest: missed its slot" in subjects
    assert all(a.email == "ops@example.org" for a in alerts)


def test_a_changed_cadence_updates_the_job_in_place_and_keeps_a_missed_run(env: Path, no_crawls: list[str]) -> None:
    url = new_database_url(env, "jobs")
    with time_machine.travel(at(2026, 11, 24, 6, 0), tick=False) as clock:
        s = service(schedule_of(env), url)
        s.start(paused=True)
        s.stop()
        clock.move_to(at(2026, 11, 24, 8, 0))  # the 07:00 crawl was missed meanwhile
        changed = SCHEDULE.replace('"0 7 * * *"', '"0 9 * * *"').replace(
            "ilo_digest:", 'health: {cron: "0 6 * * *"}\nilo_digest:'
        )
        s = service(schedule_of(env, changed), url)
        report = s.start(paused=True)
        crawl_job = s.scheduler.get_job("crawl:tenderned")
        s.stop()
    assert report.updated == ["crawl:tenderned", "health"]
    assert crawl_job.next_run_time == at(2026, 11, 24, 7, 0)  # still due: the missed run fires
    assert "0 9 * * *" in crawl_job.name
    assert len(stored_jobs(url)) == 5


def test_a_source_taken_out_of_the_schedule_loses_its_job(env: Path, no_crawls: list[str]) -> None:
    url = new_database_url(env, "jobs")
    s = service(schedule_of(env), url)
    s.start(paused=True)
    s.stop()
    path = env / "schedule.yaml"
    body = SCHEDULE.replace('crawls:\n  tenderned: {cron: "0 7 * * *", jitter: 0}\n', "")
    path.write_text(body)
    from monitor.crawl.sources import SourceConfig

    fewer = parse_schedule(body, path, {"tenderned": SourceConfig(name="tenderned", enabled=False)})
    s = service(fewer, url)
    report = s.start(paused=True)
    s.stop()
    assert report.removed == ["crawl:tenderned"]
    assert "crawl:tenderned" not in stored_jobs(url)


# -- no overlap ------------------------------------------------------------------------------------


_release = threading.Event()
_started = threading.Event()


def slow_job() -> None:
    _started.set()
    _release.wait(10)


def test_max_instances_keeps_a_job_from_overlapping_itself(env: Path) -> None:
    url = new_database_url(env, "jobs")
    recorder = Recorder()
    _release.clear()
    _started.clear()
    with time_machine.travel(at(2026, 11, 24, 10, 0), tick=False) as clock:
        s = service(schedule_of(env), url, executor=ThreadPoolExecutor(4))
        s.scheduler.add_jobstore(MemoryJobStore(), "memory")
        s.scheduler.add_listener(recorder, EVENT_JOB_SUBMITTED | EVENT_JOB_MAX_INSTANCES | EVENT_JOB_EXECUTED)
        s.start(paused=True)
        s.scheduler.add_job(slow_job, "interval", minutes=5, id="slow", jobstore="memory")
        s.scheduler.resume()
        clock.shift(timedelta(minutes=5))
        s.scheduler._process_jobs()  # type: ignore[attr-defined]
        assert _started.wait(5)
        clock.shift(timedelta(minutes=5))
        s.scheduler._process_jobs()  # type: ignore[attr-defined]  # the first run is still going
        _release.set()
        s.stop()
    assert recorder.count(EVENT_JOB_SUBMITTED, "slow") == 1
    assert recorder.count(EVENT_JOB_MAX_INSTANCES, "slow") == 1
    assert recorder.count(EVENT_JOB_EXECUTED, "slow") == 1


def test_a_crawl_still_running_elsewhere_is_not_started_again(env: Path) -> None:
    engine = open_database(new_database_url(env, "runs"))
    now = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    calls: list[str] = []

    def crawler(
        source: str, engine: Any, *, now: datetime, timeout: float, stop: threading.Event | None = None
    ) -> tuple[CrawlRun, None]:
        calls.append(source)
        with session_scope(engine) as session:
            run = CrawlRun(source=source, state="succeeded", started_at=now)
            session.add(run)
            session.flush()
            session.expunge(run)
        return run, None

    with session_scope(engine) as session:
        session.add(CrawlRun(source="tenderned", state="running", started_at=now - timedelta(minutes=10)))
    assert jobs.crawl_once(engine, "tenderned", now=now, timeout=3600, crawler=crawler) is None
    assert calls == []
    # Two hours later the old run is abandoned (its process died): closed as failed, crawl goes on.
    later = now + timedelta(hours=2)
    run = jobs.crawl_once(engine, "tenderned", now=later, timeout=3600, crawler=crawler)
    assert run is not None and calls == ["tenderned"]
    with session_scope(engine) as session:
        states = sorted(r.state for r in session.scalars(select(CrawlRun)))
    assert states == ["failed", "succeeded"]


def test_a_crawl_cut_short_by_sigterm_is_recorded_as_interrupted(env: Path) -> None:
    engine = open_database(new_database_url(env, "runs"))
    now = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)

    def crawler(
        source: str, engine: Any, *, now: datetime, timeout: float, stop: threading.Event | None = None
    ) -> tuple[CrawlRun, None]:
        with session_scope(engine) as session:
            run = CrawlRun(source=source, state="failed", started_at=now, finish_reason="shutdown")
            session.add(run)
            session.flush()
            session.expunge(run)
        return run, None

    jobs.STOPPING.set()
    try:
        run = jobs.crawl_once(engine, "tenderned", now=now, timeout=3600, crawler=crawler)
    finally:
        jobs.STOPPING.clear()
    assert run is not None and run.state == "interrupted"


# -- one scheduler per database ------------------------------------------------------------------------


def test_a_second_scheduler_on_the_same_database_refuses_to_start(env: Path) -> None:
    url = new_database_url(env, "jobs")
    schedule = schedule_of(env)
    with time_machine.travel(at(2026, 11, 24, 10, 0), tick=False) as clock:
        first = service(schedule, url, holder="host-a:1")
        first.start(paused=True)
        second = service(schedule, url, holder="host-b:2")
        with pytest.raises(SchedulerBusyError, match="host-a:1"):
            second.start(paused=True)
        with pytest.raises(SchedulerBusyError):
            run_cycle(open_database(url), schedule, datetime.now(UTC), sources=[])
        # The first one crashes (no heartbeat any more): its lock lapses, the next one starts.
        first.scheduler.shutdown(wait=False)
        clock.shift(lock.TTL + timedelta(seconds=1))
        third = service(schedule, url, holder="host-b:2")
        third.start(paused=True)
        assert lock.current(open_database(url)).holder == "host-b:2"  # type: ignore[union-attr]
        third.stop()
    assert lock.current(open_database(url)) is None  # released on a clean stop


def test_the_heartbeat_notices_a_lock_taken_over(env: Path) -> None:
    engine = open_database(new_database_url(env, "lock"))
    now = datetime.now(UTC)
    lock.acquire(engine, now - lock.TTL * 2, holder="old")  # long lapsed
    lock.acquire(engine, now, holder="new")
    assert not lock.renew(engine, "old", now)
    lost = threading.Event()
    beat = lock.Heartbeat(engine, "old", lost.set, interval=timedelta(milliseconds=10)).start()
    assert lost.wait(5)
    beat.stop()


def test_job_counts_in_the_store_match_the_configuration(env: Path, no_crawls: list[str]) -> None:
    url = new_database_url(env, "jobs")
    schedule = schedule_of(env)
    s = service(schedule, url)
    s.start(paused=True)
    # Reconciling again in the same process changes nothing either.
    again = reconcile(s.scheduler, schedule.jobs(url), datetime.now(UTC))
    s.stop()
    assert not again.added and not again.updated and not again.removed
    engine = open_database(url)
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(text("apscheduler_jobs"))).scalar() == 5
