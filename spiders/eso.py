"""The `eso` spider: ESO's advance information on calls for tender and its current calls."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar, Final

from monitor.contract import Notice
from monitor.crawl.listing import Listing, ListingSpider, Row

INDUSTRY: Final = "https://www.eso.org/public/industry/"
PLANNED: Final = "https://www.eso.org/public/industry/cp.html"


class EsoSpider(ListingSpider):
    """
    Domain
      The European Southern Observatory (ESO, Garching): advance information on calls for
      tender above EUR 150,000 (the planned procurements page) and the current calls for tender
      (the industry page).
    Caveats
      No saved copy of the pages could be reached: the recording is constructed (see its
      README). Planned procurements give a quarter, not a date: it is kept in the description.
      A planned procurement and its call share ESO's reference, hence one procedure key
      ("eso:<reference>") and two notices (source ids "planned:<ref>" and "call:<ref>"). ESO
      announces some calls only to firms registered with it or through the ILOs (`notices add`).
    Spider arguments
      since
        Not sent (the pages list what is planned or open now); recorded as the window's start.
      until
        Not sent; recorded as the window's end. Default: today (UTC).
    """

    name = "eso"
    allowed_domains = ["www.eso.org"]  # noqa: RUF012 (Scrapy reads it per instance)

    # Regarding ListingSpider.
    organisation = "eso"
    languages = ("en", "de")
    listings = (
        Listing(PLANNED, kind="planned", required=("reference", "title", "planned")),
        Listing(INDUSTRY, layout="cards", kind="call", required=("reference", "title", "deadline")),
    )
    fields: ClassVar[dict[str, tuple[str, ...]]] = {
        "reference": ("reference", "ref", "cft reference", "referenz", "tender reference"),
        "title": ("title", "subject", "description", "gegenstand", "titel"),
        "planned": ("planned", "expected publication", "planned release", "tentative date", "planned call"),
        "value": ("estimated value", "value range", "budget", "volume"),
        "deadline": ("deadline", "closing date", "submission deadline", "abgabefrist"),
        "published_on": ("published", "release date", "publication date", "issued"),
        "type": ("type", "procedure", "procedure type"),
    }
    required_fields = ("reference", "title")

    def notices(self, row: Row) -> Iterator[Notice]:
        reference = row.require("reference")
        title = row.text("title") or row.heading or ""
        if row.listing.kind == "planned":
            facts = [f"Planned call for tender: {row.text('planned')}." if row.text("planned") else None]
            facts.append(f"Estimated value: {row.text('value')}." if row.text("value") else None)
            yield self.notice(
                source_id=f"planned:{reference}",
                procedure_key=self.procedure_key(reference),
                title=title,
                notice_type="prior_information",
                status="planned",
                description=" ".join(f for f in facts if f) or None,
                currency="EUR",
                url=PLANNED,
            )
            return
        yield self.notice(
            source_id=f"call:{reference}",
            procedure_key=self.procedure_key(reference),
            title=title,
            notice_type="invitation_to_tender",
            status="open",
            description=row.text("type"),
            published_on=self.date(row.text("published_on")),
            deadline=self.deadline(row.text("deadline")),
            currency="EUR",
            url=row.link(None) or INDUSTRY,
            documents=row.documents(),
        )
