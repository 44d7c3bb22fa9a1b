"""The `f4e` spider: open opportunities on Fusion for Energy's Industry Portal."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar, Final

from monitor.contract import Notice
from monitor.crawl.listing import Listing, ListingSpider, Row, RowError

PORTAL: Final = "https://industryportal.f4e.europa.eu/"
LISTING: Final = "https://industryportal.f4e.europa.eu/opportunities"
# Words of the "Type" column → (notice_type, status), first match wins.
TYPES: Final = (
    ("expression of interest", ("call_for_expression_of_interest", "open")),
    ("task agreement", ("call_for_expression_of_interest", "open")),
    ("prior information", ("prior_information", "planned")),
    ("market survey", ("market_survey", "open")),
    ("call for tender", ("invitation_to_tender", "open")),
    ("procedure", ("invitation_to_tender", "open")),
)


class F4eSpider(ListingSpider):
    """
    Domain
      Fusion for Energy (F4E), the EU's ITER agency: the Industry Portal's "Open
      Opportunities", calls for tender and ITER task agreements open for expressions of interest.
    Caveats
      No saved copy of the portal could be reached: the recording is constructed (see its
      README). Above-threshold calls also appear on TED; both carry F4E's reference
      ("F4E-OMF-1234") and share the procedure key "f4e:F4E-OMF-1234". Deadlines are read in
      Barcelona time. Procurement documents sit behind the portal's login and are not fetched.
    Spider arguments
      since
        Not sent (the portal lists what is open now); recorded as the window's start.
      until
        Not sent; recorded as the window's end. Default: today (UTC).
    """

    name = "f4e"
    allowed_domains = ["industryportal.f4e.europa.eu"]  # noqa: RUF012 (Scrapy reads it per instance)

    # Regarding ListingSpider.
    organisation = "f4e"
    languages = ("en",)
    listings = (Listing(LISTING),)
    fields: ClassVar[dict[str, tuple[str, ...]]] = {
        "reference": ("reference", "ref", "call reference", "procedure reference", "référence"),
        "title": ("title", "subject", "call title", "object"),
        "type": ("type", "call type", "procedure type", "category"),
        "published_on": ("published", "publication date", "date of publication", "posted"),
        "deadline": ("deadline", "closing date", "time limit", "submission deadline", "date limite"),
        "status": ("status", "state"),
    }
    required_fields = ("reference", "title", "deadline")

    def notices(self, row: Row) -> Iterator[Notice]:
        reference = row.require("reference")
        kind = (row.text("type") or "").casefold()
        notice_type, status = next((t for words, t in TYPES if words in kind), ("invitation_to_tender", "open"))
        if "closed" in (row.text("status") or "").casefold():
            status = "closed"
        if not reference.upper().startswith("F4E-"):
            raise RowError("reference", f"{reference!r} is not an F4E reference")
        yield self.notice(
            source_id=reference,
            procedure_key=self.procedure_key(reference),
            title=row.require("title"),
            notice_type=notice_type,
            status=status,
            description=row.text("type"),
            published_on=self.date(row.text("published_on")),
            deadline=self.deadline(row.text("deadline")),
            currency="EUR",
            url=row.link("title") or row.link("reference") or PORTAL,
        )
