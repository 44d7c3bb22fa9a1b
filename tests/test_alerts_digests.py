"""Digest contents on a real SQLite file: sections, material changes, reminders, never twice, inert text."""

from __future__ import annotations

import email
from datetime import timedelta
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import click
from bs4 import BeautifulSoup
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session
from test_alerts_support import MONDAY, SECRET, add_company, make_db, notice, store

from alerts.cli import COMMANDS
from alerts.digests import CompanyDigest, assemble, record_items
from alerts.models import OutboxMessage
from alerts.outbox import Mailer, render_company
from alerts.settings import mail_settings
from alerts.tokens import Signer
from monitor.db import open_database, session_scope
from monitor.matching.models import Company, Profile, Recipient
from monitor.matching.service import record_feedback
from monitor.models import NoticeRow

SIGNER = Signer(SECRET)


def digest_at(session: Session, profile: Profile, now: Any, record: bool = True) -> CompanyDigest:
    """Assemble the digest of the profile's first recipient at `now`, and record it as sent."""
    recipient = profile.recipients[0]
    result = assemble(session, profile, recipient, f"test/{now.isoformat()}", now, SIGNER, "https://m.example.nl")
    if record and not result.empty:
        row = OutboxMessage(
            kind="company",
            recipient=f"recipient:{recipient.id}",
            period=result.period,
            email=recipient.email,
            message_id=f"<{now.timestamp()}@x>",
            subject="s",
            status="sent",
            created_at=now,
        )
        session.add(row)
        session.flush()
        record_items(session, row.id, result, now)
    return result


def titles(result: CompanyDigest) -> dict[str, list[str]]:
    return {name: [item.title for item in items] for name, items in result.sections.items() if items}


def test_sections_sorted_by_deadline_and_never_repeated(tmp_path: Path) -> None:
    engine = open_database(make_db(tmp_path))
    with session_scope(engine) as session:
        profile = add_company(session, "acme", ["a@acme.example.nl"])
        earlier = MONDAY - timedelta(days=20)
        store(
            session,
            [
                notice("late", "Cryostat late", deadline="2027-02-01T12:00:00+01:00"),
                notice("soon", "Cryostat soon", deadline="2026-12-20T12:00:00+01:00"),
                notice("none", "Cryostat open-ended", deadline=None),
                notice("pin", "Cryostat PIN", notice_type="prior_information"),
                notice("award", "Cryostat award", notice_type="contract_award", status="awarded"),
                notice("gone", "Cryostat closed", deadline="2026-11-01T12:00:00+01:00"),
            ],
            earlier,
        )
        first = digest_at(session, profile, MONDAY - timedelta(days=14))
        assert titles(first) == {
            "new": ["Cryostat soon", "Cryostat late", "Cryostat open-ended"],  # by deadline, none last
            "pretender": ["Cryostat PIN"],
            "award": ["Cryostat award"],
        }
        assert digest_at(session, profile, MONDAY - timedelta(days=7)).empty  # nothing twice


def test_changed_shows_material_changes_old_to_new_only(tmp_path: Path) -> None:
    engine = open_database(make_db(tmp_path))
    with session_scope(engine) as session:
        profile = add_company(session, "acme", ["a@acme.example.nl"])
        start = MONDAY - timedelta(days=30)
        store(session, [notice("a", "Cryostat A"), notice("b", "Cryostat B"), notice("c", "Cryostat C")], start)
        digest_at(session, profile, start)
        later = start + timedelta(days=2)
        store(
            session,
            [
                notice("a", "Cryostat A", deadline="2027-01-15T17:00:00+01:00", estimated_value=300000),
                notice("b", "Cryostat B (retitled)"),  # not material
                notice("c", "Cryostat C", status="cancelled"),
            ],
            later,
        )
        result = digest_at(session, profile, later)
        assert titles(result) == {"changed": ["Cryostat C", "Cryostat A"]}
        changed_a = next(i for i in result.sections["changed"] if i.title == "Cryostat A")
        assert changed_a.changes == [
            ("Deadline", "2026-12-20 17:00 CET", "2027-01-15 17:00 CET"),
            ("Value", "250,000 CHF", "300,000 CHF"),
        ]
        changed_c = next(i for i in result.sections["changed"] if i.title == "Cryostat C")
        assert changed_c.changes == [("Status", "open", "cancelled")]
        assert digest_at(session, profile, later + timedelta(days=1)).empty


