"""Several senders at once on one outbox: every message goes out exactly once.

Four sender processes start together (a barrier file) on the same database and the same SMTP
server. On PostgreSQL (`ILO_MONITOR_TEST_POSTGRES`) they claim with `SELECT ... FOR UPDATE
SKIP LOCKED`; on SQLite with the conditional-UPDATE lease. Either way the server must receive
each recipient's digest once, and the work must really have been shared.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import on_postgres
from sqlalchemy import select, text
from test_alerts_support import MONDAY, SmtpServer, make_db, notice, smtp_env, smtp_server, world

from alerts.models import OutboxMessage
from alerts.outbox import Mailer, plan
from alerts.send import LEASE, _claim
from monitor.db import open_database, session_scope

__all__ = ["smtp_server"]  # the fixture, imported for pytest

ROOT = Path(__file__).resolve().parent.parent
SENDERS = 4

SENDER = """
import os, sys, time
from datetime import datetime
from alerts.outbox import Mailer
import alerts.send
from alerts.send import deliver, transport_for
from monitor.db import open_database
alerts.send.CLAIM_BATCH = 10  # many small claims: many chances for two senders to collide
mailer = Mailer.from_environment()
engine = open_database({url!r})
open({ready!r}, "w").close()
while not os.path.exists({go!r}):  # everything imported and connected: wait for the others
    time.sleep(0.005)
summary = deliver(engine, transport_for(mailer.settings), datetime.fromisoformat({now!r}), mailer.sender)
print(summary.sent)
"""


@pytest.fixture
def server(smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> SmtpServer:
    smtp_env(monkeypatch, smtp_server, tmp_path)
    return smtp_server


def test_parallel_senders_send_each_message_exactly_once(server: SmtpServer, tmp_path: Path) -> None:
    url = make_db(tmp_path)
    emails = [f"person{i:03d}@acme.example.nl" for i in range(160)]
    world(url, {"acme": emails}, [notice("1", "Cryostat")])
    assert plan(open_database(url), MONDAY, Mailer.from_environment()).written == len(emails)

    go = tmp_path / "go"
    children = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                SENDER.format(url=url, go=str(go), ready=str(tmp_path / f"ready-{i}"), now=MONDAY.isoformat()),
            ],
            cwd=ROOT,
            env=dict(os.environ),
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(SENDERS)
    ]
    deadline = time.monotonic() + 60
    while len(list(tmp_path.glob("ready-*"))) < SENDERS and time.monotonic() < deadline:
        time.sleep(0.02)  # every child imported and connected: start them together
    go.touch()
    shares = []
    for child in children:
        out, _ = child.communicate(timeout=120)
        assert child.returncode == 0, out
        shares.append(int(out.strip().splitlines()[-1]))

    counts = Counter(r.recipients[0] for r in server.handler.received)
    assert set(counts) == set(emails)
    assert [email for email, n in counts.items() if n > 1] == []  # nothing sent twice
    assert sum(shares) == len(emails)
    assert sum(1 for share in shares if share) >= 2, f"the senders did not share the work: {shares}"
    with session_scope(open_database(url)) as session:
        assert set(session.scalars(select(OutboxMessage.status))) == {"sent"}


@pytest.mark.skipif(not on_postgres(), reason="row locks: PostgreSQL only (ILO_MONITOR_TEST_POSTGRES)")
def test_a_claim_skips_rows_locked_by_another_sender_instead_of_waiting(server: SmtpServer, tmp_path: Path) -> None:
    url = make_db(tmp_path)
    world(url, {"acme": [f"p{i}@acme.example.nl" for i in range(10)]}, [notice("1", "Cryostat")])
    engine = open_database(url)
    plan(engine, MONDAY, Mailer.from_environment())
    with session_scope(engine) as session:
        ids = list(session.scalars(select(OutboxMessage.id).order_by(OutboxMessage.id)))
    with engine.connect() as other:
        # Another sender in the middle of its claim: the first four rows are locked, not yet leased.
        other.execute(text("SET lock_timeout = '5s'"))
        other.execute(select(OutboxMessage.id).where(OutboxMessage.id.in_(ids[:4])).with_for_update()).all()
        started = time.monotonic()
        with session_scope(engine) as session:
            session.execute(text("SET lock_timeout = '5s'"))  # a blocking claim would fail, not hang
            claimed = _claim(session, MONDAY, None, None, 100)
        assert time.monotonic() - started < 2
        assert claimed == ids[4:]
        other.rollback()
    with session_scope(engine) as session:
        leases = {
            row_id: lease for row_id, lease in session.execute(select(OutboxMessage.id, OutboxMessage.lease_until))
        }
    assert [leases[i] for i in ids[:4]] == [None] * 4
    assert {leases[i] for i in ids[4:]} == {MONDAY + LEASE}
