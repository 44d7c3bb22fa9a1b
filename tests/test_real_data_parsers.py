"""Second tier: the parsers over real TED documents in `../shared/data` (see its MANIFEST.md).

Skipped, with the reason, when the folder is absent (a user's clone). Facts asserted here are
the ones MANIFEST.md records for each file, checked against the XML.
"""

from __future__ import annotations

import re
import tarfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from lxml import etree
from realdata import SKIP_REASON, real_data_dir

from monitor.contract import Notice, validate
from monitor.errors import InputError
from monitor.parsers import parse_document

pytestmark = pytest.mark.real_data

DATA = real_data_dir()
needs_data = pytest.mark.skipif(DATA is None, reason=SKIP_REASON)


def _files(folder: str) -> list[Path]:
    return sorted((DATA / folder).glob("*.xml")) if DATA is not None else []


def parse_file(relative: str) -> Notice:
    assert DATA is not None
    notice = parse_document((DATA / relative).read_bytes(), relative)
    assert validate(notice) == []
    return notice


TED_XML = "ted-xml-r209/ted-xml/"
CONVERTED = "ted-xml-r209/eforms-converted/"
PUBLISHED = "ted-eforms-published-2023/"
SDK = "ted-eforms-sdk-examples/"


@needs_data
def test_fusion_for_energy_contract_notice() -> None:
    notice = parse_file(TED_XML + "21-077815-001-EXP.xml")
    assert notice.source_id == "89010-2021"
    assert notice.organisation == "f4e"
    assert notice.buyer_country == "ES"
    assert notice.cpv_codes[0] == "31670000"
    assert notice.deadline is not None and notice.deadline.date() == date(2021, 3, 10)
    assert notice.deadline.utcoffset() == timedelta(hours=1)  # Madrid in March
    assert notice.title == "Joint Procurement for Electron Cyclotron (EC) RF Sources/Gyrotrons"
    assert notice.language == "en"
    assert notice.estimated_value == 60_000_000 and notice.currency == "EUR"
    assert notice.notice_type == "contract_notice" and notice.status == "open"
    assert {"url": "https://industryportal.f4e.europa.eu/default.aspx", "title": "Procurement documents"} in (
        notice.documents
    )
    assert notice.published_on == date(2021, 2, 22)


@needs_data
def test_dutch_notice_keeps_its_dutch_title() -> None:
    notice = parse_file(TED_XML + "21-064844-001-EXP.xml")
    assert notice.language == "nl"
    assert notice.buyer_country == "NL"
    assert notice.buyer == "Stichting Regionaal Inkoopbureau IJmond & Kennemerland"
    assert notice.title.startswith("Raamovereenkomst onderhoud openbare verlichting")
    assert notice.title != "Street-lighting maintenance services"  # the ML_TITLES CPV label
    assert notice.cpv_codes == ["50232100"]
    assert notice.deadline is not None and notice.deadline.date() == date(2021, 3, 18)
    assert notice.organisation is None


@needs_data
def test_jrc_is_not_big_science_and_f14_amends() -> None:
    assert parse_file(TED_XML + "20-343258-001-EXP.xml").organisation is None
    corrigendum = parse_file(TED_XML + "23-119901-001-EXP.xml")
    assert corrigendum.notice_type == "corrigendum"
    assert corrigendum.amends == "267307-2022"
    assert corrigendum.procedure_key == "ted:267307-2022"
    assert corrigendum.language == "pt"


@needs_data
def test_award_notice_lists_winners() -> None:
    notice = parse_file(TED_XML + "21-000061-001-EXP.xml")
    assert notice.notice_type == "contract_award" and notice.status == "awarded"
    assert notice.buyer_country == "GB"  # "UK" in TED XML
    assert notice.awards and notice.awards[0]["winner"] == "Amey OW Ltd"
    assert notice.procedure_key == "ted:428607-2019"  # the contract notice it follows


@needs_data
def test_published_eforms_notices() -> None:
    notice = parse_file(PUBLISHED + "eforms_sdk_v1.10__eform_subtype_16__739962-2023.xml")
    assert notice.source_id == "739962-2023"
    assert notice.deadline == datetime.fromisoformat("2024-01-09T08:00:00+01:00")
    assert notice.buyer_country == "PL" and notice.language == "pl"
    test_notice = parse_file(PUBLISHED + "eforms_sdk_v1.3__eform_subtype_16__634807-2022.xml")
    assert test_notice.source_id == "634807-2022"
    assert test_notice.buyer == "TEST ORG 1"
    dutch = parse_file(PUBLISHED + "eforms_sdk_v1.7__eform_subtype_12__666487-2023.xml")
    assert dutch.language == "nl" and dutch.buyer == "politie" and dutch.buyer_country == "NL"
    change = parse_file(PUBLISHED + "eforms_sdk_v1.6__eform_subtype_23__775348-2023.xml")
    assert change.notice_type == "corrigendum" and change.amends == "422781-2023"


