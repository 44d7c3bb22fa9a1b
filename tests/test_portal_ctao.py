"""The `ctao` spider on its constructed list of posts (cards), and a replayed crawl."""

from __future__ import annotations

from pathlib import Path

from test_portal_common import FIXTURES, expected, make_spider, parse_page, replayed_crawl

PAGE = FIXTURES / "ctao" / "procurement.html"


def test_cards_by_their_labels_and_in_kind_contributors() -> None:
    notices = {n.source_id: n for n in parse_page(make_spider("ctao"), PAGE)}
    own = notices["CTAO-ITT-2026-07"]
    assert own.title == "Camera cooling systems for the medium-sized telescopes"
    assert own.buyer == "Cherenkov Telescope Array Observatory (CTAO)" and own.buyer_country == "IT"
    assert [d["title"] for d in own.documents] == ["Tender documents"]
    inaf = notices["INAF-CTA-2026-12"]
    assert inaf.buyer == "INAF (in-kind contribution)" and inaf.buyer_country is None
    assert inaf.organisation == "ctao" and inaf.published_on is None
    assert notices["CTAO-EOI-2026-03"].notice_type == "call_for_expression_of_interest"


def test_replayed_crawl_stores_the_expected_notices(tmp_path: Path) -> None:
    records, run = replayed_crawl("ctao", tmp_path)
    assert records == expected("ctao")
    assert (run.state, run.items_scraped, run.errors) == ("succeeded", 3, 0)
