"""The `eso` spider: advance information (a table) and current calls (cards), one procedure each."""

from __future__ import annotations

from pathlib import Path

from test_portal_common import FIXTURES, expected, make_spider, parse_page, replayed_crawl


def test_advance_information_and_its_call_share_a_procedure() -> None:
    spider = make_spider("eso")
    planned = {n.source_id: n for n in parse_page(spider, FIXTURES / "eso" / "cp.html", 0)}
    calls = {n.source_id: n for n in parse_page(spider, FIXTURES / "eso" / "industry.html", 1)}
    advance, call = planned["planned:ESO/CFT/26/1701"], calls["call:ESO/CFT/26/1701"]
    assert (advance.notice_type, advance.status) == ("prior_information", "planned")
    assert advance.description == "Planned call for tender: Q1 2027. Estimated value: EUR 5-10 million."
    assert call.notice_type == "invitation_to_tender" and call.deadline is not None
    assert advance.procedure_key == call.procedure_key == "eso:ESO/CFT/26/1701"
    # A German date on the English page.
    dome = calls["call:ESO/CFT/26/1688"]
    assert dome.deadline is not None and dome.deadline.date().isoformat() == "2026-12-11"


def test_replayed_crawl_stores_the_expected_notices(tmp_path: Path) -> None:
    records, run = replayed_crawl("eso", tmp_path)
    assert records == expected("eso")
    assert (run.state, run.items_scraped, run.errors) == ("succeeded", 4, 0)
