"""The `skao` spider on its constructed Kommers listing, and a replayed crawl."""

from __future__ import annotations

from pathlib import Path

from test_portal_common import FIXTURES, expected, make_spider, parse_page, replayed_crawl

PAGE = FIXTURES / "skao" / "notices.html"


def test_notice_types_and_registered_only_notices() -> None:
    notices = {n.source_id: n for n in parse_page(make_spider("skao"), PAGE)}
    assert {k: n.notice_type for k, n in notices.items()} == {
        "SKAO-TEN-2026-031": "invitation_to_tender",
        "SKAO-PIN-2026-040": "prior_information",
        "SKAO-QN-2026-007": "call_for_expression_of_interest",
        "SKAO-PQ-2026-112": "price_enquiry",
    }
    assert "registered suppliers only" in (notices["SKAO-PQ-2026-112"].description or "")
    assert "registered" not in (notices["SKAO-TEN-2026-031"].description or "")
    assert notices["SKAO-PIN-2026-040"].deadline is None


def test_swedish_headers_are_understood() -> None:
    html = (
        PAGE.read_text(encoding="utf-8")
        .replace("<th>Title</th>", "<th>Rubrik</th>")
        .replace("<th>Reference number</th>", "<th>Referensnummer</th>")
        .replace("<th>Tender deadline</th>", "<th>Sista anbudsdag</th>")
    )
    swedish = PAGE.parent / "drift" / "swedish.html"
    try:
        swedish.write_text(html, encoding="utf-8")
        assert len(parse_page(make_spider("skao"), swedish)) == 4
    finally:
        swedish.unlink()


def test_replayed_crawl_stores_the_expected_notices(tmp_path: Path) -> None:
    records, run = replayed_crawl("skao", tmp_path)
    assert records == expected("skao")
    assert (run.state, run.items_scraped, run.errors) == ("succeeded", 4, 0)
