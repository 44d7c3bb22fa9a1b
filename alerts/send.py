"""Delivering the outbox: claim rows, send them over SMTP (or to `.eml` files), record the outcome.

The loop, per run:

1. *claim* a batch of due `pending` rows by setting a lease (`lease_until`), so two senders
   running at once never take the same row; a killed sender's leases run out after `LEASE` and
   its rows are taken over by the next run. On PostgreSQL the batch is read with
   `SELECT ... FOR UPDATE SKIP LOCKED` and leased in the same transaction: a sender skips the
   rows another is claiming at that moment instead of waiting for its commit, so several
   senders claim disjoint batches in parallel. SQLite has no row locks: there each row is taken
   with a conditional UPDATE (only one sender can move a lease from free to its own);
2. check the recipient once more (unsubscribed or bounced since the row was written: the row
   ends `suppressed`, nothing is sent);
3. send the stored bytes (same Message-ID on every attempt), several messages per connection
   (`ILO_MONITOR_SMTP_BATCH`), at most `ILO_MONITOR_SMTP_RATE` per second;
4. record the outcome and commit *at once*: 250 → `sent`; 4xx or a dropped connection →
   retried with backoff (5 min, 15 min, 1 h, 2 h, 4 h...) until a day after the row was written,
   then `expired`; 5xx → `bounced`, and the address is suppressed for every later send.

Exactly once, and the one exception: the window between the server's 250 for a message and
the commit that marks it sent is a few milliseconds. A sender killed inside it sends that one
message again when restarted (same Message-ID, so clients that deduplicate show it once); a
sender killed anywhere else re-sends nothing. `tests/test_alerts_send.py` kills a sender inside
that window on purpose and asserts exactly this.

Without `ILO_MONITOR_SMTP_HOST` the `FileTransport` writes each message as `<outbox>/<id>.eml`
(named by its Message-ID, so a retry overwrites rather than duplicates).
"""

from __future__ import annotations

import re
import smtplib
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final, Protocol

from sqlalchemy import Engine, and_, or_, select, update
from sqlalchemy.orm import Session

from alerts.models import STATUSES, OutboxMessage, SuppressedAddress
from alerts.settings import MailSettings
from monitor.db import session_factory
from monitor.matching.models import Recipient

LEASE: Final = timedelta(minutes=10)
RETRY_FOR: Final = timedelta(days=1)
BACKOFF: Final = (
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(hours=1),
    timedelta(hours=2),
    timedelta(hours=4),
)
CLAIM_BATCH: Final = 100


class DeliveryError(Exception):
    """One message could not be delivered; `permanent` for 5xx, `connection` when the link failed."""

    def __init__(self, message: str, *, code: int | None = None, permanent: bool = False, connection: bool = False):
        super().__init__(message)
        self.code = code
        self.permanent = permanent
        self.connection = connection


class Transport(Protocol):
    def send(self, sender: str, to: str, data: bytes, message_id: str) -> None: ...

    def close(self) -> None: ...


