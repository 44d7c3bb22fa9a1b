"""ORM tables of companies, their recipients and profiles, profile history, matches and feedback.

All on the project's one declarative `Base` (so Alembic sees them), with `UTCDateTime` for every
time and JSON columns for lists, which SQLite and PostgreSQL both support. A `Company` keeps the
id it was imported with (the ILO's own key), so that re-importing a file updates it in place.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from monitor.db import UTCDateTime
from monitor.models import Base, NoticeRow

FREQUENCIES: Final = ("instant", "daily", "weekly")
# The list-valued fields of a profile, in the order they are shown and compared.
PROFILE_LIST_FIELDS: Final = ("areas", "cpv_prefixes", "keywords", "organisations", "notice_types", "languages")
PROFILE_FIELDS: Final = (
    *PROFILE_LIST_FIELDS,
    "min_value",
    "max_value",
    "frequency",
    "digest_weekday",
    "digest_hour",
    "active",
)
WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # ISO weekday = index + 1

profile_recipients = Table(
    "profile_recipients",
    Base.metadata,
    Column("profile_id", ForeignKey("profiles.id", ondelete="CASCADE"), primary_key=True),
    Column("recipient_id", ForeignKey("recipients.id", ondelete="CASCADE"), primary_key=True),
)


class Company(Base):
    """A supplier of the ILO network, with the people who receive its alerts and its profiles."""

    __tablename__ = "companies"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    country: Mapped[str | None] = mapped_column(String(2))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    recipients: Mapped[list[Recipient]] = relationship(
        back_populates="company", order_by="Recipient.id", cascade="all, delete-orphan"
    )
    profiles: Mapped[list[Profile]] = relationship(
        back_populates="company", order_by="Profile.id", cascade="all, delete-orphan"
    )


class Recipient(Base):
    """A person at a company who receives alerts; the alerts issue sets the two stop dates."""

    __tablename__ = "recipients"
    __table_args__ = (UniqueConstraint("company_id", "email", name="uq_recipients_company_email"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    company_id: Mapped[str] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    name: Mapped[str | None] = mapped_column(String(300))
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[str | None] = mapped_column(String(100))
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    bounced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    company: Mapped[Company] = relationship(back_populates="recipients")


class Profile(Base):
    """What a company can supply: areas, CPV prefixes, keywords, and the filters that bound them.

    Empty `organisations`, `notice_types` or `languages` mean "all"; a `None` value bound means
    "no bound", and a notice without a value passes both bounds. A profile without areas, CPV
    prefixes and keywords matches every notice that passes its filters.
    """

    __tablename__ = "profiles"
    __table_args__ = (UniqueConstraint("company_id", "name", name="uq_profiles_company_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    company_id: Mapped[str] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="default")
    areas: Mapped[list[Any]] = mapped_column(JSON, default=list)
    cpv_prefixes: Mapped[list[Any]] = mapped_column(JSON, default=list)
    keywords: Mapped[list[Any]] = mapped_column(JSON, default=list)
    organisations: Mapped[list[Any]] = mapped_column(JSON, default=list)
    notice_types: Mapped[list[Any]] = mapped_column(JSON, default=list)
    languages: Mapped[list[Any]] = mapped_column(JSON, default=list)
    min_value: Mapped[float | None] = mapped_column(Float)
    max_value: Mapped[float | None] = mapped_column(Float)
    frequency: Mapped[str] = mapped_column(String(10), default="weekly")
    # When a daily or weekly digest goes out, in Europe/Amsterdam time (alerts.schedule):
    # ISO weekday 1 = Monday (weekly only) and the hour of the day.
    digest_weekday: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    digest_hour: Mapped[int] = mapped_column(Integer, default=7, server_default="7")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    company: Mapped[Company] = relationship(back_populates="profiles")
    recipients: Mapped[list[Recipient]] = relationship(secondary=profile_recipients, order_by="Recipient.id")
    versions: Mapped[list[ProfileVersion]] = relationship(
        back_populates="profile", order_by="ProfileVersion.version", cascade="all, delete-orphan"
    )

    @property
    def label(self) -> str:
        """ "company/profile", as errors and reasons name a profile."""
        return f"{self.company_id}/{self.name}"

    def settings(self) -> dict[str, Any]:
        """The profile's matching settings as plain values (compared for history, shown by `show`)."""
        return {name: getattr(self, name) for name in PROFILE_FIELDS}


class ProfileVersion(Base):
    """One edit of a profile: each changed field as [old, new], when and by whom (kept for good)."""

    __tablename__ = "profile_versions"
    __table_args__ = (UniqueConstraint("profile_id", "version", name="uq_profile_versions_profile_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    profile_id: Mapped[int] = mapped_column(ForeignKey("profiles.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    by: Mapped[str | None] = mapped_column(String(200))
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    profile: Mapped[Profile] = relationship(back_populates="versions")


class Match(Base):
    """A notice that a profile matches now, with its score and the reasons, as a person reads them."""

    __tablename__ = "matches"
    __table_args__ = (
        UniqueConstraint("profile_id", "notice_id", name="uq_matches_profile_notice"),
        Index("ix_matches_notice_id", "notice_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    profile_id: Mapped[int] = mapped_column(ForeignKey("profiles.id", ondelete="CASCADE"))
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"))
    score: Mapped[float] = mapped_column(Float)
    reasons: Mapped[list[Any]] = mapped_column(JSON, default=list)
    first_matched_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    profile: Mapped[Profile] = relationship()
    notice: Mapped[NoticeRow] = relationship()


class Feedback(Base):
    """A judgement of a company or an ILO on a notice for a company; every one is kept for tuning.

    The latest judgement counts: a notice whose latest feedback is "not relevant" is never
    alerted to that company again (`service.is_suppressed`).
    """

    __tablename__ = "feedback"
    __table_args__ = (Index("ix_feedback_company_notice", "company_id", "notice_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    company_id: Mapped[str] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"))
    relevant: Mapped[bool] = mapped_column(Boolean)
    by: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


DECISIONS: Final = ("added", "removed")


class CompanyDecision(Base):
    """An ILO's decision that `company_id` does (added) or does not (removed) belong to a notice.

    One row per (company, notice): the latest decision replaces the earlier one. "removed" is also
    recorded as "not relevant" feedback (kept for tuning, and what stops company alerts).
    """

    __tablename__ = "company_decisions"
    __table_args__ = (UniqueConstraint("company_id", "notice_id", name="uq_company_decisions_company_notice"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    company_id: Mapped[str] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"), index=True)
    decision: Mapped[str] = mapped_column(String(10))
    by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
