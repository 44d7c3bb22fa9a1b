"""The `cern` spider: CERN's forthcoming market surveys and invitations to tender."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import ClassVar, Final

from monitor.contract import Notice
from monitor.crawl.listing import Listing, ListingSpider, Row, RowError
from monitor.organisations import procedure_key_for

LISTING: Final = "https://found.cern.ch/java-ext/found/CFTSingleSearch.do"
# Cost range letters as CERN defines them (kCHF).
COST_RANGES: Final = {
    "A": "below 750 kCHF",
    "B": "750 kCHF to 5 MCHF",
    "C": "5 to 10 MCHF",
    "D": "above 10 MCHF",
}
# Stage of a reference prefix, and the notice type of that stage.
STAGES: Final = {"MS": "market_survey", "IT": "invitation_to_tender", "PE": "price_enquiry"}
_PREFIX = re.compile(r"^(MS|IT|PE|DO)-?", re.I)


class CernSpider(ListingSpider):
    """
    Domain
      CERN's "Forthcoming market surveys and calls for tenders" (found.cern.ch): each procedure
      with its market survey and invitation-to-tender dates and a cost range. CERN invites to
      tender only the firms that answered the market survey, so the survey is the notice to catch.
    Caveats
      No saved copy of the page could be reached: the recording is constructed (see its README).
      A row gives one notice per dated stage: "MS-4321/TE" (market_survey) and "IT-4321/TE"
      (invitation_to_tender) share the procedure key "cern:4321/TE", as does a TED notice whose
      internal identifier is "IT-4321/TE". Stage dates are planned dispatch dates (published_on),
      not deadlines; a stage "to be defined" gives no notice and is said in the description. The
      cost range is a letter (no amount); eligibility is firms of CERN Member States unless a
      remark says otherwise. Price enquiries (50-200 kCHF) never appear here: they reach firms
      through the ILOs (`ilo-monitor notices add` or `import` of the forwarded mail).
    Spider arguments
      since
        Not sent (the page lists every forthcoming procedure); recorded as the window's start.
      until
        Not sent; recorded as the window's end. Default: today (UTC).
    """

    name = "cern"
    allowed_domains = ["found.cern.ch"]  # noqa: RUF012 (Scrapy reads it per instance)

    # Regarding ListingSpider.
    organisation = "cern"
    languages = ("en", "fr")
    listings = (Listing(LISTING),)
    fields: ClassVar[dict[str, tuple[str, ...]]] = {
        "reference": ("reference", "ref", "ref no", "référence", "referenz", "number", "no"),
        "title": ("subject", "title", "objet", "description", "titre", "gegenstand"),
        "new": ("new", "nouveau", "neu"),
        "cost_range": ("cost range", "range", "estimated cost", "fourchette", "coût", "cost"),
        "market_survey": ("market survey", "market survey date", "enquête de marché", "ms date", "ms"),
        "invitation_to_tender": (
            "invitation to tender",
            "invitation to tender date",
            "appel d'offres",
            "call for tenders",
            "it date",
            "it",
        ),
        "remarks": ("remarks", "remark", "comments", "eligibility", "remarques", "bemerkungen"),
    }
    required_fields = ("reference", "title", "market_survey", "invitation_to_tender")

    def notices(self, row: Row) -> Iterator[Notice]:
        reference = row.require("reference").upper().replace(" ", "")
        number = _PREFIX.sub("", reference)
        if not re.fullmatch(r"\d{3,6}/[A-Z]{2,4}", number):
            raise RowError("reference", f"{reference!r} is not a CERN reference like MS-4321/EN")
        title = row.require("title")
        letter = (row.text("cost_range") or "").strip().upper()[:1]
        facts: list[str] = []
        if letter:
            facts.append(f"Cost range {letter} ({COST_RANGES.get(letter, 'unknown range')}).")
        dates: dict[str, str | None] = {}
        for stage, column in (("MS", "market_survey"), ("IT", "invitation_to_tender")):
            text = row.text(column)
            label = column.replace("_", " ")
            if text and self._is_date(text):
                dates[stage] = text
                facts.append(f"{label.capitalize()}: {text}.")
            elif text:
                facts.append(f"{label.capitalize()}: {text} (no date yet).")
        remarks = row.text("remarks")
        facts.append(remarks.rstrip(".") + "." if remarks else "Eligible: firms from CERN Member States.")
        if row.text("new"):
            facts.append("New (posted in the last 8 weeks).")
        prefix_match = _PREFIX.match(reference)
        prefix = prefix_match.group(1) if prefix_match else ""
        if not dates:
            # Nothing dated yet: one notice of the stage its reference names.
            dates[prefix or "MS"] = None
        key = procedure_key_for("cern", f"MS-{number}") or f"cern:{number}"
        for stage, text in dates.items():
            yield self.notice(
                source_id=f"{stage}-{number}",
                procedure_key=key,
                title=title,
                notice_type=STAGES.get(stage, "other"),
                status="planned",
                description=" ".join(facts),
                published_on=self.date(text, stage.lower()) if text else None,
                currency="CHF",
                url=row.link("reference") or row.link("title") or LISTING,
            )

    def _is_date(self, text: str) -> bool:
        try:
            return self.date(text) is not None
        except RowError:
            return False