class FileTransport:
    """The embedded default: each message becomes an `.eml` file in the outbox folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, sender: str, to: str, data: bytes, message_id: str) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9._-]", "_", message_id.strip("<>"))
        target = self.folder / f"{name}.eml"
        partial = target.with_suffix(".eml.part")
        partial.write_bytes(data)
        partial.replace(target)  # whole files only, even if killed while writing

    def close(self) -> None:
        pass


def _code(error: smtplib.SMTPResponseException) -> int:
    return int(error.smtp_code)


class SmtpTransport:
    """smtplib with one connection for up to `batch` messages; errors become `DeliveryError`."""

    def __init__(self, settings: MailSettings, timeout: float = 30.0) -> None:
        self.settings = settings
        self.timeout = timeout
        self._connection: smtplib.SMTP | None = None
        self._sent_on_connection = 0

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        assert s.smtp_host is not None
        try:
            if s.smtp_security == "tls":
                connection: smtplib.SMTP = smtplib.SMTP_SSL(
                    s.smtp_host, s.smtp_port, timeout=self.timeout, context=ssl.create_default_context()
                )
            else:
                connection = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=self.timeout)
                if s.smtp_security == "starttls":
                    connection.starttls(context=ssl.create_default_context())
            if s.smtp_user:
                connection.login(s.smtp_user, s.smtp_password or "")
        except smtplib.SMTPAuthenticationError as error:
            raise DeliveryError(f"SMTP login refused: {error}", code=_code(error), connection=True) from error
        except (OSError, smtplib.SMTPException) as error:
            raise DeliveryError(f"cannot connect to {s.smtp_host}:{s.smtp_port}: {error}", connection=True) from error
        return connection

    def send(self, sender: str, to: str, data: bytes, message_id: str) -> None:
        if self._connection is not None and self._sent_on_connection >= self.settings.batch:
            self.close()
        if self._connection is None:
            self._connection = self._connect()
            self._sent_on_connection = 0
        try:
            self._connection.sendmail(sender, [to], data)
            self._sent_on_connection += 1
        except smtplib.SMTPRecipientsRefused as error:
            code, text = next(iter(error.recipients.values()))
            raise DeliveryError(f"{code} {_text(text)}", code=code, permanent=500 <= code < 600) from error
        except smtplib.SMTPSenderRefused as error:
            # Our sender address refused: no recipient's fault, so never a bounce.
            raise DeliveryError(
                f"sender refused: {_code(error)} {_text(error.smtp_error)}", code=_code(error), connection=True
            ) from error
        except smtplib.SMTPResponseException as error:
            code = _code(error)
            if code < 400 or code >= 600:  # e.g. -1 from a garbled reply: the link is suspect
                self._drop()
            raise DeliveryError(f"{code} {_text(error.smtp_error)}", code=code, permanent=500 <= code < 600) from error
        except (smtplib.SMTPServerDisconnected, OSError) as error:  # timeouts are OSErrors too
            self._drop()
            raise DeliveryError(f"connection lost: {error or type(error).__name__}") from error

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()
            except OSError:
                pass

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            connection.quit()
        except (OSError, smtplib.SMTPException):
            connection.close()


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def transport_for(settings: MailSettings) -> Transport:
    return FileTransport(settings.outbox_dir) if settings.uses_files else SmtpTransport(settings)


@dataclass
class RateLimit:
    """At most `rate` messages per second (0: no limit); clock and sleep injectable for tests."""

    rate: float
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    _next: float = 0.0

    def wait(self) -> None:
        if self.rate <= 0:
            return
        moment = self.clock()
        if moment < self._next:
            self.sleep(self._next - moment)
            moment = self._next
        self._next = moment + 1.0 / self.rate


@dataclass
class DeliverySummary:
    sent: int = 0
    retrying: int = 0
    bounced: int = 0
    expired: int = 0
    suppressed: int = 0
    problems: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"{self.sent} sent, {self.retrying} to retry, {self.bounced} bounced, {self.expired} expired, "
            f"{self.suppressed} suppressed"
        )


def backoff(attempts: int) -> timedelta:
    return BACKOFF[min(max(attempts, 1), len(BACKOFF)) - 1]


def _claim(session: Session, now: datetime, company_id: str | None, kind: str | None, limit: int) -> list[int]:
    query = (
        select(OutboxMessage.id)
        .where(
            OutboxMessage.status == "pending",
            or_(OutboxMessage.next_attempt_at.is_(None), OutboxMessage.next_attempt_at <= now),
            or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until <= now),
        )
        .order_by(OutboxMessage.id)
        .limit(limit)
    )
    if company_id is not None:
        query = query.where(OutboxMessage.company_id == company_id)
    if kind is not None:
        query = query.where(OutboxMessage.kind == kind)
    if session.get_bind().dialect.name == "postgresql":
        # The rows stay locked until the commit below; a concurrent claim skips them (and
        # takes the next free ones) rather than blocking on them and then finding them leased.
        locked = list(session.scalars(query.with_for_update(skip_locked=True)).all())
        if locked:
            session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(locked)).values(lease_until=now + LEASE))
        session.commit()
        return locked
    claimed: list[int] = []
    # A batch read just as another sender leased it comes back empty; read again (the commit
    # ends the old snapshot) rather than take "nothing claimed" for "nothing due" and stop.
    for _attempt in range(10):
        candidates = session.scalars(query).all()
        for row_id in candidates:
            # Conditional UPDATE: only one sender can move a row's lease from free to its own.
            result = session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.id == row_id,
                    OutboxMessage.status == "pending",
                    or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until <= now),
                )
                .values(lease_until=now + LEASE)
            )
            if result.rowcount == 1:  # type: ignore[attr-defined]
                claimed.append(row_id)
        session.commit()
        if claimed or not candidates:
            break
    return claimed


def _stopped(session: Session, row: OutboxMessage) -> str | None:
    """Why `row`'s recipient must get nothing now (unsubscribed or bounced since it was written)."""
    if row.recipient_id is not None:
        recipient = session.get(Recipient, row.recipient_id)
        if recipient is not None and recipient.unsubscribed_at is not None:
            return "recipient unsubscribed before sending"
        if recipient is not None and recipient.bounced_at is not None:
            return "recipient bounced before sending"
    elif row.kind == "company":
        return "recipient deleted before sending"
    mark = session.get(SuppressedAddress, row.email.lower())
    if mark is not None:
        return f"address {mark.reason} before sending"
    return None


