"""The ORM models: stored notices and their version history.

One declarative base for the whole project; Alembic migrations in `monitor/migrations` are
generated from it. Datetimes are `UTCDateTime` (aware UTC on every backend); lists and dicts
are JSON columns, which SQLite and PostgreSQL both support.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, Date, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from monitor.contract import EXPORT_KEYS, Notice
from monitor.db import UTCDateTime

# Fields that a source states about a notice; `store` compares them to detect changes and keeps
# what the source last said (`source_record`) apart from the row, which corrigenda may amend.
CONTENT_FIELDS: tuple[str, ...] = (
    *(
        key
        for key in EXPORT_KEYS
        if key not in ("source", "source_id", "technology_areas", "first_seen_at", "last_changed_at")
    ),
    "amends",
    "references",
    "awards",
)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class NoticeRow(Base):
    """A notice as it stands now: what its source said, amended by later corrigenda."""

    __tablename__ = "notices"
    __table_args__ = (
        UniqueConstraint("source", "source_id", name="uq_notices_source_source_id"),
        Index("ix_notices_published_on", "published_on"),
        Index("ix_notices_procedure_key", "procedure_key"),
        Index("ix_notices_organisation", "organisation"),
        Index("ix_notices_amends", "source", "amends"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    source_id: Mapped[str] = mapped_column(String(255))
    procedure_key: Mapped[str | None] = mapped_column(String(400))
    notice_type: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    buyer: Mapped[str | None] = mapped_column(Text)
    buyer_country: Mapped[str | None] = mapped_column(String(2))
    organisation: Mapped[str | None] = mapped_column(String(32))
    published_on: Mapped[date | None] = mapped_column(Date)
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cpv_codes: Mapped[list[Any]] = mapped_column(JSON, default=list)
    estimated_value: Mapped[float | None] = mapped_column(Float)
    currency: Mapped[str | None] = mapped_column(String(3))
    language: Mapped[str | None] = mapped_column(String(2))
    url: Mapped[str | None] = mapped_column(Text)
    documents: Mapped[list[Any]] = mapped_column(JSON, default=list)
    technology_areas: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # An ILO's corrections of the areas (["+vacuum", "-general_other"]): applied on top of every
    # (re)classification, so they win and survive a new model; exported as training data.
    area_corrections: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # The classifier version that produced `technology_areas` (`classify --all` after a change).
    classifier_version: Mapped[str | None] = mapped_column(String(64))
    amends: Mapped[str | None] = mapped_column(String(255))
    references: Mapped[list[Any]] = mapped_column(JSON, default=list)
    awards: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # What the source itself last said (JSON of CONTENT_FIELDS): re-importing the same content
    # is then "unchanged" even after a corrigendum amended the row.
    source_record: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_changed_at: Mapped[datetime] = mapped_column(UTCDateTime)

    versions: Mapped[list[NoticeVersion]] = relationship(
        back_populates="notice", order_by="NoticeVersion.version", cascade="all, delete-orphan"
    )

    def to_notice(self) -> Notice:
        return Notice(
            source=self.source,
            source_id=self.source_id,
            title=self.title,
            notice_type=self.notice_type,
            status=self.status,
            procedure_key=self.procedure_key,
            description=self.description,
            buyer=self.buyer,
            buyer_country=self.buyer_country,
            organisation=self.organisation,
            published_on=self.published_on,
            deadline=self.deadline,
            cpv_codes=list(self.cpv_codes or []),
            estimated_value=self.estimated_value,
            currency=self.currency,
            language=self.language,
            url=self.url,
            documents=list(self.documents or []),
            technology_areas=list(self.technology_areas or []),
            first_seen_at=self.first_seen_at,
            last_changed_at=self.last_changed_at,
            amends=self.amends,
            references=list(self.references or []),
            awards=list(self.awards or []),
        )


class NoticeVersion(Base):
    """One change to a stored notice: which fields changed (old → new), when, and why.

    `kind` is `created` (first sight), `updated` (the source published different content) or
    `amended` (a corrigendum, change or award notice of the same procedure changed it; `cause`
    names that notice as "source/source_id").
    """

    __tablename__ = "notice_versions"
    __table_args__ = (UniqueConstraint("notice_id", "version", name="uq_notice_versions_notice_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(20))
    cause: Mapped[str | None] = mapped_column(String(300))
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    notice: Mapped[NoticeRow] = relationship(back_populates="versions")


class ProcedureAlias(Base):
    """A key a procedure is also known by, mapped to the `procedure_key` its notices are stored under.

    A buyer's reference ("f4e:F4E-OMF-1108") and TED's folder id ("ted:<uuid>") can name one
    procedure; whichever was stored first becomes the key, and every later notice carrying
    either joins it (`monitor.store`).
    """

    __tablename__ = "procedure_aliases"

    alias: Mapped[str] = mapped_column(String(400), primary_key=True)
    procedure_key: Mapped[str] = mapped_column(String(400), index=True)
