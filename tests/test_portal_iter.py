"""The `iter` spider on its constructed page of open tenders, and a replayed crawl."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from test_portal_common import FIXTURES, expected, make_spider, parse_page, replayed_crawl

PAGE = FIXTURES / "iter" / "open-tenders.html"


def test_kinds_from_the_reference_and_french_dates() -> None:
    notices = {n.source_id: n for n in parse_page(make_spider("iter"), PAGE)}
    expertise = notices["IO/14/CFE/11235/JTR"]
    assert expertise.notice_type == "call_for_expression_of_interest"
    assert expertise.procedure_key == "iter:IO/14/CFE/11235/JTR"
    assert expertise.deadline == datetime(2026, 11, 30, 11, 0, tzinfo=UTC)  # Paris time
    tender = notices["IO/26/OT/10077/PDA"]
    assert tender.notice_type == "invitation_to_tender"
    assert tender.deadline == datetime(2027, 1, 15, 15, 0, tzinfo=UTC)  # "15 janvier 2027 16:00"
    # The summary's link is a document, not part of the title.
    assert tender.title == "Supply of diagnostic neutron cameras"
    assert [d["url"] for d in tender.documents] == [
        "https://www.iter.org/sites/default/files/IO-26-OT-10077-PDA-summary.pdf"
    ]


def test_replayed_crawl_stores_the_expected_notices(tmp_path: Path) -> None:
    records, run = replayed_crawl("iter", tmp_path)
    assert records == expected("iter")
    assert (run.state, run.items_scraped, run.errors) == ("succeeded", 3, 0)