@needs_data
@pytest.mark.parametrize("path", [*_files(PUBLISHED), *_files(CONVERTED), *_files(TED_XML)], ids=lambda p: p.name)
def test_every_real_notice_parses(path: Path) -> None:
    notice = parse_document(path.read_bytes(), path.name)
    assert validate(notice) == []
    assert notice.source == "ted"
    assert re.fullmatch(r"[1-9]\d*-\d{4}", notice.source_id)


@needs_data
@pytest.mark.parametrize("path", _files(SDK), ids=lambda p: p.name)
def test_sdk_examples(path: Path) -> None:
    if path.name.startswith("INVALID_"):
        with pytest.raises(InputError) as caught:
            parse_document(path.read_bytes(), path.name)
        assert caught.value.origin == path.name
        assert caught.value.reason  # says what is missing
        return
    notice = parse_document(path.read_bytes(), path.name)
    assert validate(notice) == []
    # Examples carry a publication number only when they show a published notice.
    assert notice.source in ("ted", "ted-unpublished")
    assert notice.title and notice.procedure_key


@needs_data
@pytest.mark.parametrize("path", _files(CONVERTED), ids=lambda p: p.name)
def test_ted_xml_and_its_eforms_conversion_agree(path: Path) -> None:
    """The converter preserved title, buyer, country, CPV and deadline (wall-clock time:
    the converter writes a fixed +01:00 offset where the buyer's zone is on summer time)."""
    converted = parse_document(path.read_bytes(), path.name)
    original = parse_file(TED_XML + path.name)
    assert converted.source_id == original.source_id
    assert converted.title == original.title
    assert converted.buyer == original.buyer
    assert converted.buyer_country == original.buyer_country
    assert converted.cpv_codes[0] == original.cpv_codes[0]
    assert set(converted.cpv_codes) == set(original.cpv_codes)
    assert converted.organisation == original.organisation
    assert converted.language == original.language
    assert (converted.deadline is None) == (original.deadline is None)
    if converted.deadline and original.deadline:
        assert converted.deadline.replace(tzinfo=None).replace(second=0) == original.deadline.replace(
            tzinfo=None
        ).replace(second=0)


def _ml_label_and_form_title(root: etree._Element) -> tuple[str | None, str | None]:
    """The ML_TITLES label and the form's own title, both in the original language."""
    language = root.findtext("{*}CODED_DATA_SECTION/{*}NOTICE_DATA/{*}LG_ORIG")
    label = None
    for doc in root.iterfind("{*}TRANSLATION_SECTION/{*}ML_TITLES/{*}ML_TI_DOC"):
        if doc.get("LG") == language:
            label = " ".join("".join(doc.find("{*}TI_TEXT").itertext()).split())
    form_title = None
    for form in root.iterfind("{*}FORM_SECTION/*"):
        if form.get("LG") == language:
            title = form.find("{*}OBJECT_CONTRACT/{*}TITLE")
            if title is not None:
                form_title = " ".join("".join(title.itertext()).split())
            break
    return label, form_title


@needs_data
def test_whole_corpus_parses_streaming_from_the_tarball() -> None:
    assert DATA is not None
    archive = DATA / "ted-xml-corpus" / "sampling_2014_2022.tar.gz"
    if not archive.is_file():
        pytest.skip(f"{archive} not found")
    failures: list[str] = []
    cpv_label_titles: list[str] = []
    types: dict[str, int] = {}
    count = 0
    started = time.perf_counter()
    with tarfile.open(archive, mode="r:gz") as tar:
        for member in tar:
            if not member.isfile() or not member.name.endswith(".xml"):
                continue
            stream = tar.extractfile(member)
            assert stream is not None
            data = stream.read()
            count += 1
            try:
                notice = parse_document(data, member.name)
            except InputError as error:
                failures.append(str(error))
                continue
            types[notice.notice_type] = types.get(notice.notice_type, 0) + 1
            label, form_title = _ml_label_and_form_title(etree.fromstring(data))
            # A title equal to the CPV label is only right when the buyer wrote that title.
            if label and notice.title == label and form_title != label:
                cpv_label_titles.append(member.name)
    elapsed = time.perf_counter() - started
    assert count == 3759
    assert failures == []
    assert cpv_label_titles == []
    for kind in ("prior_information", "contract_notice", "contract_award", "call_for_expression_of_interest"):
        assert types.get(kind, 0) > 100, types
    assert elapsed < 60, f"{count} notices took {elapsed:.1f} s"
