"""The `web`, `users`, `calendar`, `feed` and `link` commands (registered on `ilo-monitor` by monitor.cli).

- `web [--host 127.0.0.1] [--port 8000]`: serve the pages with waitress (a production WSGI
  server, pure Python); on loopback by default: put a TLS-terminating proxy in front and set
  `ILO_MONITOR_BASE_URL` to its https address;
- `users add EMAIL [--name] [--password-stdin]`, `users list`: ILO accounts;
- `calendar --company ID | --ilo --output FILE`: the ICS calendar of deadlines;
- `feed PROFILE_ID --output FILE`: the Atom feed of a profile's matches;
- `link COMPANY_ID`: the company's signed self-service link (also on the Companies page).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from sqlalchemy import select

from monitor.commandline import ErrorGroup, amsterdam, connect, db_option, user_errors
from monitor.contract import utcnow
from monitor.db import session_scope
from monitor.matching.models import Profile
from monitor.matching.service import find_company


@click.command("web")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.option("--threads", default=4, show_default=True, type=click.IntRange(1, 64), help="Worker threads.")
@db_option
def web(host: str, port: int, threads: int, db_url: str | None) -> None:
    """Serve the ILO review, company self-service and unsubscribe pages."""
    import waitress

    from monitor.web.app import create_app

    with user_errors():
        app = create_app(db_url)
    click.echo(f"serving on http://{host}:{port}/ (Ctrl-C to stop)", err=True)
    waitress.serve(app, host=host, port=port, threads=threads, ident="ilo-monitor")


@click.group(cls=ErrorGroup)
def users() -> None:
    """ILO accounts of the web pages."""


@users.command("add")
@click.argument("email")
@click.option("--name", help="Name shown on the pages and in the history (default: from the address).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (scripts).")
@db_option
def users_add(email: str, name: str | None, password_stdin: bool, db_url: str | None) -> None:
    """Create an ILO account (the password is asked for, or read from standard input)."""
    from monitor.web.auth import add_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    engine = connect(db_url)
    with session_scope(engine) as session:
        user = add_user(session, email, name, password, utcnow())
        click.echo(f"ILO account {user.email} ({user.name}) created")


@users.command("list")
@db_option
def users_list(db_url: str | None) -> None:
    """Every ILO account with its last login."""
    from monitor.web.models import IloUser

    engine = connect(db_url)
    with session_scope(engine) as session:
        rows = list(session.scalars(select(IloUser).order_by(IloUser.email)))
        for user in rows:
            state = "active" if user.active else "disabled"
            click.echo(f"{user.email:<40} {user.name[:30]:<30} {state:<8} last login {amsterdam(user.last_login_at)}")
    click.echo(f"{len(rows)} account(s)", err=True)


@click.command("calendar")
@click.option("--company", "company_id", help="The deadlines of this company's matches.")
@click.option("--ilo", is_flag=True, help="Every open deadline of the Big Science organisations.")
@click.option("--output", type=click.Path(path_type=Path, dir_okay=False), required=True, help="The .ics file.")
@db_option
def calendar(company_id: str | None, ilo: bool, output: Path, db_url: str | None) -> None:
    """Write an ICS calendar of tender deadlines (per company, or for the ILOs)."""
    from monitor.web import exports

    if bool(company_id) == ilo:
        raise click.UsageError("give either --company ID or --ilo")
    engine = connect(db_url)
    now = utcnow()
    with session_scope(engine) as session:
        if company_id:
            company = find_company(session, company_id)
            if company is None:
                raise click.ClickException(f"no company {company_id!r} (see `ilo-monitor companies list`)")
            data = exports.company_calendar(session, company, now)
        else:
            data = exports.ilo_calendar(session, now)
    output.write_bytes(data)
    click.echo(f"{data.count(b'BEGIN:VEVENT')} deadline(s) written to {output}", err=True)


@click.command("feed")
@click.argument("profile_id", type=int)
@click.option("--output", type=click.Path(path_type=Path, dir_okay=False), required=True, help="The .atom file.")
@db_option
def feed(profile_id: int, output: Path, db_url: str | None) -> None:
    """Write the Atom feed of a profile's matches (PROFILE_ID as in `companies show`)."""
    from monitor.web import exports

    engine = connect(db_url)
    with session_scope(engine) as session:
        profile = session.get(Profile, profile_id)
        if profile is None:
            raise click.ClickException(f"no profile {profile_id} (see `ilo-monitor companies show ID`)")
        data = exports.profile_feed(session, profile)
    output.write_bytes(data)
    click.echo(f"{data.count(b'<entry>')} entr(ies) written to {output}", err=True)


@click.command("link")
@click.argument("company_id")
@db_option
def link(company_id: str, db_url: str | None) -> None:
    """Print COMPANY_ID's signed self-service link (valid 90 days)."""
    from alerts.settings import mail_settings
    from alerts.tokens import load_secret
    from monitor.web.tokens import CompanyLinks

    with user_errors():
        settings = mail_settings()
        links = CompanyLinks(load_secret(allow_generated=settings.uses_files))
        engine = connect(db_url)
        with session_scope(engine) as session:
            if find_company(session, company_id) is None:
                raise click.ClickException(f"no company {company_id!r} (see `ilo-monitor companies list`)")
    click.echo(f"{settings.base_url}/company/{links.token(company_id)}/")


COMMANDS = (web, users, calendar, feed, link)
__all__ = ["COMMANDS", "calendar", "feed", "link", "users", "web"]
