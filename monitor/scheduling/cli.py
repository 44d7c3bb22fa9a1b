"""The operations commands of `ilo-monitor`: `serve`, `run` and `status`.

- `ilo-monitor serve [--schedule FILE]`: the scheduler, until SIGTERM or Ctrl-C (see
  `monitor.scheduling.service`); refuses to start beside another scheduler on the database or
  with a broken schedule file (file, line and reason);
- `ilo-monitor run [--schedule FILE] [--source NAME]...`: one full cycle now (due crawls,
  catch-up, due digests, health check), for users who prefer cron;
- `ilo-monitor status`: each source's last run, items, health and next run; the outbox; the
  next digest times; the classifier version; who holds the scheduler lock.

`crawl SOURCE [--since DATE]` (one source on demand) lives in `monitor.crawl.cli`.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
from sqlalchemy import Engine, func, inspect, or_, select, text

from monitor.commandline import amsterdam, connect, db_option, user_errors
from monitor.contract import utcnow
from monitor.db import session_scope
from monitor.scheduling.config import Schedule, load_schedule

schedule_option = click.option(
    "--schedule",
    "schedule_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Schedule file (env ILO_MONITOR_SCHEDULE; default monitor/schedule.yaml).",
)


def _load(path: Path | None) -> Schedule:
    with user_errors():
        return load_schedule(path)


@click.command("serve")
@schedule_option
@db_option
def serve(schedule_path: Path | None, db_url: str | None) -> None:
    """Run the scheduler: crawls, catch-up, digests, the ILO digest and health checks on time."""
    from monitor.scheduling.service import SchedulerService
    from monitor.scheduling.service import serve as serve_forever

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    schedule = _load(schedule_path)
    with user_errors():
        engine = connect(db_url)
        service = SchedulerService(schedule, engine)
        click.echo(f"scheduler on {engine.url.render_as_string(hide_password=True)}, schedule {schedule.path}")
        serve_forever(service)
    click.echo("scheduler stopped")


@click.command("run")
@schedule_option
@click.option("--source", "sources", multiple=True, help="Crawl this source whether due or not (repeatable).")
@db_option
def run(schedule_path: Path | None, sources: tuple[str, ...], db_url: str | None) -> None:
    """One full cycle now: crawl due sources, classify and match what is outdated, send due digests."""
    from monitor.scheduling.service import run_cycle

    schedule = _load(schedule_path)
    with user_errors():
        engine = connect(db_url)
        unknown = [s for s in sources if schedule.cadence(s) is None]
        if unknown:
            raise click.BadParameter(f"{unknown[0]!r} is not an enabled source", param_hint="--source")
        report = run_cycle(engine, schedule, utcnow(), sources=list(sources) or None)
    for line in report.lines():
        click.echo(line)


def _next_runs(engine: Engine) -> dict[str, datetime]:
    """{job id: next run} from APScheduler's table, read without starting a scheduler."""
    from monitor.scheduling.service import JOBS_TABLE

    if not inspect(engine).has_table(JOBS_TABLE):
        return {}
    with engine.connect() as connection:
        rows = connection.execute(text(f"SELECT id, next_run_time FROM {JOBS_TABLE}"))  # noqa: S608 (a constant)
        return {str(i): datetime.fromtimestamp(float(t), UTC) for i, t in rows if t is not None}


def next_digest(frequency: str, weekday: int, hour: int, now: datetime) -> datetime | None:
    """When a daily or weekly digest next goes out (Amsterdam wall clock); None for instant."""
    from alerts.schedule import AMSTERDAM

    if frequency not in ("daily", "weekly"):
        return None
    local = now.astimezone(AMSTERDAM)
    for days in range(8):
        day = (local + timedelta(days=days)).date()
        if frequency == "weekly" and day.isoweekday() != weekday:
            continue
        moment = datetime(day.year, day.month, day.day, hour, tzinfo=AMSTERDAM)
        if moment > local:
            return moment.astimezone(UTC)
    return None


@click.command("status")
@schedule_option
@db_option
def status(schedule_path: Path | None, db_url: str | None) -> None:
    """At a glance: sources (last run, items, state, next run), outbox, next digests, classifier, scheduler."""
    from alerts.models import OutboxMessage
    from monitor.classifier import CLASSIFIER_VERSION
    from monitor.crawl.runs import last_run
    from monitor.matching.models import Profile
    from monitor.models import NoticeRow
    from monitor.scheduling import lock

    schedule = _load(schedule_path)
    with user_errors():
        engine = connect(db_url)
    now = utcnow()
    planned = _next_runs(engine)
    holder = lock.current(engine)
    if holder is None or holder.expires_at <= now:
        click.echo("scheduler: not running (next runs below are from the schedule file)")
    else:
        click.echo(f"scheduler: running as {holder.holder}, alive {amsterdam(holder.heartbeat_at)}")
    with session_scope(engine) as session:
        click.echo("sources:")
        for cadence in schedule.crawls:
            run = last_run(session, cadence.source)
            upcoming = planned.get(f"crawl:{cadence.source}") or cadence.cron.next_after(now)
            if run is None:
                click.echo(f"  {cadence.source:<10} never run{'':<40} next {amsterdam(upcoming)}")
                continue
            health = run.health
            state = (
                run.state if health is None or run.state != "succeeded" else ("healthy" if not health else "unhealthy")
            )
            click.echo(
                f"  {cadence.source:<10} last {amsterdam(run.started_at)} run {run.id} {state:<11} "
                f"{run.items_scraped} items  next {amsterdam(upcoming)}"
            )
            for problem in (health or [])[:3]:
                click.echo(f"             {problem}")
        counts = dict(session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all())
        click.echo(
            f"outbox: {counts.get('pending', 0)} pending, {counts.get('failed', 0)} failed, "
            f"{counts.get('bounced', 0)} bounced, {counts.get('expired', 0)} expired, {counts.get('sent', 0)} sent"
        )
        ilo_next = planned.get("ilo-digest") or (schedule.ilo_digest.next_after(now) if schedule.ilo_digest else None)
        click.echo(f"ILO weekly digest: next {amsterdam(ilo_next)}")
        upcoming_digests: list[tuple[datetime, str]] = []
        for profile in session.scalars(select(Profile).where(Profile.active.is_(True))):
            moment = next_digest(profile.frequency, profile.digest_weekday, profile.digest_hour, now)
            if moment is not None:
                upcoming_digests.append((moment, profile.label))
        instant = session.scalar(
            select(func.count()).select_from(Profile).where(Profile.active.is_(True), Profile.frequency == "instant")
        )
        upcoming_digests.sort()
        shown = ", ".join(f"{label} {amsterdam(moment)}" for moment, label in upcoming_digests[:5]) or "none"
        click.echo(f"company digests: next {shown}; {instant} instant profile(s) (after each crawl)")
        outdated = session.scalar(
            select(func.count())
            .select_from(NoticeRow)
            .where(or_(NoticeRow.classifier_version.is_(None), NoticeRow.classifier_version != CLASSIFIER_VERSION))
        )
        click.echo(f"classifier: {CLASSIFIER_VERSION} ({outdated} notice(s) of an older version)")


COMMANDS = (serve, run, status)
