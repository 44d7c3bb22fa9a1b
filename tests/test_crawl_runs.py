"""Crawl runs: recorded and judged, the cursor, incremental windows, the source configuration, the CLI.

The crawls here are real replayed crawls of the constructed TenderNed recording: a backfill,
then an incremental run three days later that asks only for the new window (the cursor minus
one day of overlap) and stores nothing new. The `crawl` and `sources` commands are run through
a click group as the lead registers them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from conftest import new_database_url

from monitor import db
from monitor.crawl.cli import crawl, sources
from monitor.crawl.jobs import crawl_source
from monitor.crawl.replay import ReplayServer
from monitor.crawl.runs import CrawlRun, cursor, judge, next_window
from monitor.crawl.sources import parse_sources, source_config, technology_cpv_divisions
from monitor.db import session_scope
from monitor.errors import ConfigurationError

FIXTURES = Path(__file__).parent / "fixtures"
API = "https://www.tenderned.nl/papi/tenderned-rs-tns/v2/publicaties"


def cli() -> click.Group:
    group = click.Group("ilo-monitor")
    group.add_command(crawl)
    group.add_command(sources)
    return group


# -- judging ---------------------------------------------------------------------------------------


def test_a_clean_crawl_succeeds() -> None:
    assert judge({"ilo_monitor/listed": 3, "item_scraped_count": 3}, "finished") == []
    assert judge({}, "finished") == []  # a quiet day is not a failure


@pytest.mark.parametrize(
    ("stats", "reason", "why"),
    [
        ({}, "shutdown", "finish reason shutdown"),
        ({"log_count/ERROR": 2}, "finished", "2 error(s) logged"),
        ({"ilo_monitor/page_lost": 1}, "finished", "1 page(s) of results lost"),
        ({"ilo_monitor/store/error": 1}, "finished", "1 notice(s) could not be stored"),
        ({"ilo_monitor/listed": 7}, "finished", "the source listed 7 entries but no notice came of them"),
    ],
)
def test_a_crawl_that_did_not_get_the_data_fails(stats: dict[str, Any], reason: str, why: str) -> None:
    assert why in judge(stats, reason)


# -- windows ---------------------------------------------------------------------------------------


def test_windows_start_from_the_cursor_with_overlap(tmp_path: Path) -> None:
    engine = db.open_database(new_database_url(tmp_path, "w"))
    today = date(2026, 11, 23)
    with session_scope(engine) as session:
        # No succeeded run yet: the first backfill.
        assert next_window(session, "x", today=today, overlap_days=1, backfill_days=7) == (date(2026, 11, 16), today)
        started = datetime(2026, 11, 20, tzinfo=UTC)
        for state, until in (("succeeded", date(2026, 11, 20)), ("failed", date(2026, 11, 22))):
            session.add(CrawlRun(source="x", state=state, started_at=started, window_until=until))
            started += timedelta(hours=1)
        session.flush()
        # A failed run never moves the cursor: its window is read again.
        assert cursor(session, "x") == date(2026, 11, 20)
        assert next_window(session, "x", today=today, overlap_days=1, backfill_days=7) == (date(2026, 11, 19), today)
        # A backfill names its window.
        backfill = next_window(
            session, "x", today=today, overlap_days=1, backfill_days=7, since=date(2026, 1, 1), until=date(2026, 2, 1)
        )
        assert backfill == (date(2026, 1, 1), date(2026, 2, 1))


# -- a first and a second run ------------------------------------------------------------------------


def test_a_second_run_asks_only_for_the_new_window_and_stores_nothing_new(tmp_path: Path) -> None:
    engine = db.open_database(new_database_url(tmp_path, "runs"))
    arguments = {"page_size": "4"}
    with ReplayServer(FIXTURES / "tenderned") as server:
        first, _ = crawl_source(
            "tenderned",
            engine,
            now=datetime(2026, 11, 20, 18, 0, tzinfo=UTC),
            since=date(2026, 11, 16),
            replay=server,
            spider_args=arguments,
            timeout=120,
        )
        asked_first = [s.url for s in server.served if "?" in s.url]
        server.served.clear()
        second, _ = crawl_source(
            "tenderned", engine, now=datetime(2026, 11, 23, 6, 0, tzinfo=UTC), replay=server, spider_args=arguments
        )
        asked_second = [s.url for s in server.served if "?" in s.url]
    assert server.unmatched == []
    assert first.state == "succeeded" and (first.items_new, first.window_until) == (5, date(2026, 11, 20))
    assert asked_first == [
        f"{API}?page=0&size=4&publicatieDatumVanaf=2026-11-16",
        f"{API}?page=1&size=4&publicatieDatumVanaf=2026-11-16",
    ]
    # The cursor (2026-11-20) minus the configured day of overlap, up to today.
    assert source_config("tenderned").window_overlap_days == 1
    assert (second.window_since, second.window_until) == (date(2026, 11, 19), date(2026, 11, 23))
    assert asked_second == [f"{API}?page=0&size=4&publicatieDatumVanaf=2026-11-19"]
    assert second.state == "succeeded"
    assert (second.items_new, second.items_changed, second.items_stored) == (0, 0, 2)
    with session_scope(engine) as session:
        assert cursor(session, "tenderned") == date(2026, 11, 23)
        runs = session.query(CrawlRun).order_by(CrawlRun.id).all()
        assert [(r.source, r.state) for r in runs] == [("tenderned", "succeeded")] * 2
        assert runs[1].arguments["since"] == "2026-11-19"
    engine.dispose()


def test_a_crawl_that_cannot_start_is_recorded_as_failed(tmp_path: Path) -> None:
    engine = db.open_database(new_database_url(tmp_path, "bad"))
    run, result = crawl_source(
        "tenderned", engine, now=datetime(2026, 11, 23, tzinfo=UTC), spider_args={"page_size": "many"}, timeout=120
    )
    assert result.returncode != 0
    assert run.state == "failed"
    assert "the crawl process ended without closing the run" in run.failure_reasons[0]
    assert any("page_size" in m for m in run.error_messages), run.error_messages
    engine.dispose()


# -- the commands ----------------------------------------------------------------------------------


def test_crawl_and_sources_commands(tmp_path: Path) -> None:
    db_url = new_database_url(tmp_path, "cli")
    runner = CliRunner()
    before = runner.invoke(cli(), ["sources", "--db", db_url])
    assert before.exit_code == 0, before.output
    assert "tenderned  enabled  never run" in before.output
    crawled = runner.invoke(
        cli(),
        [
            "crawl",
            "esa_star",
            "--since",
            "2026-11-16",
            "--until",
            "2026-11-23",
            "--replay",
            str(FIXTURES / "esa_star"),
            "--db",
            db_url,
        ],
    )
    assert crawled.exit_code == 0, crawled.output
    assert "esa_star run 1: succeeded (finished), window 2026-11-16..2026-11-23" in crawled.output
    listed = runner.invoke(cli(), ["sources", "list", "--db", db_url])
    line = next(line for line in listed.output.splitlines() if line.startswith("esa_star"))
    assert "succeeded" in line and "6 items (6 new, 0 changed, 0 dropped), 0 errors; cursor 2026-11-23" in line
    unknown = runner.invoke(cli(), ["crawl", "nowhere", "--db", db_url])
    assert unknown.exit_code == 1 and "no source 'nowhere' in monitor/sources.yaml" in unknown.output


# -- the source configuration ----------------------------------------------------------------------


def test_the_shipped_configuration_loads() -> None:
    ted = source_config("ted")
    assert ted.delay >= 2 and ted.concurrency == 1
    assert ted.divisions() == technology_cpv_divisions()
    assert source_config("tenderned").organisations == ("nikhef", "astron", "sron", "differ", "jive")
    assert source_config("unknown").delay == 2.0  # defaults for a source without an entry


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ted: {delay: fast}", "sources.yaml: ted.delay: must be a number >= 0, not 'fast'"),
        ("ted: {speed: 1}", "sources.yaml: ted.speed: is not a source setting"),
        ("ted: {query: {organisations: [cern, nasa]}}", "ted.query.organisations: 'nasa' is not in the organisation"),
        ("ted: {query: {cpv_divisions: ['3']}}", "ted.query.cpv_divisions: must be `taxonomy` or a list"),
        ("ted: {credentials: {user_env: X}}", "ted.credentials: needs both user_env and password_env"),
        ("ted: {concurrency: 0}", "ted.concurrency: must be a whole number >= 1"),
        ("- ted", "(top): must map source names"),
    ],
)
def test_configuration_mistakes_name_the_file_and_key(text: str, message: str) -> None:
    with pytest.raises(ConfigurationError) as error:
        parse_sources(text, Path("monitor/sources.yaml"))
    assert message in str(error.value)


def test_configured_politeness_becomes_the_spider_settings() -> None:
    from scrapy.settings import Settings

    from spiders.ted import TedSpider
    from spiders.tenderned import TenderNedSpider

    settings = Settings()
    settings.setmodule("monitor.crawl.settings", priority="project")
    TedSpider.update_settings(settings)
    assert settings.getfloat("DOWNLOAD_DELAY") == source_config("ted").delay
    assert settings.getbool("HTTPCACHE_ENABLED") is False
    settings = Settings()
    settings.setmodule("monitor.crawl.settings", priority="project")
    settings.set("DOWNLOAD_DELAY", 0, priority="cmdline")  # a replay says so on the command line
    TenderNedSpider.update_settings(settings)
    assert settings.getfloat("DOWNLOAD_DELAY") == 0
    assert settings.getbool("HTTPCACHE_ENABLED") is True  # conditional requests for TenderNed
    assert settings.get("HTTPCACHE_POLICY") == "scrapy.extensions.httpcache.RFC2616Policy"
