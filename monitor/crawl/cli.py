"""The crawl commands of `ilo-monitor`: `crawl SOURCE` and the `sources` group.

- `ilo-monitor crawl SOURCE [--since D] [--until D] [--replay DIR]`: an incremental, recorded
  crawl of one source (`monitor.crawl.jobs.crawl_source`), then the recorded run; exit code 1
  when the run failed.
- `ilo-monitor sources` (= `sources list`): every configured source with its last run, state,
  items and cursor.
- `ilo-monitor sources record NAME --out DIR [-a k=v]`: a live crawl whose exchanges are saved in
  the replay format (for an operator with internet, to refresh a recording). Not run in CI.
- `ilo-monitor sources check NAME`: a short live crawl into a throw-away database, validated;
  exit code 1 when it failed. Not run in CI.

The lead registers them on the main group (`main.add_command(crawl)`, `main.add_command(sources)`).
"""

from __future__ import annotations

import json
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

import click

from monitor.commandline import ErrorGroup, connect, db_option, user_errors
from monitor.contract import utcnow
from monitor.crawl.jobs import crawl_source
from monitor.crawl.replay import recorded_spider_args, run_crawl
from monitor.crawl.runs import CrawlRun, cursor, runs_by_source
from monitor.crawl.sources import load_sources
from monitor.db import session_scope
from monitor.errors import ConfigurationError

_DATE = click.DateTime(["%Y-%m-%d"])


def _known_source(name: str) -> None:
    if name not in load_sources():
        known = ", ".join(sorted(load_sources()))
        raise ConfigurationError(f"no source {name!r} in monitor/sources.yaml (known: {known})")


def describe_run(run: CrawlRun) -> list[str]:
    """The lines that show a recorded run."""
    lines = [run.summary()]
    if run.responses:
        lines.append("  responses: " + ", ".join(f"{status} x{count}" for status, count in run.responses.items()))
    if run.drops:
        lines.append("  dropped: " + ", ".join(f"{reason} x{count}" for reason, count in run.drops.items()))
    lines += [f"  error: {message}" for message in run.error_messages[:10]]
    return lines


@click.command("crawl")
@click.argument("source")
@click.option("--since", type=_DATE, help="Backfill from this date (YYYY-MM-DD); default: cursor minus overlap.")
@click.option("--until", type=_DATE, help="Up to this date (YYYY-MM-DD); default: today.")
@click.option(
    "--replay",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="Answer from this recording folder (tests/fixtures/<source>) instead of the network.",
)
@db_option
def crawl(source: str, since: datetime | None, until: datetime | None, replay: Path | None, db_url: str | None) -> None:
    """Crawl one source incrementally, record the run and print it."""
    with user_errors():
        _known_source(source)
        engine = connect(db_url)
        now = utcnow()
        # A recording answers the requests it was made for: its spider arguments (page size,
        # query...) apply, except the window, which is this command's.
        recorded = recorded_spider_args(replay) if replay else {}
        arguments = {k: v for k, v in recorded.items() if k not in ("since", "until")}
        run, _result = crawl_source(
            source,
            engine,
            now=now,
            since=since.date() if since else None,
            until=until.date() if until else None,
            replay=replay,
            spider_args=arguments,
        )
    for line in describe_run(run):
        click.echo(line)
    if not run.succeeded:
        sys.exit(1)


@click.group("sources", cls=ErrorGroup, invoke_without_command=True)
@db_option
@click.pass_context
def sources(ctx: click.Context, db_url: str | None) -> None:
    """The crawled sources: their last run and state (`list`, the default), live recording and checks."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(sources_list, db_url=db_url)


@sources.command("list")
@db_option
def sources_list(db_url: str | None) -> None:
    """Every configured source with its last run, its state, its items and its cursor."""
    with user_errors():
        configured = load_sources()
        engine = connect(db_url)
    with session_scope(engine) as session:
        last = runs_by_source(session)
        for name, config in configured.items():
            run = last.get(name)
            covered = cursor(session, name)
            enabled = "enabled" if config.enabled else "disabled"
            if run is None:
                click.echo(f"{name:<10} {enabled:<8} never run")
                continue
            started = run.started_at.isoformat(timespec="minutes")
            click.echo(
                f"{name:<10} {enabled:<8} last run {started} {run.state:<9} "
                f"{run.items_scraped} items ({run.items_new} new, {run.items_changed} changed, "
                f"{run.items_dropped} dropped), {run.errors} errors; cursor {covered or '-'}"
            )
            for reason in run.failure_reasons[:3]:
                click.echo(f"           failed: {reason}")


def _spider_arguments(pairs: tuple[str, ...]) -> dict[str, str]:
    arguments: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not NAME=VALUE", param_hint="-a")
        arguments[key.strip()] = value
    return arguments


@sources.command("record")
@click.argument("name")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), required=True, help="Recording folder.")
@click.option("-a", "arguments", multiple=True, metavar="NAME=VALUE", help="Spider argument (repeatable).")
def sources_record(name: str, out: Path, arguments: tuple[str, ...]) -> None:
    """Crawl NAME live and save every exchange in the replay format (needs internet)."""
    with user_errors():
        _known_source(name)
    spider_args = _spider_arguments(arguments)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ilo-monitor-record-") as tmp:
        result = run_crawl(
            name,
            db_url=f"sqlite:///{Path(tmp) / 'record.sqlite'}",
            spider_args=spider_args,
            settings={"ILO_MONITOR_RECORD_DIR": str(out.resolve()), "HTTPCACHE_ENABLED": False},
        )
    (out / "spider_args.json").write_text(json.dumps(spider_args, indent=2) + "\n", encoding="utf-8")
    click.echo(result.summary())
    click.echo(f"recording in {out}: review it, then write expected.jsonl and a README saying it is recorded")
    if not result.ok:
        sys.exit(1)


@sources.command("check")
@click.argument("name")
@click.option("--days", default=2, show_default=True, help="Ask for this many days back.")
@click.option("--items", default=20, show_default=True, help="Stop after this many items.")
def sources_check(name: str, days: int, items: int) -> None:
    """A short live crawl of NAME into a throw-away database, validated (needs internet)."""
    with user_errors():
        _known_source(name)
        now = utcnow()
        with tempfile.TemporaryDirectory(prefix="ilo-monitor-check-") as tmp:
            engine = connect(f"sqlite:///{Path(tmp) / 'check.sqlite'}")
            run, _result = crawl_source(
                name,
                engine,
                now=now,
                since=(now - timedelta(days=days)).date(),
                settings={"CLOSESPIDER_ITEMCOUNT": items, "HTTPCACHE_ENABLED": False},
                timeout=900,
            )
            engine.dispose()
    for line in describe_run(run):
        click.echo(line)
    if run.succeeded and run.items_scraped == 0:
        click.echo(f"warning: {name} answered but gave no notice in {days} days; try --days 7")
    if not run.succeeded:
        sys.exit(1)
