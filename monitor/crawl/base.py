"""Base spiders: the behaviour every source shares, so that a spider module stays small.

A spider collects. It turns what a source publishes into `monitor.contract.Notice` items and
leaves validation and storage to the pipelines (`monitor.crawl.pipelines`).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import scrapy
from scrapy.http import Response
from scrapy.settings import BaseSettings
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from monitor.contract import Notice
from monitor.crawl.sources import SourceConfig, source_config
from monitor.errors import ConfigurationError, InputError
from monitor.parsers import parse_document

STATS_PREFIX = "ilo_monitor"


def parse_date_argument(name: str, value: str | date | None) -> date | None:
    """A spider argument as a date; a clear `ConfigurationError` when it is not YYYY-MM-DD."""
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ConfigurationError(
            f"spider argument `{name}`: {value!r} is not a date (write YYYY-MM-DD, e.g. 2026-11-01)"
        ) from None


def describe_failure(failure: Failure) -> str:
    """What went wrong with a request, for an errback's log line: the HTTP status and the start
    of the body (APIs explain a refused query there), or the network error and the URL."""
    error = failure.value
    if isinstance(error, HttpError):
        response = error.response
        return f"HTTP {response.status} from {response.url}: {response.text[:500]!r}"
    request = getattr(failure, "request", None)
    where = f" ({request.url})" if request is not None else ""
    return f"{failure.getErrorMessage()}{where}"


class BaseSpider(scrapy.Spider):
    """Base class of every ilo-monitor spider.

    To add a source:

    1. Create `spiders/<source>.py` with a class `<Source>Spider(BaseSpider)` whose `name` is
       the source's name (`ted`, `cern`, `esa_star`): module, spider, fixture folder and
       `Notice.source` all use it.
    2. Start the class docstring with the metadata sections, each a heading line followed by
       indented text (checked by `tests/test_spiders_contract.py`):

       - `Domain`: who publishes, and what (one line or two);
       - `Caveats`: what the source does not give or gets wrong;
       - `Spider arguments`: every argument, `since` and `until` included.

    3. Implement `async def start(self)`, yielding the first requests. Use `self.since` and
       `self.until` (dates, validated here; default: the source's `default_backfill_days` up to
       today, in UTC) to ask the source only for what was published in that window. Incremental
       runs get both from `monitor.crawl.jobs.crawl_source` (the cursor, with overlap).
    4. In callbacks, yield `Notice` items. When a response is a whole notice document (eForms
       or TED XML), use `self.notice_from_document(response)` or make `parse_notice` the
       request's callback: a document that cannot be read is logged and counted under
       `ilo_monitor/invalid_document`, so one bad notice never stops the crawl.
    5. Count anything skipped with `self.count("<what>")` (stats key `ilo_monitor/<what>`).
    6. Give the source an entry in `monitor/sources.yaml`: its delay, concurrency and
       conditional requests become this spider's settings (`update_settings`), its query parts
       and credentials are in `self.source`. Never set delays to zero in the spider: replayed
       crawls do that from the command line.
    7. Record the source's answers in `tests/fixtures/<source>/` (see `monitor.crawl.replay`)
       and test the spider's callbacks and a replayed crawl.

    Spiders import only `monitor.contract`, `monitor.parsers`, `monitor.organisations`,
    `monitor.crawl` and Scrapy: the import-rules test checks it.
    """

    # Regarding the source configuration: `self.source` is the entry of monitor/sources.yaml.
    source: SourceConfig

    @classmethod
    def update_settings(cls, settings: BaseSettings) -> None:
        """The source's politeness from monitor/sources.yaml, at spider priority.

        The command line (`-s`, as `run_crawl` gives for replays) still wins.
        """
        super().update_settings(settings)
        name = getattr(cls, "name", None)
        if not name:
            return
        config = source_config(name)
        settings.set("DOWNLOAD_DELAY", config.delay, priority="spider")
        settings.set("CONCURRENT_REQUESTS_PER_DOMAIN", config.concurrency, priority="spider")
        if config.conditional_requests:
            settings.set("HTTPCACHE_ENABLED", True, priority="spider")

    def __init__(
        self,
        *args: Any,
        since: str | date | None = None,
        until: str | date | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.source = source_config(self.name)
        credentials = self.source.credentials()
        if credentials is not None:
            # Read by Scrapy's HttpAuthMiddleware, which sends them only to `http_auth_domain`
            # (set by the spider; Scrapy's default is the domain of the first request).
            self.http_user, self.http_pass = credentials
        self.until: date = parse_date_argument("until", until) or datetime.now(UTC).date()
        default_days = self.source.default_backfill_days
        self.since: date = parse_date_argument("since", since) or self.until - timedelta(days=default_days)
        if self.since > self.until:
            raise ConfigurationError(
                f"spider argument `since` ({self.since.isoformat()}) is after `until` ({self.until.isoformat()})"
            )

    def count(self, what: str, value: int = 1) -> None:
        """Add `value` to the stats counter `ilo_monitor/<what>`."""
        crawler = getattr(self, "crawler", None)  # absent until from_crawler() binds the spider
        if crawler is not None and crawler.stats is not None:
            crawler.stats.inc_value(f"{STATS_PREFIX}/{what}", value)

    def notice_from_document(self, response: Response) -> Notice | None:
        """The notice in an eForms or TED XML response; None (logged and counted) when unreadable."""
        try:
            return parse_document(response.body, origin=response.url)
        except InputError as error:
            # A warning, not an error: the source published a bad document, the crawl is fine.
            # The counter makes it visible in the crawl's stats and health.
            self.logger.warning("Invalid document %s: %s (%s)", response.url, error.reason, type(error).__name__)
            self.count("invalid_document")
            self.count(f"invalid_document/{type(error).__name__}")
            return None

    def parse_notice(self, response: Response) -> Iterator[Notice]:
        """A callback for requests whose response is one notice document."""
        notice = self.notice_from_document(response)
        if notice is not None:
            yield notice
