"""The shared base of the portal spiders (`monitor.crawl.listing`), and helpers for their tests.

The helpers here are imported by `test_portal_<spider>.py` and `test_portal_drift.py`: they run
a spider's callback on a saved page, and a real replayed crawl compared with `expected.jsonl`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import new_database_url
from parsel import Selector
from scrapy import Request
from scrapy.http import HtmlResponse
from scrapy.spiderloader import SpiderLoader
from scrapy.utils.test import get_crawler
from test_spiders_contract import project_settings

from monitor import db
from monitor.contract import Notice, normalise, validate
from monitor.crawl.listing import ListingSpider, field_of, find_cards, find_table, parse_datetime
from monitor.crawl.replay import ReplayServer, recorded_spider_args, run_crawl
from monitor.crawl.runs import CrawlRun
from monitor.store import NoticeFilter, iter_records

FIXTURES = Path(__file__).parent / "fixtures"
READ_AT = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
LOADER = SpiderLoader.from_settings(project_settings())


def make_spider(name: str) -> ListingSpider:
    spidercls = LOADER.load(name)
    spider = spidercls.from_crawler(get_crawler(spidercls), since="2026-11-19", until="2026-11-20")
    assert isinstance(spider, ListingSpider)
    return spider


def parse_page(spider: ListingSpider, path: Path, listing: int = 0) -> list[Notice]:
    """The notices a spider's listing callback yields for a saved page, normalised and valid."""
    target = spider.listings[listing]
    response = HtmlResponse(url=target.url, body=path.read_bytes(), encoding="utf-8", request=Request(target.url))
    notices = list(spider.parse_listing(response, target))
    for notice in notices:
        normalise(notice)
        assert validate(notice) == [], notice
    return notices


def stat(spider: ListingSpider, key: str) -> Any:
    assert spider.crawler.stats is not None
    return spider.crawler.stats.get_value(f"ilo_monitor/{key}")


def expected(name: str) -> list[dict[str, Any]]:
    lines = (FIXTURES / name / "expected.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def replayed_crawl(name: str, tmp_path: Path) -> tuple[list[dict[str, Any]], CrawlRun]:
    """Crawl the recording of `name` for real; the stored notices (as exported) and the run."""
    db_url = new_database_url(tmp_path, "monitor")
    folder = FIXTURES / name
    with ReplayServer(folder) as server:
        result = run_crawl(name, db_url=db_url, replay_url=server.url, spider_args=recorded_spider_args(folder))
    assert server.unmatched == [] and result.ok, result.log
    engine = db.make_engine(db_url)
    try:
        with db.session_factory(engine)() as session:
            records = list(iter_records(session, NoticeFilter(source=name), READ_AT))
            (run,) = session.query(CrawlRun).all()
            session.expunge(run)
    finally:
        engine.dispose()
    for record in records:
        # Crawl times and the classifier's areas (tested with the classifier) are not the spider's.
        del record["first_seen_at"], record["last_changed_at"], record["technology_areas"]
    return sorted(records, key=lambda r: r["source_id"]), run


# -- the base itself --------------------------------------------------------------------------

SYNONYMS = {"reference": ("reference", "référence", "referenz"), "title": ("title", "subject", "objet")}


@pytest.mark.parametrize(
    ("label", "field"),
    [
        ("Reference", "reference"),
        ("RÉFÉRENCE", "reference"),
        ("Referenz:", "reference"),
        ("Reference no.", "reference"),  # starts with a synonym
        ("Referance", "reference"),  # a typo, caught by the fuzzy match
        ("Objet", "title"),
        ("Type", None),
        ("", None),
    ],
)
def test_headers_are_matched_by_meaning(label: str, field: str | None) -> None:
    assert field_of(label, SYNONYMS) == field


def test_the_table_that_names_the_fields_wins_over_layout_tables() -> None:
    page = Selector(
        text="<table><tr><td>Home</td><td>Search</td></tr></table>"
        "<table><tr><td><b>Objet</b></td><td>Référence</td></tr><tr><td>Pumps</td><td>X-1</td></tr></table>"
    )
    found = find_table(page, SYNONYMS, ("reference", "title"))
    assert found is not None
    columns, rows = found
    assert columns == {0: "title", 1: "reference"} and len(rows) == 1
    assert find_table(Selector(text="<table><tr><th>Title</th></tr></table>"), SYNONYMS, ("reference", "title")) is None


def test_cards_are_the_innermost_blocks_with_every_label() -> None:
    page = Selector(
        text="<div><article><h3>Pumps</h3><p><strong>Reference:</strong> X-1</p></article>"
        "<article><h3>Valves</h3><dl><dt>Référence</dt><dd>X-2</dd></dl></article></div>"
    )
    cards = find_cards(page, SYNONYMS, ("reference", "title"))
    assert cards is not None
    assert [" ".join(c["reference"].xpath("string()").get().split()) for _, c in cards] == ["X-1", "X-2"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15 mars 2026, 12:00", datetime(2026, 3, 15, 12, 0, tzinfo=ZoneInfo("Europe/Paris"))),
        ("3. März 2026", datetime(2026, 3, 3, 23, 59, 59, tzinfo=ZoneInfo("Europe/Paris"))),  # end of day
        ("2026-11-30 17:00", datetime(2026, 11, 30, 17, 0, tzinfo=ZoneInfo("Europe/Paris"))),
        ("18 december 2026 om 17:00 uur", datetime(2026, 12, 18, 17, 0, tzinfo=ZoneInfo("Europe/Paris"))),
        ("15 January 2027, 17:00 CET", datetime(2027, 1, 15, 17, 0, tzinfo=ZoneInfo("Europe/Paris"))),
        ("", None),
    ],
)
def test_dates_in_several_languages_in_the_buyers_zone(text: str, expected: datetime | None) -> None:
    assert parse_datetime(text, "Europe/Paris", ("en", "fr", "de", "nl")) == expected


@pytest.mark.parametrize("text", ["Q2 2027", "March 2027", "to be defined"])
def test_a_date_without_its_day_is_not_a_date(text: str) -> None:
    with pytest.raises(ValueError, match="is not a date"):
        parse_datetime(text, "Europe/Paris", ("en", "fr"))
