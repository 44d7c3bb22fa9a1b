"""Exports for ILOs, from the pages and the CLI: CSV of notices and matches, ICS calendars, Atom feeds.

- CSV: the notice contract's columns (lists joined with "; "), and the stored matches; a cell
  that a spreadsheet would read as a formula (=, +, -, @) is prefixed with "'".
- ICS: `icalendar` builds the VCALENDAR (RFC 5545 escaping and line folding done by a library
  that is tested for it, rather than by hand); one VEVENT per open deadline, UID stable per
  notice so calendar clients update an event instead of duplicating it.
- Atom: built with lxml (already a dependency): its serializer escapes every text and attribute
  and can only produce well-formed XML, which a Jinja2 template would leave to care; feedgen
  would be one more dependency for the same dozen elements. Control characters, which XML 1.0
  forbids, are removed first.

Only http(s) links from scraped data are ever written (`is_http_url`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any, Final

from icalendar import Calendar, Event
from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.render import plain
from monitor.contract import EXPORT_KEYS, is_http_url
from monitor.matching.models import Company, Match, Profile
from monitor.matching.service import match_records, suppressed_notices
from monitor.models import NoticeRow
from monitor.store import NoticeFilter, iter_records

ATOM: Final = "http://www.w3.org/2005/Atom"
MATCH_COLUMNS: Final = ("company", "profile", "source", "source_id", "score", "reasons")
# Deadlines in the calendar: from a month back (just missed ones stay visible) onwards.
CALENDAR_PAST: Final = timedelta(days=30)
FEED_ENTRIES: Final = 100


def _cell(value: Any) -> Any:
    if isinstance(value, list):
        value = "; ".join(v["id"] if isinstance(v, dict) and "id" in v else str(v) for v in value)
    elif isinstance(value, dict):
        value = str(value)
    if isinstance(value, str):
        value = plain(value)
        if value[:1] in ("=", "+", "-", "@", "\t", "\r"):
            # A scraped title starting with "=" must not become a formula in the ILO's spreadsheet.
            return "'" + value
    return value


def _csv(columns: Iterable[str], records: Iterable[dict[str, Any]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore")
    writer.writeheader()
    for record in records:
        writer.writerow({key: _cell(value) for key, value in record.items()})
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def notices_csv(session: Session, criteria: NoticeFilter, now: datetime) -> str:
    """The selected notices in the contract's columns, one a row."""
    records = (
        {**record, "url": record["url"] if is_http_url(record["url"]) else None}
        for record in iter_records(session, criteria, now)
    )
    return "".join(_csv(EXPORT_KEYS, records))


def matches_csv(session: Session, company_id: str | None = None) -> str:
    return "".join(_csv(MATCH_COLUMNS, match_records(session, company_id)))


# -- calendars -------------------------------------------------------------------------------------


def _event(row: NoticeRow, now: datetime, extra: str = "") -> Event:
    assert row.deadline is not None
    event = Event()
    event.add("uid", f"deadline-{row.source}-{row.source_id}@ilo-monitor")
    event.add("dtstamp", now)
    event.add("dtstart", row.deadline)
    event.add("dtend", row.deadline + timedelta(minutes=30))
    event.add("summary", plain(f"Deadline: {row.title}"))
    lines = [f"{row.source}/{row.source_id}", plain(row.buyer or ""), extra]
    if is_http_url(row.url) and row.url:
        event.add("url", row.url.strip())
        lines.append(row.url.strip())
    event.add("description", "\n".join(line for line in lines if line))
    event.add("transp", "TRANSPARENT")  # a deadline does not make anyone busy
    return event


def _calendar(name: str, events: Iterable[Event]) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", "-//Big Science Tender Monitor//ilo-monitor//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", name)
    for event in events:
        calendar.add_component(event)
    return bytes(calendar.to_ical())


