"""Scrapy extensions: they observe a crawl and write what they saw, never touching items.

`StatsDumpExtension` writes the crawl's stats to a JSON file when the spider closes, so that a
parent process (`monitor.crawl.replay.run_crawl`, the scheduler) can read what a child crawl did:
items stored, dropped, invalid documents, finish reason.
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
