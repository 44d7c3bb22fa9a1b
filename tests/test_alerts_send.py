"""Delivery against a real SMTP server on loopback (aiosmtpd): messages parsed back, faults injected.

Frozen `now` values throughout: backoff is computed from `now`, nothing sleeps. The kill test
runs the sender in a child process and kills it while the server holds a message.
"""

from __future__ import annotations

import email
import os
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from email.policy import default as default_policy
from pathlib import Path
from urllib.parse import unquote

import click
import pytest
from bs4 import BeautifulSoup
from click.testing import CliRunner
from sqlalchemy import select
from test_alerts_support import (
    MONDAY,
    SECRET,
    SmtpServer,
    make_db,
    notice,
    smtp_env,
    smtp_server,
    store,
    world,
)

from alerts.cli import COMMANDS
from alerts.models import OutboxMessage
from alerts.outbox import Mailer, plan
from alerts.render import RenderError
from alerts.send import LEASE, RateLimit, deliver, transport_for
from alerts.tokens import FEEDBACK, UNSUBSCRIBE, Signer
from monitor.db import open_database, session_scope
from monitor.matching.models import Recipient

__all__ = ["smtp_server"]  # the fixture, imported for pytest

ROOT = Path(__file__).resolve().parent.parent
cli = click.Group()
for command in COMMANDS:
    cli.add_command(command)


