"""Reviewed expected output of the TED parsers on the project's constructed notices.

The notices in `fixtures/notices/` are written by the project (see its README); the values
asserted here were checked by hand against the XML. `fixtures/hostile/` must be refused with the
right error, naming the file.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from lxml import etree

from monitor.contract import Notice, validate
from monitor.errors import InputError, UnknownSchemaError, UnsafeXMLError
from monitor.parsers import detect_format, parse_document, parse_eforms, parse_ted_xml
from monitor.parsers.common import country_from_alpha3, country_from_ted, language_from_alpha3, ted_number_from_oj

FIXTURES = Path(__file__).parent / "fixtures"
NOTICES = FIXTURES / "notices"
HOSTILE = FIXTURES / "hostile"
CET = timezone(timedelta(hours=1))
CEST = timezone(timedelta(hours=2))
CERN_FOLDER = "ted:5d1e2f3a-4b5c-4d6e-8f70-123456789abc"


def parse(name: str) -> Notice:
    path = NOTICES / name
    notice = parse_document(path.read_bytes(), path.name)
    assert validate(notice) == []
    return notice


def test_eforms_contract_notice_from_cern() -> None:
    notice = parse("eforms_cn_cern.xml")
    assert notice.source == "ted"
    assert notice.source_id == "700001-2026"
    # BT-22 ("IT-4321/TE") follows CERN's reference pattern: the procedure is CERN's own number,
    # so its listing's notices join it, and TED's folder id stays an alias (the award of this
    # procedure has no BT-22 and joins through it: tests/test_store.py).
    assert notice.procedure_key == "cern:4321/TE"
    assert notice.procedure_aliases == [CERN_FOLDER]
    assert notice.notice_type == "contract_notice"
    assert notice.status == "open"
    assert notice.title == "Supply of cryogenic transfer lines and ultra-high vacuum equipment"
    assert notice.description == (
        "Design, manufacture and delivery of vacuum-insulated cryogenic transfer lines for liquid helium.\n"
        "Supply of ultra-high vacuum chambers, gate valves and ion pumps."
    )
    assert notice.buyer == "European Organization for Nuclear Research (CERN)"
    assert notice.buyer_country == "CH"
    assert notice.organisation == "cern"
    assert notice.published_on == date(2026, 10, 16)
    # Lot 2 closes first; the offsets written in the notice are kept.
    assert notice.deadline == datetime(2026, 11, 24, 12, 0, tzinfo=CET)
    assert notice.deadline.utcoffset() == timedelta(hours=1)
    assert notice.cpv_codes == ["42123400", "42122000", "38000000", "24111900"]
    assert notice.estimated_value == 4_800_000
    assert notice.currency == "CHF"
    assert notice.language == "en"
    assert notice.url == "https://ted.europa.eu/en/notice/-/detail/700001-2026"
    assert notice.documents == [
        {"url": "https://procurement-tenders.example.cern/IT-4321/documents", "title": "Procurement documents"},
        {"url": "https://procurement.web.cern.ch", "title": "Buyer profile"},
    ]
    assert notice.amends is None
    assert notice.awards == []


def test_eforms_change_notice_amends_the_contract_notice() -> None:
    original = parse("eforms_cn_cern.xml")
    change = parse("eforms_change_cern.xml")
    assert change.source_id == "712345-2026"
    assert change.notice_type == "corrigendum"
    assert change.status == "open"
    assert change.procedure_key == original.procedure_key
    # The changed notice is named by its cbc:ID and version, not by its publication number.
    assert change.amends == "0c6a7f3e-1b2d-4c5e-9f80-aa11bb22cc01-01"
    # Lot 2 moved to 8 December, so lot 1 (1 December 17:00) is now the earliest deadline.
    assert change.deadline == datetime(2026, 12, 1, 17, 0, tzinfo=CET)
    assert change.deadline is not None and original.deadline is not None
    assert change.deadline > original.deadline
    added = {d["url"] for d in change.documents} - {d["url"] for d in original.documents}
    assert added == {"https://procurement-tenders.example.cern/IT-4321/technical-annex-B"}
    assert change.published_on == date(2026, 11, 2)


def test_eforms_award_with_a_dutch_winner() -> None:
    notice = parse("eforms_can_cern.xml")
    assert notice.source_id == "88001-2027"
    assert notice.notice_type == "contract_award"
    assert notice.status == "awarded"
    # No BT-22 here: the folder key, which storage maps to the contract notice's procedure.
    assert notice.procedure_key == CERN_FOLDER
    assert notice.procedure_aliases == []
    assert notice.organisation == "cern"
    assert notice.deadline is None
    assert notice.awards == [
        {
            "winner": "Cryotechniek Twente B.V.",
            "winner_country": "NL",
            "value": 4_350_000.0,
            "currency": "CHF",
            "lot": "LOT-0001",
        }
    ]
    # No procedure estimate: the notice's total awarded amount stands in.
    assert notice.estimated_value == 4_350_000.0
    assert notice.currency == "CHF"


def test_eforms_unpublished_pin_in_german() -> None:
    notice = parse("eforms_pin_eso.xml")
    assert notice.source == "ted-unpublished"
    assert notice.source_id == "unpublished-3f2e1d0c-9b8a-4765-8432-aa11bb22cc04"
    assert notice.notice_type == "prior_information"
    assert notice.status == "planned"
    assert notice.language == "de"
    assert notice.title == "Adaptive Optik: verformbare Spiegel für das ELT"
    assert notice.description == "Geplante Ausschreibung für verformbare Spiegel mit Aktuatoren."
    assert notice.buyer == "Europäische Südsternwarte (ESO)"
    assert notice.buyer_country == "DE"
    assert notice.organisation == "eso"
    assert notice.published_on == date(2026, 9, 1)  # IssueDate: there is no publication date
    assert notice.cpv_codes == ["38636000", "38600000"]
    assert notice.estimated_value == 12_000_000
    # Not on TED: the link is the buyer's own page.
    assert notice.url == "https://www.eso.org/public/about-eso/procurement/"
    assert notice.procedure_key == "ted:6e7f8091-a2b3-4c4d-9e5f-abcdefabcdef"


def test_ted_xml_f02_takes_the_original_language_form() -> None:
    notice = parse("tedxml_f02_f4e.xml")
    assert notice.source == "ted"
    assert notice.source_id == "301234-2022"
    # F4E's own reference (REFERENCE_NUMBER) keys the procedure, as on F4E's industry portal.
    assert notice.procedure_key == "f4e:F4E-OMF-1234"
    assert notice.notice_type == "contract_notice"
    assert notice.status == "open"
    assert notice.title == "Supply of radio-frequency power sources for plasma heating"
    assert notice.title != "Particle accelerators"  # the ML_TITLES CPV label
    assert notice.description == (
        "Design, manufacture and factory testing of RF power sources.\nDelivery to the ITER site in Cadarache."
    )
    assert notice.buyer == "Fusion for Energy Joint Undertaking (F4E)"
    assert notice.buyer_country == "ES"
    assert notice.organisation == "f4e"
    assert notice.published_on == date(2022, 6, 10)
    # 12:00 in Barcelona in July is 10:00 UTC.
    assert notice.deadline == datetime(2022, 7, 20, 10, 0, tzinfo=UTC)
    assert notice.deadline.utcoffset() == timedelta(hours=2)
    assert notice.cpv_codes == ["31643000", "31710000", "31158000"]
    assert notice.estimated_value == 25_000_000
    assert notice.currency == "EUR"
    assert notice.language == "en"
    assert notice.url == "https://ted.europa.eu/en/notice/-/detail/301234-2022"
    assert [d["url"] for d in notice.documents] == [
        "https://industryportal.f4e.europa.eu/tenders/F4E-OMF-1234",
        "https://etendering.ted.europa.eu/cft/cft-display.html?cftId=99999",
        "https://industryportal.f4e.europa.eu",
    ]
    assert notice.references == ["660001-2021"]  # the PIN, converted from "2021/S 250-660001"
    assert notice.amends is None


def test_ted_xml_f14_corrigendum_joins_its_contract_notice() -> None:
    notice = parse("tedxml_f14_f4e.xml")
    assert notice.source_id == "350001-2022"
    assert notice.notice_type == "corrigendum"
    assert notice.status == "open"
    assert notice.amends == "301234-2022"
    assert notice.procedure_key == parse("tedxml_f02_f4e.xml").procedure_key
    assert notice.deadline == datetime(2022, 9, 5, 12, 0, tzinfo=CEST)
    assert notice.organisation == "f4e"


def test_ted_xml_dutch_notice_of_an_nwo_i_institute() -> None:
    notice = parse("tedxml_f02_nikhef_nl.xml")
    assert notice.source_id == "45678-2021"
    assert notice.language == "nl"
    assert notice.organisation == "nikhef"
    assert notice.buyer_country == "NL"
    assert notice.title == "Levering van een 3He-4He mengkoeler voor detectoronderzoek"
    assert notice.description == (
        "Levering, installatie en inbedrijfstelling van een verdunningskoeler.\n"
        "Inclusief onderhoud gedurende vier jaar."
    )
    assert notice.deadline == datetime(2021, 3, 15, 14, 0, tzinfo=CET)
    assert notice.estimated_value is None and notice.currency is None


def test_utf16_notice_parses_like_utf8() -> None:
    utf8 = parse("tedxml_f02_nikhef_nl.xml")
    utf16 = parse_document((HOSTILE / "utf16_notice.xml").read_bytes(), "utf16_notice.xml")
    assert utf16.to_record() == utf8.to_record()


@pytest.mark.parametrize(
    ("name", "error", "reason"),
    [
        ("billion_laughs.xml", UnsafeXMLError, "DTD"),
        ("xxe.xml", UnsafeXMLError, "DTD"),
        ("truncated.xml", InputError, "malformed XML"),
        ("wrong_encoding.xml", InputError, "malformed XML"),
        ("unknown_root.xml", UnknownSchemaError, "Invoice"),
        ("empty.xml", InputError, "empty file"),
    ],
)
def test_hostile_inputs_are_refused_with_their_origin(name: str, error: type[InputError], reason: str) -> None:
    origin = f"upload/{name}"
    with pytest.raises(error) as caught:
        parse_document((HOSTILE / name).read_bytes(), origin)
    assert caught.value.origin == origin
    assert str(caught.value).startswith(f"{origin}: ")
    assert reason in str(caught.value)
    assert "root:" not in str(caught.value)  # /etc/passwd never leaks into a message


def test_a_notice_without_title_names_the_problem() -> None:
    data = (NOTICES / "eforms_pin_eso.xml").read_bytes()
    broken = data.replace(b"<cbc:Name languageID", b"<cbc:Other languageID").replace(b"</cbc:Name>", b"</cbc:Other>")
    with pytest.raises(InputError, match=r"^pin\.xml: .*title is missing"):
        parse_document(broken, "pin.xml")


def test_a_malformed_field_names_the_field() -> None:
    data = (NOTICES / "tedxml_f02_nikhef_nl.xml").read_bytes().replace(b"2021-03-15", b"2021-13-45")
    with pytest.raises(InputError, match=r"^nl\.xml: deadline: "):
        parse_document(data, "nl.xml")


def test_entry_points_and_format_detection() -> None:
    eforms_root = etree.fromstring((NOTICES / "eforms_cn_cern.xml").read_bytes())
    ted_root = etree.fromstring((NOTICES / "tedxml_f02_f4e.xml").read_bytes())
    assert detect_format(eforms_root) == "eforms"
    assert detect_format(ted_root) == "ted-xml"
    assert detect_format(etree.fromstring(b"<TED_EXPORT/>")) == "ted-xml"
    assert detect_format(etree.fromstring(b"<ContractNotice/>")) is None  # UBL needs its namespace
    assert parse_eforms(eforms_root, "a").source_id == "700001-2026"
    assert parse_ted_xml(ted_root, "b").source_id == "301234-2022"


def test_code_conversions() -> None:
    assert country_from_alpha3("NLD") == "NL"
    assert country_from_alpha3("GRC") == "GR"
    assert country_from_alpha3("XYZ") is None
    assert country_from_ted("UK") == "GB"
    assert country_from_ted("EL") == "GR"
    assert country_from_ted("") is None
    assert language_from_alpha3("ENG") == "en"
    assert language_from_alpha3("NLD") == "nl"
    assert language_from_alpha3("ELL") == "el"
    assert ted_number_from_oj("2020/S 063-154324") == "154324-2020"
    assert ted_number_from_oj("2021/S 250-660001 of 27.12.2021") == "660001-2021"
    assert ted_number_from_oj("00067623-2022") == "67623-2022"
    assert ted_number_from_oj("c4c415ee-ac08-4465-8fa6-57568cf69462-01") is None


R208 = b"""<?xml version="1.0" encoding="UTF-8"?>
<TED_EXPORT xmlns="http://publications.europa.eu/TED_schema/Export" VERSION="R2.0.8.S02.E01" DOC_ID="012345-2014">
  <CODED_DATA_SECTION>
    <REF_OJS><COLL_OJ>S</COLL_OJ><NO_OJ>10</NO_OJ><DATE_PUB>20140115</DATE_PUB></REF_OJS>
    <NOTICE_DATA><NO_DOC_OJS>2014/S 010-012345</NO_DOC_OJS><LG_ORIG>DE</LG_ORIG><ISO_COUNTRY VALUE="DE"/>
      <ORIGINAL_CPV CODE="31643000">Teilchenbeschleuniger</ORIGINAL_CPV></NOTICE_DATA>
    <CODIF_DATA><TD_DOCUMENT_TYPE CODE="3">Contract notice</TD_DOCUMENT_TYPE></CODIF_DATA>
  </CODED_DATA_SECTION>
  <TRANSLATION_SECTION><ML_AA_NAMES><AA_NAME LG="DE">GSI Helmholtzzentrum f\xc3\xbcr Schwerionenforschung GmbH</AA_NAME>
  </ML_AA_NAMES></TRANSLATION_SECTION>
  <FORM_SECTION><CONTRACT CATEGORY="ORIGINAL" FORM="2" LG="DE"><FD_CONTRACT>
    <OBJECT_CONTRACT_INFORMATION><DESCRIPTION_CONTRACT_INFORMATION>
      <TITLE_CONTRACT><P>Lieferung von Kicker-Magneten</P></TITLE_CONTRACT>
      <SHORT_CONTRACT_DESCRIPTION><P>Kicker-Magnete f\xc3\xbcr den Ring SIS100.</P></SHORT_CONTRACT_DESCRIPTION>
      <CPV><CPV_MAIN><CPV_CODE CODE="31643000"/></CPV_MAIN>
        <CPV_ADDITIONAL><CPV_CODE CODE="31710000"/></CPV_ADDITIONAL></CPV>
    </DESCRIPTION_CONTRACT_INFORMATION></OBJECT_CONTRACT_INFORMATION>
    <PROCEDURE_DEFINITION_CONTRACT_NOTICE><ADMINISTRATIVE_INFORMATION_CONTRACT_NOTICE>
      <RECEIPT_LIMIT_DATE><DAY>03</DAY><MONTH>03</MONTH><YEAR>2014</YEAR><TIME>10:00</TIME></RECEIPT_LIMIT_DATE>
    </ADMINISTRATIVE_INFORMATION_CONTRACT_NOTICE></PROCEDURE_DEFINITION_CONTRACT_NOTICE>
  </FD_CONTRACT></CONTRACT></FORM_SECTION>
