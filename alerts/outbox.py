"""Writing digests into the outbox: assemble, render, and store one row per recipient and period.

A row is written *before* anything is sent, with the rendered message, in the same transaction
as the `AlertedItem`s it carries; each recipient is its own transaction, so a malformed address
or a template that fails for one recipient is recorded on that recipient's row (`failed`, with
the reason) and never stops the others. The unique (recipient, period) key makes a second run
(or a second process) find the period already taken; empty digests write nothing.

Who gets a digest: every active profile whose schedule is due (`alerts.schedule`), for each of
its recipients that has not unsubscribed or bounced (checked here, so a stop takes effect for
the next digest), plus the ILO list on Monday mornings for the week before.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parseaddr
from typing import Any, Final

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from alerts.digests import SECTION_ORDER, SECTION_TITLES, CompanyDigest, assemble, record_items
from alerts.ilo import IloDigest, assemble_ilo
from alerts.models import OutboxMessage, SuppressedAddress
from alerts.render import RenderError, build_message, message_id, render_pair
from alerts.schedule import Week, digest_period, ilo_period
from alerts.settings import MailSettings, mail_settings
from alerts.tokens import Signer, load_secret
from monitor.db import session_factory
from monitor.matching.models import Company, Profile, Recipient

# Plain ASCII addresses only: one local part, one domain with a dot; SMTPUTF8 is not assumed.
ADDRESS: Final = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


def valid_address(email: str) -> bool:
    return bool(ADDRESS.match(email or "")) and ".." not in email and len(email) <= 254


@dataclass(frozen=True)
class Mailer:
    """What composing and sending need besides the database: settings and the link signer."""

    settings: MailSettings
    signer: Signer

    @classmethod
    def from_environment(cls, settings: MailSettings | None = None) -> Mailer:
        settings = settings or mail_settings()
        # A generated secret only for the file outbox of the embedded default (see alerts.tokens).
        return cls(settings, Signer(load_secret(allow_generated=settings.uses_files)))

    @property
    def sender(self) -> str:
        """The envelope sender: the bare address of `ILO_MONITOR_MAIL_FROM`."""
        return parseaddr(self.settings.mail_from)[1] or self.settings.mail_from

    def unsubscribe(self, *, recipient_id: int | None = None, email: str | None = None) -> tuple[str, str]:
        """(token, https URL) of the one-click unsubscribe link."""
        token = self.signer.unsubscribe_token(recipient_id=recipient_id, email=email)
        return token, f"{self.settings.base_url}/unsubscribe/{token}"


@dataclass
class PlanSummary:
    written: int = 0
    empty: int = 0
    taken: int = 0  # period already in the outbox
    failed: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"{self.written} digest(s) written, {self.empty} empty, {self.taken} already done, "
            f"{len(self.failed)} failed"
        )

    def __iadd__(self, other: PlanSummary) -> PlanSummary:
        self.written += other.written
        self.empty += other.empty
        self.taken += other.taken
        self.failed += other.failed
        return self


def company_context(digest: CompanyDigest, mailer: Mailer, unsubscribe_url: str) -> dict[str, Any]:
    return {
        "digest": digest,
        "subject": digest.subject(),
        "sections": [(SECTION_TITLES[name], digest.sections[name]) for name in SECTION_ORDER if digest.sections[name]],
        "unsubscribe_url": unsubscribe_url,
        "contact": mailer.settings.unsubscribe_mailto,
    }


def render_company(digest: CompanyDigest, mailer: Mailer, now: datetime) -> tuple[str, str, str]:
    """(text, HTML, whole message) of a company digest; `RenderError` when a template fails."""
    token, url = mailer.unsubscribe(recipient_id=digest.recipient_id)
    text, html = render_pair("company_digest", company_context(digest, mailer, url))
    message = build_message(
        subject=digest.subject(),
        text=text,
        html=html,
        mail_from=mailer.settings.mail_from,
        to=digest.email,
        message_id=message_id(digest.recipient_key, digest.period, mailer.settings.mail_from),
        now=now,
        unsubscribe_url=url,
        unsubscribe_mailto=mailer.settings.unsubscribe_mailto,
        unsubscribe_token=token,
    )
    return text, html, message.as_string()


def render_ilo(digest: IloDigest, email: str, mailer: Mailer, now: datetime) -> tuple[str, str, str]:
    token, url = mailer.unsubscribe(email=email)
    context = {
        "digest": digest,
        "subject": digest.subject(),
        "email": email,
        "unsubscribe_url": url,
        "contact": mailer.settings.unsubscribe_mailto,
    }
    text, html = render_pair("ilo_digest", context)
    message = build_message(
        subject=digest.subject(),
        text=text,
        html=html,
        mail_from=mailer.settings.mail_from,
        to=email,
        message_id=message_id(f"ilo:{email}", ilo_period(digest.week), mailer.settings.mail_from),
        now=now,
        unsubscribe_url=url,
        unsubscribe_mailto=mailer.settings.unsubscribe_mailto,
        unsubscribe_token=token,
    )
    return text, html, message.as_string()


Renderer = Callable[[CompanyDigest, Mailer, datetime], tuple[str, str, str]]


def compose_company(
    session: Session,
    profile: Profile,
    recipient: Recipient,
    period: str,
    now: datetime,
    mailer: Mailer,
    renderer: Renderer = render_company,
) -> OutboxMessage | None:
    """Write the outbox row of one recipient's digest (None when the period is taken or empty)."""
    key = f"recipient:{recipient.id}"
    taken = session.scalar(
        select(OutboxMessage.id).where(OutboxMessage.recipient == key, OutboxMessage.period == period)
    )
    if taken is not None:
        return None
    digest = assemble(session, profile, recipient, period, now, mailer.signer, mailer.settings.base_url)
    if digest.empty:
        return None
    row = OutboxMessage(
        kind="company",
        recipient=key,
        period=period,
        recipient_id=recipient.id,
        company_id=profile.company_id,
        email=recipient.email,
        message_id=message_id(key, period, mailer.settings.mail_from),
        subject=digest.subject(),
        item_count=digest.count,
        status="pending",
        attempts=0,
        created_at=now,
        next_attempt_at=now,
    )
    if not valid_address(recipient.email):
        row.status, row.last_error = "failed", f"malformed address {recipient.email!r}"
    else:
        try:
            row.message = renderer(digest, mailer, now)[2]
        except RenderError as error:
            row.status, row.last_error = "failed", f"rendering failed: {error}"
    session.add(row)
    session.flush()
    if row.status == "pending":
        # Only what is really going out counts as alerted; a failed row leaves the items for
        # the next digest.
        record_items(session, row.id, digest, now)
    return row


