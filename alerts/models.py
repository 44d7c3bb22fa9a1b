"""ORM tables of the alerts: the outbox, what was alerted to whom, and suppressed addresses.

- `OutboxMessage`: one row per recipient and digest period (unique), written with the fully
  rendered message *before* anything is sent, so that a retry sends the very same bytes under
  the same Message-ID, and running a send twice finds the period already taken.
- `AlertedItem`: which notice went to which recipient in which section, with the notice's
  material fields as they were sent; the next digest compares against it, so New, Changed,
  Closing soon, Pre-tender and Awards never repeat, and Changed shows what the reader last saw
  → what holds now.
- `SuppressedAddress`: addresses that unsubscribed or bounced and are not company recipients
  (the ILO list comes from a setting, so its stop marks live here).

All on the project's one `Base` with `UTCDateTime`; nothing SQLite-specific.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from monitor.db import UTCDateTime
from monitor.models import Base

KINDS: Final = ("company", "ilo")
# pending → sent | bounced (5xx) | expired (4xx for longer than a day) | failed (could not be
# built: rendering error, malformed address) | suppressed (unsubscribed or bounced after the
# row was written and before it was sent). Every state but `pending` is final.
STATUSES: Final = ("pending", "sent", "bounced", "expired", "failed", "suppressed")
FINAL_STATUSES: Final = frozenset(STATUSES) - {"pending"}
SECTIONS: Final = ("new", "changed", "closing", "pretender", "award")


class OutboxMessage(Base):
    """One digest for one recipient and period, rendered, and what became of its delivery."""

    __tablename__ = "alert_outbox"
    __table_args__ = (
        UniqueConstraint("recipient", "period", name="uq_alert_outbox_recipient_period"),
        Index("ix_alert_outbox_status_next", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    # "recipient:<id>" for a company recipient, "ilo:<email>" for the ILO list: the uniqueness
    # key, stable even when a recipient's address is edited.
    recipient: Mapped[str] = mapped_column(String(340))
    # "profile-<id>/weekly/2026-W48", "profile-<id>/now/<UTC minute>", "ilo/2026-W48" (alerts.schedule).
    period: Mapped[str] = mapped_column(String(100))
    recipient_id: Mapped[int | None] = mapped_column(ForeignKey("recipients.id", ondelete="SET NULL"), index=True)
    company_id: Mapped[str | None] = mapped_column(ForeignKey("companies.id", ondelete="SET NULL"), index=True)
    email: Mapped[str] = mapped_column(String(320))
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    subject: Mapped[str] = mapped_column(Text)
    # The whole RFC 5322 message as sent (UTF-8 text of the MIME bytes); empty when it failed.
    message: Mapped[str] = mapped_column(Text, default="")
    item_count: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A sender holds a row until then: a second sender running at the same time skips it, and
    # a killed sender's rows are taken over once it has passed.
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    items: Mapped[list[AlertedItem]] = relationship(back_populates="outbox", cascade="all, delete-orphan")

    def line(self) -> str:
        """One line for the terminal."""
        error = f" ({self.last_error})" if self.last_error else ""
        return f"#{self.id} {self.kind} {self.email} {self.period}: {self.status}, {self.attempts} attempt(s){error}"


class AlertedItem(Base):
    """One notice in one digest for one recipient, with its material fields as sent."""

    __tablename__ = "alerted_items"
    __table_args__ = (
        Index("ix_alerted_items_recipient_notice", "recipient", "notice_id"),
        Index("ix_alerted_items_notice", "notice_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("alert_outbox.id", ondelete="CASCADE"), index=True)
    recipient: Mapped[str] = mapped_column(String(340))
    company_id: Mapped[str | None] = mapped_column(String(64))
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"))
    section: Mapped[str] = mapped_column(String(12))
    # The notice's newest version number when it was alerted, and its material fields then
    # (alerts.digests.MATERIAL_FIELDS, JSON-ready): Changed compares against this.
    notice_version: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    outbox: Mapped[OutboxMessage] = relationship(back_populates="items")


class SuppressedAddress(Base):
    """An address that must get nothing more (unsubscribed or hard-bounced), for the ILO list."""

    __tablename__ = "suppressed_addresses"

    email: Mapped[str] = mapped_column(String(320), primary_key=True)
    reason: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
