"""Scrapy extensions: they observe a crawl and write what they saw, never touching items.

`StatsDumpExtension` writes the crawl's stats to a JSON file when the spider closes, so that a
parent process (`monitor.crawl.replay.run_crawl`, the scheduler) can read what a child crawl did:
items stored, dropped, invalid documents, finish reason.

`CrawlRunExtension` records the crawl in the database (`monitor.crawl.runs.CrawlRun`): a
`running` row when the spider opens (source, start, the window the spider asks for), completed
and judged from Scrapy's stats when it closes. A logging handler keeps the first ERROR lines, so
that `ilo-monitor sources` can say what went wrong without the log file.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from datetime import date, datetime
from pathlib import Path
from typing import Any

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from sqlalchemy.orm import Session, sessionmaker

from monitor import db
from monitor.contract import utcnow
from monitor.crawl.runs import COVERAGE_FIELDS, STATS_PREFIX, CrawlRun, complete_run

logger = logging.getLogger(__name__)


def _json_default(value: object) -> Any:
    # Stats hold datetimes (start_time, finish_time) and occasionally other objects.
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


class StatsDumpExtension:
    """Write the crawl's stats to the JSON file named by the `ILO_MONITOR_STATS_FILE` setting."""

    def __init__(self, crawler: Crawler, path: Path) -> None:
        self.crawler = crawler
        self.path = path

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StatsDumpExtension:
        path = crawler.settings.get("ILO_MONITOR_STATS_FILE")
        if not path:
            raise NotConfigured("ILO_MONITOR_STATS_FILE is not set")
        extension = cls(crawler, Path(path))
        # Signal receivers are held weakly: connect a bound method of an object the crawler keeps.
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def spider_closed(self, spider: Spider, reason: str) -> None:
        assert self.crawler.stats is not None
        stats = dict(self.crawler.stats.get_stats())
        # CoreStats sets finish_reason in its own spider_closed receiver, which runs first
        # (EXTENSIONS_BASE order); set it here too so the file never lacks it.
        stats.setdefault("finish_reason", reason)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename: a reader never sees half a file.
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".stats-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(stats, handle, indent=2, sort_keys=True, default=_json_default)
        os.replace(tmp, self.path)
        logger.info("Stats written to %s", self.path)


def jsonable_stats(stats: dict[str, Any]) -> dict[str, Any]:
    """Scrapy's stats as JSON-ready values (datetimes as ISO text)."""
    result: dict[str, Any] = json.loads(json.dumps(stats, default=_json_default))
    return result


class _ErrorLines(logging.Handler):
    """Keeps the first ERROR (and CRITICAL) messages of the crawl."""

    def __init__(self, limit: int = 20) -> None:
        super().__init__(level=logging.ERROR)
        self.limit = limit
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if len(self.lines) < self.limit:
            try:
                message = record.getMessage()
            except Exception:  # a broken format string must not break the crawl
                message = str(record.msg)
            self.lines.append(f"{record.name}: {message}"[:1000])


class CrawlRunExtension:
    """Record the crawl as a `CrawlRun` in the database named by `ILO_MONITOR_DB` (see the module docstring).

    On unless `ILO_MONITOR_RECORD_RUNS` is false. With `ILO_MONITOR_RUN_ID` it completes the row
    its caller created; otherwise it creates one.
    """

    def __init__(self, crawler: Crawler, db_url: str, run_id: int | None) -> None:
        self.crawler = crawler
        self.db_url = db_url
        self.run_id = run_id
        self.sessions: sessionmaker[Session] | None = None
        self.errors = _ErrorLines()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlRunExtension:
        if not crawler.settings.getbool("ILO_MONITOR_RECORD_RUNS"):
            raise NotConfigured("ILO_MONITOR_RECORD_RUNS is off")
        run_id = crawler.settings.get("ILO_MONITOR_RUN_ID")
        extension = cls(
            crawler,
            crawler.settings.get("ILO_MONITOR_DB") or db.default_db_url(),
            int(run_id) if run_id not in (None, "", "None") else None,
        )
        crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(extension.item_scraped, signal=signals.item_scraped)
        return extension

    def item_scraped(self, item: Any) -> None:
        # Field coverage and the newest publication, for the health rules (monitor.health): a
        # parser that silently stops finding deadlines shows here long before anyone complains.
        stats = self.crawler.stats
        if stats is None:
            return
        for name in COVERAGE_FIELDS:
            if getattr(item, name, None) not in (None, "", [], ()):
                stats.inc_value(f"{STATS_PREFIX}/field/{name}")
        published = getattr(item, "published_on", None)
        if isinstance(published, date):
            stats.max_value(f"{STATS_PREFIX}/newest_published_on", published.isoformat())

    def spider_opened(self, spider: Spider) -> None:
        logging.getLogger().addHandler(self.errors)
        engine = db.make_engine(self.db_url)
        db.upgrade(engine)
        self.sessions = db.session_factory(engine)
        since, until = getattr(spider, "since", None), getattr(spider, "until", None)
        with self.sessions() as session:
            run = session.get(CrawlRun, self.run_id) if self.run_id is not None else None
            if run is None:
                run = CrawlRun(source=spider.name, state="running", started_at=utcnow())
                session.add(run)
            run.window_since, run.window_until = since, until
            run.arguments = {**(run.arguments or {}), **_arguments(spider)}
            session.commit()
            self.run_id = run.id
        logger.info("Recording this crawl as run %s of %s", self.run_id, spider.name)

    def spider_closed(self, spider: Spider, reason: str) -> None:
        logging.getLogger().removeHandler(self.errors)
        if self.sessions is None or self.run_id is None:
            return
        assert self.crawler.stats is not None
        stats = jsonable_stats(dict(self.crawler.stats.get_stats()))
        stats.setdefault("finish_reason", reason)
        with self.sessions() as session:
            run = session.get(CrawlRun, self.run_id)
            if run is None:
                return
            complete_run(run, stats, str(stats["finish_reason"]), now=utcnow(), error_messages=self.errors.lines)
            session.commit()
            summary = run.summary()
        # Said at WARNING when failed so that it stands out, not at ERROR: the errors were counted.
        logger.log(logging.INFO if run.succeeded else logging.WARNING, "%s", summary)
        bind = self.sessions.kw.get("bind")
        if bind is not None:
            bind.dispose()


def _arguments(spider: Spider) -> dict[str, Any]:
    """The spider's arguments worth keeping to reproduce the run."""
    found: dict[str, Any] = {}
    for name in ("since", "until", "query"):
        value = getattr(spider, name, None)
        if value is not None:
            found[name] = value.isoformat() if isinstance(value, date) else str(value)
    return found
