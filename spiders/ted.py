"""The `ted` spider: notices of Tenders Electronic Daily, through the TED Search API v3.

The query is configuration (`monitor/sources.yaml`, entry `ted.query`): buyers of the
organisation registry, the CPV divisions of the technology areas and an optional extra clause.
Incremental windows come from the crawl's cursor (`monitor.crawl.jobs`), politeness from the
source entry and `monitor.crawl.middlewares.RetryAfterMiddleware` (429: wait as TED asks).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from scrapy import Request
from scrapy.http import JsonRequest, TextResponse

from monitor.contract import is_http_url
from monitor.crawl.base import BaseSpider, describe_failure
from monitor.organisations import ted_buyer_names

if TYPE_CHECKING:
    from twisted.python.failure import Failure


def quote(phrase: str) -> str:
    """A phrase for an expert query; TED's syntax has no escape for a double quote, so drop it."""
    return '"' + " ".join(phrase.replace('"', " ").split()) + '"'


class TedSpider(BaseSpider):
    """
    Domain
      TED (Tenders Electronic Daily), the Supplement to the Official Journal of the EU: every
      above-threshold notice of EU and EEA buyers, and the notices of EU bodies such as F4E.
    Caveats
      The search API returns links, not content: each notice's XML (eForms, or TED XML for
      older and some EU-institution notices) is fetched from `links.xml.MUL`. The default query
      (from `sources.yaml`) selects on all CPV codes of a notice (`classification-cpv`), not only
      the main one, so it over-selects; the classifier decides relevance. Buyer names are
      matched as TED matches them (words, any language), from the organisation registry.
      Iteration pagination has no 15,000-result ceiling. TED blocks clients that exceed its
      rate limits: one request at a time, seconds apart, and a 429 is waited out.
    Spider arguments
      since
        Notices published on or after this date (YYYY-MM-DD). Default: 7 days before `until`.
      until
        Notices published on or before this date (YYYY-MM-DD). Default: today (UTC).
      query
        A TED expert query that replaces the default one (buyer or technology CPV, published
        between `since` and `until`); `since` and `until` are then not used.
    API documentation
      https://docs.ted.europa.eu/api/latest/search.html
    """

    name = "ted"
    allowed_domains = ["ted.europa.eu"]  # noqa: RUF012 (Scrapy reads it per instance)

    # Regarding the TED Search API v3.
    search_url = "https://api.ted.europa.eu/v3/notices/search"
    fields: ClassVar[list[str]] = ["publication-number", "publication-date", "links"]
    page_size = 250  # the API's maximum per page

    def __init__(self, *args: Any, query: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.query: str = query.strip() if query and query.strip() else self.default_query()

    def default_query(self) -> str:
        """Published in the window, and bought by a registry organisation, in a technology CPV
        division, or matching the configured extra clause (`sources.yaml`, `ted.query`)."""
        window = f"publication-date >= {self.since:%Y%m%d} AND publication-date <= {self.until:%Y%m%d}"
        parts: list[str] = []
        names = ted_buyer_names(list(self.source.organisations) if self.source.organisations is not None else None)
        if names:
            parts.append("buyer-name IN (" + " ".join(quote(n) for n in names) + ")")
        else:
            self.logger.warning("The organisation registry gave no buyer names: searching without them")
        divisions = self.source.divisions()
        if divisions:
            parts.append("classification-cpv IN (" + " ".join(f"{d}*" for d in divisions) + ")")
        if self.source.extra_clause:
            parts.append(f"({self.source.extra_clause})")
        if not parts:
            return window
        return f"{window} AND ({' OR '.join(parts)})"

    def search_request(self, token: str | None = None, page: int = 1) -> JsonRequest:
        """The POST for one page of results; `token` is the previous page's iterationNextToken."""
        data: dict[str, Any] = {
            "query": self.query,
            "fields": self.fields,
            "limit": self.page_size,
            # Every notice published in the window, including results and old versions.
            "scope": "ALL",
            # Iteration has no 15 000-result ceiling, unlike page numbers.
            "paginationMode": "ITERATION",
        }
        if token:
            data["iterationNextToken"] = token
        return JsonRequest(
            self.search_url,
            data=data,
            callback=self.parse_search,
            errback=self.search_failed,
            cb_kwargs={"page": page},
            # Each page is the same URL; the body differs, but say so rather than rely on it.
            dont_filter=True,
        )

    async def start(self) -> AsyncIterator[Request]:
        self.logger.info("TED query: %s", self.query)
        yield self.search_request()

    def parse_search(self, response: TextResponse, page: int) -> Iterator[Request]:
        try:
            data = response.json()
        except ValueError:
            data = None
        notices = data.get("notices") if isinstance(data, dict) else None
        if notices is None and isinstance(data, dict) and "notices" in data:
            notices = []  # an explicit null: no notices
        if not isinstance(data, dict) or not isinstance(notices, list):
            self.logger.error("Unexpected answer from TED search (no notices list): %r", response.text[:300])
            self.count("schema_error")
            return
        if page == 1:
            self.logger.info("TED reports %s notices for the query", data.get("totalNoticeCount"))
        self.count("listed", len(notices))
        for notice in notices:
            link = ((notice.get("links") or {}).get("xml") or {}).get("MUL")
            if isinstance(link, str) and is_http_url(link):
                yield Request(link, callback=self.parse_notice, errback=self.document_failed)
            else:
                self.logger.warning("TED notice %s has no XML link: %r", notice.get("publication-number"), link)
                self.count("ted/missing_xml_link")
        token = data.get("iterationNextToken")
        # An empty page ends the iteration even if a token came with it.
        if token and notices:
            yield self.search_request(token, page + 1)

    def search_failed(self, failure: Failure) -> None:
        # A lost page of results is a failed crawl, not a detail: log it as an error. TED says
        # what is wrong with a query in the body of its 400 answer.
        self.logger.error("TED search failed: %s", describe_failure(failure))
        self.count("ted/search_failed")
        self.count("page_lost")

    def document_failed(self, failure: Failure) -> None:
        self.logger.warning("TED notice could not be fetched: %s", describe_failure(failure))
        self.count("ted/document_failed")
