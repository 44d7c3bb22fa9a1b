"""Assembling a company digest: which matched notices go into which section for one recipient.

For a (profile, recipient) at `now`, every current `Match` of the profile is a candidate, unless
the company's latest feedback on the notice is "not relevant". Each candidate is compared with
what this recipient was last sent about it (`AlertedItem`, any section, any profile):

- never sent: **Pre-tender** (prior information, market survey, expression of interest),
  **Awards** (an award notice, or a notice already awarded), else **New** when still open or
  planned (a call closed or cancelled before anyone was told is not news);
- sent before: **Awards** when it has been awarded since; **Changed** when a material field
  differs from what was sent (deadline, value, scope = description and CPV codes, documents,
  cancellation; the source carries no lots), shown as sent → now; **Closing soon** when the
  deadline is within 7 days, it is still open, and when it was last sent the deadline was not
  yet that close (one reminder per deadline: a notice sent yesterday as New is not repeated).

Items of each section are sorted by deadline (none last). `record_items` writes what was sent,
in the same transaction as the outbox row, so a digest assembled again finds nothing twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from alerts.models import AlertedItem
from alerts.schedule import AMSTERDAM, describe
from alerts.tokens import Signer
from monitor import organisations
from monitor.contract import PRE_TENDER_TYPES, is_http_url
from monitor.matching.models import Company, Match, Profile, Recipient
from monitor.matching.service import suppressed_notices
from monitor.models import NoticeRow, NoticeVersion
from monitor.store import effective_status

CLOSING_WINDOW: Final = timedelta(days=7)
SECTION_ORDER: Final = ("new", "changed", "closing", "pretender", "award")
SECTION_TITLES: Final = {
    "new": "New",
    "changed": "Changed",
    "closing": "Closing soon",
    "pretender": "Pre-tender",
    "award": "Awards",
}
# What makes a change worth an alert; a retitled notice or a new publication date is not.
MATERIAL_FIELDS: Final = ("deadline", "estimated_value", "currency", "description", "cpv_codes", "documents", "status")
_FIELD_LABELS: Final = {
    "deadline": "Deadline",
    "value": "Value",
    "description": "Scope",
    "cpv_codes": "CPV codes",
    "documents": "Documents",
    "status": "Status",
}


def recipient_key(recipient: Recipient) -> str:
    return f"recipient:{recipient.id}"


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def material_state(row: NoticeRow, now: datetime) -> dict[str, Any]:
    """The notice's material fields as a reader sees them now (JSON-ready, stored with the alert)."""
    state = {name: _jsonable(getattr(row, name)) for name in MATERIAL_FIELDS}
    state["status"] = effective_status(row, now)
    state["documents"] = [d.get("url") for d in row.documents or [] if is_http_url(d.get("url"))]
    return state