def _deadline_rows(session: Session, now: datetime, notice_ids: set[int] | None = None) -> list[NoticeRow]:
    query = (
        select(NoticeRow)
        .where(
            NoticeRow.deadline.is_not(None),
            NoticeRow.deadline >= now - CALENDAR_PAST,
            NoticeRow.status.in_(("open", "planned")),
        )
        .order_by(NoticeRow.deadline, NoticeRow.id)
    )
    rows = list(session.scalars(query))
    return rows if notice_ids is None else [r for r in rows if r.id in notice_ids]


def ilo_calendar(session: Session, now: datetime) -> bytes:
    """Every open deadline of a Big Science organisation, for the ILOs."""
    rows = [r for r in _deadline_rows(session, now) if r.organisation]
    return _calendar("Big Science tender deadlines (ILO)", (_event(r, now, r.organisation or "") for r in rows))


def company_calendar(session: Session, company: Company, now: datetime) -> bytes:
    """The open deadlines of the notices matched to the company (not those marked not relevant)."""
    query = select(Match.notice_id).join(Profile, Profile.id == Match.profile_id)
    ids = set(session.scalars(query.where(Profile.company_id == company.id))) - suppressed_notices(session, company.id)
    rows = _deadline_rows(session, now, ids)
    return _calendar(f"Big Science tender deadlines for {plain(company.name)}", (_event(r, now) for r in rows))


# -- Atom ------------------------------------------------------------------------------------------


def _text(parent: etree._Element, tag: str, text: str, **attributes: str) -> etree._Element:
    element = etree.SubElement(parent, f"{{{ATOM}}}{tag}", attributes)
    element.text = plain(text)
    return element


def profile_feed(session: Session, profile: Profile) -> bytes:
    """An Atom feed of the profile's matches, newest first (not those marked not relevant)."""
    suppressed = suppressed_notices(session, profile.company_id)
    query = (
        select(Match, NoticeRow)
        .join(NoticeRow, NoticeRow.id == Match.notice_id)
        .where(Match.profile_id == profile.id)
        .order_by(Match.first_matched_at.desc(), NoticeRow.id.desc())
    )
    pairs = [(m, r) for m, r in session.execute(query) if r.id not in suppressed][:FEED_ENTRIES]
    feed = etree.Element(f"{{{ATOM}}}feed", nsmap={None: ATOM})
    _text(feed, "id", f"urn:ilo-monitor:profile:{profile.id}")
    _text(feed, "title", f"Big Science tenders for {profile.company.name} ({profile.name})")
    updated = max((m.updated_at for m, _ in pairs), default=profile.updated_at)
    _text(feed, "updated", updated.isoformat())
    author = etree.SubElement(feed, f"{{{ATOM}}}author")
    _text(author, "name", "Big Science Tender Monitor")
    _text(feed, "generator", "ilo-monitor")
    for match, row in pairs:
        entry = etree.SubElement(feed, f"{{{ATOM}}}entry")
        _text(entry, "id", f"urn:ilo-monitor:notice:{row.source}:{row.source_id}")
        _text(entry, "title", row.title)
        _text(entry, "updated", max(match.updated_at, row.last_changed_at).isoformat())
        _text(entry, "published", match.first_matched_at.isoformat())
        if is_http_url(row.url) and row.url:
            etree.SubElement(entry, f"{{{ATOM}}}link", {"rel": "alternate", "href": row.url.strip()})
        deadline = row.deadline.isoformat() if row.deadline else "not stated"
        summary = f"{row.buyer or '-'}; {row.notice_type.replace('_', ' ')}; deadline {deadline}. " + "; ".join(
            str(r) for r in match.reasons or []
        )
        _text(entry, "summary", summary)
        for area in row.technology_areas or []:
            if isinstance(area, dict) and "id" in area:
                etree.SubElement(entry, f"{{{ATOM}}}category", {"term": str(area["id"])})
    return bytes(etree.tostring(feed, xml_declaration=True, encoding="utf-8", pretty_print=True))
