"""The `tenderned` spider: callbacks on constructed answers, then a real replayed crawl.

The recording (`tests/fixtures/tenderned`, constructed from the documented TNS v2 field names)
covers two listing pages ending on `last: true`, a publication after `until`, HTML and a
script in a description, missing `sluitingsDatum` and `link`, a buyer outside the selection,
one selected by CPV only, and every mapped publication type of the window.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import new_database_url
from scrapy import Request
from scrapy.http import TextResponse
from scrapy.utils.test import get_crawler

from monitor import db
from monitor.contract import Notice
from monitor.crawl.replay import ReplayServer, recorded_spider_args, run_crawl
from monitor.crawl.runs import CrawlRun
from monitor.store import NoticeFilter, iter_records
from spiders.tenderned import API, PUBLICATION_TYPES, TenderNedSpider

FIXTURES = Path(__file__).parent / "fixtures" / "tenderned"
READ_AT = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def make_spider(**kwargs: Any) -> TenderNedSpider:
    kwargs.setdefault("since", "2026-11-16")
    kwargs.setdefault("until", "2026-11-20")
    spider = TenderNedSpider.from_crawler(get_crawler(TenderNedSpider), **kwargs)
    assert isinstance(spider, TenderNedSpider)
    return spider


def response(url: str, payload: Any, status: int = 200) -> TextResponse:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return TextResponse(url=url, body=body, encoding="utf-8", status=status, request=Request(url))


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def stat(spider: TenderNedSpider, key: str) -> Any:
    assert spider.crawler.stats is not None
    return spider.crawler.stats.get_value(f"ilo_monitor/{key}")


def test_start_asks_for_the_first_page_of_the_window() -> None:
    spider = make_spider()

    async def collect() -> list[Request]:
        return [r async for r in spider.start()]

    (request,) = asyncio.run(collect())
    assert request.url == f"{API}?page=0&size=100&publicatieDatumVanaf=2026-11-16"
    assert request.headers["Accept"] == b"application/json"


def test_a_page_asks_for_details_and_the_next_page_until_last() -> None:
    spider = make_spider(page_size="4")
    first = list(spider.parse_page(response("https://x/0", fixture("list/from-2026-11-16-page-0.json")), page=0))
    assert [r.url for r in first] == [f"{API}/{n}" for n in (500101, 500102, 500103, 500104)] + [
        f"{API}?page=1&size=4&publicatieDatumVanaf=2026-11-16"
    ]
    last = list(spider.parse_page(response("https://x/1", fixture("list/from-2026-11-16-page-1.json")), page=1))
    # `last: true` ends the list; 500107 was published after `until` and is skipped.
    assert [r.url for r in last] == [f"{API}/500105", f"{API}/500106"]
    assert stat(spider, "listed") == 7 and stat(spider, "outside_window") == 1


def test_a_detail_becomes_a_dutch_notice_with_html_stripped() -> None:
    spider = make_spider()
    entry = fixture("list/from-2026-11-16-page-0.json")["content"][0]
    (notice,) = spider.parse_detail(response(f"{API}/500101", fixture("detail/500101.json")), entry)
    assert isinstance(notice, Notice)
    assert notice.source_id == "500101" and notice.notice_type == "contract_notice" and notice.status == "open"
    assert notice.organisation == "nikhef" and notice.language == "nl" and notice.buyer_country == "NL"
    assert notice.description is not None and "<" not in notice.description and "alert" not in notice.description
    assert notice.description.startswith("Levering & installatie van een cryostaat")
    # No offset in the API: Amsterdam time, stored aware.
    assert notice.deadline == datetime(2026, 12, 14, 11, 0, tzinfo=UTC)
    assert notice.published_on == date(2026, 11, 16)
    assert notice.cpv_codes == ["42512000-8", "38000000-5"]  # normalised to 8 digits by the pipeline


def test_missing_optional_fields_give_nulls_and_the_public_page() -> None:
    spider = make_spider()
    entry = fixture("list/from-2026-11-16-page-0.json")["content"][1]
    (notice,) = spider.parse_detail(response(f"{API}/500102", fixture("detail/500102.json")), entry)
    assert notice.deadline is None
    assert notice.url == "https://www.tenderned.nl/aankondigingen/overzicht/500102"
    assert (notice.notice_type, notice.status) == ("prior_information", "planned")


def test_buyers_outside_the_selection_are_counted_not_yielded() -> None:
    spider = make_spider()
    entry = fixture("list/from-2026-11-16-page-0.json")["content"][2]
    assert list(spider.parse_detail(response(f"{API}/500103", fixture("detail/500103.json")), entry)) == []
    assert stat(spider, "not_selected") == 1


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("VOP", ("prior_information", "planned")),
        ("MAC", ("market_survey", "planned")),
        ("AAO", ("contract_notice", "open")),
        ("AAW", ("contract_notice", "open")),
        ("REC", ("corrigendum", "open")),
        ("GUN", ("contract_award", "awarded")),
        ("AGO", ("contract_award", "awarded")),
    ],
)
def test_every_publication_type_is_mapped(code: str, expected: tuple[str, str]) -> None:
    assert PUBLICATION_TYPES[code] == expected


def test_an_unknown_publication_type_is_a_loud_schema_error(caplog: pytest.LogCaptureFixture) -> None:
    spider = make_spider()
    detail = {**fixture("detail/500101.json"), "typePublicatie": {"code": "XYZ", "omschrijving": "Nieuw"}}
    (notice,) = spider.parse_detail(response(f"{API}/500101", detail), detail)
    assert notice.notice_type == "other"  # kept, but the run will be judged failed
    assert stat(spider, "schema_error") == 1
    assert any(r.levelname == "ERROR" and "unknown typePublicatie code 'XYZ'" in r.message for r in caplog.records)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"<html>maintenance</html>", "malformed JSON"),
        ({"items": []}, "has no 'content' list"),
        ({"content": {"a": 1}}, "not a list"),
        ({"content": [{"publicatieId": "1"}], "last": True}, "lacks ['publicatieDatum'"),
        ({"content": [fixture("list/from-2026-11-16-page-0.json")["content"][0]], "last": "no"}, "`last` is 'no'"),
    ],
)
def test_an_unexpected_listing_is_an_error_not_a_quiet_day(
    payload: Any, message: str, caplog: pytest.LogCaptureFixture
) -> None:
    spider = make_spider()
    results = list(spider.parse_page(response("https://x/0", payload), page=0))
    assert all(r.url.startswith(f"{API}/") for r in results)  # no next page after a bad one
    assert stat(spider, "schema_error") == 1
    assert any(r.levelname == "ERROR" and message in r.message for r in caplog.records), caplog.text


def test_credentials_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not hasattr(make_spider(), "http_user")
    monkeypatch.setenv("ILO_MONITOR_TENDERNED_USER", "ilo")
    monkeypatch.setenv("ILO_MONITOR_TENDERNED_PASSWORD", "secret")
    spider = make_spider()
    assert (spider.http_user, spider.http_pass, spider.http_auth_domain) == ("ilo", "secret", "www.tenderned.nl")


# -- a real crawl -------------------------------------------------------------------------------


def stored(db_url: str, source: str) -> list[dict[str, Any]]:
    engine = db.make_engine(db_url)
    try:
        with db.session_factory(engine)() as session:
            records = list(iter_records(session, NoticeFilter(source=source), READ_AT))
    finally:
        engine.dispose()
    for record in records:
        # Crawl times and the classifier's areas (tested with the classifier) are not the spider's.
        del record["first_seen_at"], record["last_changed_at"], record["technology_areas"]
    return sorted(records, key=lambda r: r["source_id"])


def expected() -> list[dict[str, Any]]:
    lines = (FIXTURES / "expected.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def test_replayed_crawl_stores_the_expected_notices_and_records_the_run(tmp_path: Path) -> None:
    db_url = new_database_url(tmp_path, "monitor")
    with ReplayServer(FIXTURES) as server:
        result = run_crawl(
            "tenderned", db_url=db_url, replay_url=server.url, spider_args=recorded_spider_args(FIXTURES), timeout=120
        )
    assert server.unmatched == [] and result.ok, result.log
    assert stored(db_url, "tenderned") == expected()
    assert result.stats["ilo_monitor/not_selected"] == 1 and result.stats["ilo_monitor/outside_window"] == 1
    engine = db.make_engine(db_url)
    with db.session_factory(engine)() as session:
        (run,) = session.query(CrawlRun).all()
    engine.dispose()
    assert (run.source, run.state, run.finish_reason) == ("tenderned", "succeeded", "finished")
    assert (run.window_since, run.window_until) == (date(2026, 11, 16), date(2026, 11, 20))
    assert (run.items_scraped, run.items_new, run.items_dropped, run.errors) == (5, 5, 0, 0)
    assert run.responses == {"200": 8, "404": 1}  # 2 pages + 6 details, and robots.txt
