"""The `iter` spider: the ITER Organization's open tenders and calls."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import ClassVar, Final

from monitor.contract import Notice
from monitor.crawl.listing import Listing, ListingSpider, Row, RowError

LISTING: Final = "https://www.iter.org/industry/procurement/overview-tenders/open-tenders"
# The kind in the reference (IO/14/CFE/11235/JTR) or the type column → (notice_type, status).
KINDS: Final = {
    "CFE": ("call_for_expression_of_interest", "open"),  # call for expertise
    "CFN": ("call_for_expression_of_interest", "open"),  # call for nomination
    "PIN": ("prior_information", "planned"),
    "PQ": ("call_for_expression_of_interest", "open"),  # pre-qualification
    "CFT": ("invitation_to_tender", "open"),
    "OT": ("invitation_to_tender", "open"),
}
_REFERENCE = re.compile(r"^IO/\d{2}/([A-Z]+)/\d+/[A-Z]+$")


class IterSpider(ListingSpider):
    """
    Domain
      The ITER Organization (Saint-Paul-lez-Durance): open tenders, calls for expertise and
      calls for nomination, references like "IO/14/CFE/11235/JTR".
    Caveats
      No saved copy of the page could be reached: the recording is constructed (see its README).
      The notice type comes from the kind in the reference (CFE, CFN, PQ, CFT, OT, PIN), else
      from the type column. Deadlines are read in Paris time. ITER's domestic agencies (F4E for
      Europe) run their own calls: those are the `f4e` spider's.
    Spider arguments
      since
        Not sent (the page lists what is open now); recorded as the window's start.
      until
        Not sent; recorded as the window's end. Default: today (UTC).
    """

    name = "iter"
    allowed_domains = ["www.iter.org"]  # noqa: RUF012 (Scrapy reads it per instance)

    # Regarding ListingSpider.
    organisation = "iter"
    languages = ("en", "fr")
    listings = (Listing(LISTING),)
    fields: ClassVar[dict[str, tuple[str, ...]]] = {
        "reference": ("reference", "reference number", "ref", "référence", "call reference"),
        "title": ("title", "subject", "description", "titre", "objet"),
        "type": ("type", "procurement type", "call type", "nature"),
        "published_on": ("published", "publication date", "issue date", "date de publication"),
        "deadline": ("deadline", "closing date", "submission deadline", "date limite", "due date"),
        "officer": ("procurement officer", "contact", "officer", "responsible"),
    }
    required_fields = ("reference", "title", "deadline")

    def notices(self, row: Row) -> Iterator[Notice]:
        reference = re.sub(r"\s+", "", row.require("reference")).upper()
        match = _REFERENCE.match(reference)
        if match is None:
            raise RowError("reference", f"{reference!r} is not an ITER reference like IO/14/CFE/11235/JTR")
        kind = match.group(1)
        words = (row.text("type") or "").casefold()
        notice_type, status = KINDS.get(kind) or (
            ("call_for_expression_of_interest", "open")
            if "expertise" in words or "nomination" in words
            else ("invitation_to_tender", "open")
        )
        officer = row.text("officer")
        yield self.notice(
            source_id=reference,
            procedure_key=self.procedure_key(reference),
            # The title cell may also hold a summary's link: the first link is the title.
            title=row.text("title", first_link=True) or row.require("title"),
            notice_type=notice_type,
            status=status,
            description="\n".join(t for t in (row.text("type"), f"Contact: {officer}" if officer else None) if t)
            or None,
            published_on=self.date(row.text("published_on")),
            deadline=self.deadline(row.text("deadline")),
            currency="EUR",
            url=row.link("title") or row.link("reference") or LISTING,
            documents=row.documents(),
        )
