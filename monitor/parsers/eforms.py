"""eForms (UBL 2.3, TED since November 2023) to a `Notice`: PIN, contract notice, award notice.

Pure: `parse_eforms(root, origin)` takes a parsed document and returns a normalised, validated
notice, or raises `InputError` naming the field that failed. Field paths follow the eForms SDK
(BT numbers in comments).

Choices worth knowing:

- **source_id** is the publication number `efbc:NoticePublicationID` (OPP-010, "00067623-2022")
  without leading zeros ("67623-2022"). A notice that has not been published (SDK examples, a
  notice read from a buyer's e-tendering system) has none: it gets `source` "ted-unpublished"
  and `source_id` "unpublished-" + its `cbc:ID` (BT-701, a UUID), because the contract reserves
  source "ted" for real publication numbers. Its `url` is then the buyer's procurement documents
  (or buyer profile) instead of the TED page.
- **procedure_key** is "ted:" + `cbc:ContractFolderID` (BT-04), shared by every notice of one
  procedure (PIN, contract notice, change notices, award notice) — unless the buyer is a registry
  organisation whose own number (BT-22, `cac:ProcurementProject/cbc:ID`) follows its reference
  pattern: then the key is that reference ("f4e:F4E-OMF-1108", "cern:4321/TE"), as for TED XML,
  so the organisation's portal notice joins the procedure, and the folder key is kept in
  `procedure_aliases`. BT-22 is optional (the constructed CERN award omits it); storage maps the
  alias to the procedure, so such a notice still joins its contract notice.
- **amends.** A change notice (`efac:Changes`, BT-758) names the notice it changes by
  `efbc:ChangedNoticeIdentifier`, which is that notice's `cbc:ID` plus version ("<uuid>-01"),
  not its publication number; it is kept as written (storage matches it against the procedure's
  notices by `procedure_key` anyway). A change notice is a corrigendum; one whose reason is
  `cancel` (BT-140, change-corrig-justification) is a cancellation.
- **deadline** is the earliest `TenderSubmissionDeadlinePeriod` (BT-131) over the lots, else the
  earliest deadline for requests to participate (BT-1311, restricted procedures and PINs used as
  a call): both are when a company must act. The offsets written with the date and time are
  kept; a time without an offset takes the date's, and a value without any offset is read in the
  buyer's country zone.
- **title/description** are those in the notice language (`cbc:NoticeLanguageCode`, BT-702),
  falling back to the first language; the procedure's (BT-21/BT-24), else the lots' joined.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any, Final

from lxml import etree

from monitor import organisations
from monitor.contract import Notice, is_http_url, ted_source_id
from monitor.errors import ContractError, InputError
from monitor.parsers.common import (
    END_OF_DAY,
    country_from_alpha3,
    finish,
    first,
    language_from_alpha3,
    parse_xs_date,
    parse_xs_time,
    plain,
    ted_notice_url,
    ted_number_from_oj,
    to_float,
    zone_for_country,
)

NAMESPACES: Final = {
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
    "ext": "urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2",
    "efac": "http://data.europa.eu/p27/eforms-ubl-extension-aggregate-components/1",
    "efbc": "http://data.europa.eu/p27/eforms-ubl-extension-basic-components/1",
    "efext": "http://data.europa.eu/p27/eforms-ubl-extensions/1",
}
ROOT_NAMESPACES: Final = {
    "PriorInformationNotice": "urn:oasis:names:specification:ubl:schema:xsd:PriorInformationNotice-2",
    "ContractNotice": "urn:oasis:names:specification:ubl:schema:xsd:ContractNotice-2",
    "ContractAwardNotice": "urn:oasis:names:specification:ubl:schema:xsd:ContractAwardNotice-2",
}

# cbc:NoticeTypeCode (code list notice-type, SDK 1.x) -> (notice_type, status); why per line.
NOTICE_TYPES: Final[dict[str, tuple[str, str]]] = {
    "pin-only": ("prior_information", "planned"),  # PIN for information only
    "pin-buyer": ("prior_information", "planned"),  # notice of a PIN on a buyer profile
    "pin-rtl": ("prior_information", "planned"),  # PIN to shorten time limits: the CN follows
    "pin-tran": ("prior_information", "planned"),  # PIN for public passenger transport
    "pin-cfc-standard": ("call_for_expression_of_interest", "open"),  # PIN used as a call: express interest
    "pin-cfc-social": ("call_for_expression_of_interest", "open"),  # idem, light regime
    "pmc": ("market_survey", "open"),  # pre-market consultation: companies may respond now
    "qu-sy": ("call_for_expression_of_interest", "open"),  # qualification system: apply to qualify
    "cn-standard": ("contract_notice", "open"),
    "cn-social": ("contract_notice", "open"),  # light regime
    "cn-desg": ("contract_notice", "open"),  # design contest
    "subco": ("contract_notice", "open"),  # subcontracting by a concessionaire: a call
    "veat": ("contract_award", "awarded"),  # voluntary ex-ante transparency: a direct award
    "can-standard": ("contract_award", "awarded"),
    "can-social": ("contract_award", "awarded"),
    "can-desg": ("contract_award", "awarded"),  # design contest result
    "can-tran": ("contract_award", "awarded"),  # public passenger transport award
    "can-modif": ("contract_award", "awarded"),  # modification of an awarded contract: post-award
    "compl": ("other", "awarded"),  # contract completion: after the award, nothing to bid for
    "corr": ("corrigendum", "open"),  # change notice (some SDK versions type it so)
    "brin-ecs": ("other", "open"),  # European company registration: not procurement
    "brin-eeig": ("other", "open"),  # EEIG registration: not procurement
}
# When the type code is missing or unknown, the root element says enough.
ROOT_TYPES: Final[dict[str, tuple[str, str]]] = {
    "PriorInformationNotice": ("prior_information", "planned"),
    "ContractNotice": ("contract_notice", "open"),
    "ContractAwardNotice": ("contract_award", "awarded"),
}
# BT-140 change reasons that withdraw the procedure.
CANCEL_REASONS: Final = frozenset({"cancel", "cancel-intent"})


def _xp(path: str) -> etree.XPath:
    return etree.XPath(path, namespaces=NAMESPACES, smart_strings=False)


_EXT = "ext:UBLExtensions/ext:UBLExtension/ext:ExtensionContent/efext:EformsExtension/"
_PUBLICATION_ID = _xp(_EXT + "efac:Publication/efbc:NoticePublicationID/text()")
_PUBLICATION_DATE = _xp(_EXT + "efac:Publication/efbc:PublicationDate/text()")
_SUBTYPE = _xp(_EXT + "efac:NoticeSubType/cbc:SubTypeCode/text()")
_CHANGED_NOTICE = _xp(_EXT + "efac:Changes/efbc:ChangedNoticeIdentifier/text()")
_CHANGES = _xp(_EXT + "efac:Changes")
_CHANGE_REASONS = _xp(_EXT + "efac:Changes/efac:ChangeReason/cbc:ReasonCode/text()")
_ORGANIZATIONS = _xp(_EXT + "efac:Organizations/efac:Organization/efac:Company")
_ORG_ID = _xp("cac:PartyIdentification/cbc:ID/text()")
_ORG_NAME = _xp("cac:PartyName/cbc:Name")
_ORG_COUNTRY = _xp("cac:PostalAddress/cac:Country/cbc:IdentificationCode/text()")
_ORG_WEBSITE = _xp("cbc:WebsiteURI/text()")
_RESULT = _EXT + "efac:NoticeResult/"
_RESULT_TOTAL = _xp(_RESULT + "cbc:TotalAmount")
_LOT_RESULTS = _xp(_RESULT + "efac:LotResult")
_LOT_RESULT_CODE = _xp("cbc:TenderResultCode/text()")
_LOT_RESULT_TENDERS = _xp("efac:LotTender/cbc:ID/text()")
_LOT_RESULT_LOT = _xp("efac:TenderLot/cbc:ID/text()")
_LOT_TENDERS = _xp(_RESULT + "efac:LotTender")
_TENDER_AMOUNT = _xp("cac:LegalMonetaryTotal/cbc:PayableAmount")
_TENDER_PARTY = _xp("efac:TenderingParty/cbc:ID/text()")
_TENDER_LOT = _xp("efac:TenderLot/cbc:ID/text()")
_TENDERING_PARTIES = _xp(_RESULT + "efac:TenderingParty")
_TENDERERS = _xp("efac:Tenderer")
_TENDERER_LEAD = _xp("efbc:GroupLeadIndicator/text()")
_ID = _xp("cbc:ID/text()")

_NOTICE_ID = _xp("cbc:ID/text()")
_FOLDER_ID = _xp("cbc:ContractFolderID/text()")
_INTERNAL_ID = _xp("cac:ProcurementProject/cbc:ID/text()")
_ISSUE_DATE = _xp("cbc:IssueDate/text()")
_NOTICE_TYPE = _xp("cbc:NoticeTypeCode/text()")
_LANGUAGE = _xp("cbc:NoticeLanguageCode/text()")
_BUYER_IDS = _xp("cac:ContractingParty/cac:Party/cac:PartyIdentification/cbc:ID/text()")
_BUYER_PROFILE = _xp("cac:ContractingParty/cbc:BuyerProfileURI/text()")
_PROJECT = "cac:ProcurementProject/"
_PROJECT_NAME = _xp(_PROJECT + "cbc:Name")
_PROJECT_DESCR = _xp(_PROJECT + "cbc:Description")
_PROJECT_MAIN_CPV = _xp(_PROJECT + "cac:MainCommodityClassification/cbc:ItemClassificationCode/text()")
_PROJECT_MORE_CPV = _xp(_PROJECT + "cac:AdditionalCommodityClassification/cbc:ItemClassificationCode/text()")
_PROJECT_ESTIMATE = _xp(_PROJECT + "cac:RequestedTenderTotal/cbc:EstimatedOverallContractAmount")
_LOTS = _xp("cac:ProcurementProjectLot")
_DEADLINES = _xp("cac:TenderingProcess/cac:TenderSubmissionDeadlinePeriod")
_REQUEST_DEADLINES = _xp("cac:TenderingProcess/cac:ParticipationRequestReceptionPeriod")
_END_DATE = _xp("cbc:EndDate/text()")
_END_TIME = _xp("cbc:EndTime/text()")
_DOCUMENT_URIS = _xp(
    "cac:TenderingTerms/cac:CallForTendersDocumentReference/cac:Attachment/cac:ExternalReference/cbc:URI/text()"
)
_SUBMISSION_URIS = _xp("cac:TenderingTerms/cac:TenderRecipientParty/cbc:EndpointID/text()")


def _in_language(elements: list[etree._Element], language: str | None) -> str | None:
    """The text of the element in `language` (eForms alpha-3), else the first non-empty one."""
    if language:
        for element in elements:
            if element.get("languageID") == language and element.text and element.text.strip():
                return plain(element.text)
    for element in elements:
        if element.text and element.text.strip():
            return plain(element.text)
    return None


def _deadline(period: etree._Element, country: str | None) -> datetime | None:
    day = first(_END_DATE(period))
    if not day:
        return None
    on, date_offset = parse_xs_date(day)
    clock = first(_END_TIME(period))
    at, time_offset = parse_xs_time(clock) if clock else (END_OF_DAY, None)
    zone = time_offset or date_offset or zone_for_country(country)
    return datetime.combine(on, time(at.hour, at.minute, at.second), tzinfo=zone)


def _earliest(
    lots: list[etree._Element], root: etree._Element, path: etree.XPath, country: str | None
) -> datetime | None:
    found = [
        moment
        for holder in (*lots, root)
        for period in path(holder)
        if (moment := _deadline(period, country)) is not None
    ]
    return min(found) if found else None


def _amount(element: etree._Element | None) -> tuple[float | None, str | None]:
    if element is None:
        return None, None
    return to_float(element.text), element.get("currencyID")


def parse_eforms(root: etree._Element, origin: str) -> Notice:
    """The notice in an eForms document (a UBL notice root); `InputError` when broken."""
    step = "document"
    try:
        root_name = etree.QName(root).localname
        language_code = first(_LANGUAGE(root))

        step = "organisations"
        companies: dict[str, etree._Element] = {}
        for company in _ORGANIZATIONS(root):
            org_id = first(_ORG_ID(company))
            if org_id:
                companies.setdefault(org_id, company)

        def org_name(org_id: str | None) -> str | None:
            company = companies.get(org_id or "")
            return _in_language(_ORG_NAME(company), language_code) if company is not None else None

        def org_country(org_id: str | None) -> str | None:
            company = companies.get(org_id or "")
            return country_from_alpha3(first(_ORG_COUNTRY(company))) if company is not None else None

        step = "source_id"
        publication_id = first(_PUBLICATION_ID(root))
        notice_id = first(_NOTICE_ID(root))
        if publication_id:
            source, source_id = "ted", ted_source_id(publication_id)
        elif notice_id:
            source, source_id = "ted-unpublished", f"unpublished-{notice_id}"
        else:
            raise ValueError("neither a publication number (NoticePublicationID) nor a notice id (cbc:ID)")

        step = "notice_type"
        type_code = first(_NOTICE_TYPE(root))
        notice_type, status = NOTICE_TYPES.get(type_code or "") or ROOT_TYPES.get(root_name, ("other", "open"))
        amends = first(_CHANGED_NOTICE(root))
        if amends:
            # Usually "<uuid>-<version>" (kept as written), sometimes a publication number.
            amends = ted_number_from_oj(amends) or amends
        if _CHANGES(root):
            notice_type, status = "corrigendum", "open"
            if CANCEL_REASONS & set(_CHANGE_REASONS(root)):
                notice_type, status = "cancellation", "cancelled"
        lot_results = _LOT_RESULTS(root)
        result_codes = [first(_LOT_RESULT_CODE(r)) for r in lot_results]
        if notice_type == "contract_award" and result_codes and all(c == "clos-nw" for c in result_codes):
            # Every lot closed without a winner: the procedure ended without purchase.
            notice_type, status = "cancellation", "cancelled"

        step = "buyer"
        buyer_id = first(_BUYER_IDS(root))
        buyer = org_name(buyer_id)
        buyer_country = org_country(buyer_id)

        step = "title"
        lots = _LOTS(root)
        title = _in_language(_PROJECT_NAME(root), language_code)
        if not title:
            title = first(_in_language(_PROJECT_NAME(lot), language_code) for lot in lots)

        step = "description"
        description = _in_language(_PROJECT_DESCR(root), language_code)
        if not description:
            parts = [_in_language(_PROJECT_DESCR(lot), language_code) for lot in lots]
            description = "\n".join(part.strip() for part in parts if part) or None

        step = "cpv_codes"
        cpv_codes = [
            *_PROJECT_MAIN_CPV(root),
            *(code for lot in lots for code in _PROJECT_MAIN_CPV(lot)),
            *_PROJECT_MORE_CPV(root),
            *(code for lot in lots for code in _PROJECT_MORE_CPV(lot)),
        ]

        step = "published_on"
        published = first(_PUBLICATION_DATE(root)) or first(_ISSUE_DATE(root))
        published_on: date | None = parse_xs_date(published)[0] if published else None

        step = "deadline"
        deadline = _earliest(lots, root, _DEADLINES, buyer_country) or _earliest(
            lots, root, _REQUEST_DEADLINES, buyer_country
        )

        step = "estimated_value"
        value, currency = _amount(next(iter(_PROJECT_ESTIMATE(root)), None))
        if value is None:
            # No procedure estimate: the lots' estimates add up when they share a currency.
            lot_amounts = [_amount(e) for lot in lots for e in _PROJECT_ESTIMATE(lot)]
            currencies = {c for v, c in lot_amounts if v is not None}
            if lot_amounts and len(currencies) == 1:
                value = sum(v for v, _ in lot_amounts if v is not None)
                currency = currencies.pop()
        if value is None:
            value, currency = _amount(next(iter(_RESULT_TOTAL(root)), None))

        step = "documents"
        documents: list[dict[str, str | None]] = []
        for holder in (root, *lots):
            for uri in _DOCUMENT_URIS(holder):
                documents.append({"url": uri, "title": "Procurement documents"})
        for holder in (root, *lots):
            for uri in _SUBMISSION_URIS(holder):
                documents.append({"url": uri, "title": "Submission of tenders"})
        for uri in _BUYER_PROFILE(root):
            documents.append({"url": uri, "title": "Buyer profile"})

        step = "awards"
        tenders = {first(_ID(t)): t for t in _LOT_TENDERS(root)}
        parties = {first(_ID(p)): p for p in _TENDERING_PARTIES(root)}
        awards: list[dict[str, Any]] = []
        for lot_result, code in zip(lot_results, result_codes, strict=True):
            if code != "selec-w":
                continue
            lot_id = first(_LOT_RESULT_LOT(lot_result))
            for tender_id in _LOT_RESULT_TENDERS(lot_result):
                tender = tenders.get(tender_id)
                if tender is None:
                    continue
                party = parties.get(first(_TENDER_PARTY(tender)))
                members = _TENDERERS(party) if party is not None else []
                # The group leader first: its country stands for the group's.
                members.sort(key=lambda m: first(_TENDERER_LEAD(m)) != "true")
                member_ids = [first(_ID(m)) for m in members]
                names = [n for n in (org_name(i) for i in member_ids) if n]
                amount, amount_currency = _amount(next(iter(_TENDER_AMOUNT(tender)), None))
                awards.append(
                    {
                        "winner": "; ".join(n.strip() for n in names) or None,
                        "winner_country": org_country(member_ids[0]) if member_ids else None,
                        "value": amount,
                        "currency": amount_currency,
                        "lot": lot_id or first(_TENDER_LOT(tender)),
                    }
                )

        step = "url"
        if source == "ted":
            url: str | None = ted_notice_url(source_id)
        else:
            url = first(d["url"] for d in documents if is_http_url(d["url"]))

        folder = first(_FOLDER_ID(root))
        folder_key = f"ted:{folder}" if folder else f"ted:{source_id}"
        organisation = organisations.identify(buyer)
        # The buyer's own reference (BT-22), where its organisation numbers procedures in a known
        # way, names the procedure across sources (the F4E portal, CERN's listing); the folder id
        # stays an alias, so notices of the procedure that lack the reference still join it.
        reference_key = organisations.procedure_key_for(organisation, first(_INTERNAL_ID(root)))
        notice = Notice(
            source=source,
            source_id=source_id,
            title=title or "",
            notice_type=notice_type,
            status=status,
            # A notice without a folder id (some PINs) is a procedure of its own.
            procedure_key=reference_key or folder_key,
            procedure_aliases=[folder_key] if reference_key else [],
            description=description,
            buyer=buyer,
            buyer_country=buyer_country,
            organisation=organisation,
            published_on=published_on,
            deadline=deadline,
            cpv_codes=cpv_codes,
            estimated_value=value,
            currency=currency if value is not None else None,
            language=language_from_alpha3(language_code),
            url=url,
            documents=documents,
            amends=amends if notice_type in ("corrigendum", "cancellation") else None,
            awards=awards,
        )
    except InputError:
        raise
    except ContractError as error:
        raise InputError(origin, f"{step}: {error.reason}") from error
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, etree.LxmlError) as error:
        raise InputError(origin, f"{step}: {error}") from error
    return finish(notice, origin)
