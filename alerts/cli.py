"""The `digest` command group and the `unsubscribe` command (registered on `ilo-monitor` by monitor.cli).

- `digest preview COMPANY [--out DIR]`: the next digest of each of the company's recipients as
  `.txt`, `.html` and `.eml` files, without sending or recording anything;
- `digest send --due`: write what is due to the outbox, then deliver; `digest send --company ID`:
  that company's pending digest now, whatever its schedule. Running either twice sends nothing
  twice (alerts.outbox, alerts.send);
- `digest ilo [--week 2026-W48] --out DIR [--send]`: the ILO weekly digest as HTML and CSV files,
  and to the ILO list with `--send`;
- `digest status`: the outbox by status and every message that did not reach its reader;
- `unsubscribe TOKEN`: what the one-click link does (the web endpoint comes with the web issue).

The clock is read once per command and passed down.
"""

from __future__ import annotations

from pathlib import Path

import click

from alerts.actions import unsubscribe as apply_unsubscribe
from alerts.ilo import assemble_ilo, write_files
from alerts.outbox import Mailer, company_recipients, plan, plan_ilo
from alerts.render import render_pair
from alerts.schedule import Week, local
from alerts.send import RateLimit, deliver, outbox_report, transport_for
from alerts.tokens import Signer, load_secret
from monitor.commandline import ErrorGroup, connect, db_option, user_errors
from monitor.contract import utcnow
from monitor.db import session_scope
from monitor.matching.service import find_company


@click.group(cls=ErrorGroup)
def digest() -> None:
    """Company digests and the ILO weekly digest: preview, send, status."""


@digest.command("preview")
@click.argument("company_id")
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("digest-preview"),
    show_default=True,
    help="Folder for the files.",
)
@db_option
def digest_preview(company_id: str, out: Path, db_url: str | None) -> None:
    """Write COMPANY's next digest (per profile and recipient) to files, without sending."""
    from alerts.digests import assemble
    from alerts.outbox import render_company

    engine = connect(db_url)
    now = utcnow()
    mailer = Mailer.from_environment()
    written = 0
    with session_scope(engine) as session:
        company = find_company(session, company_id)
        if company is None:
            raise click.ClickException(f"no company {company_id!r} (see `ilo-monitor companies list`)")
        pairs = company_recipients(session, company)
        if not pairs:
            raise click.ClickException(f"company {company_id!r} has no active profile with an active recipient")
        out.mkdir(parents=True, exist_ok=True)
        for profile, recipient in pairs:
            result = assemble(session, profile, recipient, "preview", now, mailer.signer, mailer.settings.base_url)
            stem = out / f"{company.id}-{profile.name}-{recipient.id}"
            if result.empty:
                click.echo(f"{recipient.email} ({profile.name}): nothing new: no digest would be sent")
                continue
            text, html, message = render_company(result, mailer, now)
            stem.with_suffix(".txt").write_text(text, encoding="utf-8")
            stem.with_suffix(".html").write_text(html, encoding="utf-8")
            stem.with_suffix(".eml").write_text(message, encoding="utf-8")
            written += 1
            click.echo(f"{recipient.email} ({profile.name}): {result.subject()} -> {stem}.html")
        session.rollback()  # a preview records nothing
    click.echo(f"{written} digest(s) previewed in {out}", err=True)


@digest.command("send")
@click.option("--due", is_flag=True, help="Every digest whose schedule is due now (and the ILO digest on Mondays).")
@click.option("--company", "company_id", help="This company's pending digest, now, whatever its schedule.")
@db_option
def digest_send(due: bool, company_id: str | None, db_url: str | None) -> None:
    """Write due digests to the outbox and deliver them (SMTP, or .eml files without SMTP settings)."""
    if due == bool(company_id):
        raise click.UsageError("give either --due or --company ID")
    engine = connect(db_url)
    now = utcnow()
    mailer = Mailer.from_environment()
    if company_id:
        with session_scope(engine) as session:
            if find_company(session, company_id) is None:
                raise click.ClickException(f"no company {company_id!r} (see `ilo-monitor companies list`)")
    planned = plan(engine, now, mailer, company_id=company_id, force=bool(company_id))
    click.echo(str(planned))
    for line in planned.failed:
        click.echo(f"failed: {line}", err=True)
    settings = mailer.settings
    result = deliver(
        engine, transport_for(settings), now, mailer.sender, rate=RateLimit(settings.rate), company_id=company_id
    )
    where = f"to {settings.outbox_dir}" if settings.uses_files else f"via {settings.smtp_host}"
    click.echo(f"{result} ({where})")
    for line in result.problems:
        click.echo(f"problem: {line}", err=True)


@digest.command("ilo")
@click.option("--week", "week_text", help="ISO week, e.g. 2026-W48 (default: the week before this one).")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), required=True, help="Folder for HTML and CSV.")
@click.option("--send", is_flag=True, help="Also send it to the ILO list (ILO_MONITOR_ILO_EMAILS).")
@db_option
def digest_ilo(week_text: str | None, out: Path, send: bool, db_url: str | None) -> None:
    """The ILO weekly digest of a week, as HTML and CSV files (and mail with --send)."""
    now = utcnow()
    try:
        week = Week.parse(week_text) if week_text else Week.of(local(now).date()).previous()
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--week") from None
    engine = connect(db_url)
    mailer = Mailer.from_environment()
    with session_scope(engine) as session:
        result = assemble_ilo(session, week, now)
        context = {
            "digest": result,
            "subject": result.subject(),
            "email": "the ILO list",
            "unsubscribe_url": mailer.settings.base_url,
            "contact": mailer.settings.unsubscribe_mailto,
        }
        _, html = render_pair("ilo_digest", context)
        html_path, csv_path = write_files(result, html, out)
    click.echo(f"{result.subject()}\nwritten: {html_path}, {csv_path}")
    if send:
        if not mailer.settings.ilo_emails:
            raise click.ClickException("ILO_MONITOR_ILO_EMAILS is empty: no ILO list to send to")
        planned = plan_ilo(engine, week, now, mailer)
        settings = mailer.settings
        delivered = deliver(
            engine, transport_for(settings), now, mailer.sender, rate=RateLimit(settings.rate), kind="ilo"
        )
        click.echo(f"{planned}; {delivered}")


@digest.command("status")
@db_option
def digest_status(db_url: str | None) -> None:
    """The outbox by status, and every digest that failed, bounced, expired or is being retried."""
    engine = connect(db_url)
    with session_scope(engine) as session:
        for line in outbox_report(session):
            click.echo(line)


@click.command("unsubscribe")
@click.argument("token")
@db_option
def unsubscribe(token: str, db_url: str | None) -> None:
    """Stop the digests for the address of TOKEN (from a message's unsubscribe link)."""
    # A bare command, not in an ErrorGroup: report a bad token as one line all the same.
    with user_errors():
        engine = connect(db_url)
        signer = Signer(load_secret(allow_generated=False))
        with session_scope(engine) as session:
            click.echo(apply_unsubscribe(session, signer, token, utcnow()))


COMMANDS = (digest, unsubscribe)