def run(*args: str, db: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, [*args, "--db", db], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def send_now(url: str, now=MONDAY, **options: object) -> None:
    """Plan and deliver at a frozen `now` (the CLI reads the real clock)."""
    mailer = Mailer.from_environment()
    engine = open_database(url)
    plan(engine, now, mailer, **options)  # type: ignore[arg-type]
    deliver(engine, transport_for(mailer.settings), now, mailer.sender)


def rows(url: str) -> list[OutboxMessage]:
    with session_scope(open_database(url)) as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


@pytest.fixture
def server(smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> SmtpServer:
    smtp_env(monkeypatch, smtp_server, tmp_path)
    return smtp_server


def test_digests_arrive_multipart_with_headers_links_and_once(server: SmtpServer, tmp_path: Path) -> None:
    url = make_db(tmp_path)
    records = [
        notice("1", "Cryostat for HL-LHC", documents=[{"url": "https://example.org/doc/1.pdf", "title": "Spec"}]),
        notice("2", "Cryostat market survey", notice_type="market_survey", deadline="2026-12-10T12:00:00+01:00"),
        notice("3", "Office furniture"),  # matches nobody
    ]
    world(url, {"acme": ["a@acme.example.nl", "b@acme.example.nl"], "cryo": ["c@cryo.example.nl"]}, records)
    send_now(url)

    received = server.handler.received
    assert sorted(r.recipients[0] for r in received) == ["a@acme.example.nl", "b@acme.example.nl", "c@cryo.example.nl"]
    message = server.handler.to("a@acme.example.nl")[0].message
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    assert message["From"] == "ILO Monitor <alerts@ilo-monitor.example.nl>"
    assert message["Subject"] == "Big Science tenders for Acme B.V.: 1 new, 1 pre-tender"
    assert message["Message-ID"].endswith("@ilo-monitor.example.nl>")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    https, mailto = [part.strip(" <>") for part in message["List-Unsubscribe"].split(",")]
    assert https.startswith("https://monitor.example.nl/unsubscribe/")
    assert mailto.startswith("mailto:alerts@ilo-monitor.example.nl?subject=unsubscribe%20")
    signer = Signer(SECRET)
    token = https.rsplit("/", 1)[1]
    assert unquote(mailto.split("%20", 1)[1]) == token
    assert set(signer.loads(UNSUBSCRIBE, token)) == {"r"}

    html = message.get_body(("html",)).get_content()
    soup = BeautifulSoup(html, "html.parser")
    assert soup.find("style") is None and soup.find("h1").get("style")  # CSS inlined
    links = [a["href"] for a in soup.find_all("a")]
    assert "https://example.org/notices/1" in links and "https://example.org/doc/1.pdf" in links
    assert all(link.startswith(("https://", "mailto:")) for link in links)
    feedback = [link for link in links if "/feedback/" in link]
    assert len(feedback) == 4  # relevant + not relevant for each of the two items
    payloads = [signer.loads(FEEDBACK, link.rsplit("/", 1)[1]) for link in feedback]
    assert sorted(p["v"] for p in payloads) == [0, 0, 1, 1] and {p["c"] for p in payloads} == {"acme"}
    headings = [h2.get_text() for h2 in soup.find_all("h2")]
    assert headings == ["New (1)", "Pre-tender (1)"]
    text = message.get_body(("plain",)).get_content()
    assert "Cryostat for HL-LHC" in text and "Europe/Zurich" in text and "(Amsterdam)" in text
    assert "To stop these messages: https://monitor.example.nl/unsubscribe/" in text

    # Every row ended sent; running again (scheduled or forced) sends nothing twice.
    assert {row.status for row in rows(url)} == {"sent"}
    send_now(url)
    send_now(url + "", MONDAY + timedelta(hours=2), company_id="acme", force=True)
    code, out, _ = run("digest", "send", "--company", "acme", db=url)
    assert code == 0 and out.startswith("0 digest(s) written")
    assert len(server.handler.received) == 3


def test_unsubscribe_command_stops_the_next_send(server: SmtpServer, tmp_path: Path) -> None:
    url = make_db(tmp_path)
    world(url, {"acme": ["a@acme.example.nl", "b@acme.example.nl"]}, [notice("1", "Cryostat")])
    send_now(url)
    header = server.handler.to("a@acme.example.nl")[0].message["List-Unsubscribe"]
    token = header.split(",")[0].strip(" <>").rsplit("/", 1)[1]
    code, out, _ = run("unsubscribe", token, db=url)
    assert code == 0 and "a@acme.example.nl is unsubscribed" in out
    code, _, err = run("unsubscribe", token[:-3] + "xyz", db=url)
    assert code != 0 and "not valid" in err
    with session_scope(open_database(url)) as session:
        store(session, [notice("2", "Second cryostat")], MONDAY)
    send_now(url, MONDAY + timedelta(hours=1), company_id="acme", force=True)
    assert len(server.handler.to("a@acme.example.nl")) == 1
    assert len(server.handler.to("b@acme.example.nl")) == 2


def test_4xx_is_retried_with_backoff_until_sent_or_expired(server: SmtpServer, tmp_path: Path) -> None:
    url = make_db(tmp_path)
    world(
        url,
        {"acme": ["slow@acme.example.nl", "never@acme.example.nl", "ok@acme.example.nl"]},
        [notice("1", "Cryostat")],
    )
    server.handler.rcpt_replies["slow@acme.example.nl"] = "451 4.7.1 greylisted, try later"
    server.handler.rcpt_replies["never@acme.example.nl"] = "452 4.2.2 mailbox full"
    mailer = Mailer.from_environment()
    engine = open_database(url)
    plan(engine, MONDAY, mailer)

    def attempt(now):  # type: ignore[no-untyped-def]
        return deliver(engine, transport_for(mailer.settings), now, mailer.sender)

    first = attempt(MONDAY)
    assert (first.sent, first.retrying) == (1, 2)
    by_email = {row.email: row for row in rows(url)}
    assert by_email["slow@acme.example.nl"].next_attempt_at == MONDAY + timedelta(minutes=5)
    assert by_email["slow@acme.example.nl"].last_error.startswith("451 4.7.1")
    assert attempt(MONDAY + timedelta(minutes=4)).retrying == 0  # not due yet: nothing tried
    assert attempt(MONDAY + timedelta(minutes=5)).retrying == 2
    assert {row.email: row.next_attempt_at for row in rows(url)}["slow@acme.example.nl"] == MONDAY + timedelta(
        minutes=20
    )
    del server.handler.rcpt_replies["slow@acme.example.nl"]  # the greylisting ends
    assert attempt(MONDAY + timedelta(minutes=20)).sent == 1
    # The full mailbox stays full: tried until a day has passed, then expired.
    late = attempt(MONDAY + timedelta(days=1))
    assert late.expired == 1
    final = {row.email: (row.status, row.attempts) for row in rows(url)}
    assert final == {
        "slow@acme.example.nl": ("sent", 3),
        "never@acme.example.nl": ("expired", 4),
        "ok@acme.example.nl": ("sent", 1),
    }
    assert len(server.handler.to("slow@acme.example.nl")) == 1


def test_5xx_bounces_and_suppresses_the_recipient(server: SmtpServer, tmp_path: Path) -> None:
    url = make_db(tmp_path)
    world(url, {"acme": ["gone@acme.example.nl", "ok@acme.example.nl"]}, [notice("1", "Cryostat")])
    server.handler.rcpt_replies["gone@acme.example.nl"] = "550 5.1.1 no such user"
    send_now(url)
    with session_scope(open_database(url)) as session:
        gone = session.scalars(select(Recipient).where(Recipient.email == "gone@acme.example.nl")).one()
        assert gone.bounced_at == MONDAY
        store(session, [notice("2", "Another cryostat")], MONDAY)
    assert {row.email: row.status for row in rows(url)} == {
        "gone@acme.example.nl": "bounced",
        "ok@acme.example.nl": "sent",
    }
    send_now(url, MONDAY + timedelta(hours=1), company_id="acme", force=True)
    assert [row.email for row in rows(url)].count("gone@acme.example.nl") == 1  # no new row for it
    assert len(server.handler.to("ok@acme.example.nl")) == 2
    _code, out, _ = run("digest", "status", db=url)
    assert "1 bounced" in out and "gone@acme.example.nl" in out and "550 5.1.1" in out


def test_dropped_connection_is_retried_and_the_others_still_go(server: SmtpServer, tmp_path: Path) -> None:
    url = make_db(tmp_path)
    emails = [f"r{i}@acme.example.nl" for i in range(5)]
    world(url, {"acme": emails}, [notice("1", "Cryostat")])
    server.handler.drop["r1@acme.example.nl"] = 1
    send_now(url)
    assert sorted(r.recipients[0] for r in server.handler.received) == [e for e in emails if e != "r1@acme.example.nl"]
    row = next(r for r in rows(url) if r.email == "r1@acme.example.nl")
    assert row.status == "pending" and "connection lost" in (row.last_error or "")
    deliver(open_database(url), transport_for(Mailer.from_environment().settings), MONDAY + LEASE, "a@b.nl")
    assert len(server.handler.to("r1@acme.example.nl")) == 1
    assert {r.status for r in rows(url)} == {"sent"}


def test_malformed_address_and_render_error_are_recorded_not_fatal(server: SmtpServer, tmp_path: Path) -> None:
    url = make_db(tmp_path)
    world(
        url, {"acme": ["ok@acme.example.nl", "broken@acme.example.nl", "bad address@acme"]}, [notice("1", "Cryostat")]
    )
    from alerts import outbox

    def renderer(digest, mailer, now):  # type: ignore[no-untyped-def]
        if digest.email == "broken@acme.example.nl":
            raise RenderError("UndefinedError: 'item' has no attribute 'oops'")
        return outbox.render_company(digest, mailer, now)

    mailer = Mailer.from_environment()
    engine = open_database(url)
    summary = plan(engine, MONDAY, mailer, renderer=renderer)
    assert summary.written == 1 and len(summary.failed) == 2
    deliver(engine, transport_for(mailer.settings), MONDAY, mailer.sender)
    assert [r.recipients for r in server.handler.received] == [["ok@acme.example.nl"]]
    status = {row.email: (row.status, row.last_error) for row in rows(url)}
    assert status["bad address@acme"] == ("failed", "malformed address 'bad address@acme'")
    assert status["broken@acme.example.nl"][0] == "failed" and "rendering failed" in status["broken@acme.example.nl"][1]
    _code, out, _ = run("digest", "status", db=url)
    assert "2 failed" in out and "malformed address" in out and "rendering failed" in out


def test_file_outbox_without_smtp_and_a_generated_secret(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("SMTP_HOST", "SECRET"):
        monkeypatch.delenv(f"ILO_MONITOR_{name}", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("ILO_MONITOR_OUTBOX_DIR", str(tmp_path / "outbox"))
    url = make_db(tmp_path)
    world(url, {"acme": ["a@acme.example.nl"]}, [notice("1", "Cryostat")])
    code, out, _ = run("digest", "send", "--company", "acme", db=url)
    assert code == 0 and "1 sent" in out and str(tmp_path / "outbox") in out
    files = list((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == 1 and "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in files[0].read_text()
    secret = tmp_path / "xdg" / "ilo-monitor" / "secret"
    assert secret.is_file() and oct(secret.stat().st_mode & 0o777) == "0o600"
    run("digest", "send", "--company", "acme", db=url)
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1
    # The unsubscribe link written to the file verifies with the stored secret.
    header = email.message_from_bytes(files[0].read_bytes(), policy=default_policy)["List-Unsubscribe"]
    token = header.split(",")[0].strip(" <>").rsplit("/", 1)[1]
    code, out, _ = run("unsubscribe", token, db=url)
    assert code == 0 and "unsubscribed" in out


def test_smtp_without_secret_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("ILO_MONITOR_SMTP_HOST", "127.0.0.1")
    monkeypatch.delenv("ILO_MONITOR_SECRET", raising=False)
    url = make_db(tmp_path)
    code, _, err = run("digest", "send", "--due", db=url)
    assert code == 1 and "ILO_MONITOR_SECRET is not set" in err


def test_rate_limit_spaces_messages_without_sleeping() -> None:
    moments = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        moments[0] += seconds

    limit = RateLimit(2.0, clock=lambda: moments[0], sleep=sleep)
    for _ in range(5):
        limit.wait()
    assert slept == [0.5, 0.5, 0.5, 0.5]


KILLED_SENDER = """
from datetime import datetime
from alerts.outbox import Mailer
from alerts.send import deliver, transport_for
from monitor.db import open_database
mailer = Mailer.from_environment()
deliver(open_database({url!r}), transport_for(mailer.settings), datetime.fromisoformat({now!r}), mailer.sender)
"""


def test_killed_sender_resumes_and_each_of_200_gets_one_message(server: SmtpServer, tmp_path: Path) -> None:
    url = make_db(tmp_path)
    emails = [f"person{i:03d}@acme.example.nl" for i in range(200)]
    world(url, {"acme": emails}, [notice("1", "Cryostat")])
    plan(open_database(url), MONDAY, Mailer.from_environment())
    server.handler.block_after = 120  # the 121st message is held by the server, unanswered
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_SENDER.format(url=url, now=MONDAY.isoformat())], cwd=ROOT, env=dict(os.environ)
    )
    try:
        assert server.handler.blocked.wait(60), "the sender never reached the 121st message"
    finally:
        child.kill()
        child.wait()
    in_flight = server.handler.received[120]
    server.handler.block_after = None
    server.handler.release.set()
    time.sleep(0.05)  # let the released handler finish before counting
    statuses = Counter(row.status for row in rows(url))
    assert statuses == {"sent": 120, "pending": 80}

    # Restarted after the killed sender's lease ran out: it takes over and finishes.
    deliver(open_database(url), transport_for(Mailer.from_environment().settings), MONDAY + LEASE, "x@example.nl")
    counts = Counter(r.recipients[0] for r in server.handler.received)
    assert set(counts) == set(emails)
    # Exactly one duplicate: the message the server held when the sender died, under the same Message-ID.
    assert [email for email, n in counts.items() if n > 1] == in_flight.recipients
    assert counts[in_flight.recipients[0]] == 2
    copies = server.handler.to(in_flight.recipients[0])
    assert copies[0].message["Message-ID"] == copies[1].message["Message-ID"]
    assert sum(counts.values()) == 201
    assert {row.status for row in rows(url)} == {"sent"}