def _stamp(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def format_time(stamp: datetime | None, zone: ZoneInfo) -> str:
    return stamp.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z") if stamp is not None else "-"


def format_value(value: float | None, currency: str | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f} {currency or ''}".strip()


def _shorten(text: str | None, limit: int = 240) -> str:
    if not text:
        return "-"
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def material_changes(before: dict[str, Any], now: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(label, old, new) for each material difference between what was sent and what holds now."""
    changes: list[tuple[str, str, str]] = []
    if before.get("deadline") != now.get("deadline"):
        changes.append(
            (
                "Deadline",
                format_time(_stamp(before.get("deadline")), AMSTERDAM),
                format_time(_stamp(now.get("deadline")), AMSTERDAM),
            )
        )
    if (before.get("estimated_value"), before.get("currency")) != (now.get("estimated_value"), now.get("currency")):
        changes.append(
            (
                "Value",
                format_value(before.get("estimated_value"), before.get("currency")),
                format_value(now.get("estimated_value"), now.get("currency")),
            )
        )
    if before.get("description") != now.get("description"):
        changes.append(("Scope", _shorten(before.get("description")), _shorten(now.get("description"))))
    if before.get("cpv_codes") != now.get("cpv_codes"):
        changes.append(
            ("CPV codes", ", ".join(before.get("cpv_codes") or []) or "-", ", ".join(now.get("cpv_codes") or []) or "-")
        )
    old_docs, new_docs = before.get("documents") or [], now.get("documents") or []
    if old_docs != new_docs:
        added = [d for d in new_docs if d not in old_docs]
        changes.append(("Documents", f"{len(old_docs)} document(s)", f"{len(new_docs)} document(s), {len(added)} new"))
    # Only a cancellation is material among status moves: "closed" is the deadline passing.
    if now.get("status") == "cancelled" and before.get("status") != "cancelled":
        changes.append(("Status", str(before.get("status") or "-"), "cancelled"))
    return changes


@dataclass
class Item:
    """One notice in a digest, with everything the templates show (plain values, not escaped)."""

    notice_id: int
    section: str
    title: str
    organisation: str
    buyer: str
    notice_type: str
    deadline: datetime | None
    deadline_buyer: str | None
    deadline_amsterdam: str
    value: str
    areas: list[str]
    reasons: list[str]
    url: str | None
    documents: list[tuple[str, str]]
    changes: list[tuple[str, str, str]] = field(default_factory=list)
    feedback_relevant: str | None = None
    feedback_not_relevant: str | None = None
    state: dict[str, Any] = field(default_factory=dict)
    version: int = 0


@dataclass
class CompanyDigest:
    """What one recipient gets for one profile and period."""

    company_id: str
    company_name: str
    profile_id: int
    profile_name: str
    recipient_id: int
    recipient_key: str
    email: str
    period: str
    schedule: str
    sections: dict[str, list[Item]]

    @property
    def count(self) -> int:
        return sum(len(items) for items in self.sections.values())

    @property
    def empty(self) -> bool:
        return self.count == 0

    def items(self) -> Iterable[Item]:
        for name in SECTION_ORDER:
            yield from self.sections.get(name, [])

    def subject(self) -> str:
        parts = [f"{len(self.sections[s])} {SECTION_TITLES[s].lower()}" for s in SECTION_ORDER if self.sections.get(s)]
        return f"Big Science tenders for {self.company_name}: {', '.join(parts)}"


def area_label(area_id: str) -> str:
    from monitor.classifier.taxonomy import default_taxonomy

    try:
        return default_taxonomy().area(area_id).label
    except KeyError:
        return area_id


def organisation_name(org_id: str | None) -> str:
    if not org_id:
        return "-"
    try:
        return organisations.get(org_id).name
    except KeyError:
        return org_id


def buyer_zone(org_id: str | None) -> ZoneInfo | None:
    """The buyer's time zone: its organisation's seat (CERN: Europe/Zurich), or unknown."""
    if not org_id:
        return None
    try:
        return ZoneInfo(organisations.get(org_id).timezone)
    except (KeyError, ValueError):
        return None


def make_item(row: NoticeRow, section: str, reasons: list[str], now: datetime) -> Item:
    """The display form of a notice; scraped text stays plain text (the templates escape it)."""
    zone = buyer_zone(row.organisation)
    return Item(
        notice_id=row.id,
        section=section,
        title=row.title,
        organisation=organisation_name(row.organisation),
        buyer=row.buyer or "-",
        notice_type=row.notice_type.replace("_", " "),
        deadline=row.deadline,
        deadline_buyer=f"{format_time(row.deadline, zone)} ({zone.key})" if zone is not None and row.deadline else None,
        deadline_amsterdam=format_time(row.deadline, AMSTERDAM),
        value=format_value(row.estimated_value, row.currency),
        areas=[area_label(a["id"]) for a in row.technology_areas or [] if isinstance(a, dict) and "id" in a],
        reasons=[str(r) for r in reasons],
        url=row.url.strip() if is_http_url(row.url) and row.url else None,
        documents=[
            (str(d.get("title") or d.get("url")), str(d.get("url")).strip())
            for d in row.documents or []
            if is_http_url(d.get("url"))
        ],
        state=material_state(row, now),
    )


def _last_alerts(session: Session, key: str) -> dict[int, AlertedItem]:
    latest: dict[int, AlertedItem] = {}
    query = select(AlertedItem).where(AlertedItem.recipient == key).order_by(AlertedItem.id)
    for item in session.scalars(query):
        latest[item.notice_id] = item
    return latest


def _versions(session: Session, ids: list[int]) -> dict[int, int]:
    if not ids:
        return {}
    query = (
        select(NoticeVersion.notice_id, func.max(NoticeVersion.version))
        .where(NoticeVersion.notice_id.in_(ids))
        .group_by(NoticeVersion.notice_id)
    )
    return {notice_id: int(version) for notice_id, version in session.execute(query)}


def classify_section(row: NoticeRow, last: AlertedItem | None, state: dict[str, Any], now: datetime) -> str | None:
    """The section `row` belongs in for a recipient last sent `last` about it (None: nothing to say)."""
    status = state["status"]
    if last is None:
        if row.notice_type in PRE_TENDER_TYPES:
            return "pretender"
        if row.notice_type == "contract_award" or status == "awarded":
            return "award"
        return "new" if status in ("open", "planned") else None
    before = last.state or {}
    if status == "awarded" and before.get("status") != "awarded":
        return "award"
    if material_changes(before, state):
        return "changed"
    deadline = row.deadline
    if status == "open" and deadline is not None and now < deadline <= now + CLOSING_WINDOW:
        last_deadline = _stamp(before.get("deadline"))
        # Remind once per deadline, and only when it was not already this close when last sent.
        if (
            not (last.section == "closing" and last_deadline == deadline)
            and last.created_at < deadline - CLOSING_WINDOW
        ):
            return "closing"
    return None


def assemble(
    session: Session,
    profile: Profile,
    recipient: Recipient,
    period: str,
    now: datetime,
    signer: Signer,
    base_url: str,
    company: Company | None = None,
) -> CompanyDigest:
    """The digest of `profile` for `recipient` at `now` (possibly empty); writes nothing."""
    company = company or profile.company
    key = recipient_key(recipient)
    suppressed = suppressed_notices(session, company.id)
    last = _last_alerts(session, key)
    query = (
        select(Match, NoticeRow)
        .join(NoticeRow, NoticeRow.id == Match.notice_id)
        .where(Match.profile_id == profile.id)
        .order_by(NoticeRow.id)
    )
    sections: dict[str, list[Item]] = {name: [] for name in SECTION_ORDER}
    for match, row in session.execute(query):
        if row.id in suppressed:
            continue
        previous = last.get(row.id)
        state = material_state(row, now)
        section = classify_section(row, previous, state, now)
        if section is None:
            continue
        item = make_item(row, section, list(match.reasons or []), now)
        if section == "changed" and previous is not None:
            item.changes = material_changes(previous.state or {}, state)
        item.feedback_relevant, item.feedback_not_relevant = (
            f"{base_url}/feedback/"
            + signer.feedback_token(company_id=company.id, notice_id=row.id, recipient_id=recipient.id, relevant=flag)
            for flag in (True, False)
        )
        sections[section].append(item)
    versions = _versions(session, [i.notice_id for items in sections.values() for i in items])
    far = datetime.max.replace(tzinfo=UTC)
    for items in sections.values():
        for item in items:
            item.version = versions.get(item.notice_id, 0)
        items.sort(key=lambda i: (i.deadline or far, i.notice_id))
    return CompanyDigest(
        company_id=company.id,
        company_name=company.name,
        profile_id=profile.id,
        profile_name=profile.name,
        recipient_id=recipient.id,
        recipient_key=key,
        email=recipient.email,
        period=period,
        schedule=describe(profile.frequency, profile.digest_weekday, profile.digest_hour),
        sections=sections,
    )


def record_items(session: Session, outbox_id: int, digest: CompanyDigest, now: datetime) -> None:
    """Remember what this digest tells the recipient (same transaction as its outbox row)."""
    for item in digest.items():
        session.add(
            AlertedItem(
                outbox_id=outbox_id,
                recipient=digest.recipient_key,
                company_id=digest.company_id,
                notice_id=item.notice_id,
                section=item.section,
                notice_version=item.version,
                state=item.state,
                created_at=now,
            )
        )
