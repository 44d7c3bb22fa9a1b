"""A base spider for paged JSON APIs (TenderNed TNS, esa-star), and text and date helpers for them.

JSON APIs change without notice. This base is strict on purpose: an answer that is not JSON, a
page without its list, an entry without a key the spider relies on, a lost page, are logged as
ERRORs and counted (`ilo_monitor/schema_error`, `ilo_monitor/page_lost`), so the crawl run is
judged failed (`monitor.crawl.runs.judge`) instead of looking like a quiet day.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import date, datetime
from html.parser import HTMLParser
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from scrapy import Request
from scrapy.http import Response
from twisted.python.failure import Failure

from monitor.contract import Notice
from monitor.crawl.base import BaseSpider, describe_failure
from monitor.errors import ConfigurationError

# Tags after which a reader expects a new line.
_BLOCK_TAGS = frozenset(
    {"p", "br", "div", "li", "ul", "ol", "tr", "table", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre"}
)
# Tags whose content is not text for a reader (and never should be run or shown).
_HIDDEN_TAGS = frozenset({"script", "style", "template", "noscript", "head", "title", "iframe", "object"})


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        # convert_charrefs: entities become characters once, here; nothing is ever evaluated.
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN_TAGS:
            self.hidden += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")
        if tag == "li":
            self.parts.append("- ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN_TAGS:
            self.hidden = max(0, self.hidden - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def html_to_text(value: str | None) -> str | None:
    """The text a reader sees in an HTML fragment: tags, scripts and styles gone, entities decoded.

    Paragraphs and list items become lines. The result is plain text (we never store or render
    scraped markup); None for nothing but markup.
    """
    if value is None:
        return None
    extractor = _TextExtractor()
    extractor.feed(value)
    extractor.close()
    # Not unescaped again: the parser decoded each entity once, and "&amp;lt;" means "&lt;".
    text = "".join(extractor.parts)
    text = re.sub(r"[ \t\r\f\v\u00a0]+", " ", text)
    text = re.sub(r" *\n[ \n]*", "\n", text).strip()
    return text or None


def local_datetime(value: str | None, zone: str) -> datetime | None:
    """An ISO 8601 date-time as an aware datetime; without an offset it is local time in `zone`.

    A bare date means the start of that day in `zone`. Raises ValueError when unreadable.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=ZoneInfo(zone))
    return stamp


def iso_date(value: str | None) -> date | None:
    """The date of an ISO 8601 date or date-time (its local calendar day); ValueError when unreadable."""
    if value is None or not value.strip():
        return None
    return date.fromisoformat(value.strip()[:10])


class SchemaError(ValueError):
    """An API answer is not in the shape the spider expects (raised and caught inside the spider)."""


