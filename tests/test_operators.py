"""Operator alerts over loopback SMTP: after N failing runs, daily until recovery, never to companies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import new_database_url
from sqlalchemy import select
from test_alerts_support import SmtpServer, add_company, smtp_env, smtp_server

from alerts.models import OutboxMessage
from monitor.crawl.runs import CrawlRun
from monitor.db import open_database, session_scope
from monitor.scheduling.config import parse_schedule
from monitor.scheduling.jobs import check_health

__all__ = ["smtp_server"]  # the fixture, imported for pytest

MONDAY = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
SCHEDULE = "operators:\n  emails: [ops@ilo.example.nl]\n  failing_runs: 3\n"


@pytest.fixture
def server(smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> SmtpServer:
    smtp_env(monkeypatch, smtp_server, tmp_path)
    monkeypatch.delenv("ILO_MONITOR_OPERATOR_EMAILS", raising=False)
    return smtp_server


def add_run(url: str, state: str, at: datetime, items: int = 10, error: str | None = None) -> int:
    engine = open_database(url)
    with session_scope(engine) as session:
        run = CrawlRun(
            source="tenderned",
            state=state,
            started_at=at,
            finished_at=at,
            items_scraped=items,
            failure_reasons=["finish reason shutdown"] if state == "failed" else [],
            error_messages=[error] if error else [],
            errors=1 if error else 0,
            stats={f"ilo_monitor/field/{f}": items for f in ("title", "deadline", "buyer", "cpv_codes")},
        )
        session.add(run)
        session.flush()
        return run.id


def test_failing_source_alerts_operators_daily_until_it_recovers(server: SmtpServer, tmp_path: Path) -> None:
    url = new_database_url(tmp_path, "ops")
    engine = open_database(url)
    with session_scope(engine) as session:  # a company that must never hear of this
        add_company(session, "acme", ["buyer@acme.example.com"], frequency="instant")
    from monitor.crawl.sources import SourceConfig

    schedule = parse_schedule(SCHEDULE, tmp_path / "s.yaml", {"tenderned": SourceConfig(name="tenderned")})
    add_run(url, "succeeded", MONDAY - timedelta(days=1))
    for hours in (0, 6):
        add_run(url, "failed", MONDAY + timedelta(hours=hours), error="HTTP 503 from https://www.tenderned.nl/")
        check_health(engine, schedule, MONDAY + timedelta(hours=hours))
    assert server.handler.received == []  # two failing runs: under the threshold of three

    third = add_run(url, "failed", MONDAY + timedelta(hours=12), error="HTTP 503 from https://www.tenderned.nl/")
    check_health(engine, schedule, MONDAY + timedelta(hours=12))
    check_health(engine, schedule, MONDAY + timedelta(hours=13))  # same day: not again
    assert len(server.handler.received) == 1
    message = server.handler.received[0].message
    assert server.handler.received[0].recipients == ["ops@ilo.example.nl"]
    assert message["Subject"] == "[ilo-monitor] tenderned failing for 3 runs"
    body = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert "Last error: HTTP 503 from https://www.tenderned.nl/" in body
    assert f"https://monitor.example.nl/runs/{third}" in body

    add_run(url, "failed", MONDAY + timedelta(days=1, hours=1))
    check_health(engine, schedule, MONDAY + timedelta(days=1, hours=1))  # the next day: repeated
    assert [r.message["Subject"] for r in server.handler.received][-1] == "[ilo-monitor] tenderned failing for 4 runs"

    add_run(url, "succeeded", MONDAY + timedelta(days=1, hours=7))
    check_health(engine, schedule, MONDAY + timedelta(days=1, hours=7))
    check_health(engine, schedule, MONDAY + timedelta(days=2, hours=7))  # recovered: quiet from now on
    subjects = [r.message["Subject"] for r in server.handler.received]
    assert subjects[2:] == ["[ilo-monitor] tenderned recovered"]
    assert all(r.recipients == ["ops@ilo.example.nl"] for r in server.handler.received)
    with session_scope(engine) as session:
        kinds = {row.kind for row in session.scalars(select(OutboxMessage))}
    assert kinds == {"operator"}  # nothing was written for the company