</TED_EXPORT>"""


def test_r208_2011_form_fallback() -> None:
    """A constructed R2.0.8 notice (2011 forms): no such file exists in the shared data."""
    notice = parse_document(R208, "r208.xml")
    assert notice.source_id == "12345-2014"
    assert notice.title == "Lieferung von Kicker-Magneten"
    assert notice.description == "Kicker-Magnete für den Ring SIS100."
    assert notice.buyer == "GSI Helmholtzzentrum für Schwerionenforschung GmbH"
    assert notice.organisation == "fair"
    assert notice.cpv_codes == ["31643000", "31710000"]
    assert notice.deadline == datetime(2014, 3, 3, 10, 0, tzinfo=CET)
    assert notice.language == "de" and notice.buyer_country == "DE"


def test_a_registry_reference_keys_the_procedure_only_for_its_organisation() -> None:
    """The buyer's number counts only when the buyer is the registry organisation that uses it."""
    xml = (NOTICES / "tedxml_f02_f4e.xml").read_bytes()
    # Another buyer quoting an F4E-looking number keeps TED's own key.
    other = xml.replace(b"Fusion for Energy Joint Undertaking (F4E)", b"Gemeente Utrecht")
    assert parse_document(other, "other.xml").procedure_key == "ted:301234-2022"
    # F4E without a reference in its pattern keeps TED's own key too.
    loose = xml.replace(
        b"<REFERENCE_NUMBER>F4E-OMF-1234</REFERENCE_NUMBER>", b"<REFERENCE_NUMBER>2022-17</REFERENCE_NUMBER>"
    )
    assert parse_document(loose, "loose.xml").procedure_key == "ted:301234-2022"
