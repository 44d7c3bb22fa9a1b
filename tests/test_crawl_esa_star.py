"""The `esa_star` spider: callbacks on constructed answers, then a real replayed crawl.

The recording (`tests/fixtures/esa_star`, constructed from the field names the esa-star site
uses) covers both listings (ESA and non-ESA), paging by offset, the stop at the first action
last updated before `since`, HTML (with an `onerror` image) in descriptions, a planned action,
a cancelled one, a reissue sharing its original's activity number, and missing fields.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import new_database_url
from scrapy import Request
from scrapy.http import TextResponse
from scrapy.utils.test import get_crawler

from monitor import db
from monitor.crawl.replay import ReplayServer, recorded_spider_args, run_crawl
from monitor.store import NoticeFilter, iter_records
from spiders.esa_star import SITE, EsaStarSpider

FIXTURES = Path(__file__).parent / "fixtures" / "esa_star"
READ_AT = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def make_spider(**kwargs: Any) -> EsaStarSpider:
    kwargs.setdefault("since", "2026-11-16")
    kwargs.setdefault("until", "2026-11-23")
    kwargs.setdefault("page_size", "3")
    spider = EsaStarSpider.from_crawler(get_crawler(EsaStarSpider), **kwargs)
    assert isinstance(spider, EsaStarSpider)
    return spider


def page(name: str) -> list[dict[str, Any]]:
    data = json.loads((FIXTURES / "list" / name).read_text(encoding="utf-8"))
    assert isinstance(data, list)
    return data


def response(payload: Any, url: str = f"{SITE}/api/tenderAction/filter/3/0") -> TextResponse:
    return TextResponse(url=url, body=json.dumps(payload).encode(), encoding="utf-8", request=Request(url))


def stat(spider: EsaStarSpider, key: str) -> Any:
    assert spider.crawler.stats is not None
    return spider.crawler.stats.get_value(f"ilo_monitor/{key}")


def test_start_asks_both_listings_newest_update_first() -> None:
    spider = make_spider(page_size=None)

    async def collect() -> list[Request]:
        return [r async for r in spider.start()]

    assert [r.url for r in asyncio.run(collect())] == [
        f"{SITE}/api/tenderAction/filter/50/0?sortBy=LastUpdateTime&sortDir=DESC",
        f"{SITE}/api/nonESATA/filter/50/0?sortBy=LastUpdateTime&sortDir=DESC",
    ]


def test_a_full_page_asks_for_the_next_offset() -> None:
    spider = make_spider()
    results = list(spider.parse_page(response(page("esa-offset-0.json")), page=0, listing="esa"))
    notices, requests = results[:-1], results[-1]
    assert [n.source_id for n in notices] == ["1201", "1202", "1203"]
    assert isinstance(requests, Request)
    assert requests.url == f"{SITE}/api/tenderAction/filter/3/3?sortBy=LastUpdateTime&sortDir=DESC"


def test_paging_stops_at_the_first_action_updated_before_the_window() -> None:
    spider = make_spider()
    results = list(spider.parse_page(response(page("esa-offset-3.json")), page=1, listing="esa"))
    assert [n.source_id for n in results] == ["1204", "1150"]  # no request for offset 6
    assert stat(spider, "outside_window") == 1


def test_statuses_cancellations_and_reissues() -> None:
    spider = make_spider()
    notices = {
        n.source_id: n
        for name in ("esa-offset-0.json", "esa-offset-3.json")
        for n in spider.parse_page(response(page(name)), page=0, listing="esa")
        if not isinstance(n, Request)
    }
    assert (notices["1201"].notice_type, notices["1201"].status) == ("invitation_to_tender", "open")
    assert (notices["1202"].notice_type, notices["1202"].status) == ("prior_information", "planned")
    assert notices["1204"].status == "cancelled"
    # The reissue and its original share the activity, hence the procedure.
    assert notices["1203"].procedure_key == notices["1150"].procedure_key == "esa_star/1000054321"
    assert notices["1203"].description is not None
    assert notices["1203"].description.endswith("Reissued: Reissued with a corrected statement of work")
    assert notices["1150"].description is None
    # Paris time without an offset, stored aware.
    assert notices["1201"].deadline == datetime(2026, 12, 18, 12, 0, tzinfo=UTC)
    assert notices["1201"].organisation == "esa"
    text = notices["1201"].description or ""
    assert "<" not in text and "onerror" not in text and "- Thermal vacuum tests & reporting" in text


def test_non_esa_actions_have_their_own_ids_and_no_buyer() -> None:
    spider = make_spider()
    url = f"{SITE}/api/nonESATA/filter/3/0"
    (notice,) = spider.parse_page(response(page("non-esa-offset-0.json"), url), page=0, listing="non_esa")
    assert notice.source_id == "nonesa-77"
    assert notice.buyer is None and notice.organisation is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"status": {"id": "SUSPENDED"}}, "unknown status id 'SUSPENDED'"),
        ({"tenderType": {"id": "XYZ"}}, "unknown tenderType id 'XYZ'"),
        ({"closingDate": "18/12/2026"}, "Invalid isoformat"),
    ],
)
def test_unexpected_values_are_loud_schema_errors(
    change: dict[str, Any], message: str, caplog: pytest.LogCaptureFixture
) -> None:
    spider = make_spider()
    entry = {**page("esa-offset-0.json")[0], **change}
    assert list(spider.parse_page(response([entry]), page=0, listing="esa")) == []
    assert stat(spider, "schema_error") == 1
    assert any(r.levelname == "ERROR" and message in r.message for r in caplog.records), caplog.text


def test_a_missing_required_key_is_a_schema_error(caplog: pytest.LogCaptureFixture) -> None:
    spider = make_spider()
    entry = {k: v for k, v in page("esa-offset-0.json")[0].items() if k != "isCancelled"}
    assert list(spider.parse_page(response([entry]), page=0, listing="esa")) == []
    assert "lacks ['isCancelled']" in caplog.text


def test_replayed_crawl_stores_the_expected_notices(tmp_path: Path) -> None:
    db_url = new_database_url(tmp_path, "monitor")
    with ReplayServer(FIXTURES) as server:
        result = run_crawl(
            "esa_star", db_url=db_url, replay_url=server.url, spider_args=recorded_spider_args(FIXTURES), timeout=120
        )
    assert server.unmatched == [] and result.ok, result.log
    engine = db.make_engine(db_url)
    with db.session_factory(engine)() as session:
        records = list(iter_records(session, NoticeFilter(source="esa_star"), READ_AT))
    engine.dispose()
    for record in records:
        del record["first_seen_at"], record["last_changed_at"], record["technology_areas"]
    lines = (FIXTURES / "expected.jsonl").read_text(encoding="utf-8").splitlines()
    assert sorted(records, key=lambda r: r["source_id"]) == [json.loads(line) for line in lines]
    assert result.stats["downloader/request_method_count/GET"] == 4  # 3 pages and robots.txt
