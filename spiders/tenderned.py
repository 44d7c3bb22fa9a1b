"""The `tenderned` spider: Dutch public procurement from TenderNed's TNS v2 JSON API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final
from urllib.parse import urlencode

from scrapy import Request
from scrapy.http import Response

from monitor.contract import Notice
from monitor.crawl.jsonapi import JsonApiSpider, SchemaError, html_to_text, iso_date, local_datetime
from monitor.organisations import identify

API: Final = "https://www.tenderned.nl/papi/tenderned-rs-tns/v2/publicaties"
ZONE: Final = "Europe/Amsterdam"

# typePublicatie.code → (notice_type, status). Every code TenderNed documents; an unknown code
# is a schema error (the run fails and says which code) and the notice is kept as "other".
PUBLICATION_TYPES: Final[dict[str, tuple[str, str]]] = {
    "VOP": ("prior_information", "planned"),  # Vooraankondiging
    "MAC": ("market_survey", "planned"),  # Marktconsultatie
    "AAO": ("contract_notice", "open"),  # Aankondiging van een opdracht
    "AAW": ("contract_notice", "open"),  # Aankondiging (wedstrijd / concessie): a call too
    "REC": ("corrigendum", "open"),  # Rectificatie
    "RVO": ("corrigendum", "open"),  # Rectificatie van opdracht
    "GUN": ("contract_award", "awarded"),  # Gunning
    "AGO": ("contract_award", "awarded"),  # Aankondiging gegunde opdracht
    "WNO": ("other", "awarded"),  # Wijziging van een opdracht tijdens de looptijd
}


class TenderNedSpider(JsonApiSpider):
    """
    Domain
      TenderNed, the Dutch government's procurement platform: every Dutch public notice, the
      sub-threshold ones that never reach TED included (the NWO-I institutes publish here).
    Caveats
      No real answers are public: the recording is constructed from the documented field names.
      The list gives no CPV codes, so each publication's detail is fetched; the selection
      (registry buyers of `sources.yaml`, or a technology CPV division) is applied afterwards and
      the rest is counted as `not_selected`. Notices have no procedure identifier: corrigenda and
      awards are not linked to their call. Dutch text stays Dutch. Credentials (HTTP Basic) are
      used when the environment variables named in `sources.yaml` are set.
    Spider arguments
      since
        Publications on or after this date (YYYY-MM-DD), sent as `publicatieDatumVanaf`.
      until
        Publications on or before this date (YYYY-MM-DD); later ones are skipped (the list has
        no documented upper bound). Default: today (UTC).
      page_size
        Publications per listing page (`size`). Default: 100.
    API documentation
      https://www.tenderned.nl/info/tenderned-open-data (TNS: /papi/tenderned-rs-tns/v2)
    """

    name = "tenderned"
    allowed_domains = ["www.tenderned.nl"]  # noqa: RUF012 (Scrapy reads it per instance)
    http_auth_domain = "www.tenderned.nl"

    # Regarding JsonApiSpider.
    page_size = 100
    first_page = 0
    items_key = "content"
    required_keys = ("publicatieId", "publicatieDatum", "typePublicatie", "aanbestedingNaam", "opdrachtgeverNaam")

    def page_url(self, page: int, listing: str) -> str:
        query = {"page": page, "size": self.page_size, "publicatieDatumVanaf": self.since.isoformat()}
        return f"{API}?{urlencode(query)}"

    def is_last_page(self, data: Any, entries: list[dict[str, Any]], page: int) -> bool:
        # A Spring page says whether it is the last; without that flag a short page ends the list.
        if "last" in data:
            if not isinstance(data["last"], bool):
                raise SchemaError(f"`last` is {data['last']!r}, not true or false")
            return data["last"]
        return len(entries) < self.page_size

    def parse_entry(self, entry: dict[str, Any], listing: str) -> Iterator[Request]:
        published = iso_date(entry["publicatieDatum"])
        if published is not None and published > self.until:
            self.count("outside_window")
            return
        yield self.detail_request(f"{API}/{entry['publicatieId']}", entry)

    def parse_detail(self, response: Response, entry: dict[str, Any]) -> Iterator[Notice]:
        detail = self.json_of(response)
        if not isinstance(detail, dict) or not isinstance(detail.get("cpvCodes"), list):
            raise SchemaError("the detail has no cpvCodes list")
        notice = self.notice(entry, detail)
        if not self.selected(notice):
            self.count("not_selected")
            return
        yield notice

    def notice(self, entry: dict[str, Any], detail: dict[str, Any]) -> Notice:
        """The notice of a list entry and its detail (the detail's values win)."""
        data = {**entry, **detail}
        publication_id = str(data["publicatieId"])
        code = str((data.get("typePublicatie") or {}).get("code"))
        if code not in PUBLICATION_TYPES:
            self.schema_error(f"publication {publication_id}: unknown typePublicatie code {code!r}")
        notice_type, status = PUBLICATION_TYPES.get(code, ("other", "open"))
        buyer = data.get("opdrachtgeverNaam")
        cpvs = [str(c["code"]) for c in data["cpvCodes"] if isinstance(c, dict) and c.get("code")]
        link = (data.get("link") or {}).get("href")
        return Notice(
            source=self.name,
            source_id=publication_id,
            title=data["aanbestedingNaam"],
            notice_type=notice_type,
            status=status,
            description=html_to_text(data.get("opdrachtBeschrijving")),
            buyer=buyer,
            buyer_country="NL",
            organisation=identify(buyer),
            published_on=iso_date(data["publicatieDatum"]),
            deadline=local_datetime(data.get("sluitingsDatum"), ZONE),
            cpv_codes=cpvs,
            language="nl",
            url=link or f"https://www.tenderned.nl/aankondigingen/overzicht/{publication_id}",
        )

    def selected(self, notice: Notice) -> bool:
        """A registry research buyer of the configuration, or a technology CPV division."""
        wanted = self.source.organisations
        if notice.organisation is not None and (wanted is None or notice.organisation in wanted):
            return True
        divisions = set(self.source.divisions())
        return any(str(code)[:2] in divisions for code in notice.cpv_codes)