def test_closing_soon_once_for_sent_notices_not_marked_not_relevant(tmp_path: Path) -> None:
    engine = open_database(make_db(tmp_path))
    with session_scope(engine) as session:
        profile = add_company(session, "acme", ["a@acme.example.nl"])
        start = MONDAY - timedelta(days=30)
        store(
            session,
            [
                notice("a", "Cryostat A", deadline="2026-12-03T12:00:00+01:00"),
                notice("b", "Cryostat B", deadline="2026-12-04T12:00:00+01:00"),
                notice("c", "Cryostat C", deadline="2026-12-05T12:00:00+01:00"),
                notice("late", "Cryostat late", deadline="2027-03-05T12:00:00+01:00"),
            ],
            start,
        )
        digest_at(session, profile, start)
        company = session.get_one(Company, "acme")
        b = session.scalars(select(NoticeRow).where(NoticeRow.source_id == "b")).one()
        record_feedback(session, company, b, relevant=False, now=start + timedelta(days=1))
        store(session, [notice("d", "Cryostat D", deadline="2026-12-02T12:00:00+01:00")], MONDAY - timedelta(hours=1))
        result = digest_at(session, profile, MONDAY)
        # D is new (sent now), A and C are reminders; B was judged not relevant; "late" is far off.
        assert titles(result) == {"new": ["Cryostat D"], "closing": ["Cryostat A", "Cryostat C"]}
        assert digest_at(session, profile, MONDAY + timedelta(days=1)).empty  # one reminder per deadline


HOSTILE = '<img src=x onerror=alert(1)><script>alert("x")</script> Cryostat \u202egnp.exe\u0000 ☃ 𝔘nicode'


def test_hostile_titles_render_inert_and_links_are_http_only(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("ILO_MONITOR_SECRET", SECRET)
    url = make_db(tmp_path)
    engine = open_database(url)
    with session_scope(engine) as session:
        profile = add_company(session, "acme", ["a@acme.example.nl"])
        store(
            session,
            [notice("x", HOSTILE, buyer='CERN"><b>bold</b>', description="<iframe src=//evil>")],
            MONDAY - timedelta(days=1),
        )
        row = session.scalars(select(NoticeRow)).one()
        # Stored links that got past the contract somehow are dropped at rendering too.
        row.documents = [{"url": "javascript:alert(1)", "title": "evil"}, {"url": "https://ok.example/d.pdf"}]
        session.flush()
        result = assemble(session, profile, profile.recipients[0], "p", MONDAY, SIGNER, mail_settings().base_url)
        mailer = Mailer(mail_settings(), SIGNER)
        text, html, whole = render_company(result, mailer, MONDAY)
    soup = BeautifulSoup(html, "html.parser")
    assert soup.find("script") is None and soup.find("img") is None and soup.find("b") is None
    assert soup.find("iframe") is None
    heading = soup.find("h3").get_text()
    assert '<script>alert("x")</script>' in heading and "\u202e" not in heading and "\x00" not in heading
    assert "☃ 𝔘nicode" in heading
    hrefs = [a["href"] for a in soup.find_all("a")]
    assert "javascript:alert(1)" not in hrefs and "https://ok.example/d.pdf" in hrefs
    assert all(h.startswith(("http://", "https://", "mailto:")) for h in hrefs)
    assert "\u202e" not in text and HOSTILE.split("\u202e")[0] in text
    message = email.message_from_string(whole, policy=default_policy)
    body = message.get_body(("html",)).get_content()
    assert body.replace("\r\n", "\n").rstrip() == html.rstrip()
    assert whole.isascii()  # quoted-printable: nothing on the wire depends on 8BITMIME


def test_preview_writes_files_and_records_nothing(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("ILO_MONITOR_SECRET", SECRET)
    monkeypatch.delenv("ILO_MONITOR_SMTP_HOST", raising=False)
    url = make_db(tmp_path)
    with session_scope(open_database(url)) as session:
        add_company(session, "acme", ["a@acme.example.nl", "b@acme.example.nl"])
        store(session, [notice("1", "Cryostat")], MONDAY)
        session.get_one(Recipient, 2).unsubscribed_at = MONDAY
    cli = click.Group()
    for command in COMMANDS:
        cli.add_command(command)
    out = tmp_path / "preview"
    result = CliRunner().invoke(cli, ["digest", "preview", "acme", "--out", str(out), "--db", url])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["acme-default-1.eml", "acme-default-1.html", "acme-default-1.txt"]
    assert "Cryostat" in (out / "acme-default-1.html").read_text()
    with session_scope(open_database(url)) as session:
        assert session.scalars(select(OutboxMessage)).all() == []
    result = CliRunner().invoke(cli, ["digest", "preview", "nobody", "--db", url])
    assert result.exit_code == 1 and "no company 'nobody'" in result.output
