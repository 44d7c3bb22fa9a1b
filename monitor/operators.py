"""Operator alerts: broken sources and missed or failed jobs, by email to the operator list only.

Operators are the addresses of `operators.emails` in `monitor/schedule.yaml` (or
`ILO_MONITOR_OPERATOR_EMAILS`); companies and the ILO list never get these. Messages go through
the alerts outbox (`alerts.models.OutboxMessage`, kind `operator`), so they share its delivery:
SMTP settings `ILO_MONITOR_SMTP_*`, retries with backoff, bounces, and the `.eml` file outbox
when no SMTP host is set. The outbox's unique (recipient, period) key is also what keeps an
alert from repeating: the period names the problem and the Amsterdam day, so a failing source
is reported once a day until it recovers, however often the health check runs.

- `source_alerts(engine, healths, ...)`: a source whose last `failing_runs` runs were all
  unhealthy (`monitor.health`) is reported with its findings, its last error and a link to the
  run (`ILO_MONITOR_BASE_URL/runs/<id>`, and the `ilo-monitor sources` line to read it); once
  it has a healthy run again, one "recovered" message;
- `job_alert(engine, job_id, problem, ...)`: a scheduled job that failed or missed its slot.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Final

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from alerts.models import OutboxMessage
from alerts.render import message_id
from alerts.schedule import local
from alerts.send import RateLimit, deliver, transport_for
from alerts.settings import MailSettings, mail_settings
from monitor.db import session_factory
from monitor.health import SourceHealth

logger = logging.getLogger(__name__)

KIND: Final = "operator"


@dataclass
class OperatorSummary:
    written: int = 0
    sent: int = 0
    problems: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.written} operator alert(s) written, {self.sent} sent"


@dataclass(frozen=True)
class Alert:
    """One operator message before it is addressed: what, and the period that keeps it unique."""

    period: str
    subject: str
    lines: tuple[str, ...]


def run_link(settings: MailSettings, run_id: int) -> str:
    return f"{settings.base_url}/runs/{run_id}"


def source_alert(health: SourceHealth, failing_runs: int, now: datetime, settings: MailSettings) -> Alert | None:
    """The alert a source's state calls for today: failing, just recovered, or none."""
    run = health.latest
    if run is None:
        return None
    day = local(now).date().isoformat()
    if health.streak >= failing_runs:
        last_error = next(iter(run.error_messages or []), None) or "; ".join(health.problems) or "-"
        lines = (
            f"Source {health.source} has been unhealthy for {health.streak} runs in a row "
            f"(alert threshold {failing_runs}).",
            "",
            f"Newest run: {run.id}, started {run.started_at:%Y-%m-%d %H:%M} UTC, state {run.state}, "
            f"{run.items_scraped} items.",
            "Findings:",
            *(f"  - {problem}" for problem in health.problems),
            f"Last error: {last_error}",
            "",
            f"Run: {run_link(settings, run.id)}  (or `ilo-monitor sources` / `ilo-monitor status`)",
            "This alert repeats daily until the source recovers.",
        )
        return Alert(
            f"operator/source-{health.source}/failing/{day}",
            f"[ilo-monitor] {health.source} failing for {health.streak} runs",
            lines,
        )
    if not health.problems and health.previous_streak >= failing_runs:
        lines = (
            f"Source {health.source} recovered: run {run.id} ({run.started_at:%Y-%m-%d %H:%M} UTC) is healthy "
            f"after {health.previous_streak} unhealthy runs, {run.items_scraped} items.",
            f"Run: {run_link(settings, run.id)}",
        )
        return Alert(
            f"operator/source-{health.source}/recovered/{run.id}", f"[ilo-monitor] {health.source} recovered", lines
        )
    return None


def job_problem_alert(job_id: str, problem: str, detail: str, now: datetime) -> Alert:
    day = local(now).date().isoformat()
    lines = (
        f"Scheduled job {job_id}: {problem}.",
        "",
        detail,
        "",
        "See `ilo-monitor status` and the scheduler's log.",
    )
    return Alert(f"operator/job-{job_id}/{problem.split()[0]}/{day}", f"[ilo-monitor] job {job_id}: {problem}", lines)


