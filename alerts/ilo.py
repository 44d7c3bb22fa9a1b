"""The ILO weekly digest: everything of one ISO week across the Big Science organisations.

For the week (Monday 00:00 to Monday 00:00, Amsterdam time) and the notices of a Big Science
organisation (`organisation` set):

- new and changed notices, grouped by organisation and by (first) technology area, each with
  the companies whose profiles match it and whether each was alerted (a sent digest held it);
- closing soon: open calls whose deadline falls in the 7 days after the week;
- new pre-tender stages and awards (Dutch winners highlighted);
- new notices that matched no company: for the ILOs to act on;
- source health: sources whose crawls of the week failed or returned nothing;
- delivery problems of the week: digests that failed, bounced or expired (and why).

`write_files` writes the HTML and a CSV (one line per notice and section) for `digest ilo --out`.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from alerts.digests import CLOSING_WINDOW, Item, make_item
from alerts.models import AlertedItem, OutboxMessage
from alerts.schedule import Week
from monitor.contract import PRE_TENDER_TYPES
from monitor.matching.models import Company, Match, Profile
from monitor.models import NoticeRow, NoticeVersion


@dataclass
class Entry:
    """A notice of the week with the companies it matches (name, alerted?)."""

    item: Item
    change: str  # "new" or "changed"
    companies: list[tuple[str, bool]] = field(default_factory=list)
    area: str = "Unclassified"


@dataclass
class Winner:
    name: str
    country: str | None
    dutch: bool


@dataclass
class SourceHealth:
    source: str
    runs: int
    state: str  # "failed" or "nothing"
    reason: str


@dataclass
class IloDigest:
    week: Week
    groups: list[tuple[str, list[tuple[str, list[Entry]]]]]
    closing: list[Item]
    pretender: list[Item]
    awards: list[tuple[Item, list[Winner]]]
    unmatched: list[Item]
    health: list[SourceHealth]
    deliveries: list[str]

    @property
    def count(self) -> int:
        return sum(len(entries) for _, areas in self.groups for _, entries in areas)

    def subject(self) -> str:
        return (
            f"ILO weekly Big Science digest {self.week}: {self.count} new or changed, "
            f"{len(self.unmatched)} without a company"
        )


def source_health(session: Session, start: datetime, end: datetime) -> list[SourceHealth]:
    """Sources whose crawls in [start, end) failed (the newest one) or stored nothing at all."""
    from monitor.crawl.runs import CrawlRun  # the crawl runs table; no Scrapy behind it

    runs: dict[str, list[CrawlRun]] = defaultdict(list)
    query = (
        select(CrawlRun)
        .where(CrawlRun.started_at >= start, CrawlRun.started_at < end)
        .order_by(CrawlRun.started_at, CrawlRun.id)
    )
    for run in session.scalars(query):
        runs[run.source].append(run)
    problems: list[SourceHealth] = []
    for source, own in sorted(runs.items()):
        newest = own[-1]
        if newest.state == "failed":
            reason = "; ".join(str(r) for r in newest.failure_reasons) or "failed"
            problems.append(SourceHealth(source, len(own), "failed", reason))
        elif not any(run.items_scraped for run in own):
            problems.append(SourceHealth(source, len(own), "nothing", "no notices in any run of the week"))
    return problems


def _companies(session: Session, notice_ids: list[int]) -> dict[int, list[tuple[str, bool]]]:
    if not notice_ids:
        return {}
    alerted = {
        (company_id, notice_id)
        for company_id, notice_id in session.execute(
            select(AlertedItem.company_id, AlertedItem.notice_id)
            .join(OutboxMessage, OutboxMessage.id == AlertedItem.outbox_id)
            .where(AlertedItem.notice_id.in_(notice_ids), OutboxMessage.status == "sent")
        )
    }
    found: dict[int, dict[str, tuple[str, bool]]] = defaultdict(dict)
    query = (
        select(Match.notice_id, Company.id, Company.name)
        .join(Profile, Profile.id == Match.profile_id)
        .join(Company, Company.id == Profile.company_id)
        .where(Match.notice_id.in_(notice_ids))
    )
    for notice_id, company_id, name in session.execute(query):
        found[notice_id][company_id] = (name, (company_id, notice_id) in alerted)
    return {notice_id: sorted(names.values()) for notice_id, names in found.items()}


def assemble_ilo(session: Session, week: Week, now: datetime) -> IloDigest:
    """The ILO digest of `week` (read-only)."""
    start, end = week.start, week.end
    big_science = NoticeRow.organisation.is_not(None)
    new_rows = list(
        session.scalars(
            select(NoticeRow)
            .where(big_science, NoticeRow.first_seen_at >= start, NoticeRow.first_seen_at < end)
            .order_by(NoticeRow.id)
        )
    )
    new_ids = {row.id for row in new_rows}
    changes: dict[int, dict[str, list[Any]]] = defaultdict(dict)
    changed_rows: dict[int, NoticeRow] = {}
    query = (
        select(NoticeVersion, NoticeRow)
        .join(NoticeRow, NoticeRow.id == NoticeVersion.notice_id)
        .where(
            big_science,
            NoticeVersion.kind.in_(("updated", "amended")),
            NoticeVersion.recorded_at >= start,
            NoticeVersion.recorded_at < end,
        )
        .order_by(NoticeVersion.notice_id, NoticeVersion.version)
    )
    for version, row in session.execute(query):
        for name, (old, new) in (version.changes or {}).items():
            first_old = changes[row.id].get(name, [old, new])[0]
            changes[row.id][name] = [first_old, new]  # the week's net change: first old → last new
        if row.id not in new_ids:
            changed_rows[row.id] = row

    weekly = [*new_rows, *changed_rows.values()]
    companies = _companies(session, [row.id for row in weekly])
    groups: dict[str, dict[str, list[Entry]]] = defaultdict(lambda: defaultdict(list))
    for row in weekly:
        item = make_item(row, "new" if row.id in new_ids else "changed", [], now)
        if row.id not in new_ids:
            item.changes = [(name, _short(old), _short(new)) for name, (old, new) in changes[row.id].items()]
        entry = Entry(item, item.section, companies.get(row.id, []), item.areas[0] if item.areas else "Unclassified")
        groups[item.organisation][entry.area].append(entry)

    closing_rows = session.scalars(
        select(NoticeRow)
        .where(
            big_science,
            NoticeRow.status == "open",
            NoticeRow.deadline > end,
            NoticeRow.deadline <= end + CLOSING_WINDOW,
        )
        .order_by(NoticeRow.deadline, NoticeRow.id)
    )
    awarded_ids = {
        row_id for row_id, change in changes.items() if (change.get("status") or [None, None])[1] == "awarded"
    }
    award_rows = [
        row for row in weekly if (row.notice_type == "contract_award" and row.id in new_ids) or row.id in awarded_ids
    ]
    return IloDigest(
        week=week,
        groups=[
            (org, [(area, entries) for area, entries in sorted(areas.items())]) for org, areas in sorted(groups.items())
        ],
        closing=[make_item(row, "closing", [], now) for row in closing_rows],
        pretender=[make_item(row, "pretender", [], now) for row in new_rows if row.notice_type in PRE_TENDER_TYPES],
        awards=[(make_item(row, "award", [], now), _winners(row)) for row in award_rows],
        unmatched=[make_item(row, "new", [], now) for row in new_rows if row.id not in companies],
        health=source_health(session, start, end),
        deliveries=delivery_problems(session, start, end),
    )


def delivery_problems(session: Session, start: datetime, end: datetime) -> list[str]:
    """Digests of the period that did not reach their reader, one line each."""
    query = (
        select(OutboxMessage)
        .where(
            OutboxMessage.status.in_(("failed", "bounced", "expired")),
            or_(
                OutboxMessage.created_at.between(start, end),
                OutboxMessage.sent_at.between(start, end),
            ),
        )
        .order_by(OutboxMessage.id)
    )
    return [row.line() for row in session.scalars(query)]


def _winners(row: NoticeRow) -> list[Winner]:
    winners: list[Winner] = []
    for award in row.awards or []:
        if isinstance(award, dict) and award.get("winner"):
            country = award.get("winner_country")
            winners.append(Winner(str(award["winner"]), country, country == "NL"))
    return winners


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else ("-" if value is None else str(value))
    return text if len(text) <= 120 else text[:119] + "…"


CSV_COLUMNS = (
    "section",
    "organisation",
    "area",
    "notice_id",
    "title",
    "notice_type",
    "deadline_amsterdam",
    "value",
    "companies",
    "alerted",
    "url",
)


def csv_rows(digest: IloDigest) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def add(section: str, item: Item, area: str = "", companies: list[tuple[str, bool]] | None = None) -> None:
        rows.append(
            {
                "section": section,
                "organisation": item.organisation,
                "area": area or (item.areas[0] if item.areas else ""),
                "notice_id": item.notice_id,
                "title": item.title,
                "notice_type": item.notice_type,
                "deadline_amsterdam": item.deadline_amsterdam,
                "value": item.value,
                "companies": ";".join(name for name, _ in companies or []),
                "alerted": ";".join(name for name, alerted in companies or [] if alerted),
                "url": item.url or "",
            }
        )

    for _, areas in digest.groups:
        for area, entries in areas:
            for entry in entries:
                add(entry.change, entry.item, area, entry.companies)
    for item in digest.closing:
        add("closing", item)
    for item in digest.pretender:
        add("pretender", item)
    for item, _ in digest.awards:
        add("award", item)
    for item in digest.unmatched:
        add("unmatched", item)
    return rows


def _csv_safe(value: Any) -> Any:
    # A scraped title starting with "=" must not become a formula in the ILO's spreadsheet.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def write_files(digest: IloDigest, html: str, out: Path) -> tuple[Path, Path]:
    """`ilo-digest-<week>.html` and `.csv` in `out`; returns both paths."""
    out.mkdir(parents=True, exist_ok=True)
    html_path = out / f"ilo-digest-{digest.week}.html"
    csv_path = out / f"ilo-digest-{digest.week}.csv"
    html_path.write_text(html, encoding="utf-8")
    with csv_path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(CSV_COLUMNS))
        writer.writeheader()
        for row in csv_rows(digest):
            writer.writerow({key: _csv_safe(value) for key, value in row.items()})
    return html_path, csv_path
