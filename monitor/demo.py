"""The main job, offline: replay the recorded sources through the whole pipeline as far as it exists.

`ilo-monitor demo` (the README's first command) does, into a fresh SQLite file:
1. an import of the development companies (`tests/data/matching/companies.jsonl`, fictitious
   Dutch suppliers with their profiles), so that notices are matched as they arrive;
2. a real Scrapy crawl of every source that has a recording in `tests/fixtures/<source>/`,
   each answered by a local replay server (no network): notices are validated, stored with
   their history, classified by technology area and matched to the companies;
3. an import of the real third-party data in `../shared/data` when that folder is present
   (classified and matched the same way);
4. exports of every stored notice in the notice contract (`notices.jsonl`) and of every match
   (`matches.jsonl`);
5. each company's digest, and the ILO weekly digest of this week, written as `.eml` files into
   the demo's own outbox folder (`outbox/`; the demo never uses SMTP, whatever the environment
   says), plus the ILO digest as HTML and CSV (`ilo/`);
and then says what was found and where to look.
"""

from __future__ import annotations

import json
import shlex
import shutil
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from alerts.ilo import assemble_ilo, write_files
from alerts.outbox import Mailer, PlanSummary, plan, plan_ilo
from alerts.render import render_pair
from alerts.schedule import Week, local
from alerts.send import deliver, transport_for
from alerts.settings import mail_settings
from monitor.crawl.replay import CrawlResult, ReplayServer, recorded_spider_args, run_crawl
from monitor.db import open_database, session_scope
from monitor.importer import ImportSummary, import_paths
from monitor.matching.importer import import_companies
from monitor.matching.models import Company, Match, Profile
from monitor.matching.service import match_records
from monitor.models import NoticeRow
from monitor.settings import PROJECT_ROOT, real_data_dir
from monitor.store import NoticeFilter, effective_status, iter_records

DEMO_ILO_LIST = "ilo-net@example.nl"
RECORDINGS = PROJECT_ROOT / "tests" / "fixtures"
DEMO_COMPANIES = PROJECT_ROOT / "tests" / "data" / "matching" / "companies.jsonl"
Echo = Callable[[str], None]


@dataclass
class DemoReport:
    database: Path
    export: Path
    matches: Path
    crawls: list[CrawlResult] = field(default_factory=list)
    unmatched: dict[str, list[str]] = field(default_factory=dict)
    imported: ImportSummary | None = None

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.crawls) and not any(self.unmatched.values())


def recorded_sources(folder: Path = RECORDINGS) -> list[str]:
    """Sources with a replay recording: folders holding an `exchanges.json`."""
    return sorted(p.parent.name for p in folder.glob("*/exchanges.json"))


def run_demo(out: Path, *, now: datetime, echo: Echo, with_real_data: bool = True) -> DemoReport:
    out.mkdir(parents=True, exist_ok=True)
    database = out / "ilo-monitor.sqlite"
    for stale in (
        database,
        database.with_name(database.name + "-wal"),
        database.with_name(database.name + "-shm"),
    ):
        stale.unlink(missing_ok=True)  # a fresh database every run: the demo shows one clean pass
    url = f"sqlite:///{database.resolve()}"
    engine = open_database(url)
    report = DemoReport(database=database, export=out / "notices.jsonl", matches=out / "matches.jsonl")

    with session_scope(engine) as session:
        companies = import_companies(session, DEMO_COMPANIES, now, by="demo")
    echo(f"Companies: {companies.created} imported from {DEMO_COMPANIES} (fictitious, for the demo)")

    for source in recorded_sources():
        folder = RECORDINGS / source
        echo(f"Crawling {source} (real Scrapy crawl against the recording in {folder}) ...")
        with ReplayServer(folder) as server:
            result = run_crawl(source, db_url=url, replay_url=server.url, spider_args=recorded_spider_args(folder))
            report.unmatched[source] = [f"{r.method} {r.url}" for r in server.unmatched]
        report.crawls.append(result)
        echo("  " + result.summary())
        for line in result.errors:
            echo(f"  error: {line}")
        for request in report.unmatched[source]:
            echo(f"  unrecorded request: {request}")

    shared = real_data_dir() if with_real_data else None
    if shared is None:
        echo("No ../shared/data beside this checkout (or ILO_MONITOR_REAL_DATA): real TED data skipped.")
    else:
        echo(f"Importing the real TED data in {shared} ...")
        report.imported = import_paths(engine, [shared], now=now)
        summary = report.imported
        echo(
            f"  {summary.new} new, {summary.changed} changed, {summary.unchanged} unchanged, "
            f"{len(summary.rejected)} rejected"
        )
        for rejected in summary.rejected:
            echo(f"  rejected {rejected.origin}: {rejected.reason}")

    with session_scope(engine) as session, report.export.open("w", encoding="utf-8") as stream:
        for record in iter_records(session, NoticeFilter(), now):
            stream.write(json.dumps(record, ensure_ascii=False) + "\n")
        _describe(session, now, echo)
    with session_scope(engine) as session, report.matches.open("w", encoding="utf-8") as stream:
        for record in match_records(session):
            stream.write(json.dumps(record, ensure_ascii=False) + "\n")
        _describe_matches(session, echo)

    _digests(engine, out, now, echo)

    # The command as the user ran it (`.venv/bin/ilo-monitor` under `make demo`), to copy and paste.
    command = shlex.quote(sys.argv[0]) if sys.argv and sys.argv[0].endswith("ilo-monitor") else "ilo-monitor"
    echo("")
    echo("Where to look:")
    echo(f"  database:  {database}")
    echo(f"  export:    {report.export}   (the notice contract, one JSON object a line)")
    echo(f"  matches:   {report.matches}   (company, profile, notice, score, reasons)")
    echo(f"  digests:   {out / 'outbox'}   (.eml: open in a mail client, or read as text)")
    echo(f"  ILO:       {out / 'ilo'}   (the weekly digest as HTML and CSV)")
    echo(f"  try:       {command} notices list --db {url} --organisation cern")
    echo(f"             {command} notices show --db {url} ted/700001-2026")
    return report