def build(alert: Alert, email: str, settings: MailSettings, now: datetime) -> tuple[str, str]:
    """(Message-ID, whole message) of one alert to one operator: text with an HTML alternative."""
    identifier = message_id(f"operator:{email.lower()}", alert.period, settings.mail_from)
    message = EmailMessage(policy=policy.SMTP)
    message["Subject"] = alert.subject
    message["From"] = settings.mail_from
    message["To"] = email
    message["Date"] = format_datetime(now)
    message["Message-ID"] = identifier
    # Operational mail: auto-generated, never a reason for an out-of-office reply.
    message["Auto-Submitted"] = "auto-generated"
    text = "\n".join(alert.lines) + "\n"
    message.set_content(text)
    body = "".join(f"<p>{html.escape(line)}</p>" if line else "<br>" for line in alert.lines)
    message.add_alternative(f"<!doctype html><html><body>{body}</body></html>", subtype="html")
    return identifier, message.as_string()


def write(engine: Engine, alerts: Sequence[Alert], emails: Sequence[str], now: datetime, settings: MailSettings) -> int:
    """Put each alert for each operator in the outbox once (a taken period is skipped); rows written."""
    written = 0
    factory = session_factory(engine)
    for alert in alerts:
        for email in emails:
            key = f"operator:{email.lower()}"
            with factory() as session:
                taken = session.scalar(
                    select(OutboxMessage.id).where(OutboxMessage.recipient == key, OutboxMessage.period == alert.period)
                )
                if taken is not None:
                    continue
                identifier, text = build(alert, email, settings, now)
                session.add(
                    OutboxMessage(
                        kind=KIND,
                        recipient=key,
                        period=alert.period,
                        email=email,
                        message_id=identifier,
                        subject=alert.subject,
                        message=text,
                        item_count=0,
                        status="pending",
                        attempts=0,
                        created_at=now,
                        next_attempt_at=now,
                    )
                )
                try:
                    session.commit()
                except IntegrityError:
                    session.rollback()  # a second process wrote it first: once is enough
                    continue
                written += 1
    return written


def send(engine: Engine, now: datetime, settings: MailSettings) -> int:
    """Deliver the pending operator messages now (the alerts package's sending loop)."""
    sender = settings.mail_from
    from email.utils import parseaddr

    result = deliver(
        engine, transport_for(settings), now, parseaddr(sender)[1] or sender, rate=RateLimit(settings.rate), kind=KIND
    )
    return result.sent


def source_alerts(
    engine: Engine,
    healths: Sequence[SourceHealth],
    *,
    emails: Sequence[str],
    failing_runs: int,
    now: datetime,
    settings: MailSettings | None = None,
) -> OperatorSummary:
    """Write and send what the sources' states call for (see the module docstring)."""
    summary = OperatorSummary()
    if not emails:
        if any(h.streak >= failing_runs for h in healths):
            logger.warning("a source is failing but operators.emails is empty: nobody is told by mail")
        return summary
    settings = settings or mail_settings()
    alerts = [a for h in healths if (a := source_alert(h, failing_runs, now, settings)) is not None]
    summary.written = write(engine, alerts, emails, now, settings)
    summary.sent = send(engine, now, settings)
    return summary


def job_alert(
    engine: Engine,
    job_id: str,
    problem: str,
    detail: str,
    *,
    emails: Sequence[str],
    now: datetime,
    settings: MailSettings | None = None,
) -> OperatorSummary:
    """Tell the operators at once that a job failed or missed its slot (once a day per job and problem)."""
    summary = OperatorSummary()
    if not emails:
        logger.warning("job %s: %s; operators.emails is empty: nobody is told by mail", job_id, problem)
        return summary
    settings = settings or mail_settings()
    summary.written = write(engine, [job_problem_alert(job_id, problem, detail, now)], emails, now, settings)
    summary.sent = send(engine, now, settings)
    return summary
