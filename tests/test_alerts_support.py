"""Shared parts of the alerts tests: a real SMTP server on loopback (aiosmtpd) and a small world.

`SmtpServer` records every message it accepts and can be told, per recipient, to answer RCPT with
a 4xx or 5xx, to drop the connection during DATA, or to block after the n-th message (the kill
test). `make_world` stores companies, profiles, recipients and notices in a real SQLite file,
matched by the real store. No tests here; the `test_` name only puts it where pytest looks.
"""

from __future__ import annotations

import asyncio
import email
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from conftest import new_database_url
from sqlalchemy.orm import Session

from monitor.contract import from_record
from monitor.db import open_database, session_scope
from monitor.matching.models import Company, Profile, Recipient
from monitor.store import NoticeStore

# Monday 30 November 2026, 07:30 in Amsterdam (CET, UTC+1): weekly digests of Monday 07:00 are due.
MONDAY = datetime(2026, 11, 30, 6, 30, tzinfo=UTC)
SECRET = "test-secret-not-for-production"


@dataclass
class Received:
    sender: str
    recipients: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.data, policy=default_policy)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class Handler:
    """What the test server answers; rules are per recipient address."""

    received: list[Received] = field(default_factory=list)
    rcpt_replies: dict[str, str] = field(default_factory=dict)  # address -> "451 ..." / "550 ..."
    drop: dict[str, int] = field(default_factory=dict)  # address -> how many DATA to drop
    block_after: int | None = None  # accept this many, then record the next one and hang
    blocked: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        reply = self.rcpt_replies.get(address)
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        address = envelope.rcpt_tos[0]
        if self.drop.get(address, 0) > 0:
            self.drop[address] -= 1
            server.transport.close()  # the client sees the connection vanish before any reply
            return "421 closing"
        with self.lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content)))
            count = len(self.received)
        if self.block_after is not None and count > self.block_after:
            # The message is in the server's hands, but the client never hears 250: the
            # in-flight window of a sender killed now.
            self.blocked.set()
            while not self.release.is_set():
                await asyncio.sleep(0.01)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[Received]:
        return [r for r in self.received if address in r.recipients]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class SmtpServer:
    handler: Handler
    port: int


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    handler = Handler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield SmtpServer(handler, controller.port)
    finally:
        handler.release.set()
        controller.stop()


def smtp_env(monkeypatch: pytest.MonkeyPatch, server: SmtpServer, tmp_path: Any) -> None:
    """Point the settings at the test server (plain SMTP on loopback), with a known secret."""
    monkeypatch.setenv("ILO_MONITOR_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("ILO_MONITOR_SMTP_PORT", str(server.port))
    monkeypatch.setenv("ILO_MONITOR_SMTP_SECURITY", "none")
    monkeypatch.setenv("ILO_MONITOR_SMTP_RATE", "0")
    monkeypatch.setenv("ILO_MONITOR_MAIL_FROM", "ILO Monitor <alerts@ilo-monitor.example.nl>")
    monkeypatch.setenv("ILO_MONITOR_SECRET", SECRET)
    monkeypatch.setenv("ILO_MONITOR_BASE_URL", "https://monitor.example.nl")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))  # never the real user data folder


def notice(source_id: str, title: str, **extra: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "source": "dev",
        "source_id": source_id,
        "title": title,
        "notice_type": "contract_notice",
        "organisation": "cern",
        "buyer": "CERN",
        "buyer_country": "CH",
        "deadline": "2026-12-20T17:00:00+01:00",
        "estimated_value": 250000,
        "currency": "CHF",
        "url": f"https://example.org/notices/{source_id}",
        "technology_areas": [{"id": "cryogenics", "score": 0.9, "evidence": ["cryostat"]}],
    }
    record.update(extra)
    return record


def add_company(
    session: Session,
    company_id: str,
    emails: list[str],
    *,
    frequency: str = "weekly",
    keywords: list[str] | None = None,
    now: datetime = MONDAY,
) -> Profile:
    company = Company(id=company_id, name=f"{company_id.title()} B.V.", country="NL", created_at=now, updated_at=now)
    profile = Profile(
        name="default",
        areas=[],
        cpv_prefixes=[],
        keywords=keywords if keywords is not None else ["cryostat"],
        organisations=[],
        notice_types=[],
        languages=[],
        frequency=frequency,
        active=True,
        created_at=now,
        updated_at=now,
    )
    company.profiles.append(profile)
    for address in emails:
        recipient = Recipient(email=address)
        company.recipients.append(recipient)
        profile.recipients.append(recipient)
    session.add(company)
    session.flush()
    return profile


def store(session: Session, records: list[dict[str, Any]], now: datetime) -> None:
    """Store notices the way a crawl does (matching included), keeping the areas written here."""
    NoticeStore(session, now, classify=None).save_many([from_record(r) for r in records])


def make_db(tmp_path: Any) -> str:
    url = new_database_url(tmp_path, "alerts")
    open_database(url)
    return url


def world(url: str, companies: dict[str, list[str]], records: list[dict[str, Any]], **options: Any) -> None:
    engine = open_database(url)
    with session_scope(engine) as session:
        for company_id, emails in companies.items():
            add_company(session, company_id, emails, **options)
        store(session, records, options.get("now", MONDAY) - _DAY)


_DAY = datetime(2026, 1, 2, tzinfo=UTC) - datetime(2026, 1, 1, tzinfo=UTC)
