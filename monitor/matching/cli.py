"""The `companies`, `matches` and `profiles` command groups (registered on `ilo-monitor` by monitor.cli).

Same conventions as the rest of the CLI: `--db` on every command, the clock read once here and
passed down, user errors as one clear line (exit code 2 for errors raised as `IloMonitorError`).
"""

from __future__ import annotations

import fnmatch
import json
import sys
from pathlib import Path
from typing import Any

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.commandline import ErrorGroup, amsterdam, connect, db_option
from monitor.contract import utcnow
from monitor.db import session_scope
from monitor.errors import IloMonitorError
from monitor.matching.evaluate import evaluate, format_table, read_gold
from monitor.matching.importer import (
    EMAIL,
    RowError,
    apply_settings,
    check_settings,
    empty_settings,
    import_companies,
)
from monitor.matching.models import FREQUENCIES, WEEKDAYS, Company, Profile, Recipient
from monitor.matching.service import (
    find_company,
    match_profiles,
    match_query,
    match_records,
    preview,
    record_feedback,
    spec_of,
    suppressed_notices,
)
from monitor.models import NoticeRow
from monitor.store import find_notice


def _company(session: Session, company_id: str) -> Company:
    company = find_company(session, company_id)
    if company is None:
        raise click.ClickException(f"no company {company_id!r} (see `ilo-monitor companies list`)")
    return company


# -- companies -------------------------------------------------------------------------------------


@click.group(cls=ErrorGroup)
def companies() -> None:
    """Import, list, show and edit companies and their profiles."""


@companies.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--by", help="Who imports (kept in the profile history; default: the file name).")
@db_option
def companies_import(path: Path, by: str | None, db_url: str | None) -> None:
    """Import companies from a CSV or JSONL file (re-importing updates them)."""
    engine = connect(db_url)
    now = utcnow()
    with session_scope(engine) as session:
        summary = import_companies(session, path, now, by=by)
        matched = match_profiles(session, summary.profiles, now)
    click.echo(
        f"{summary.created} created, {summary.updated} updated, {summary.unchanged} unchanged, "
        f"{len(summary.rejected)} rejected; {matched}"
    )
    for line, reason in summary.rejected:
        click.echo(f"rejected {path} line {line}: {reason}", err=True)
    if summary.rejected and not (summary.created or summary.updated or summary.unchanged):
        sys.exit(1)


@companies.command("list")
@db_option
def companies_list(db_url: str | None) -> None:
    """Every company with its profiles' areas."""
    engine = connect(db_url)
    with session_scope(engine) as session:
        rows = list(session.scalars(select(Company).order_by(Company.id)))
        for company in rows:
            areas = sorted({a for p in company.profiles for a in p.areas})
            click.echo(
                f"{company.id:<20} {company.name[:40]:<40} {company.country or '-':<2} "
                f"{len(company.recipients)} recipient(s), {len(company.profiles)} profile(s)  "
                f"areas: {','.join(areas) or '-'}"
            )
        click.echo(f"{len(rows)} company(ies)", err=True)


@companies.command("show")
@click.argument("company_id")
@db_option
def companies_show(company_id: str, db_url: str | None) -> None:
    """A company: recipients, profiles and each profile's history of edits."""
    engine = connect(db_url)
    with session_scope(engine) as session:
        company = _company(session, company_id)
        click.echo(f"{company.id}: {company.name} ({company.country or '-'})")
        click.echo("Recipients:")
        for recipient in company.recipients:
            stopped = " (unsubscribed)" if recipient.unsubscribed_at else " (bounced)" if recipient.bounced_at else ""
            click.echo(f"  {recipient.name or '-'} <{recipient.email}> {recipient.role or ''}{stopped}".rstrip())
        for profile in company.profiles:
            click.echo(f"Profile {profile.name} ({'active' if profile.active else 'inactive'}, {profile.frequency}):")
            for name, value in profile.settings().items():
                if name in ("active", "frequency", "digest_weekday", "digest_hour"):
                    continue
                shown = "; ".join(value) if isinstance(value, list) else value
                click.echo(f"  {name:>13}: {shown if shown not in (None, '') else '-'}")
            click.echo(f"  {'recipients':>13}: {', '.join(r.email for r in profile.recipients) or '-'}")
            click.echo("  History:")
            for version in profile.versions:
                click.echo(f"    v{version.version} {amsterdam(version.recorded_at)} by {version.by or '-'}")
                for name, (old, new) in version.changes.items():
                    old_text, new_text = json.dumps(old, ensure_ascii=False), json.dumps(new, ensure_ascii=False)
                    click.echo(f"        {name}: {old_text} -> {new_text}")


