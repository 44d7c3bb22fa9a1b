"""Item pipelines: what happens to a `Notice` after a spider yields it.

1. `ValidatePipeline` brings it into the contract's shapes (`contract.normalise`) and drops it
   with the specific reason when `contract.validate` still finds problems, counting each reason
   under `ilo_monitor/dropped/<field>`.
2. `StorePipeline` stores it with `monitor.store.NoticeStore` (which classifies it and matches it
   to the company profiles) and counts the outcome under
   `ilo_monitor/store/<new|changed|unchanged>`; a storage error for one notice is logged and
   counted (`ilo_monitor/store/error`) and the crawl goes on with the next one.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.statscollectors import StatsCollector
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from monitor import db
from monitor.contract import NOTICE_FIELDS, Notice, normalise, utcnow, validate
from monitor.errors import ContractError
from monitor.matching.matcher import Matcher
from monitor.matching.service import active_matcher
from monitor.store import NoticeStore

logger = logging.getLogger(__name__)

STATS_PREFIX = "ilo_monitor"


def problem_key(problem: str) -> str:
    """The field a `validate()` problem is about, for a stats key (`"title is missing"` → `title`)."""
    if problem.startswith("document url"):
        return "documents"
    for word in re.findall(r"[a-z_]+", problem):
        if word in NOTICE_FIELDS:
            return word
    return "other"


class ValidatePipeline:
    """Normalise every notice and drop those that break the contract, saying why."""

    def __init__(self, stats: StatsCollector) -> None:
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ValidatePipeline:
        assert crawler.stats is not None
        return cls(crawler.stats)

    def process_item(self, item: Any) -> Notice:
        if not isinstance(item, Notice):
            self.stats.inc_value(f"{STATS_PREFIX}/dropped/not_a_notice")
            raise DropItem(f"not a Notice: {type(item).__name__}")
        try:
            normalise(item)
        except ContractError as error:
            self.stats.inc_value(f"{STATS_PREFIX}/dropped/{error.field}")
            raise DropItem(f"{item.source} {item.source_id}: {error}") from error
        problems = validate(item)
        if problems:
            for key in sorted({problem_key(p) for p in problems}):
                self.stats.inc_value(f"{STATS_PREFIX}/dropped/{key}")
            raise DropItem(f"{item.source} {item.source_id}: {'; '.join(problems)}")
        return item


class StorePipeline:
    """Store every valid notice in the database named by the `ILO_MONITOR_DB` setting.

    Without that setting the project's default database applies (`monitor.settings`), so this
    pipeline is always on. Each notice is committed on its own: one failure loses one notice.
    The schema is upgraded when the spider opens, as every command that opens the database does.
    """

    def __init__(self, stats: StatsCollector, db_url: str) -> None:
        self.stats = stats
        self.db_url = db_url
        self.engine: Engine | None = None
        self.sessions: sessionmaker[Session] | None = None
        self.matcher: Matcher | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        assert crawler.stats is not None
        return cls(crawler.stats, crawler.settings.get("ILO_MONITOR_DB") or db.default_db_url())

    def open_spider(self) -> None:
        self.engine = db.make_engine(self.db_url)
        db.upgrade(self.engine)
        self.sessions = db.session_factory(self.engine)
        # Compiled once per crawl rather than per notice: profiles rarely change during a crawl,
        # and a profile edited meanwhile is matched against every stored notice when it is saved.
        with self.sessions() as session:
            self.matcher = active_matcher(session)

    def close_spider(self) -> None:
        if self.engine is not None:
            self.engine.dispose()

    def process_item(self, item: Notice) -> Notice:
        # The ValidatePipeline runs first, so only contract-valid notices arrive here. Storage is
        # synchronous: a crawl stores a few hundred small rows, and SQLite wants one writer.
        assert self.sessions is not None
        with self.sessions() as session:
            try:
                outcome = NoticeStore(session, utcnow(), matcher=self.matcher).save(item)
                session.commit()
            except Exception:
                session.rollback()
                self.stats.inc_value(f"{STATS_PREFIX}/store/error")
                logger.exception("Could not store %s %s", item.source, item.source_id)
                return item
        self.stats.inc_value(f"{STATS_PREFIX}/store/{outcome}")
        return item
