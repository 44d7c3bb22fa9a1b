"""The `ctao` spider: invitations to tender of CTAO and its in-kind contributors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar, Final

from monitor.contract import Notice
from monitor.crawl.listing import Listing, ListingSpider, Row
from monitor.organisations import identify

LISTING: Final = "https://www.cta-observatory.org/project/procurement/"
TYPES: Final = (
    ("expression of interest", ("call_for_expression_of_interest", "open")),
    ("market survey", ("market_survey", "open")),
    ("request for information", ("market_survey", "open")),
    ("prior information", ("prior_information", "planned")),
    ("price", ("price_enquiry", "open")),
)


class CtaoSpider(ListingSpider):
    """
    Domain
      The Cherenkov Telescope Array Observatory (CTAO): invitations to tender of CTAO and of its
      in-kind contributors (institutes that build parts of the observatory), as a list of posts.
    Caveats
      No saved copy of the page could be reached: the recording is constructed (see its README).
      The posts are read by their labels ("Reference:", "Deadline:", "Issued by:"), not their
      layout. A call of an in-kind contributor names that institute as the buyer (with no
      country) and is still filed under `ctao`, the organisation the ILOs follow it for.
    Spider arguments
      since
        Not sent (the page lists current calls); recorded as the window's start.
      until
        Not sent; recorded as the window's end. Default: today (UTC).
    """

    name = "ctao"
    allowed_domains = ["www.cta-observatory.org"]  # noqa: RUF012 (Scrapy reads it per instance)

    # Regarding ListingSpider.
    organisation = "ctao"
    languages = ("en",)
    listings = (Listing(LISTING, layout="cards"),)
    fields: ClassVar[dict[str, tuple[str, ...]]] = {
        "reference": ("reference", "ref", "tender reference", "call reference"),
        "deadline": ("deadline", "closing date", "submission deadline", "due date"),
        "issuer": ("issued by", "contracting entity", "buyer", "contracting authority"),
        "type": ("type", "procedure", "call type"),
        "published_on": ("published", "publication date", "posted on"),
    }
    required_fields = ("title", "reference", "deadline")

    def notices(self, row: Row) -> Iterator[Notice]:
        reference = row.require("reference")
        title = row.text("title") or row.heading
        kind = (row.text("type") or "").casefold()
        notice_type, status = next((t for words, t in TYPES if words in kind), ("invitation_to_tender", "open"))
        issuer = row.text("issuer")
        own = issuer is None or identify(issuer) == "ctao"
        yield self.notice(
            source_id=reference,
            procedure_key=self.procedure_key(reference),
            title=title or "",
            notice_type=notice_type,
            status=status,
            description="\n".join(t for t in (row.text("type"), f"Issued by {issuer}" if issuer else None) if t)
            or None,
            buyer=self.buyer.name if own else issuer,
            buyer_country=self.buyer.country if own else None,
            published_on=self.date(row.text("published_on")),
            deadline=self.deadline(row.text("deadline")),
            url=row.link(None) or LISTING,
            documents=row.documents(),
        )
