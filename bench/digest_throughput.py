"""Digest throughput: render and send 1,000 company digests to a local SMTP server (aiosmtpd).

Usage: python bench/digest_throughput.py [--digests 1000] [--notices 5]

Builds a fresh SQLite file with `--digests` companies (one profile, one recipient each) and
`--notices` matching notices, then times the two phases of `digest send`, as the CLI runs them:
*plan* (assemble each digest from matches and history, render text and HTML with CSS inlined,
write the outbox row and the alerted items, one transaction per recipient) and *deliver* (claim,
send over one SMTP connection per 50 messages to an aiosmtpd server on loopback, commit each
outcome). The rate limit is off (`ILO_MONITOR_SMTP_RATE=0`) so the figure is the software's.
Prints messages per second for each phase and end to end. Target (alerts issue): >= 50/s.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alerts.outbox import Mailer, plan
from alerts.send import deliver, transport_for
from monitor.contract import from_record
from monitor.db import open_database, session_scope
from monitor.matching.models import Company, Profile, Recipient
from monitor.store import NoticeStore

NOW = datetime(2026, 11, 30, 6, 30, tzinfo=UTC)  # Monday 07:30 in Amsterdam: weekly digests due


class Counter:
    """An SMTP handler that accepts and counts."""

    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.count += 1
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def build(url: str, digests: int, notices: int) -> None:
    engine = open_database(url)
    with session_scope(engine) as session:
        for index in range(digests):
            company = Company(
                id=f"c{index:05d}", name=f"Company {index} B.V.", country="NL", created_at=NOW, updated_at=NOW
            )
            profile = Profile(
                name="default",
                areas=[],
                cpv_prefixes=[],
                keywords=["cryostat"],
                organisations=[],
                notice_types=[],
                languages=[],
                frequency="weekly",
                active=True,
                created_at=NOW,
                updated_at=NOW,
            )
            recipient = Recipient(email=f"tenders{index}@company{index}.example.nl")
            company.profiles.append(profile)
            company.recipients.append(recipient)
            profile.recipients.append(recipient)
            session.add(company)
        session.flush()
        records = [
            from_record(
                {
                    "source": "bench",
                    "source_id": str(n),
                    "title": f"Supply of a cryostat for detector {n} <with> 'odd' & text",
                    "description": "Design, manufacture and test of a cryostat. " * 20,
                    "notice_type": "contract_notice" if n % 4 else "market_survey",
                    "organisation": "cern",
                    "buyer": "CERN",
                    "deadline": f"2026-12-{10 + n % 15:02d}T17:00:00+01:00",
                    "estimated_value": 100000 + n,
                    "currency": "CHF",
                    "url": f"https://example.org/n/{n}",
                    "documents": [{"url": f"https://example.org/n/{n}/spec.pdf", "title": "Specification"}],
                    "technology_areas": [{"id": "cryogenics", "score": 0.9, "evidence": ["cryostat"]}],
                }
            )
            for n in range(notices)
        ]
        NoticeStore(session, NOW - timedelta(days=1), classify=None).save_many(records)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--digests", type=int, default=1000)
    parser.add_argument("--notices", type=int, default=5)
    args = parser.parse_args()

    handler = Counter()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    with tempfile.TemporaryDirectory() as folder:
        os.environ.update(
            {
                "ILO_MONITOR_SMTP_HOST": "127.0.0.1",
                "ILO_MONITOR_SMTP_PORT": str(port),
                "ILO_MONITOR_SMTP_SECURITY": "none",
                "ILO_MONITOR_SMTP_RATE": "0",
                "ILO_MONITOR_SECRET": "bench-secret",
                "ILO_MONITOR_MAIL_FROM": "bench@ilo-monitor.example.nl",
            }
        )
        url = f"sqlite:///{Path(folder) / 'bench.sqlite'}"
        build(url, args.digests, args.notices)
        engine = open_database(url)
        mailer = Mailer.from_environment()
        started = time.perf_counter()
        planned = plan(engine, NOW, mailer)
        rendered = time.perf_counter()
        delivered = deliver(engine, transport_for(mailer.settings), NOW, mailer.sender)
        finished = time.perf_counter()
    controller.stop()
    count = handler.count
    assert count == args.digests == delivered.sent, (count, planned, delivered)
    print(f"{args.digests} digests of {args.notices} notices each")
    print(
        f"plan (assemble + render + outbox): {rendered - started:.2f} s, {count / (rendered - started):.0f} digests/s"
    )
    print(
        f"deliver (SMTP to loopback):        {finished - rendered:.2f} s, "
        f"{count / (finished - rendered):.0f} messages/s"
    )
    print(
        f"end to end:                        {finished - started:.2f} s, {count / (finished - started):.0f} messages/s"
        " (target >= 50/s)"
    )


if __name__ == "__main__":
    main()
