"""ORM tables of the web pages: ILO accounts, notes, digest approvals and company decisions.

On the project's one `Base` with `UTCDateTime`, migrated by `0007_web`.

- `IloUser`: an ILO who logs in (`ilo-monitor users add`); only a scrypt hash of the password.
- `NoticeNote`: an ILO's note on a notice, shown on the review and notice pages (all kept).
- `DigestApproval`: one row per ILO week once an ILO approved its digest; the digest is sent then.

An ILO's decision to add a company to a notice or remove it is `monitor.matching.models.
CompanyDecision`: matching applies it again every time it recomputes matches.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from monitor.db import UTCDateTime
from monitor.models import Base


class IloUser(Base):
    """An ILO account of the web pages."""

    __tablename__ = "ilo_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(300))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class NoticeNote(Base):
    """A note of an ILO on a notice (for the other ILOs; never mailed to companies)."""

    __tablename__ = "notice_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"), index=True)
    author: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DigestApproval(Base):
    """The ILO digest of `week` ("2026-W48") was approved by `approved_by`, and what sending did."""

    __tablename__ = "digest_approvals"

    week: Mapped[str] = mapped_column(String(10), primary_key=True)
    approved_by: Mapped[str] = mapped_column(String(200))
    approved_at: Mapped[datetime] = mapped_column(UTCDateTime)
    result: Mapped[str | None] = mapped_column(Text)
