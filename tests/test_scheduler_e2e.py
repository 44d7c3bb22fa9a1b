"""End to end: a source publishes a new notice, the next cycle crawls it, the company's instant alert arrives.

Everything is real except the network and the clock: TenderNed is a `ReplayServer` answering
from a recording built here from `tests/fixtures/tenderned` plus one new publication (500108)
that only the second window lists; crawls are real `scrapy crawl` child processes storing,
classifying and matching into a SQLite file; the alert goes over SMTP to an aiosmtpd server on
127.0.0.1. The cycle is `run_cycle` (what `ilo-monitor run` and the scheduler's jobs do), called
at two moments of 23 November 2026: 07:00 and 19:00 Amsterdam time.
"""

from __future__ import annotations

import functools
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import new_database_url
from test_alerts_support import SmtpServer, add_company, smtp_env, smtp_server

from monitor.crawl.jobs import crawl_source
from monitor.crawl.replay import ReplayServer
from monitor.crawl.sources import SourceConfig
from monitor.db import open_database, session_scope
from monitor.scheduling.cli import status
from monitor.scheduling.config import parse_schedule
from monitor.scheduling.service import run_cycle

__all__ = ["smtp_server"]  # the fixture, imported for pytest

FIXTURES = Path(__file__).parent / "fixtures"
API = "https://www.tenderned.nl/papi/tenderned-rs-tns/v2/publicaties"
MORNING = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)  # 07:00 in Amsterdam
EVENING = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)  # 19:00: the tenderned cadence fired at 13:00
TITLE = "Levering van een heliumliquefier voor het detectorlab"

NEW = {
    "publicatieId": "500108",
    "publicatieDatum": "2026-11-23",
    "typePublicatie": {"code": "AAO", "omschrijving": "Aankondiging van een opdracht"},
    "aanbestedingNaam": TITLE,
    "opdrachtgeverNaam": "Stichting Nederlandse Wetenschappelijk Onderzoek Instituten, Nikhef",
    "procedure": {"code": "OPE"},
    "typeOpdracht": {"code": "LEV"},
    "sluitingsDatum": "2027-01-15T12:00:00",
    "opdrachtBeschrijving": "Levering en installatie van een heliumliquefier (50 l/h).",
    "link": {"href": "https://www.tenderned.nl/aankondigingen/overzicht/500108"},
}


def recording(tmp_path: Path) -> Path:
    """The tenderned recording plus the second window (from 2026-11-22), which lists 500108."""
    folder = tmp_path / "tenderned"
    shutil.copytree(FIXTURES / "tenderned", folder)
    page = {"content": [NEW], "number": 0, "size": 4, "totalElements": 1, "totalPages": 1, "first": True, "last": True}
    (folder / "list" / "from-2026-11-22-page-0.json").write_text(json.dumps(page), encoding="utf-8")
    detail = {**NEW, "cpvCodes": [{"code": "42512000-8", "omschrijving": "Luchtbehandelingsinstallaties"}]}
    (folder / "detail" / "500108.json").write_text(json.dumps(detail), encoding="utf-8")
    exchanges: list[dict[str, Any]] = json.loads((folder / "exchanges.json").read_text(encoding="utf-8"))
    for url, body in (
        (f"{API}?page=0&size=4&publicatieDatumVanaf=2026-11-22", "list/from-2026-11-22-page-0.json"),
        (f"{API}/500108", "detail/500108.json"),
    ):
        exchanges.append({"method": "GET", "url": url, "status": 200,
                          "headers": {"Content-Type": "application/json"}, "body_file": body})  # fmt: skip
    (folder / "exchanges.json").write_text(json.dumps(exchanges, indent=2), encoding="utf-8")
    return folder


@pytest.fixture
def server(smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> SmtpServer:
    smtp_env(monkeypatch, smtp_server, tmp_path)
    for name in ("ILO_EMAILS", "OPERATOR_EMAILS"):
        monkeypatch.delenv(f"ILO_MONITOR_{name}", raising=False)
    return smtp_server


def test_a_new_notice_reaches_the_matched_company_by_instant_alert(server: SmtpServer, tmp_path: Path) -> None:
    url = new_database_url(tmp_path, "e2e")
    engine = open_database(url)
    with session_scope(engine) as session:
        add_company(
            session, "coldtech", ["sales@coldtech.example.nl"], frequency="instant", keywords=["heliumliquefier"]
        )
    body = 'crawls:\n  tenderned: {cron: "0 7,13,19 * * *", jitter: 0, timeout: 120}\n'
    (tmp_path / "schedule.yaml").write_text(body, encoding="utf-8")
    schedule = parse_schedule(body, tmp_path / "schedule.yaml", {"tenderned": SourceConfig(name="tenderned")})
    with ReplayServer(recording(tmp_path)) as replay:
        crawler = functools.partial(crawl_source, replay=replay, spider_args={"page_size": "4"})
        first = run_cycle(engine, schedule, MORNING, crawler=crawler)
        assert [run.state for run in first.crawled] == ["succeeded"]
        assert first.crawled[0].items_new == 5
        assert server.handler.received == []  # nothing for coldtech yet

        again = run_cycle(engine, schedule, MORNING.replace(hour=7), crawler=crawler)
        assert again.crawled == [] and again.skipped == ["tenderned"]  # 08:00 local: not due again

        second = run_cycle(engine, schedule, EVENING, crawler=crawler)
    assert replay.unmatched == []
    assert [(run.state, run.items_new, str(run.window_since)) for run in second.crawled] == [
        ("succeeded", 1, "2026-11-22")
    ]
    # The crawl counted its fields for the health rules (coverage, freshness).
    stats = second.crawled[0].stats
    assert stats["ilo_monitor/field/deadline"] == stats["ilo_monitor/field/cpv_codes"] == 1
    assert stats["ilo_monitor/newest_published_on"] == "2026-11-23"
    assert len(server.handler.received) == 1
    received = server.handler.received[0]
    assert received.recipients == ["sales@coldtech.example.nl"]
    text = received.message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert TITLE in text
    assert "tenderned" in text.lower() or "500108" in text
    assert "tenderned healthy" in second.health[0]

    # `ilo-monitor status` at a glance, over the same database.
    result = CliRunner().invoke(status, ["--db", url, "--schedule", str(schedule.path)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("scheduler: not running")
    tenderned = next(line for line in lines if line.strip().startswith("tenderned"))
    assert "healthy" in tenderned and "1 items" in tenderned and "next " in tenderned
    assert any(line.startswith("outbox: 0 pending, 0 failed") for line in lines)
    assert any(line.startswith("ILO weekly digest: next ") for line in lines)
    assert any("1 instant profile(s)" in line for line in lines)
    assert any(line.startswith("classifier: ") for line in lines)
