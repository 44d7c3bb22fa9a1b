"""Downloader middlewares of ilo-monitor: waiting when a source says "too many requests".

Scrapy's RetryMiddleware retries a 429 or 503 at once, which is exactly what a rate-limited API
punishes (TED blocks such clients for minutes up to a day). `RetryAfterMiddleware` instead:

- honours `Retry-After` (seconds, or an HTTP date) on 429 and 503, and without it backs off
  exponentially (`ILO_MONITOR_BACKOFF_BASE` × 2^attempt, capped at `ILO_MONITOR_BACKOFF_CAP`);
- pauses the whole host, not only the refused request: every request to it waits until the
  pause ends (an asynchronous sleep; the reactor keeps running);
- gives up loudly (an ERROR naming the URL, the response passed on so the spider's errback sees
  the lost page) after `ILO_MONITOR_BACKOFF_TIMES` attempts, or when the wait asked for exceeds
  `ILO_MONITOR_BACKOFF_MAX_WAIT` seconds;
- counts everything under `ilo_monitor/backoff/*` in the crawl's stats.

The settings remove 429 and 503 from `RETRY_HTTP_CODES`, so these are handled here only.
"""

from __future__ import annotations

import logging
import time
from email.utils import parsedate_to_datetime
from typing import Final
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy.statscollectors import StatsCollector
from scrapy.utils.asyncio import sleep

logger = logging.getLogger(__name__)

THROTTLED: Final = frozenset({429, 503})
_ATTEMPTS = "ilo_monitor_backoff_attempts"
_WAITED = "ilo_monitor_backoff_waited"
PREFIX: Final = "ilo_monitor/backoff"


def retry_after_seconds(value: str | bytes | None, now: float) -> float | None:
    """Seconds to wait from a `Retry-After` header value (delta-seconds or HTTP-date); None if absent or unreadable."""
    if value is None:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if not text:
        return None
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # an HTTP date is GMT by definition
        return None
    return max(0.0, when.timestamp() - now)


class RetryAfterMiddleware:
    """Wait as long as a throttling source asks (see the module docstring)."""

    def __init__(
        self,
        stats: StatsCollector,
        *,
        times: int,
        base: float,
        cap: float,
        max_wait: float,
    ) -> None:
        self.stats = stats
        self.times = times
        self.base = base
        self.cap = cap
        self.max_wait = max_wait
        # host → monotonic time before which no request goes to it.
        self.paused_until: dict[str, float] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RetryAfterMiddleware:
        settings = crawler.settings
        assert crawler.stats is not None
        return cls(
            crawler.stats,
            times=settings.getint("ILO_MONITOR_BACKOFF_TIMES"),
            base=settings.getfloat("ILO_MONITOR_BACKOFF_BASE"),
            cap=settings.getfloat("ILO_MONITOR_BACKOFF_CAP"),
            max_wait=settings.getfloat("ILO_MONITOR_BACKOFF_MAX_WAIT"),
        )

    @staticmethod
    def _host(url: str) -> str:
        return urlsplit(url).netloc

    async def process_request(self, request: Request) -> None:
        until = self.paused_until.get(self._host(request.url))
        if until is not None:
            remaining = until - time.monotonic()
            if remaining > 0:
                await sleep(remaining)

    def process_response(self, request: Request, response: Response) -> Request | Response:
        if response.status not in THROTTLED or request.meta.get("dont_retry"):
            return response
        # The replay middleware gives the response its original request back; retry that one.
        original = response.request if response.request is not None else request
        attempts = int(original.meta.get(_ATTEMPTS, 0)) + 1
        waited = float(original.meta.get(_WAITED, 0.0))
        asked = retry_after_seconds(response.headers.get("Retry-After"), time.time())
        wait = asked if asked is not None else min(self.cap, self.base * 2 ** (attempts - 1))
        self.stats.inc_value(f"{PREFIX}/{response.status}")
        if attempts > self.times or waited + wait > self.max_wait:
            self.stats.inc_value(f"{PREFIX}/gave_up")
            logger.error(
                "Gave up on %s after %d answer(s) %d: the source asks to wait %.0f s more, "
                "beyond our limit of %d attempts and %.0f s in all",
                original.url,
                attempts,
                response.status,
                wait,
                self.times,
                self.max_wait,
            )
            return response
        host = self._host(response.url)
        self.paused_until[host] = max(self.paused_until.get(host, 0.0), time.monotonic() + wait)
        self.stats.inc_value(f"{PREFIX}/retries")
        self.stats.inc_value(f"{PREFIX}/wait_seconds", round(wait))
        logger.warning(
            "%d from %s: pausing %s for %.1f s (%s, attempt %d of %d)",
            response.status,
            original.url,
            host,
            wait,
            "Retry-After" if asked is not None else "backoff",
            attempts,
            self.times,
        )
        return original.replace(dont_filter=True, meta={**original.meta, _ATTEMPTS: attempts, _WAITED: waited + wait})