def _describe(session: Session, now: datetime, echo: Echo) -> None:
    total = session.scalar(select(func.count(NoticeRow.id))) or 0
    echo("")
    echo(f"{total} notices stored.")
    counts = session.execute(select(NoticeRow.notice_type, func.count()).group_by(NoticeRow.notice_type))
    by_type = Counter(dict(counts.tuples().all()))
    echo("  by type: " + ", ".join(f"{name} {count}" for name, count in by_type.most_common()))
    rows = session.scalars(
        select(NoticeRow).where(NoticeRow.organisation.is_not(None)).order_by(NoticeRow.published_on.desc())
    ).all()
    by_organisation = Counter(r.organisation for r in rows)
    echo("  Big Science buyers: " + (", ".join(f"{k} {v}" for k, v in by_organisation.most_common()) or "none"))
    if rows:
        echo("")
        echo("Big Science notices:")
        for row in rows[:12]:
            deadline = row.deadline.isoformat(timespec="minutes") if row.deadline else "-"
            echo(
                f"  {row.source + '/' + row.source_id:<22} {row.organisation:<6} {row.notice_type:<20} "
                f"{effective_status(row, now):<9} deadline {deadline}  {row.title[:70]}"
            )
    amended = session.scalars(select(NoticeRow).where(NoticeRow.notice_type == "corrigendum").limit(1)).first()
    if amended is not None and amended.procedure_key:
        echo("")
        echo(f"A procedure with a corrigendum ({amended.procedure_key}):")
        procedure = select(NoticeRow).where(NoticeRow.procedure_key == amended.procedure_key)
        for row in session.scalars(procedure.order_by(NoticeRow.published_on)):
            versions = len(row.versions)
            echo(f"  {row.published_on} {row.notice_type:<18} {row.source}/{row.source_id}: {versions} version(s)")


def _describe_matches(session: Session, echo: Echo) -> None:
    total = session.scalar(select(func.count(Match.id))) or 0
    echo("")
    echo(f"{total} matches of notices to company profiles.")
    query = (
        select(Company.name, NoticeRow.source, NoticeRow.source_id, NoticeRow.title, Match.score, Match.reasons)
        .join(Profile, Profile.company_id == Company.id)
        .join(Match, Match.profile_id == Profile.id)
        .join(NoticeRow, NoticeRow.id == Match.notice_id)
        .where(NoticeRow.organisation.is_not(None))
        .order_by(Match.score.desc(), Company.name)
        .limit(10)
    )
    rows = session.execute(query).all()
    if rows:
        echo("Best matches on Big Science notices:")
    for name, source, source_id, title, score, reasons in rows:
        echo(f"  {score:.2f} {name[:28]:<28} {source + '/' + source_id:<22} {title[:50]}")
        echo(f"       because: {'; '.join(reasons)[:110]}")


def _digests(engine: Engine, out: Path, now: datetime, echo: Echo) -> None:
    """Every company's pending digest and this week's ILO digest, into the demo's file outbox."""
    outbox = out / "outbox"
    shutil.rmtree(outbox, ignore_errors=True)
    # Files only: a demo must never mail real addresses, even where SMTP is configured.
    settings = replace(mail_settings(), smtp_host=None, outbox_dir=outbox, ilo_emails=(DEMO_ILO_LIST,))
    mailer = Mailer.from_environment(settings)
    with session_scope(engine) as session:
        company_ids = list(session.scalars(select(Company.id).order_by(Company.id)))
    planned = PlanSummary()
    for company_id in company_ids:
        planned += plan(engine, now, mailer, company_id=company_id, force=True)
    delivered = deliver(engine, transport_for(settings), now, mailer.sender)
    echo("")
    echo(f"Company digests: {planned}; {delivered}")
    # The ILO digest after the company digests, so that it can say which companies were alerted.
    week = Week.of(local(now).date())
    planned = plan_ilo(engine, week, now, mailer)
    delivered = deliver(engine, transport_for(settings), now, mailer.sender)
    echo(f"ILO digest to {DEMO_ILO_LIST}: {planned}; {delivered}")
    with session_scope(engine) as session:
        ilo = assemble_ilo(session, week, now)
        context = {
            "digest": ilo,
            "subject": ilo.subject(),
            "email": DEMO_ILO_LIST,
            "unsubscribe_url": settings.base_url,
            "contact": settings.unsubscribe_mailto,
        }
        _, html = render_pair("ilo_digest", context)
        html_path, csv_path = write_files(ilo, html, out / "ilo")
    echo(f"ILO weekly digest ({week}): {html_path}, {csv_path}")
