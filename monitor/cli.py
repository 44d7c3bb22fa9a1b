"""The `ilo-monitor` command line: where the parts are wired together.

Every command takes `--db URL` (default `ILO_MONITOR_DB`, else the embedded SQLite file) and
reads the clock once, at this boundary, passing `now` down. Errors the user can fix are printed
as one line naming the file, field or setting, with exit code 1; never a traceback.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import click

from monitor import __version__
from monitor.commandline import ErrorGroup, F, amsterdam, connect, db_option
from monitor.contract import EXPORT_KEYS, NOTICE_TYPES, utcnow
from monitor.db import session_scope
from monitor.store import (
    NoticeFilter,
    effective_status,
    find_notice,
    iter_records,
    procedure_of,
    select_notices,
)


@click.group(cls=ErrorGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ilo-monitor")
def main() -> None:
    """Big Science Tender Monitor: tender notices for the Dutch ILO-network."""


# -- import ----------------------------------------------------------------------------------------


@main.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--quiet", is_flag=True, help="No progress bar.")
@db_option
def import_command(paths: tuple[Path, ...], quiet: bool, db_url: str | None) -> None:
    """Import notice files, folders, TED .tar.gz packages and manual JSON/JSONL notices."""
    from monitor.importer import import_paths, input_size

    engine = connect(db_url)
    now = utcnow()
    total = input_size(paths)
    if quiet or total == 0:
        summary = import_paths(engine, paths, now=now)
    else:
        with click.progressbar(length=total, label="Importing", file=sys.stderr, show_eta=True) as bar:
            summary = import_paths(engine, paths, now=now, progress=bar.update)
    click.echo(
        f"{summary.new} new, {summary.changed} changed, {summary.unchanged} unchanged, {len(summary.rejected)} rejected"
    )
    for rejected in summary.rejected:
        click.echo(f"rejected {rejected.origin}: {rejected.reason}", err=True)
    if summary.rejected and not summary.stored:
        sys.exit(1)


# -- notices ---------------------------------------------------------------------------------------


@main.group()
def notices() -> None:
    """List, show and export stored notices."""


def filter_options(function: F) -> F:
    options = [
        click.option("--organisation", help="Big Science organisation id (cern, eso, f4e, ...)."),
        click.option("--type", "notice_type", type=click.Choice(NOTICE_TYPES), help="Notice type."),
        click.option("--source", help="Source (ted, manual, ...)."),
        click.option("--open", "open_only", is_flag=True, help="Only planned stages and calls still open."),
        click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="Published on or after YYYY-MM-DD."),
        click.option("--text", help="Words in the title, description or buyer."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def make_filter(
    organisation: str | None,
    notice_type: str | None,
    source: str | None,
    open_only: bool,
    since: datetime | None,
    text: str | None,
) -> NoticeFilter:
    return NoticeFilter(
        organisation=organisation,
        notice_type=notice_type,
        source=source,
        open_only=open_only,
        since=since.date() if since else None,
        text=text,
    )


@notices.command("list")
@filter_options
@click.option("--limit", default=50, show_default=True, help="At most this many (0: all).")
@db_option
def notices_list(limit: int, db_url: str | None, **criteria: Any) -> None:
    """Stored notices, newest first."""
    engine = connect(db_url)
    now = utcnow()
    query = select_notices(make_filter(**criteria), now)
    if limit:
        query = query.limit(limit)
    with session_scope(engine) as session:
        rows = list(session.scalars(query))
        for row in rows:
            areas = ",".join(a["id"] for a in row.technology_areas[:3]) or "-"
            click.echo(
                f"{row.source}/{row.source_id}  {row.published_on or '-'}  {row.notice_type:<20} "
                f"{effective_status(row, now):<9} {row.organisation or '-':<9} deadline {amsterdam(row.deadline)}"
            )
            click.echo(f"    {row.title[:100]}")
            click.echo(f"    {(row.buyer or '-')[:60]} ({row.buyer_country or '-'})  areas: {areas}")
        click.echo(f"{len(rows)} notice(s)", err=True)


@notices.command("show")
@click.argument("ref")
@db_option
def notices_show(ref: str, db_url: str | None) -> None:
    """One notice with its version history and its procedure (REF: source/source_id or id)."""
    engine = connect(db_url)
    now = utcnow()
    with session_scope(engine) as session:
        row = find_notice(session, ref)
        if row is None:
            raise click.ClickException(f"no notice {ref!r} (use source/source_id, e.g. ted/154324-2020)")
        record = row.to_notice().to_record()
        record["status"] = effective_status(row, now)
        for key in EXPORT_KEYS:
            value = record[key]
            if isinstance(value, list | dict):
                value = json.dumps(value, ensure_ascii=False)
            click.echo(f"{key:>17}: {value if value is not None else '-'}")
        if row.awards:
            click.echo(f"{'awards':>17}: {json.dumps(row.awards, ensure_ascii=False)}")
        click.echo("\nHistory:")
        for version in row.versions:
            why = f" by {version.cause}" if version.cause else ""
            click.echo(f"  v{version.version} {amsterdam(version.recorded_at)} {version.kind}{why}")
            for name, (old, new) in version.changes.items():
                click.echo(f"      {name}: {_short(old)} -> {_short(new)}")
        procedure = procedure_of(session, row)
        if len(procedure) > 1:
            click.echo(f"\nProcedure {row.procedure_key}:")
            for other in procedure:
                mark = "*" if other.id == row.id else " "
                click.echo(
                    f" {mark} {other.published_on or '-'} {other.notice_type:<20} {other.source}/{other.source_id}"
                )


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
    return text if len(text) <= 80 else text[:77] + "..."


@notices.command("export")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv", "ocds"]), default="jsonl", show_default=True)
@click.option("--output", type=click.Path(path_type=Path), help="Write to this file instead of standard output.")
@filter_options
@db_option
def notices_export(fmt: str, output: Path | None, db_url: str | None, **criteria: Any) -> None:
    """Export notices in the notice contract (JSON lines), as CSV, or as an OCDS release package."""
    engine = connect(db_url)
    now = utcnow()
    with session_scope(engine) as session:
        if fmt == "ocds":
            from monitor import ocds

            query = select_notices(make_filter(**criteria), now)
            if output is None:
                count = ocds.export(session, query, sys.stdout, now=now)
            else:
                with output.open("w", encoding="utf-8") as stream:
                    count = ocds.export(session, query, stream, now=now)
            click.echo(f"{count} OCDS release(s) exported" + (f" to {output}" if output else ""), err=True)
            return
        records = iter_records(session, make_filter(**criteria), now)
        if output is None:
            count = write_records(records, sys.stdout, fmt)
        else:
            with output.open("w", encoding="utf-8", newline="") as stream:
                count = write_records(records, stream, fmt)
    click.echo(f"{count} notice(s) exported" + (f" to {output}" if output else ""), err=True)


def write_records(records: Iterator[dict[str, Any]], stream: IO[str], fmt: str) -> int:
    count = 0
    if fmt == "jsonl":
        for record in records:
            stream.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
        return count
    writer = csv.DictWriter(stream, fieldnames=list(EXPORT_KEYS))
    writer.writeheader()
    for record in records:
        writer.writerow({key: _csv_cell(key, value) for key, value in record.items()})
        count += 1
    return count


def _csv_cell(key: str, value: Any) -> Any:
    # Spreadsheet users want readable cells: lists of codes joined by ';', URLs of documents
    # likewise, areas by id; anything else structured stays JSON.
    if value is None:
        return ""
    if key == "cpv_codes":
        return ";".join(value)
    if key == "documents":
        return ";".join(d["url"] for d in value)
    if key == "technology_areas":
        return ";".join(a["id"] for a in value)
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return value


# -- database --------------------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
@db_option
def db_upgrade(db_url: str | None) -> None:
    """Create or upgrade the schema (every command also does this on start)."""
    engine = connect(db_url)
    click.echo(f"database at {engine.url.render_as_string(hide_password=True)} is up to date")


# -- demo ------------------------------------------------------------------------------------------


@main.command()
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("var/demo"),
    show_default=True,
    help="Folder for the demo's database and export (its database is recreated).",
)
@click.option("--no-real-data", is_flag=True, help="Skip ../shared/data even when it is present.")
def demo(out: Path, no_real_data: bool) -> None:
    """The main job, offline: replay the recorded sources through the whole pipeline."""
    from monitor.demo import run_demo

    report = run_demo(out, now=utcnow(), echo=click.echo, with_real_data=not no_real_data)
    if not report.ok:
        raise click.ClickException("the demo crawl did not run cleanly: see the lines above")


# -- classification --------------------------------------------------------------------------------


@main.command()
@click.argument("refs", nargs=-1)
@click.option("--all", "everything", is_flag=True, help="Every stored notice.")
@click.option("--outdated", is_flag=True, help="Only notices classified by another classifier version.")
@db_option
def classify(refs: tuple[str, ...], everything: bool, outdated: bool, db_url: str | None) -> None:
    """Classify stored notices again (after a taxonomy or model change); corrections still win."""
    from sqlalchemy import or_, select

    from monitor.classifier import CLASSIFIER_VERSION
    from monitor.models import NoticeRow
    from monitor.store import NoticeStore

    if not (refs or everything or outdated):
        raise click.UsageError("name notices (source/source_id), or give --all or --outdated")
    engine = connect(db_url)
    now = utcnow()
    changed = seen = 0
    with session_scope(engine) as session:
        store = NoticeStore(session, now)
        if refs:
            rows = [_notice_or_fail(session, ref) for ref in refs]
        else:
            query = select(NoticeRow).order_by(NoticeRow.id)
            if outdated and not everything:
                query = query.where(
                    or_(NoticeRow.classifier_version.is_(None), NoticeRow.classifier_version != CLASSIFIER_VERSION)
                )
            rows = list(session.scalars(query))
        moved: list[Any] = []
        for row in rows:
            seen += 1
            if store.reclassify(row):
                changed += 1
                moved.append(row)
        # Areas feed matching: notices whose areas moved are matched again.
        store.rematch(moved)
    click.echo(f"{seen} notice(s) classified by {CLASSIFIER_VERSION}: {changed} with other areas than before")
    click.echo(str(store.matches), err=True)


def _notice_or_fail(session: Any, ref: str) -> Any:
    row = find_notice(session, ref)
    if row is None:
        raise click.ClickException(f"no notice {ref!r} (use source/source_id, e.g. ted/154324-2020)")
    return row


# "-general_other" must reach CORRECTIONS as it is: unknown options pass through, and only the
# long --help is an option here, since click reads "-general_other" as a cluster of short flags
# and the "h" in it would print the help and change nothing.
@notices.command("tag", context_settings={"ignore_unknown_options": True, "help_option_names": ["--help"]})
@click.argument("ref")
@click.argument("corrections", nargs=-1, required=True)
@click.option("--by", default="ILO", show_default=True, help="Who corrects (kept in the history).")
@db_option
def notices_tag(ref: str, corrections: tuple[str, ...], by: str, db_url: str | None) -> None:
    """Correct a notice's technology areas: REF +vacuum -general_other (corrections win)."""
    from monitor.store import NoticeStore

    engine = connect(db_url)
    now = utcnow()
    with session_scope(engine) as session:
        row = _notice_or_fail(session, ref)
        store = NoticeStore(session, now)
        before, after = store.correct_areas(row, list(corrections), by=by)["technology_areas"]
        store.rematch([row])
    click.echo(f"{row.source}/{row.source_id}: {', '.join(before) or '-'} -> {', '.join(after) or '-'}")
    click.echo(str(store.matches), err=True)