def _edit_options(function: Any) -> Any:
    options = []
    for name, what in (
        ("keyword", "keyword expression"),
        ("area", "technology area id"),
        ("cpv", "CPV prefix"),
        ("organisation", "organisation id"),
        ("notice-type", "notice type or stage"),
        ("language", "language code"),
    ):
        options.append(click.option(f"--add-{name}", multiple=True, metavar="VALUE", help=f"Add a {what}."))
        options.append(click.option(f"--remove-{name}", multiple=True, metavar="VALUE", help=f"Remove a {what}."))
    for option in reversed(options):
        function = option(function)
    return function


_LIST_OPTIONS = {
    "keyword": "keywords",
    "area": "areas",
    "cpv": "cpv_prefixes",
    "organisation": "organisations",
    "notice_type": "notice_types",
    "language": "languages",
}


def _bound(value: str | None) -> float | str | None:
    if value is None:
        return "unchanged"
    if value.strip().lower() in ("", "none", "-"):
        return None
    try:
        return float(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a number (or 'none' for no bound)") from None


@companies.command("edit")
@click.argument("company_id")
@click.option("--profile", "profile_name", default="default", show_default=True, help="Which profile (created if new).")
@_edit_options
@click.option("--min-value", help="Minimum estimated value ('none': no minimum).")
@click.option("--max-value", help="Maximum estimated value ('none': no maximum).")
@click.option("--frequency", type=click.Choice(FREQUENCIES), help="Digest frequency.")
@click.option("--digest-day", type=click.Choice(WEEKDAYS), help="Weekday of a weekly digest (Amsterdam time).")
@click.option("--digest-hour", type=click.IntRange(0, 23), help="Hour of a daily or weekly digest (Amsterdam time).")
@click.option("--active/--inactive", default=None, help="Switch the profile on or off.")
@click.option("--name", help="New company name.")
@click.option("--add-recipient", metavar="EMAIL", help="Add a recipient to the company and this profile.")
@click.option("--recipient-name", help="Name of the recipient added.")
@click.option("--by", help="Who edits (kept in the profile history).")
@db_option
def companies_edit(
    company_id: str,
    profile_name: str,
    min_value: str | None,
    max_value: str | None,
    frequency: str | None,
    digest_day: str | None,
    digest_hour: int | None,
    active: bool | None,
    name: str | None,
    add_recipient: str | None,
    recipient_name: str | None,
    by: str | None,
    db_url: str | None,
    **lists: tuple[str, ...],
) -> None:
    """Change a company's profile; every change is kept in the profile's history."""
    engine = connect(db_url)
    now = utcnow()
    with session_scope(engine) as session:
        company = _company(session, company_id)
        if name:
            company.name, company.updated_at = name, now
        profile = next((p for p in company.profiles if p.name == profile_name), None)
        if profile is None:
            profile = Profile(name=profile_name, created_at=now, updated_at=now, **empty_settings())
            company.profiles.append(profile)
        settings = profile.settings()
        for option, field in _LIST_OPTIONS.items():
            values = list(settings[field] or [])
            values += [v for v in lists[f"add_{option}"] if v not in values]
            missing = [v for v in lists[f"remove_{option}"] if v not in values]
            if missing:
                raise click.ClickException(f"{company_id}/{profile_name} has no {field[:-1]} {missing[0]!r}")
            settings[field] = [v for v in values if v not in lists[f"remove_{option}"]]
        for field, raw in (("min_value", min_value), ("max_value", max_value)):
            bound = _bound(raw)
            if bound != "unchanged":
                settings[field] = bound
        if frequency:
            settings["frequency"] = frequency
        if digest_day:
            settings["digest_weekday"] = digest_day
        if digest_hour is not None:
            settings["digest_hour"] = digest_hour
        if active is not None:
            settings["active"] = active
        try:
            checked = check_settings(settings, label=f"{company_id}/{profile_name}")
        except RowError as error:
            raise click.ClickException(f"{company_id}/{profile_name}: {error}") from error
        changes = apply_settings(profile, checked, now, by or "companies edit")
        if add_recipient:
            email = add_recipient.strip().lower()
            if not EMAIL.match(email):
                raise click.ClickException(f"email {add_recipient!r} is malformed")
            recipient = next((r for r in company.recipients if r.email == email), None)
            if recipient is None:
                recipient = Recipient(email=email, name=recipient_name)
                company.recipients.append(recipient)
            if recipient not in profile.recipients:
                profile.recipients.append(recipient)
        session.flush()
        matched = match_profiles(session, [profile], now) if changes else None
    if changes:
        click.echo(f"{company_id}/{profile_name}: changed {', '.join(changes)}; {matched}")
    else:
        click.echo(f"{company_id}/{profile_name}: no profile change")


# -- matches ---------------------------------------------------------------------------------------


@click.group(cls=ErrorGroup)
def matches() -> None:
    """Stored matches: list, export, feedback and evaluation."""


@matches.command("list")
@click.option("--company", "company_id", required=True, help="Company id.")
@click.option("--limit", default=50, show_default=True, help="At most this many (0: all).")
@db_option
def matches_list(company_id: str, limit: int, db_url: str | None) -> None:
    """A company's matches, best first, with their reasons."""
    engine = connect(db_url)
    with session_scope(engine) as session:
        _company(session, company_id)
        suppressed = suppressed_notices(session, company_id)
        query = match_query(company_id)
        if limit:
            query = query.limit(limit)
        rows = session.execute(query).all()
        for match, profile, notice in rows:
            mark = "  [not relevant]" if notice.id in suppressed else ""
            click.echo(
                f"{match.score:.2f}  {notice.source}/{notice.source_id}  {notice.published_on or '-'}  "
                f"{notice.organisation or '-'}  profile {profile.name}{mark}"
            )
            click.echo(f"      {notice.title[:100]}")
            click.echo(f"      {'; '.join(match.reasons)}")
        click.echo(f"{len(rows)} match(es)", err=True)


@matches.command("export")
@click.option("--format", "fmt", type=click.Choice(["jsonl"]), default="jsonl", show_default=True)
@click.option("--output", type=click.Path(path_type=Path), help="Write to this file instead of standard output.")
@click.option("--company", "company_id", help="Only this company.")
@db_option
def matches_export(fmt: str, output: Path | None, company_id: str | None, db_url: str | None) -> None:
    """Every stored match as {company, profile, source, source_id, score, reasons}, one a line."""
    engine = connect(db_url)
    count = 0
    with session_scope(engine) as session:
        stream = output.open("w", encoding="utf-8") if output else sys.stdout
        try:
            for record in match_records(session, company_id):
                stream.write(json.dumps(record, ensure_ascii=False) + "\n")
                count += 1
        finally:
            if output:
                stream.close()
    click.echo(f"{count} match(es) exported" + (f" to {output}" if output else ""), err=True)


@matches.command("feedback")
@click.argument("company_id")
@click.argument("notice_ref")
@click.option("--relevant/--not-relevant", required=True, help="Whether the notice is relevant to the company.")
@click.option("--by", help="Who judges (company contact or ILO).")
@click.option("--note", help="Why, in a few words (kept for tuning).")
@db_option
def matches_feedback(
    company_id: str, notice_ref: str, relevant: bool, by: str | None, note: str | None, db_url: str | None
) -> None:
    """Mark a notice relevant or not for a company; "not relevant" is never alerted to it again."""
    engine = connect(db_url)
    now = utcnow()
    with session_scope(engine) as session:
        company = _company(session, company_id)
        notice = find_notice(session, notice_ref)
        if notice is None:
            raise click.ClickException(f"no notice {notice_ref!r} (use source/source_id, e.g. ted/154324-2020)")
        record_feedback(session, company, notice, relevant=relevant, now=now, by=by, note=note)
    verdict = "relevant" if relevant else "not relevant (never alerted to this company again)"
    click.echo(f"{company_id}: {notice.source}/{notice.source_id} marked {verdict}")


@matches.command("evaluate")
@click.option("--gold", "gold_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--notices",
    "notice_paths",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="Import these notices first and evaluate on them only (default: every stored notice).",
)
@click.option("--only", "pattern", help="Only notices whose source_id matches this glob (e.g. 'test-*').")
@click.option("--errors", "show_errors", is_flag=True, help="Also list the matcher's wrong and missed pairs.")
@db_option
def matches_evaluate(
    gold_path: Path, notice_paths: tuple[Path, ...], pattern: str | None, show_errors: bool, db_url: str | None
) -> None:
    """Precision, recall and F1 of the stored profiles against a gold file, beside a keyword-only baseline."""
    from monitor.contract import Notice
    from monitor.importer import import_paths, iter_inputs, read_notices

    engine = connect(db_url)
    now = utcnow()
    gold = read_gold(gold_path)
    keys: set[tuple[str, str]] | None = None
    if notice_paths:
        # classify=None keeps the areas the file states: the gold set measures the matcher alone.
        summary = import_paths(engine, notice_paths, now=now, classify=None)
        for rejected in summary.rejected:
            click.echo(f"rejected {rejected.origin}: {rejected.reason}", err=True)
        keys = set()
        for item in iter_inputs(notice_paths):
            if isinstance(item, tuple):
                keys.update((n.source, n.source_id) for n in read_notices(*item) if isinstance(n, Notice))
    with session_scope(engine) as session:
        specs = [
            spec_of(p) for p in session.scalars(select(Profile).where(Profile.active.is_(True)).order_by(Profile.id))
        ]
        if not specs:
            raise IloMonitorError("no active profiles: import companies first (`ilo-monitor companies import`)")
        query = select(NoticeRow).order_by(NoticeRow.id)
        rows = [r for r in session.scalars(query) if keys is None or (r.source, r.source_id) in keys]
        if pattern:
            rows = [r for r in rows if fnmatch.fnmatchcase(r.source_id, pattern)]
        notices = [r.to_notice() for r in rows]
    if not notices:
        raise IloMonitorError("no notices to evaluate on")
    result = evaluate(specs, notices, gold)
    click.echo(format_table(result))
    if show_errors:
        for company, source_id in result.false_positives:
            click.echo(f"extra  {company}  {source_id}")
        for company, source_id in result.false_negatives:
            click.echo(f"missed {company}  {source_id}")


# -- profiles --------------------------------------------------------------------------------------


@click.group(cls=ErrorGroup)
def profiles() -> None:
    """Try profiles out before they go live."""


@profiles.command("preview")
@click.argument("company_id")
@click.option("--days", default=90, show_default=True, help="Notices published in the last N days.")
@click.option("--profile", "profile_name", help="Only this profile (default: all of the company's).")
@db_option
def profiles_preview(company_id: str, days: int, profile_name: str | None, db_url: str | None) -> None:
    """What the company's profiles would have matched (computed only: nothing is written)."""
    engine = connect(db_url)
    now = utcnow()
    with session_scope(engine) as session:
        company = _company(session, company_id)
        found = preview(session, company, now, days=days, profile=profile_name)
        for notice, result in found:
            click.echo(
                f"{result.score:.2f}  {notice.source}/{notice.source_id}  {notice.published_on or '-'}  "
                f"{notice.organisation or '-'}  profile {result.profile}"
            )
            click.echo(f"      {notice.title[:100]}")
            click.echo(f"      {'; '.join(result.reasons)}")
        session.rollback()  # a preview never writes, whatever was loaded
    click.echo(f"{len(found)} notice(s) of the last {days} days would match (nothing written)", err=True)


COMMANDS = (companies, matches, profiles)
__all__ = ["COMMANDS", "companies", "matches", "profiles"]
