"""The `f4e` spider on its constructed portal page, and its link with the TED notice of one call."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from conftest import new_database_url
from test_portal_common import FIXTURES, READ_AT, expected, make_spider, parse_page, replayed_crawl

from monitor import db
from monitor.importer import import_paths
from monitor.store import find_notice, procedure_of

PAGE = FIXTURES / "f4e" / "opportunities.html"


def test_types_and_deadlines() -> None:
    notices = {n.source_id: n for n in parse_page(make_spider("f4e"), PAGE)}
    assert notices["F4E-OMF-1234"].notice_type == "invitation_to_tender"
    assert notices["F4E-OFC-1301"].notice_type == "call_for_expression_of_interest"  # ITER task agreement
    assert (notices["F4E-AFC-0950"].notice_type, notices["F4E-AFC-0950"].status) == ("prior_information", "planned")
    assert notices["F4E-AFC-0950"].deadline is None
    # Barcelona time; a day without a time closes at its end.
    assert notices["F4E-OFC-1301"].deadline == datetime(2026, 12, 4, 16, 0, tzinfo=UTC)
    assert notices["F4E-OPE-1322"].deadline == datetime(2026, 12, 7, 22, 59, 59, tzinfo=UTC)
    assert notices["F4E-OMF-1234"].procedure_key == "f4e:F4E-OMF-1234"


def test_replayed_crawl_stores_the_expected_notices(tmp_path: Path) -> None:
    records, run = replayed_crawl("f4e", tmp_path)
    assert records == expected("f4e")
    assert (run.state, run.items_scraped, run.errors) == ("succeeded", 4, 0)


def test_the_portal_notice_and_the_ted_notices_are_one_procedure(tmp_path: Path) -> None:
    replayed_crawl("f4e", tmp_path)
    engine = db.make_engine(new_database_url(tmp_path, "monitor"))
    notices = FIXTURES / "notices"
    summary = import_paths(engine, [notices / "tedxml_f02_f4e.xml", notices / "tedxml_f14_f4e.xml"], now=READ_AT)
    assert summary.new == 2
    with db.session_factory(engine)() as session:
        portal = find_notice(session, "f4e/F4E-OMF-1234")
        assert portal is not None
        procedure = procedure_of(session, portal)
        assert {(r.source, r.source_id) for r in procedure} == {
            ("ted", "301234-2022"),
            ("f4e", "F4E-OMF-1234"),
            ("ted", "350001-2022"),
        }
        assert {r.procedure_key for r in procedure} == {"f4e:F4E-OMF-1234"}
    engine.dispose()
