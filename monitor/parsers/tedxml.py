"""TED XML (schema R2.0.8/R2.0.9, root `TED_EXPORT`) to a `Notice`: the pre-2024 TED format.

The paths are those of the 2014 standard forms (R2.0.9, F01-F25, MOVE); the older 2011 forms of
R2.0.8 (`CONTRACT/FD_CONTRACT/...`) are read through a small fallback (title, short description,
CPV, `RECEIPT_LIMIT_DATE`) used only when a form has no `OBJECT_CONTRACT/TITLE`. The shared data
holds no R2.0.8 notice, so that fallback is tested on a constructed snippet only.

Pure: `parse_ted_xml(root, origin)` takes a parsed document and returns a normalised, validated
notice, or raises `InputError` naming the field that failed.

Choices worth knowing:

- **Which language.** EU institutions publish one form element per language (24 `F02_2014`
  elements); the text fields are taken from the form whose `LG` equals `LG_ORIG` (the original),
  falling back to `CATEGORY="ORIGINAL"`, then the first form. `TRANSLATION_SECTION/ML_TITLES`
  is never used: it holds the main CPV label in every language, not the notice's title.
- **source_id** is the publication number "NNNNNN-YYYY" from `NO_DOC_OJS` ("2020/S 063-154324"
  -> "154324-2020"), else from the root's `DOC_ID`.
- **procedure_key.** TED XML has no procedure identifier. A corrigendum (F14) or a result notice
  (award, VEAT, modification, design contest result) that cites an earlier notice
  (`COMPLEMENTARY_INFO/NOTICE_NUMBER_OJ`, `PROCEDURE/NOTICE_NUMBER_OJ`, the coded `REF_NOTICE`)
  gets "ted:" + that notice's publication number, so that it joins the contract notice it belongs
  to; every other notice gets "ted:" + its own publication number. A contract notice citing its
  PIN keeps its own key (its corrigenda and awards cite the contract notice, not the PIN) and
  lists the PIN in `references`. A registry organisation that numbers its procedures
  (`reference_pattern` in organisations.yaml: F4E's "F4E-OMF-1234") is keyed by that number
  instead (`OBJECT_CONTRACT/REFERENCE_NUMBER`, "f4e:F4E-OMF-1234"), so its own portal's notice
  of the procedure joins the TED notices.
- **deadline.** `DATE_RECEIPT_TENDERS` + `TIME_RECEIPT_TENDERS` are the buyer's local time
  without a zone; they are read in the zone of the buyer's country (`common.COUNTRY_TIMEZONE`,
  mainland zone, Brussels when unknown); a date without a time is the end of that day. An F14
  that changes section IV.2.2 (time limit for receipt of tenders) carries the new deadline.
- **notice_type/status** come from the coded `TD_DOCUMENT_TYPE` (table `DOCUMENT_TYPES` below),
  then from the form name when the code says "not specified". A result notice in which no lot
  was awarded (`NO_AWARDED_CONTRACT`: procedure discontinued or unsuccessful) is a cancellation.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Final

from lxml import etree

from monitor import organisations
from monitor.contract import Notice, ted_source_id
from monitor.errors import ContractError, InputError
from monitor.parsers.common import (
    END_OF_DAY,
    country_from_ted,
    element_text,
    finish,
    first,
    parse_xs_time,
    ted_notice_url,
    ted_number_from_oj,
    to_float,
    zone_for_country,
)

# TD_DOCUMENT_TYPE code -> (notice_type, status). Codes and labels from the TED XML code list
# (as found in CODIF_DATA of the 2014-2022 corpus); one line per code, with why.
DOCUMENT_TYPES: Final[dict[str, tuple[str, str]]] = {
    "0": ("prior_information", "planned"),  # PIN without call for competition: information only
    "1": ("corrigendum", "open"),  # corrigendum
    "2": ("corrigendum", "open"),  # additional information (F14): amends an earlier notice
    "3": ("contract_notice", "open"),  # contract notice
    "4": ("call_for_expression_of_interest", "open"),  # prequalification notice: apply to be invited
    "5": ("contract_notice", "open"),  # request for proposals: a call for tenders
    "6": ("other", "open"),  # general information: not about one procedure
    "7": ("contract_award", "awarded"),  # contract award notice
    "8": ("prior_information", "planned"),  # prior information notice (old code)
    "9": ("contract_notice", "open"),  # public works concession: a call for competition
    "A": ("call_for_expression_of_interest", "open"),  # PIN as call for competition: express interest
    "B": ("prior_information", "planned"),  # notice of a PIN on a buyer profile
    "C": ("contract_notice", "open"),  # works concession (F24): a call for competition
    "D": ("contract_notice", "open"),  # design contest (F12): a call for competition
    "E": ("contract_notice", "open"),  # works contract by a concessionaire (old): a call
    "F": ("contract_notice", "open"),  # subcontract notice: a call for competition
    "G": ("other", "open"),  # European economic interest grouping: not procurement
    "H": ("contract_notice", "open"),  # services concession (F24): a call for competition
    "I": ("call_for_expression_of_interest", "open"),  # call for expressions of interest
    "J": ("contract_award", "awarded"),  # concession award notice (F25)
    "K": ("contract_award", "awarded"),  # modification of a contract during its term (F20): post-award
    "M": ("call_for_expression_of_interest", "open"),  # periodic indicative notice with call
    "O": ("call_for_expression_of_interest", "open"),  # qualification system with call: apply to qualify
    "P": ("prior_information", "planned"),  # periodic indicative notice without call
    "Q": ("call_for_expression_of_interest", "open"),  # qualification system without call: still joinable
    "R": ("contract_award", "awarded"),  # results of design contests (F13)
    "S": ("other", "open"),  # European company: not procurement
    "V": ("contract_award", "awarded"),  # voluntary ex ante transparency notice (F15): direct award
    "Y": ("contract_notice", "open"),  # dynamic purchasing system: a call for competition
}

# Form name (element name without "_2014", or the FORM attribute of MOVE/OTH_NOT forms) ->
# (notice_type, status), used when TD_DOCUMENT_TYPE is missing or "Z" (not specified).
FORM_TYPES: Final[dict[str, tuple[str, str]]] = {
    "F01": ("prior_information", "planned"),  # PIN (may be a call: the TD code says so)
    "F02": ("contract_notice", "open"),
    "F03": ("contract_award", "awarded"),
    "F04": ("prior_information", "planned"),  # periodic indicative notice, utilities
    "F05": ("contract_notice", "open"),  # contract notice, utilities
    "F06": ("contract_award", "awarded"),  # award notice, utilities
    "F07": ("call_for_expression_of_interest", "open"),  # qualification system, utilities
    "F08": ("prior_information", "planned"),  # notice on a buyer profile
    "F12": ("contract_notice", "open"),  # design contest notice
    "F13": ("contract_award", "awarded"),  # results of design contest
    "F14": ("corrigendum", "open"),
    "F15": ("contract_award", "awarded"),  # VEAT
    "F16": ("prior_information", "planned"),  # PIN, defence
    "F17": ("contract_notice", "open"),  # contract notice, defence
    "F18": ("contract_award", "awarded"),  # award notice, defence
    "F19": ("contract_notice", "open"),  # subcontract notice, defence
    "F20": ("contract_award", "awarded"),  # modification notice
    "F21": ("contract_notice", "open"),  # social services (PIN/CN/CAN: the TD code decides)
    "F22": ("contract_notice", "open"),  # social services, utilities
    "F23": ("contract_notice", "open"),  # social services, concessions
    "F24": ("contract_notice", "open"),  # concession notice
    "F25": ("contract_award", "awarded"),  # concession award notice
    "T01": ("prior_information", "planned"),  # public passenger transport PIN (Reg. 1370/2007)
    "T02": ("contract_award", "awarded"),  # public passenger transport award
}
DEFAULT_TYPE: Final = ("other", "open")

# Notice types after which a notice cites the notice it follows up (see the module docstring).
_FOLLOW_UP_TYPES: Final = frozenset({"corrigendum", "contract_award", "cancellation"})


class _Paths:
    """The XPath expressions of one TED XML namespace, compiled once and reused."""

    def __init__(self, namespace: str | None) -> None:
        ns = {"t": namespace} if namespace else None

        def xp(path: str) -> etree.XPath:
            if not namespace:
                path = path.replace("t:", "")
            return etree.XPath(path, namespaces=ns, smart_strings=False)

        coded = "t:CODED_DATA_SECTION/"
        self.no_doc_ojs = xp(coded + "t:NOTICE_DATA/t:NO_DOC_OJS/text()")
        self.date_pub = xp(coded + "t:REF_OJS/t:DATE_PUB/text()")
        self.lg_orig = xp(coded + "t:NOTICE_DATA/t:LG_ORIG/text()")
        self.iso_country = xp(coded + "t:NOTICE_DATA/t:ISO_COUNTRY/@VALUE")
        self.original_cpv = xp(coded + "t:NOTICE_DATA/t:ORIGINAL_CPV/@CODE")
        self.ref_notice = xp(coded + "t:NOTICE_DATA/t:REF_NOTICE/t:NO_DOC_OJS/text()")
        self.ia_url_general = xp(coded + "t:NOTICE_DATA/t:IA_URL_GENERAL/text()")
        self.ia_url_etendering = xp(coded + "t:NOTICE_DATA/t:IA_URL_ETENDERING/text()")
        self.coded_value = xp(coded + "t:NOTICE_DATA/t:VALUES/t:VALUE")
        self.document_type = xp(coded + "t:CODIF_DATA/t:TD_DOCUMENT_TYPE/@CODE")
        self.aa_name = xp("t:TRANSLATION_SECTION/t:ML_AA_NAMES/t:AA_NAME")
        self.forms = xp("t:FORM_SECTION/*")
        # Relative to the chosen form element.
        body = "t:CONTRACTING_BODY/t:ADDRESS_CONTRACTING_BODY/"
        self.buyer = xp(body + "t:OFFICIALNAME")
        self.buyer_country = xp(body + "t:COUNTRY/@VALUE")
        self.url_general = xp(body + "t:URL_GENERAL/text()")
        self.url_buyer = xp(body + "t:URL_BUYER/text()")
        self.url_document = xp("t:CONTRACTING_BODY/t:URL_DOCUMENT/text()")
        self.url_participation = xp("t:CONTRACTING_BODY/t:URL_PARTICIPATION/text()")
        self.title = xp("t:OBJECT_CONTRACT/t:TITLE")
        self.reference_number = xp("t:OBJECT_CONTRACT/t:REFERENCE_NUMBER/text()")
        self.short_descr = xp("t:OBJECT_CONTRACT/t:SHORT_DESCR")
        self.lots = xp("t:OBJECT_CONTRACT/t:OBJECT_DESCR")
        self.lot_title = xp("t:TITLE")
        self.lot_descr = xp("t:SHORT_DESCR")
        self.cpv_main = xp("t:OBJECT_CONTRACT/t:CPV_MAIN/t:CPV_CODE/@CODE")
        self.cpv_lot_main = xp("t:OBJECT_CONTRACT/t:OBJECT_DESCR/t:CPV_MAIN/t:CPV_CODE/@CODE")
        self.cpv_additional = xp("t:OBJECT_CONTRACT/t:OBJECT_DESCR/t:CPV_ADDITIONAL/t:CPV_CODE/@CODE")
        self.cpv_modification = xp(
            "t:MODIFICATIONS_CONTRACT/t:DESCRIPTION_PROCUREMENT/*[self::t:CPV_MAIN or self::t:CPV_ADDITIONAL]"
            "/t:CPV_CODE/@CODE"
        )
        self.val_estimated = xp("t:OBJECT_CONTRACT/t:VAL_ESTIMATED_TOTAL")
        self.val_total = xp("t:OBJECT_CONTRACT/t:VAL_TOTAL")
        self.date_receipt = xp("t:PROCEDURE/t:DATE_RECEIPT_TENDERS/text()")
        self.time_receipt = xp("t:PROCEDURE/t:TIME_RECEIPT_TENDERS/text()")
        self.procedure_notice = xp("t:PROCEDURE/t:NOTICE_NUMBER_OJ/text()")
        self.amended_notice = xp("t:COMPLEMENTARY_INFO/t:NOTICE_NUMBER_OJ/text()")
        self.changes = xp("t:CHANGES/t:CHANGE")
        self.change_section = xp("t:WHERE/t:SECTION/text()")
        self.change_new_date = xp("t:NEW_VALUE/t:DATE/text()")
        self.change_new_time = xp("t:NEW_VALUE/t:TIME/text()")
        self.award_contracts = xp("t:AWARD_CONTRACT")
        self.no_award = xp("t:NO_AWARDED_CONTRACT")
        self.award_lot = xp("t:LOT_NO/text()")
        self.awarded = xp("t:AWARDED_CONTRACT")
        self.contractor_names = xp(
            "t:CONTRACTORS/t:CONTRACTOR/*[self::t:ADDRESS_CONTRACTOR or self::t:ADDRESS_PARTY]"
            " | t:CONTRACTOR/*[self::t:ADDRESS_CONTRACTOR or self::t:ADDRESS_PARTY]"
        )
        self.address_name = xp("t:OFFICIALNAME/text()")
        self.address_country = xp("t:COUNTRY/@VALUE")
        # R2.0.8 (2011 forms: CONTRACT/FD_CONTRACT/...), read only when the R2.0.9 paths found
        # no title, so that the common case pays nothing for them.
        self.old_title = xp(".//t:TITLE_CONTRACT")
        self.old_descr = xp(".//t:SHORT_CONTRACT_DESCRIPTION")
        self.old_cpv = xp(".//t:CPV_MAIN/t:CPV_CODE/@CODE | .//t:CPV_ADDITIONAL/t:CPV_CODE/@CODE")
        self.old_deadline = xp(".//t:RECEIPT_LIMIT_DATE")
        self.old_day = xp("t:DAY/text()")
        self.old_month = xp("t:MONTH/text()")
        self.old_year = xp("t:YEAR/text()")
        self.old_time = xp("t:TIME/text()")
        self.award_value = xp("t:VALUES/t:VAL_TOTAL | t:VAL_TOTAL | t:VALUE/t:VAL_TOTAL")


_PATHS: dict[str | None, _Paths] = {}


def _paths(namespace: str | None) -> _Paths:
    paths = _PATHS.get(namespace)
    if paths is None:
        paths = _PATHS[namespace] = _Paths(namespace)
    return paths


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _pick_form(forms: list[etree._Element], language: str | None) -> etree._Element | None:
    """The form element in the original language (see the module docstring)."""
    candidates = [f for f in forms if isinstance(f.tag, str) and _local(f.tag) != "NOTICE_UUID"]
    if not candidates:
        return None
    if language:
        for form in candidates:
            if (form.get("LG") or "").upper() == language:
                return form
    for form in candidates:
        if form.get("CATEGORY") == "ORIGINAL":
            return form
    return candidates[0]


def _form_code(form: etree._Element) -> str:
    """The form's code: "F02" for `F02_2014`, the FORM attribute ("T01") for MOVE and the like."""
    name = _local(form.tag)
    if name.startswith("F") and name[1:3].isdigit():
        return name[:3]
    return (form.get("FORM") or name).upper()