def _register() -> None:
    # Command groups that live with their subsystem; registered here, where the parts are wired.
    from alerts.cli import digest, unsubscribe
    from monitor.classifier.cli import classifier
    from monitor.crawl.cli import crawl, sources
    from monitor.intake_cli import add, edit, withdraw
    from monitor.matching.cli import companies, matches, profiles
    from monitor.scheduling.cli import run, serve, status
    from monitor.web.cli import calendar, feed, link, users, web

    @classifier.command("corrections")
    @click.option("--output", type=click.Path(path_type=Path), help="File instead of standard output.")
    @db_option
    def classifier_corrections(output: Path | None, db_url: str | None) -> None:
        """Notices an ILO corrected, as training data (contract JSON lines + gold_areas)."""
        from sqlalchemy import func, select

        from monitor.models import NoticeRow

        engine = connect(db_url)
        count = 0
        with session_scope(engine) as session:
            stream = output.open("w", encoding="utf-8") if output else sys.stdout
            try:
                # json_array_length works on SQLite and PostgreSQL alike (json has no `<>` there).
                corrected = func.json_array_length(NoticeRow.area_corrections) > 0
                for row in session.scalars(select(NoticeRow).where(corrected).order_by(NoticeRow.id)):
                    record = row.to_notice().to_record()
                    record["gold_areas"] = [a["id"] for a in row.technology_areas]
                    stream.write(json.dumps(record, ensure_ascii=False) + "\n")
                    count += 1
            finally:
                if output:
                    stream.close()
        click.echo(f"{count} corrected notice(s)" + (f" written to {output}" if output else ""), err=True)

    commands = (calendar, classifier, companies, crawl, digest, feed, matches, profiles, run, serve, sources, status)
    for group in (*commands, unsubscribe, users, web):
        main.add_command(group)
    companies.add_command(link)
    from monitor.crawl.scrapyd import COMMANDS as SCRAPYD_COMMANDS

    for command in SCRAPYD_COMMANDS:
        main.add_command(command)
    for command in (add, edit, withdraw):
        notices.add_command(command)


_register()
if __name__ == "__main__":  # `python -m monitor.cli`
    main()