def _active(recipient: Recipient) -> bool:
    return recipient.unsubscribed_at is None and recipient.bounced_at is None


def plan(
    engine: Engine,
    now: datetime,
    mailer: Mailer,
    *,
    company_id: str | None = None,
    force: bool = False,
    renderer: Renderer = render_company,
) -> PlanSummary:
    """Write every due company digest (or, with `force`, every pending one of `company_id`) to the outbox.

    The ILO weekly digest is not planned here: an ILO approves it on the review page, which sends
    it (`plan_ilo`), and `digest ilo --send` sends it by hand.
    """
    summary = PlanSummary()
    factory = session_factory(engine)
    with factory() as session:
        query = (
            select(Profile)
            .where(Profile.active.is_(True))
            .options(selectinload(Profile.recipients), selectinload(Profile.company))
            .order_by(Profile.id)
        )
        if company_id is not None:
            query = query.where(Profile.company_id == company_id)
        work: list[tuple[int, int, str]] = []
        for profile in session.scalars(query):
            period = digest_period(
                profile.id,
                profile.frequency,
                now,
                weekday=profile.digest_weekday,
                hour=profile.digest_hour,
                force=force,
            )
            if period is None:
                continue
            work.extend((profile.id, r.id, period) for r in profile.recipients if _active(r))
    for profile_id, recipient_id, period in work:
        # One transaction per recipient: what one recipient's failure rolls back is only its own.
        with factory() as session:
            try:
                profile = session.get_one(Profile, profile_id)
                recipient = session.get_one(Recipient, recipient_id)
                row = compose_company(session, profile, recipient, period, now, mailer, renderer)
                session.commit()
            except IntegrityError:
                session.rollback()  # another sender wrote this period first
                summary.taken += 1
                continue
            except Exception as error:  # a bug for one digest must not cost the others theirs
                session.rollback()
                summary.failed.append(f"recipient {recipient_id} {period}: {type(error).__name__}: {error}")
                continue
            if row is None:
                taken = session.scalar(
                    select(OutboxMessage.id).where(
                        OutboxMessage.recipient == f"recipient:{recipient_id}", OutboxMessage.period == period
                    )
                )
                if taken is not None:
                    summary.taken += 1
                else:
                    summary.empty += 1
            elif row.status == "failed":
                summary.failed.append(row.line())
            else:
                summary.written += 1
    return summary


def plan_ilo(
    engine: Engine, week: Week, now: datetime, mailer: Mailer, summary: PlanSummary | None = None
) -> PlanSummary:
    """Write the ILO digest of `week` for every address of the ILO list (once per week)."""
    summary = summary or PlanSummary()
    factory = session_factory(engine)
    with factory() as session:
        digest = assemble_ilo(session, week, now)
        suppressed = set(session.scalars(select(SuppressedAddress.email)))
    period = ilo_period(week)
    for email in mailer.settings.ilo_emails:
        if email.lower() in suppressed:
            continue
        key = f"ilo:{email.lower()}"
        with factory() as session:
            if session.scalar(
                select(OutboxMessage.id).where(OutboxMessage.recipient == key, OutboxMessage.period == period)
            ):
                summary.taken += 1
                continue
            row = OutboxMessage(
                kind="ilo",
                recipient=key,
                period=period,
                email=email,
                message_id=message_id(f"ilo:{email}", period, mailer.settings.mail_from),
                subject=digest.subject(),
                item_count=digest.count,
                status="pending",
                attempts=0,
                created_at=now,
                next_attempt_at=now,
            )
            if not valid_address(email):
                row.status, row.last_error = "failed", f"malformed address {email!r}"
            else:
                try:
                    row.message = render_ilo(digest, email, mailer, now)[2]
                except RenderError as error:
                    row.status, row.last_error = "failed", f"rendering failed: {error}"
            session.add(row)
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                summary.taken += 1
                continue
            if row.status == "failed":
                summary.failed.append(row.line())
            else:
                summary.written += 1
    return summary


def company_recipients(session: Session, company: Company) -> list[tuple[Profile, Recipient]]:
    """Every (active profile, active recipient) pair of a company, for `digest preview`."""
    return [(p, r) for p in company.profiles if p.active for r in p.recipients if _active(r)]