class JsonApiSpider(BaseSpider):
    """Base class of spiders that page through a JSON list API and may fetch a detail per entry.

    To use it:

    1. Set `page_size` and `first_page` (0 or 1), and implement `page_url(page, listing)`: the
       URL of listing page number `page` (a page number; turn it into an offset there if the API
       wants one). `listings` names the separate lists to page through (default: one, "").
    2. Set `items_key` (the key of the entries in a page object, or None when a page is a bare
       JSON list) and `required_keys` (keys every entry must have; a missing one is a schema error
       and the entry is skipped).
    3. Implement `parse_entry(entry, listing)`: yield a `Notice`, or
       `self.detail_request(url, entry)` to fetch more and continue in
       `parse_detail(response, entry)`, or nothing after `self.count("not_selected")` for an
       entry the selection does not want. Yield `StopPaging` when the list (sorted newest
       first) has gone past the window: no further page is asked for.
    4. Optionally override `is_last_page(data, entries, page)` (default: fewer entries than
       `page_size`, or an empty page) and `extra_headers`.

    A listing or detail answer that cannot be read is an ERROR (the run fails), and so is a
    listing page lost after retries (`page_lost`) or a detail lost (`detail_lost`).
    """

    # Regarding JsonApiSpider.
    page_size: int = 100
    first_page: int = 0
    listings: tuple[str, ...] = ("",)
    items_key: str | None = "content"
    required_keys: tuple[str, ...] = ()
    extra_headers: ClassVar[dict[str, str]] = {"Accept": "application/json"}

    def __init__(self, *args: Any, page_size: str | int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if page_size is not None:
            try:
                size = int(page_size)
            except ValueError:
                size = 0
            if size < 1:
                raise ConfigurationError(f"spider argument `page_size`: {page_size!r} is not a positive number")
            self.page_size = size

    def page_url(self, page: int, listing: str) -> str:
        raise NotImplementedError

    def parse_entry(self, entry: dict[str, Any], listing: str) -> Iterable[Request | Notice]:
        raise NotImplementedError

    def parse_detail(self, response: Response, entry: dict[str, Any]) -> Iterable[Request | Notice]:
        raise NotImplementedError

    # -- requests ----------------------------------------------------------------------------------

    async def start(self) -> AsyncIterator[Request]:
        for listing in self.listings:
            yield self.page_request(self.first_page, listing)

    def page_request(self, page: int, listing: str = "") -> Request:
        return Request(
            self.page_url(page, listing),
            headers=self.extra_headers,
            callback=self.parse_page,
            errback=self.page_failed,
            cb_kwargs={"page": page, "listing": listing},
        )

    def detail_request(self, url: str, entry: dict[str, Any], **kwargs: Any) -> Request:
        return Request(
            url,
            headers=self.extra_headers,
            callback=self._detail,
            errback=self.detail_failed,
            cb_kwargs={"entry": entry},
            **kwargs,
        )

    # -- callbacks ---------------------------------------------------------------------------------

    def json_of(self, response: Response) -> Any:
        """The parsed JSON body; a `SchemaError` (caught by the callbacks) when it is not JSON."""
        try:
            return response.json()  # type: ignore[attr-defined]
        except (ValueError, AttributeError) as error:
            start = response.body[:200]
            raise SchemaError(f"malformed JSON from {response.url} ({error}): {start!r}") from error

    def entries_of(self, data: Any, url: str) -> list[dict[str, Any]]:
        """The entries of a listing page, checked against the expected shape."""
        if self.items_key is None:
            entries = data
        else:
            if not isinstance(data, dict) or self.items_key not in data:
                found = sorted(data)[:10] if isinstance(data, dict) else type(data).__name__
                raise SchemaError(f"page {url} has no {self.items_key!r} list (found {found})")
            entries = data[self.items_key]
        if not isinstance(entries, list):
            raise SchemaError(f"page {url}: the entries are a {type(entries).__name__}, not a list")
        return entries

    def schema_error(self, message: str) -> None:
        self.logger.error("Unexpected answer from %s: %s", self.name, message)
        self.count("schema_error")

    def check_entry(self, entry: Any, where: str) -> bool:
        """Whether `entry` is an object with every `required_keys`; a schema error otherwise."""
        if not isinstance(entry, dict):
            self.schema_error(f"{where}: an entry is a {type(entry).__name__}, not an object")
            return False
        missing = [key for key in self.required_keys if key not in entry]
        if missing:
            self.schema_error(f"{where}: entry {entry.get('id', entry.get('publicatieId'))!r} lacks {missing}")
            return False
        return True

    def parse_page(self, response: Response, page: int, listing: str = "") -> Iterator[Request | Notice]:
        try:
            data = self.json_of(response)
            entries = self.entries_of(data, response.url)
        except SchemaError as error:
            self.schema_error(str(error))
            return
        self.count("listed", len(entries))
        if page == self.first_page:
            self.logger.info("%s lists %d entries on its first page", self.name, len(entries))
        stop = False
        for entry in entries:
            if not self.check_entry(entry, response.url):
                continue
            try:
                for result in self.parse_entry(entry, listing):
                    if result is StopPaging:
                        stop = True
                    else:
                        yield result
            except (SchemaError, ValueError, TypeError, KeyError) as error:
                self.schema_error(f"{response.url}: entry {entry.get('id')!r}: {error}")
        if not entries or stop:
            return
        try:
            last = self.is_last_page(data, entries, page)
        except SchemaError as error:
            self.schema_error(str(error))
            return
        if not last:
            yield self.page_request(page + 1, listing)

    def is_last_page(self, data: Any, entries: list[dict[str, Any]], page: int) -> bool:
        return len(entries) < self.page_size

    def _detail(self, response: Response, entry: dict[str, Any]) -> Iterator[Request | Notice]:
        try:
            yield from self.parse_detail(response, entry)
        except (SchemaError, ValueError, TypeError, KeyError) as error:
            self.schema_error(f"{response.url}: {error}")

    def page_failed(self, failure: Failure) -> None:
        # A lost page of results means notices never seen: the run must fail, loudly.
        self.logger.error("Lost a page of %s results: %s", self.name, describe_failure(failure))
        self.count("page_lost")

    def detail_failed(self, failure: Failure) -> None:
        self.logger.error("Lost a %s notice: %s", self.name, describe_failure(failure))
        self.count("detail_lost")


class _StopPaging:
    """Yielded by `parse_entry` to say: this entry is past the window, request no further page."""


StopPaging: Any = _StopPaging()
