"""The `cern` spider on its constructed listing: stages, identity, odd rows, and a replayed crawl."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from conftest import new_database_url
from test_portal_common import FIXTURES, READ_AT, expected, make_spider, parse_page, replayed_crawl, stat

from monitor import db
from monitor.importer import import_paths
from monitor.store import find_notice, procedure_of

PAGE = FIXTURES / "cern" / "listing.html"


def test_a_market_survey_and_its_invitation_to_tender_are_one_procedure() -> None:
    notices = {n.source_id: n for n in parse_page(make_spider("cern"), PAGE)}
    survey, tender = notices["MS-4321/TE"], notices["IT-4321/TE"]
    assert (survey.notice_type, tender.notice_type) == ("market_survey", "invitation_to_tender")
    assert survey.procedure_key == tender.procedure_key == "cern:4321/TE"
    assert (survey.published_on, tender.published_on) == (date(2026, 9, 2), date(2026, 10, 14))
    assert survey.status == tender.status == "planned" and survey.currency == "CHF"
    assert survey.description is not None and "Cost range B (750 kCHF to 5 MCHF)" in survey.description
    assert survey.url == "https://found.cern.ch/java-ext/found/CFTSingleSearch.do?reference=MS-4321/TE"


def test_odd_rows() -> None:
    spider = make_spider("cern")
    notices = {n.source_id: n for n in parse_page(spider, PAGE)}
    # An invitation to tender without a market survey on the list: one notice.
    assert "MS-4410/EN" not in notices and notices["IT-4410/EN"].notice_type == "invitation_to_tender"
    # "Q2 2027" is not a date: no ITT notice yet, said in the description; the script is gone.
    wires = notices["MS-4502/BE"]
    assert "IT-4502/BE" not in notices
    assert wires.description is not None and "Q2 2027 (no date yet)" in wires.description
    assert wires.title == "Beam instrumentation: fast wire scanners & their electronics"
    assert "Associate Member States" in (notices["MS-4620/SY"].description or "")
    # "to be announced" is no reference: counted, not stored, the rest goes on.
    assert stat(spider, "listing/invalid/reference") == 1 and stat(spider, "listed") == 5
    assert len(notices) == 6


def test_replayed_crawl_stores_the_expected_notices(tmp_path: Path) -> None:
    records, run = replayed_crawl("cern", tmp_path)
    assert records == expected("cern")
    assert (run.state, run.items_scraped, run.errors) == ("succeeded", 6, 0)


def test_stored_the_two_stages_and_the_ted_notice_are_one_procedure(tmp_path: Path) -> None:
    """The TED eForms notice quoting "IT-4321/TE" (BT-22) joins CERN's own two stages."""
    replayed_crawl("cern", tmp_path)
    engine = db.make_engine(new_database_url(tmp_path, "monitor"))
    import_paths(engine, [FIXTURES / "notices" / "eforms_cn_cern.xml"], now=READ_AT)
    with db.session_factory(engine)() as session:
        row = find_notice(session, "cern/MS-4321/TE")
        assert row is not None
        assert {r.source_id for r in procedure_of(session, row)} == {"MS-4321/TE", "IT-4321/TE", "700001-2026"}
        assert row.procedure_key == "cern:4321/TE"
    engine.dispose()