def _bounce(session: Session, row: OutboxMessage, now: datetime) -> None:
    if row.recipient_id is not None:
        recipient = session.get(Recipient, row.recipient_id)
        if recipient is not None and recipient.bounced_at is None:
            recipient.bounced_at = now
    elif session.get(SuppressedAddress, row.email.lower()) is None:
        session.add(SuppressedAddress(email=row.email.lower(), reason="bounced", created_at=now))


def deliver(
    engine: Engine,
    transport: Transport,
    now: datetime,
    sender: str,
    *,
    rate: RateLimit | None = None,
    company_id: str | None = None,
    kind: str | None = None,
    limit: int | None = None,
) -> DeliverySummary:
    """Send every due pending row (of `company_id` or `kind` only, when given); see the module docstring."""
    summary = DeliverySummary()
    rate = rate or RateLimit(0)
    factory = session_factory(engine)
    done = 0
    try:
        while limit is None or done < limit:
            with factory() as session:
                claimed = _claim(
                    session, now, company_id, kind, CLAIM_BATCH if limit is None else min(CLAIM_BATCH, limit - done)
                )
            if not claimed:
                break
            for index, row_id in enumerate(claimed):
                with factory() as session:
                    row = session.get_one(OutboxMessage, row_id)
                    if not _send_one(session, row, transport, now, sender, rate, summary):
                        # The server is unreachable: release the rest of the batch for the next run.
                        session.execute(
                            update(OutboxMessage)
                            .where(OutboxMessage.id.in_(claimed[index + 1 :]))
                            .values(lease_until=None)
                        )
                        session.commit()
                        return summary
                done += 1
    finally:
        transport.close()
    return summary


def _send_one(
    session: Session,
    row: OutboxMessage,
    transport: Transport,
    now: datetime,
    sender: str,
    rate: RateLimit,
    summary: DeliverySummary,
) -> bool:
    """Send one claimed row and commit its outcome; False when the connection itself failed."""
    reason = _stopped(session, row)
    if reason is not None:
        row.status, row.last_error, row.lease_until = "suppressed", reason, None
        summary.suppressed += 1
        session.commit()
        return True
    rate.wait()
    row.attempts += 1
    try:
        transport.send(sender, row.email, row.message.encode("utf-8"), row.message_id)
    except DeliveryError as error:
        row.last_error = str(error)
        row.lease_until = None
        if error.permanent:
            row.status = "bounced"
            _bounce(session, row, now)
            summary.bounced += 1
            summary.problems.append(row.line())
        elif now >= row.created_at + RETRY_FOR:
            row.status = "expired"
            summary.expired += 1
            summary.problems.append(row.line())
        else:
            row.next_attempt_at = min(now + backoff(row.attempts), row.created_at + RETRY_FOR)
            summary.retrying += 1
        session.commit()
        return not error.connection
    # Accepted by the server: commit now, the in-flight window is this line (module docstring).
    row.status, row.sent_at, row.lease_until, row.last_error = "sent", now, None, None
    session.commit()
    summary.sent += 1
    return True


def outbox_report(session: Session, since: datetime | None = None) -> list[str]:
    """Counts by status, then every row that did not reach its reader (since `since`), one line each."""
    from sqlalchemy import func

    counts = dict(session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all())
    lines = ["outbox: " + ", ".join(f"{counts.get(status, 0)} {status}" for status in STATUSES)]
    query = select(OutboxMessage).where(
        or_(
            OutboxMessage.status.in_(("failed", "bounced", "expired")),
            and_(OutboxMessage.status == "pending", OutboxMessage.last_error.is_not(None)),  # being retried
        )
    )
    if since is not None:
        query = query.where(OutboxMessage.created_at >= since)
    for row in session.scalars(query.order_by(OutboxMessage.id)):
        lines.append("  " + row.line())
    return lines
