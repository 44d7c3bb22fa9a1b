"""Politeness and failure, proven on real replayed crawls recorded in the database.

Each test copies a constructed recording into a temporary folder and changes what the "source"
answers (the replay format's `times` and `delay` let one request be answered 429 first, or too
slowly), then runs `crawl_source` as `ilo-monitor crawl` does and reads the recorded run:

- 429 with Retry-After, then 200: the crawl waits as asked and stores everything;
- a Retry-After beyond our limit: given up at once, loudly, run failed;
- 500s and a timeout: retried, given up, run failed with the reasons, cursor not advanced,
  while the next source's crawl completes;
- malformed JSON, an unexpected schema: a failed run naming the problem, not a quiet success.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import new_database_url
from scrapy.http import Response
from scrapy.utils.test import get_crawler

from monitor import db
from monitor.crawl.jobs import crawl_source
from monitor.crawl.middlewares import RetryAfterMiddleware, retry_after_seconds
from monitor.crawl.runs import CrawlRun, cursor
from monitor.db import session_scope
from spiders.tenderned import TenderNedSpider

FIXTURES = Path(__file__).parent / "fixtures"
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
FIRST_PAGE = (
    "https://www.tenderned.nl/papi/tenderned-rs-tns/v2/publicaties?page=0&size=4&publicatieDatumVanaf=2026-11-16"
)
SECOND_PAGE = FIRST_PAGE.replace("page=0", "page=1")


def recording(tmp_path: Path, source: str, edit: Callable[[list[dict[str, Any]], Path], None]) -> Path:
    """A copy of the recording of `source`, its exchanges changed by `edit(exchanges, folder)`."""
    folder = tmp_path / source
    shutil.copytree(FIXTURES / source, folder)
    exchanges = json.loads((folder / "exchanges.json").read_text(encoding="utf-8"))
    edit(exchanges, folder)
    (folder / "exchanges.json").write_text(json.dumps(exchanges, indent=2), encoding="utf-8")
    return folder


def crawl(db_url: str, source: str, folder: Path, **settings: Any) -> CrawlRun:
    engine = db.open_database(db_url)
    window = {
        "tenderned": (date(2026, 11, 16), date(2026, 11, 20)),
        "esa_star": (date(2026, 11, 16), date(2026, 11, 23)),
    }
    page_size = {"tenderned": "4", "esa_star": "3"}[source]
    run, result = crawl_source(
        source,
        engine,
        now=NOW,
        since=window[source][0],
        until=window[source][1],
        replay=folder,
        spider_args={"page_size": page_size},
        settings=settings,
        timeout=120,
    )
    run.stats["_log"] = result.log  # for assertion messages only
    engine.dispose()
    return run


def test_retry_after_is_read_as_seconds_or_an_http_date() -> None:
    now = time.time()
    assert retry_after_seconds("120", now) == 120
    assert retry_after_seconds(b" 7 ", now) == 7
    http_date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now + 30))
    waited = retry_after_seconds(http_date, now)
    assert waited is not None and 28 <= waited <= 31
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now) == 0  # in the past: no wait
    assert retry_after_seconds("soon", now) is None and retry_after_seconds(None, now) is None


def test_backoff_without_retry_after_grows_and_is_capped() -> None:
    settings = {
        "ILO_MONITOR_BACKOFF_BASE": 10,
        "ILO_MONITOR_BACKOFF_CAP": 25,
        "ILO_MONITOR_BACKOFF_TIMES": 5,
        "ILO_MONITOR_BACKOFF_MAX_WAIT": 900,
    }
    crawler = get_crawler(TenderNedSpider, settings)
    middleware = RetryAfterMiddleware.from_crawler(crawler)
    from scrapy import Request

    request = Request(FIRST_PAGE)
    waits = []
    for _ in range(3):
        retried = middleware.process_response(request, Response(FIRST_PAGE, status=503, request=request))
        assert isinstance(retried, Request)
        waits.append(retried.meta["ilo_monitor_backoff_waited"])
        request = retried
    assert waits == [10, 30, 55]  # 10, then 20, then 40 capped at 25
    assert crawler.stats is not None and crawler.stats.get_value("ilo_monitor/backoff/503") == 3


def test_429_with_retry_after_then_success_stores_everything(tmp_path: Path) -> None:
    def throttle_first_page(exchanges: list[dict[str, Any]], folder: Path) -> None:
        exchanges.insert(0, {"url": FIRST_PAGE, "status": 429, "headers": {"Retry-After": "1"}, "times": 1})

    folder = recording(tmp_path, "tenderned", throttle_first_page)
    started = time.monotonic()
    run = crawl(new_database_url(tmp_path, "db"), "tenderned", folder)
    assert run.state == "succeeded", run.stats["_log"]
    assert time.monotonic() - started >= 1  # it did wait as asked
    assert (run.items_scraped, run.items_new) == (5, 5)
    assert run.responses["429"] == 1
    assert run.stats["ilo_monitor/backoff/429"] == 1 and run.stats["ilo_monitor/backoff/retries"] == 1


def test_a_wait_beyond_the_limit_is_given_up_loudly(tmp_path: Path) -> None:
    def block(exchanges: list[dict[str, Any]], folder: Path) -> None:
        exchanges.insert(0, {"url": FIRST_PAGE, "status": 429, "headers": {"Retry-After": "86400"}})

    folder = recording(tmp_path, "tenderned", block)
    run = crawl(new_database_url(tmp_path, "db"), "tenderned", folder)
    assert run.state == "failed"
    assert run.stats["ilo_monitor/backoff/gave_up"] == 1
    assert run.responses == {"429": 1, "404": 1}  # no second ask: Scrapy's own retry leaves 429 to us
    assert any("Gave up on " + FIRST_PAGE in m for m in run.error_messages), run.error_messages
    assert "1 page(s) of results lost" in run.failure_reasons


def test_500s_and_timeouts_fail_the_run_while_the_next_source_completes(tmp_path: Path) -> None:
    def break_source(exchanges: list[dict[str, Any]], folder: Path) -> None:
        exchanges.insert(0, {"url": SECOND_PAGE, "status": 500})
        for exchange in exchanges:
            if exchange["url"].endswith("/publicaties/500102"):
                exchange["delay"] = 3  # longer than the DOWNLOAD_TIMEOUT below

    db_url = new_database_url(tmp_path, "db")
    folder = recording(tmp_path, "tenderned", break_source)
    failed = crawl(db_url, "tenderned", folder, DOWNLOAD_TIMEOUT=1, RETRY_TIMES=1)
    completed = crawl(db_url, "esa_star", FIXTURES / "esa_star")
    assert failed.state == "failed", failed.stats["_log"]
    assert failed.responses["500"] == 2  # asked, retried once, given up
    assert failed.stats["retry/max_reached"] == 2  # the 500 page and the timed-out detail
    assert "1 page(s) of results lost" in failed.failure_reasons
    assert any("Lost a page of tenderned results: HTTP 500" in m for m in failed.error_messages)
    assert any("Lost a tenderned notice" in m and "500102" in m for m in failed.error_messages)
    # What did arrive was stored; the window will be read again.
    assert failed.items_new == 2  # 500101 and 500104; 500103 is not selected
    assert completed.state == "succeeded" and completed.items_new == 6
    with session_scope(db.make_engine(db_url)) as session:
        assert cursor(session, "tenderned") is None
        assert cursor(session, "esa_star") == date(2026, 11, 23)
        assert [r.state for r in session.query(CrawlRun).order_by(CrawlRun.id)] == ["failed", "succeeded"]


@pytest.mark.parametrize(
    ("source", "target", "body", "message"),
    [
        ("tenderned", "list/from-2026-11-16-page-0.json", "<html><body>Onderhoud</body></html>", "malformed JSON"),
        ("tenderned", "list/from-2026-11-16-page-0.json", '{"publicaties": []}', "has no 'content' list"),
        ("esa_star", "list/esa-offset-0.json", '{"error": "moved"}', "the entries are a dict, not a list"),
    ],
)
def test_a_malformed_or_unexpected_answer_is_a_failed_run(
    tmp_path: Path, source: str, target: str, body: str, message: str
) -> None:
    def replace(exchanges: list[dict[str, Any]], folder: Path) -> None:
        (folder / target).write_text(body, encoding="utf-8")

    run = crawl(new_database_url(tmp_path, "db"), source, recording(tmp_path, source, replace))
    assert run.state == "failed", run.stats["_log"]
    assert "1 answer(s) not in the expected schema" in run.failure_reasons
    assert any(message in m for m in run.error_messages), run.error_messages
