"""The ILO weekly digest end to end: `digest ilo --week --out` files, and `--send` to the ILO list."""

from __future__ import annotations

import csv
import email
from datetime import UTC, datetime, timedelta
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import click
from bs4 import BeautifulSoup
from click.testing import CliRunner
from test_alerts_support import SECRET, add_company, make_db, notice, store

from alerts.cli import COMMANDS
from alerts.outbox import Mailer, plan
from alerts.send import deliver, transport_for
from monitor.crawl.runs import CrawlRun
from monitor.db import open_database, session_scope

WEDNESDAY = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)  # in 2026-W48
cli = click.Group()
for command in COMMANDS:
    cli.add_command(command)


def test_ilo_digest_files_and_sending(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("ILO_MONITOR_SECRET", SECRET)
    monkeypatch.delenv("ILO_MONITOR_SMTP_HOST", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("ILO_MONITOR_OUTBOX_DIR", str(tmp_path / "outbox"))
    monkeypatch.setenv("ILO_MONITOR_ILO_EMAILS", "ilo1@example.nl, ilo2@example.nl")
    url = make_db(tmp_path)
    engine = open_database(url)
    with session_scope(engine) as session:
        add_company(session, "acme", ["a@acme.example.nl"], frequency="instant")
        add_company(session, "quiet", ["q@quiet.example.nl"], frequency="weekly")
        store(
            session,
            [notice("old", "Cryostat old", deadline="2026-12-31T12:00:00+01:00")],
            WEDNESDAY - timedelta(days=30),
        )
        store(
            session,
            [
                notice("new", "Cryostat =HYPERLINK(1)", deadline="2026-12-03T12:00:00+01:00"),
                notice("furniture", "Office furniture", technology_areas=[]),
                notice("pin", "Cryostat market survey", notice_type="market_survey", organisation="eso", buyer="ESO"),
                notice(
                    "award",
                    "Award: cryostat",
                    notice_type="contract_award",
                    status="awarded",
                    awards=[
                        {"winner": "Cryo Delft B.V.", "winner_country": "NL"},
                        {"winner": "Kälte GmbH", "winner_country": "DE"},
                    ],
                ),
                notice("old", "Cryostat old", deadline="2027-01-31T12:00:00+01:00"),
                notice("nonbig", "Cryostat elsewhere", organisation=None, buyer="Gemeente X"),
            ],
            WEDNESDAY,
        )
        session.add(CrawlRun(source="eso", state="failed", started_at=WEDNESDAY, failure_reasons=["3 error(s) logged"]))
        session.add(CrawlRun(source="ess", state="succeeded", started_at=WEDNESDAY, items_scraped=0))
        session.add(CrawlRun(source="cern", state="succeeded", started_at=WEDNESDAY, items_scraped=12))
    # acme is instant: its digest goes out during the week; quiet's weekly one has not yet.
    mailer = Mailer.from_environment()
    plan(engine, WEDNESDAY, mailer)
    deliver(engine, transport_for(mailer.settings), WEDNESDAY, mailer.sender)

    out = tmp_path / "ilo"
    result = CliRunner().invoke(cli, ["digest", "ilo", "--week", "2026-W48", "--out", str(out), "--db", url])
    assert result.exit_code == 0, result.output
    soup = BeautifulSoup((out / "ilo-digest-2026-W48.html").read_text(), "html.parser")
    text = soup.get_text(" ", strip=True)
    assert "Big Science tenders, week 2026-W48" in text
    assert [h3.get_text() for h3 in soup.find_all("h3")][:2] == [
        "European Organization for Nuclear Research (CERN)",
        "European Southern Observatory (ESO)",
    ]
    assert "Cryostat elsewhere" not in text  # not a Big Science organisation
    entry = next(div for div in soup.find_all("div", class_="item") if "=HYPERLINK" in div.get_text())
    assert "Acme B.V. (alerted)" in entry.get_text() and "Quiet B.V. (not alerted)" in entry.get_text()
    changed = next(div for div in soup.find_all("div", class_="item") if "Cryostat old" in div.get_text())
    assert "Changed:" in changed.get_text() and "deadline:" in changed.get_text()
    dutch = soup.find("span", class_="highlight")
    assert dutch is not None and dutch.get_text() == "Cryo Delft B.V. (NL)"
    unmatched = soup.find("h2", string="Matched no company").find_next("p").get_text()
    assert "Office furniture" in unmatched
    assert "eso: failed (1 run(s)): 3 error(s) logged" in text and "ess: nothing" in text and "cern:" not in text
    closing = soup.find("h2", string="Closing soon").find_next("p").get_text()
    assert "Cryostat =HYPERLINK(1)" in closing

    with (out / "ilo-digest-2026-W48.csv").open(encoding="utf-8") as stream:
        records = list(csv.DictReader(stream))
    new_row = next(r for r in records if r["section"] == "new" and "HYPERLINK" in r["title"])
    assert new_row["title"].startswith("Cryostat")
    assert new_row["companies"] == "Acme B.V.;Quiet B.V." and new_row["alerted"] == "Acme B.V."
    assert {r["section"] for r in records} == {"new", "changed", "closing", "pretender", "award", "unmatched"}

    result = CliRunner().invoke(cli, ["digest", "ilo", "--week", "2026-W48", "--out", str(out), "--send", "--db", url])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(cli, ["digest", "ilo", "--week", "2026-W48", "--out", str(out), "--send", "--db", url])
    ilo_files = [p for p in (tmp_path / "outbox").glob("*.eml") if "ILO weekly" in p.read_text()]
    assert len(ilo_files) == 2  # once per address, however often it is run
    message = email.message_from_bytes(ilo_files[0].read_bytes(), policy=default_policy)
    assert message["To"] in ("ilo1@example.nl", "ilo2@example.nl")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
