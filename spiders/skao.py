"""The `skao` spider: the SKA Observatory's notices on its Kommers procurement portal."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar, Final

from monitor.contract import Notice
from monitor.crawl.listing import Listing, ListingSpider, Row

LISTING: Final = "https://www.kommersannons.se/skaobservatory/"
# Words of the notice type column (English or Swedish) → (notice_type, status).
TYPES: Final = (
    ("prior information", ("prior_information", "planned")),
    ("förhandsannons", ("prior_information", "planned")),
    ("qualification", ("call_for_expression_of_interest", "open")),
    ("kvalificering", ("call_for_expression_of_interest", "open")),
    ("price query", ("price_enquiry", "open")),
    ("prisförfrågan", ("price_enquiry", "open")),
    ("request for tender", ("invitation_to_tender", "open")),
    ("anbudsförfrågan", ("invitation_to_tender", "open")),
)


class SkaoSpider(ListingSpider):
    """
    Domain
      The SKA Observatory (SKAO, Jodrell Bank): prior information notices, qualification
      notices, requests for tender and price queries on its Kommers procurement portal.
    Caveats
      No saved copy of the portal could be reached: the recording is constructed (see its
      README). Some notices are for registered suppliers only: they are kept, with that said in
      the description, since an ILO can help a firm register. Kommers is a Swedish platform:
      headers and types may come in Swedish. Deadlines are read in UK time.
    Spider arguments
      since
        Not sent (the portal lists current notices); recorded as the window's start.
      until
        Not sent; recorded as the window's end. Default: today (UTC).
    """

    name = "skao"
    allowed_domains = ["www.kommersannons.se"]  # noqa: RUF012 (Scrapy reads it per instance)

    # Regarding ListingSpider.
    organisation = "skao"
    languages = ("en", "sv")
    listings = (Listing(LISTING),)
    fields: ClassVar[dict[str, tuple[str, ...]]] = {
        "title": ("title", "subject", "rubrik", "upphandling", "benämning"),
        "reference": ("reference", "reference number", "ref", "referensnummer", "diarienummer"),
        "type": ("notice type", "type", "annonstyp", "typ"),
        "published_on": ("published", "publication date", "publicerad", "publiceringsdatum"),
        "deadline": ("deadline", "closing date", "tender deadline", "sista anbudsdag", "sista svarsdag"),
        "access": ("access", "visibility", "åtkomst", "synlighet"),
    }
    required_fields = ("title", "reference", "deadline")

    def notices(self, row: Row) -> Iterator[Notice]:
        reference = row.require("reference")
        kind = (row.text("type") or "").casefold()
        notice_type, status = next((t for words, t in TYPES if words in kind), ("invitation_to_tender", "open"))
        access = row.text("access")
        restricted = access is not None and any(w in access.casefold() for w in ("registered", "registrerade"))
        description = [row.text("type")]
        if restricted:
            description.append("For registered suppliers only: register on the SKAO portal to see the documents.")
        yield self.notice(
            source_id=reference,
            procedure_key=self.procedure_key(reference),
            title=row.require("title"),
            notice_type=notice_type,
            status=status,
            description="\n".join(d for d in description if d) or None,
            published_on=self.date(row.text("published_on")),
            deadline=self.deadline(row.text("deadline")),
            url=row.link("title") or LISTING,
        )