def _deadline(day: str, clock: str | None, country: str | None) -> datetime:
    zone = zone_for_country(country)
    moment = END_OF_DAY
    if clock and clock.strip():
        moment, _ = parse_xs_time(clock)
    return datetime.combine(date.fromisoformat(day.strip()[:10]), moment, tzinfo=zone)


def _amount(element: etree._Element | None) -> tuple[float | None, str | None]:
    if element is None:
        return None, None
    return to_float(element.text), element.get("CURRENCY")


def parse_ted_xml(root: etree._Element, origin: str) -> Notice:
    """The notice in a TED XML document (`root` is `TED_EXPORT`); `InputError` when broken."""
    step = "document"
    try:
        namespace = etree.QName(root).namespace
        p = _paths(namespace)

        step = "source_id"
        number = ted_number_from_oj(first(p.no_doc_ojs(root))) or ted_number_from_oj(root.get("DOC_ID"))
        if not number:
            raise ValueError("no publication number (NO_DOC_OJS or DOC_ID)")
        source_id = ted_source_id(number)

        step = "language"
        language = (first(p.lg_orig(root)) or "").upper() or None
        form = _pick_form(p.forms(root), language)
        if form is None:
            raise ValueError("FORM_SECTION holds no form")

        step = "notice_type"
        code = first(p.document_type(root)) or "Z"
        form_code = _form_code(form)
        notice_type, status = DOCUMENT_TYPES.get(code) or FORM_TYPES.get(form_code) or DEFAULT_TYPE

        step = "buyer"
        buyer_el = p.buyer(form)
        buyer = element_text(buyer_el[0]) if buyer_el else None
        if not buyer:
            aa_names = p.aa_name(root)
            buyer = element_text(aa_names[0]) if aa_names else None
        buyer_country = country_from_ted(first(p.buyer_country(form))) or country_from_ted(first(p.iso_country(root)))

        step = "title"
        titles = p.title(form)
        title = element_text(titles[0]) if titles else None

        step = "description"
        descriptions = p.short_descr(form)
        description = element_text(descriptions[0]) if descriptions else None
        lots = p.lots(form)
        if not description and lots:
            parts = []
            for lot in lots:
                lot_text = element_text(next(iter(p.lot_descr(lot)), None))
                lot_title = element_text(next(iter(p.lot_title(lot)), None))
                if lot_text:
                    parts.append(f"{lot_title}: {lot_text}" if lot_title and len(lots) > 1 else lot_text)
            description = "\n".join(parts) or None
        if not title and lots:
            # Some old forms only title their lots; a notice must have a title.
            title = element_text(next(iter(p.lot_title(lots[0])), None))

        old_form = not titles
        if old_form:
            title = title or element_text(next(iter(p.old_title(form)), None))
            description = description or element_text(next(iter(p.old_descr(form)), None))

        step = "cpv_codes"
        cpv_codes = [
            *p.cpv_main(form),
            *p.cpv_lot_main(form),
            *p.cpv_additional(form),
            *p.cpv_modification(form),
        ]
        if not cpv_codes and old_form:
            cpv_codes = list(p.old_cpv(form))
        cpv_codes = cpv_codes or list(p.original_cpv(root))

        step = "published_on"
        pub = first(p.date_pub(root))
        published_on = datetime.strptime(pub, "%Y%m%d").date() if pub else None

        step = "estimated_value"
        value, currency = _amount(next(iter(p.val_estimated(form)), None))
        if value is None:
            value, currency = _amount(next(iter(p.val_total(form)), None))
        if value is None:
            for coded in p.coded_value(root):
                value, currency = to_float(coded.text), coded.get("CURRENCY")
                if value is not None:
                    break

        step = "references"
        own_reference = ted_number_from_oj(first(p.procedure_notice(form)))
        amended = ted_number_from_oj(first(p.amended_notice(form)))
        coded_refs = [r for r in (ted_number_from_oj(x) for x in p.ref_notice(root)) if r]
        references = [r for r in (own_reference, amended, *coded_refs) if r and r != source_id]

        step = "deadline"
        deadline: datetime | None = None
        receipt = first(p.date_receipt(form))
        if receipt:
            deadline = _deadline(receipt, first(p.time_receipt(form)), buyer_country)
        if deadline is None and old_form:
            for limit in p.old_deadline(form):
                year, month, day = first(p.old_year(limit)), first(p.old_month(limit)), first(p.old_day(limit))
                if year and month and day:
                    iso = f"{int(year):04d}-{int(month):02d}-{int(day):02d}"
                    deadline = _deadline(iso, first(p.old_time(limit)), buyer_country)
                    break
        for change in p.changes(form):
            section = first(p.change_section(change)) or ""
            new_date = first(p.change_new_date(change))
            if new_date and section.replace(" ", "").startswith("IV.2.2"):
                deadline = _deadline(new_date, first(p.change_new_time(change)), buyer_country)

        step = "awards"
        awards: list[dict[str, Any]] = []
        award_contracts = p.award_contracts(form)
        for award in award_contracts:
            lot = first(p.award_lot(award))
            for awarded in p.awarded(award):
                names: list[str] = []
                winner_country: str | None = None
                for address in p.contractor_names(awarded):
                    name = first(p.address_name(address))
                    if name:
                        names.append(name.strip())
                    winner_country = winner_country or country_from_ted(first(p.address_country(address)))
                award_value, award_currency = _amount(next(iter(p.award_value(awarded)), None))
                if names or award_value is not None:
                    awards.append(
                        {
                            "winner": "; ".join(names) or None,
                            "winner_country": winner_country,
                            "value": award_value,
                            "currency": award_currency,
                            "lot": lot,
                        }
                    )
        if notice_type == "contract_award" and award_contracts and all(p.no_award(a) for a in award_contracts):
            # Every lot ended without award (discontinued or unsuccessful): nothing was bought.
            notice_type, status = "cancellation", "cancelled"

        step = "procedure_key"
        if notice_type == "corrigendum" and form_code == "F14" and not amended:
            amended = coded_refs[0] if coded_refs else None
        cited = amended or own_reference or (coded_refs[0] if coded_refs else None)
        organisation = organisations.identify(buyer)
        # The buyer's own number is shared by every notice of the procedure, on TED and on
        # the buyer's portal alike: it wins over TED's chain of citations.
        own_key = organisations.procedure_key_for(organisation, first(p.reference_number(form)))
        if own_key is not None:
            procedure_key = own_key
        elif notice_type in _FOLLOW_UP_TYPES and cited and cited != source_id:
            procedure_key = f"ted:{cited}"
        else:
            procedure_key = f"ted:{source_id}"

        step = "documents"
        documents: list[dict[str, str | None]] = []
        for url in p.url_document(form):
            documents.append({"url": url, "title": "Procurement documents"})
        for url in p.url_participation(form):
            documents.append({"url": url, "title": "Submission of tenders"})
        for url in (*p.url_buyer(form), *p.ia_url_etendering(root)):
            documents.append({"url": url, "title": "Buyer profile"})

        notice = Notice(
            source="ted",
            source_id=source_id,
            title=title or "",
            notice_type=notice_type,
            status=status,
            procedure_key=procedure_key,
            description=description,
            buyer=buyer,
            buyer_country=buyer_country,
            organisation=organisation,
            published_on=published_on,
            deadline=deadline,
            cpv_codes=cpv_codes,
            estimated_value=value,
            currency=currency if value is not None else None,
            language=language.lower() if language else None,
            url=ted_notice_url(source_id),
            documents=documents,
            amends=amended if notice_type == "corrigendum" else None,
            references=references,
            awards=awards,
        )
    except InputError:
        raise
    except ContractError as error:
        raise InputError(origin, f"{step}: {error.reason}") from error
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, etree.LxmlError) as error:
        raise InputError(origin, f"{step}: {error}") from error
    return finish(notice, origin)
