"""`ilo-monitor notices add | edit | withdraw`: manual notices that ILOs keep by hand.

The commands are attached to the `notices` group by `monitor.cli` (`notices.add_command(add)`).
A manual notice is a normal notice (`source` "manual"): it is classified, matched and sent in
digests like any other. Edits and withdrawals are saved through `monitor.store.NoticeStore`, so
each is a version of the notice (old -> new), with who did it as the version's cause.
"""

from __future__ import annotations

from typing import Any

import click
from sqlalchemy import func, select

from monitor.commandline import connect, db_option
from monitor.contract import EXPORT_KEYS, NOTICE_TYPES, STATUSES, from_record, utcnow
from monitor.db import session_scope
from monitor.errors import ContractError
from monitor.intake import SOURCE
from monitor.models import NoticeVersion
from monitor.store import NoticeStore, find_notice

# Fields an ILO may give; the rest (source, times, areas) belong to the system.
EDITABLE = (
    "title",
    "notice_type",
    "status",
    "procedure_key",
    "description",
    "buyer",
    "buyer_country",
    "organisation",
    "published_on",
    "deadline",
    "cpv_codes",
    "estimated_value",
    "currency",
    "language",
    "url",
)
_LISTS = frozenset({"cpv_codes"})


def _field_options(function: Any) -> Any:
    for name in reversed(EDITABLE):
        flag = "--" + name.replace("_", "-")
        if name == "notice_type":
            option = click.option(flag, "notice_type", type=click.Choice(NOTICE_TYPES), help="Notice type.")
        elif name == "status":
            option = click.option(flag, "status", type=click.Choice(STATUSES), help="Status.")
        elif name in _LISTS:
            option = click.option(flag, name, multiple=True, help="CPV code (repeat for several).")
        elif name == "deadline":
            option = click.option(flag, name, help="ISO date-time with offset, e.g. 2026-12-18T17:00:00+01:00.")
        elif name == "published_on":
            option = click.option(flag, name, help="YYYY-MM-DD.")
        else:
            option = click.option(flag, name, help=name.replace("_", " ").capitalize() + ".")
        function = option(function)
    return function


def _given(values: dict[str, Any]) -> dict[str, Any]:
    """The fields given on the command line (empty tuples and None are "not given")."""
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in values.items() if v not in (None, ())}


def _checked(record: dict[str, Any]) -> Any:
    try:
        return from_record(record, default_source=SOURCE)
    except ContractError as error:
        raise click.BadParameter(str(error)) from error


@click.command("add")
@_field_options
@click.option("--interactive", is_flag=True, help="Prompt for the fields not given as options.")
@db_option
def add(interactive: bool, db_url: str | None, **fields: Any) -> None:
    """Add a notice received by mail (a CERN price enquiry, an ESO imminent call)."""
    record = _given(fields)
    if interactive:
        for name in EDITABLE:
            if name in record or name in _LISTS:
                continue
            while True:
                answer = click.prompt(name.replace("_", " "), default="", show_default=False).strip()
                if not answer and name != "title":
                    break
                if not answer:
                    continue
                try:
                    # Check each answer at once, so a bad date is asked again, not reported at the end.
                    from_record({"title": "x", **{name: answer}})
                except ContractError as error:
                    click.echo(f"  {error}", err=True)
                    continue
                record[name] = answer
                break
    if "title" not in record:
        raise click.UsageError("a title is required (--title, or --interactive)")
    notice = _checked(record)
    engine = connect(db_url)
    with session_scope(engine) as session:
        outcome = NoticeStore(session, utcnow()).save(notice)
        session.commit()
    click.echo(f"{notice.source}/{notice.source_id} ({outcome})")


@click.command("edit")
@click.argument("ref")
@_field_options
@click.option("--by", required=True, help="Who edits (kept with the version).")
@db_option
def edit(ref: str, by: str, db_url: str | None, **fields: Any) -> None:
    """Change fields of a manual notice (REF: manual/<id>); the change is kept as a version."""
    changes = _given(fields)
    if not changes:
        raise click.UsageError("nothing to change: give at least one field option")
    _save_changed(db_url, ref, changes, by)


@click.command("withdraw")
@click.argument("ref")
@click.option("--reason", help="Why (kept with the version).")
@click.option("--by", required=True, help="Who withdraws (kept with the version).")
@db_option
def withdraw(ref: str, reason: str | None, by: str, db_url: str | None) -> None:
    """Withdraw a manual notice: its status becomes cancelled, its history stays."""
    _save_changed(db_url, ref, {"status": "cancelled"}, by + (f": {reason}" if reason else ""))


def _save_changed(db_url: str | None, ref: str, changes: dict[str, Any], by: str) -> None:
    engine = connect(db_url)
    now = utcnow()
    with session_scope(engine) as session:
        row = find_notice(session, ref)
        if row is None:
            raise click.ClickException(f"no notice {ref!r} (use manual/<source_id>)")
        if row.source != SOURCE:
            raise click.ClickException(f"{ref} comes from {row.source}: only manual notices can be edited")
        record = {k: v for k, v in row.to_notice().to_record().items() if k in EXPORT_KEYS}
        record.pop("technology_areas", None)
        record.update(changes)
        notice = _checked(record)
        outcome = NoticeStore(session, now).save(notice)
        if outcome == "changed":
            # The store records an update without its author: name the ILO on that version.
            number = session.scalar(select(func.max(NoticeVersion.version)).where(NoticeVersion.notice_id == row.id))
            version = session.scalar(
                select(NoticeVersion).where(NoticeVersion.notice_id == row.id, NoticeVersion.version == number)
            )
            if version is not None:
                version.cause = by
        session.commit()
    click.echo(f"{ref}: {outcome}")
