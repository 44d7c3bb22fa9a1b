"""The `esa_star` spider: ESA's tender actions from the JSON API behind the esa-star publication site."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final
from urllib.parse import urlencode

from monitor.contract import Notice
from monitor.crawl.jsonapi import JsonApiSpider, SchemaError, StopPaging, html_to_text, iso_date, local_datetime
from monitor.organisations import get

SITE: Final = "https://esastar-publication-ext.sso.esa.int"
ZONE: Final = "Europe/Paris"  # ESA's seat; the API gives times without an offset
LISTINGS: Final = {"esa": "api/tenderAction/filter", "non_esa": "api/nonESATA/filter"}

# status.id → status. A cancelled or reissued action is read from isCancelled / isReissued.
STATUSES: Final = {"PLANNED": "planned", "OPEN": "open", "CLOSED": "closed"}
# tenderType.id → notice_type; a planned action is a prior information notice whatever its type.
TENDER_TYPES: Final = {
    "ITT": "invitation_to_tender",  # Invitation to Tender (open competition)
    "RFP": "invitation_to_tender",  # Request for Proposal
    "RFQ": "price_enquiry",  # Request for Quotation
    "RFI": "market_survey",  # Request for Information
    "EOI": "call_for_expression_of_interest",  # Expression of Interest
    "AO": "call_for_expression_of_interest",  # Announcement of Opportunity
    "DN": "contract_notice",  # Direct negotiation, published for transparency
}


class EsaStarSpider(JsonApiSpider):
    """
    Domain
      esa-star, the European Space Agency's procurement system: ESA's own tender actions
      (intended, open and closed invitations to tender, RFQs, RFIs) and the non-ESA tender
      actions that ESA publishes for its contractors.
    Caveats
      The publication site is a JavaScript application; this spider reads the JSON API behind
      it, whose answers are not documented: the recording is constructed from the field names
      seen there. The lists are read newest update first and paging stops at the first action
      last updated before `since`, so changed old actions (a new closing date, a cancellation)
      are read again. Descriptions are HTML, reduced to text. Non-ESA actions name no buyer.
      A reissue keeps the activity number: reissue and original share a `procedure_key`.
    Spider arguments
      since
        Tender actions last updated on or after this date (YYYY-MM-DD).
      until
        Not sent to the API (it always answers up to now); recorded as the window's end.
        Default: today (UTC).
      page_size
        Tender actions per listing page (the `<n>` of `/filter/<n>/<start>`). Default: 50.
    API documentation
      none public; the site is https://esastar-publication-ext.sso.esa.int
    """

    name = "esa_star"
    allowed_domains = ["esastar-publication-ext.sso.esa.int"]  # noqa: RUF012 (Scrapy reads it per instance)

    # Regarding JsonApiSpider.
    page_size = 50
    first_page = 0
    listings = tuple(LISTINGS)
    items_key = None  # a page is a bare JSON list
    required_keys = ("id", "title", "status", "tenderType", "isCancelled", "isReissued", "lastUpdateTime")

    def page_url(self, page: int, listing: str) -> str:
        # /filter/<page size>/<offset of the first entry>
        query = urlencode({"sortBy": "LastUpdateTime", "sortDir": "DESC"})
        return f"{SITE}/{LISTINGS[listing]}/{self.page_size}/{page * self.page_size}?{query}"

    def parse_entry(self, entry: dict[str, Any], listing: str) -> Iterator[Any]:
        updated = iso_date(entry["lastUpdateTime"])
        if updated is None:
            raise SchemaError("lastUpdateTime is empty")
        if updated < self.since:
            # Sorted by last update, newest first: everything after this is older still.
            self.count("outside_window")
            yield StopPaging
            return
        yield self.notice(entry, listing)

    def notice(self, entry: dict[str, Any], listing: str) -> Notice:
        status_id = (entry.get("status") or {}).get("id")
        type_id = (entry.get("tenderType") or {}).get("id")
        if status_id not in STATUSES:
            raise SchemaError(f"tender action {entry['id']}: unknown status id {status_id!r}")
        if type_id not in TENDER_TYPES:
            raise SchemaError(f"tender action {entry['id']}: unknown tenderType id {type_id!r}")
        status = STATUSES[status_id]
        notice_type = "prior_information" if status == "planned" else TENDER_TYPES[type_id]
        if entry["isCancelled"] is True:
            status = "cancelled"
        description = html_to_text(entry.get("description"))
        if entry["isReissued"] is True:
            reason = html_to_text(entry.get("updateReason")) or "no reason given"
            description = f"{description or ''}\n\nReissued: {reason}".strip()
        activity = entry.get("activityNumber")
        esa = get("esa")
        own = listing == "esa"
        return Notice(
            source=self.name,
            source_id=str(entry["id"]) if own else f"nonesa-{entry['id']}",
            procedure_key=f"esa_star/{activity}" if activity else None,
            title=entry["title"],
            notice_type=notice_type,
            status=status,
            description=description,
            buyer=esa.name if own else None,
            buyer_country=esa.country if own else None,
            organisation=esa.id if own else None,
            published_on=iso_date(entry.get("firstPublicationDate")),
            deadline=local_datetime(entry.get("closingDate"), ZONE),
            language="en",
            url=f"{SITE}/ESATenderActions/details/{entry['id']}",
        )
