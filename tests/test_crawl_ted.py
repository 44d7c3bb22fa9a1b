"""The `ted` spider: its callbacks on hand-built responses, then a real crawl against a recording.

The unit tests call the spider's callbacks directly (fast, precise). The crawl test runs
`scrapy crawl ted` in a child process against `tests/fixtures/ted` served by the replay server,
into a temporary SQLite file, and compares what was stored with the reviewed `expected.jsonl`:
it covers what callback tests miss (start(), pagination, robots.txt, middlewares, pipelines).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import new_database_url
from scrapy import Request
from scrapy.exceptions import DropItem
from scrapy.http import JsonRequest, Response, TextResponse
from scrapy.utils.test import get_crawler

from monitor import db
from monitor.classifier import CLASSIFIER_VERSION
from monitor.contract import Notice
from monitor.crawl.base import describe_failure
from monitor.crawl.pipelines import StorePipeline, ValidatePipeline, problem_key
from monitor.crawl.replay import (
    CrawlResult,
    ReplayMiddleware,
    ReplayServer,
    Served,
    original_url,
    recorded_spider_args,
    replay_path,
    run_crawl,
)
from monitor.crawl.sources import SourceConfig, technology_cpv_divisions
from monitor.errors import ConfigurationError
from monitor.store import NoticeFilter, NoticeStore, iter_records
from spiders.ted import TedSpider

FIXTURES = Path(__file__).parent / "fixtures" / "ted"
SEARCH_URL = "https://api.ted.europa.eu/v3/notices/search"
# The recording's notices are compared as a reader saw them on this day (an open call whose
# deadline passed reads "closed"), so that the expected output does not age.
READ_AT = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


# -- helpers ------------------------------------------------------------------------------------


def make_spider(**kwargs: Any) -> TedSpider:
    crawler = get_crawler(TedSpider)
    kwargs.setdefault("since", "2026-11-16")
    kwargs.setdefault("until", "2026-11-23")
    spider = TedSpider.from_crawler(crawler, **kwargs)
    assert isinstance(spider, TedSpider)
    return spider


def start_requests(spider: TedSpider) -> list[Any]:
    async def collect() -> list[Any]:
        return [request async for request in spider.start()]

    return asyncio.run(collect())


def json_response(request: Request, payload: dict[str, Any]) -> TextResponse:
    return TextResponse(
        url=request.url,
        body=json.dumps(payload).encode(),
        encoding="utf-8",
        headers={"Content-Type": "application/json"},
        request=request,
    )


def body_of(request: Request) -> dict[str, Any]:
    data = json.loads(request.body)
    assert isinstance(data, dict)
    return data


def search_page(page: int) -> dict[str, Any]:
    data = json.loads((FIXTURES / "search" / f"page-{page}.json").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def stat(spider: TedSpider, key: str) -> Any:
    assert spider.crawler.stats is not None
    return spider.crawler.stats.get_value(key)


def split(results: Iterable[Any]) -> tuple[list[JsonRequest], list[Request]]:
    """(next search pages, notice document requests) of a parse_search call."""
    pages: list[JsonRequest] = []
    documents: list[Request] = []
    for result in results:
        if isinstance(result, JsonRequest):
            pages.append(result)
        else:
            assert isinstance(result, Request)
            documents.append(result)
    return pages, documents


# -- spider arguments and the query -------------------------------------------------------------


def test_start_posts_the_first_search_page() -> None:
    spider = make_spider()
    (request,) = start_requests(spider)
    assert isinstance(request, JsonRequest)
    assert request.method == "POST"
    assert request.url == SEARCH_URL
    assert request.callback == spider.parse_search
    body = body_of(request)
    assert body["limit"] == 250
    assert body["paginationMode"] == "ITERATION"
    assert body["scope"] == "ALL"
    assert "links" in body["fields"] and "publication-number" in body["fields"]
    assert "iterationNextToken" not in body


def test_default_query_covers_the_window_the_registry_and_technology_cpvs() -> None:
    query = make_spider().query
    assert query.startswith("publication-date >= 20261116 AND publication-date <= 20261123 AND (")
    assert 'buyer-name IN ("European Organization for Nuclear Research"' in query
    assert '"CERN"' in query
    divisions = technology_cpv_divisions()
    assert "31" in divisions and "72" in divisions  # accelerators, IT: from the taxonomy
    assert " OR classification-cpv IN (" + " ".join(f"{d}*" for d in divisions) + "))" in query


def test_the_query_is_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    config = SourceConfig(
        name="ted", organisations=("nikhef",), cpv_divisions=("31", "38"), extra_clause="buyer-country IN (NLD)"
    )
    monkeypatch.setattr("monitor.crawl.base.source_config", lambda name: config)
    query = make_spider().query
    assert query == (
        "publication-date >= 20261116 AND publication-date <= 20261123 AND ("
        'buyer-name IN ("Nikhef" "Nationaal Instituut voor Subatomaire Fysica" '
        '"National Institute for Subatomic Physics" "Dutch National Institute for Subatomic Physics") '
        "OR classification-cpv IN (31* 38*) OR (buyer-country IN (NLD)))"
    )


def test_default_window_is_the_last_seven_days_up_to_until() -> None:
    spider = make_spider(since=None, until="2026-03-10")
    assert (spider.since, spider.until) == (date(2026, 3, 3), date(2026, 3, 10))
    today = datetime.now(UTC).date()
    assert make_spider(since=None, until=None).until == today


def test_query_argument_replaces_the_default_query() -> None:
    spider = make_spider(query="  buyer-country IN (NLD)  ")
    (request,) = start_requests(spider)
    assert body_of(request)["query"] == "buyer-country IN (NLD)"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"since": "16-11-2026"}, "spider argument `since`: '16-11-2026' is not a date"),
        ({"until": "2026-02-30"}, "spider argument `until`: '2026-02-30' is not a date"),
        ({"since": "2026-11-24", "until": "2026-11-23"}, "`since` (2026-11-24) is after `until` (2026-11-23)"),
    ],
)
def test_bad_dates_are_refused_clearly(arguments: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        make_spider(**arguments)


# -- pagination and links -----------------------------------------------------------------------


def test_a_page_yields_its_notices_and_the_next_page_with_the_token() -> None:
    spider = make_spider()
    (first,) = start_requests(spider)
    pages, documents = split(spider.parse_search(json_response(first, search_page(1)), page=1))
    assert [d.url for d in documents] == [n["links"]["xml"]["MUL"] for n in search_page(1)["notices"]]
    assert all(d.callback == spider.parse_notice and d.method == "GET" for d in documents)
    (following,) = pages
    assert following.url == SEARCH_URL
    assert following.cb_kwargs == {"page": 2}
    assert body_of(following) == {**body_of(first), "iterationNextToken": search_page(1)["iterationNextToken"]}


def test_a_null_token_ends_the_iteration() -> None:
    spider = make_spider()
    (first,) = start_requests(spider)
    payload = {**search_page(1), "iterationNextToken": None}
    pages, documents = split(spider.parse_search(json_response(first, payload), page=3))
    assert pages == []
    assert len(documents) == len(payload["notices"])


def test_an_empty_page_ends_the_iteration_even_with_a_token() -> None:
    spider = make_spider()
    (first,) = start_requests(spider)
    payload = {"notices": [], "totalNoticeCount": 3, "iterationNextToken": "c3RlcC9"}
    assert list(spider.parse_search(json_response(first, payload), page=2)) == []


def test_the_recorded_last_page_is_empty_with_a_null_token() -> None:
    last = max(int(p.stem.split("-")[1]) for p in (FIXTURES / "search").glob("page-*.json"))
    assert search_page(last) == {**search_page(last), "notices": [], "iterationNextToken": None}


def test_notices_without_an_http_xml_link_are_skipped_and_counted() -> None:
    spider = make_spider()
    (first,) = start_requests(spider)
    good = {"publication-number": "1-2026", "links": {"xml": {"MUL": "https://ted.europa.eu/en/notice/1-2026/xml"}}}
    payload = {
        "notices": [
            {"publication-number": "2-2026", "links": {"xml": {"MUL": "file:///etc/passwd"}}},
            {"publication-number": "3-2026", "links": {"xml": {"MUL": "javascript:alert(1)"}}},
            {"publication-number": "4-2026", "links": {"pdf": {"ENG": "https://ted.europa.eu/en/notice/4-2026/pdf"}}},
            {"publication-number": "5-2026"},
            good,
        ],
        "iterationNextToken": None,
    }
    _, documents = split(spider.parse_search(json_response(first, payload), page=1))
    assert [d.url for d in documents] == ["https://ted.europa.eu/en/notice/1-2026/xml"]
    assert stat(spider, "ilo_monitor/ted/missing_xml_link") == 4


# -- notice documents ---------------------------------------------------------------------------


def xml_response(number: str) -> Response:
    url = f"https://ted.europa.eu/en/notice/{number}/xml"
    body = (FIXTURES / "notices" / f"{number}.xml").read_bytes()
    return Response(url=url, body=body, request=Request(url))


def recorded_notice_numbers() -> list[str]:
    exchanges = json.loads((FIXTURES / "exchanges.json").read_text(encoding="utf-8"))
    return [Path(e["body_file"]).stem for e in exchanges if e["body_file"].startswith("notices/")]


def expected_records() -> list[dict[str, Any]]:
    lines = (FIXTURES / "expected.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


BROKEN = "701299-2026"  # the deliberately truncated notice of the recording


# The recording's notice bodies are copies of the constructed notices of the parser tests.
COPIES = {
    "700001-2026": "eforms_cn_cern.xml",
    "712345-2026": "eforms_change_cern.xml",
    "88001-2027": "eforms_can_cern.xml",
    "301234-2022": "tedxml_f02_f4e.xml",
    "350001-2022": "tedxml_f14_f4e.xml",
    "45678-2021": "tedxml_f02_nikhef_nl.xml",
}


def test_the_recorded_notices_are_the_parser_fixtures() -> None:
    """When a parser fixture changes, copy it here again and review expected.jsonl."""
    notices = FIXTURES.parent / "notices"
    for number, name in COPIES.items():
        assert (FIXTURES / "notices" / f"{number}.xml").read_bytes() == (notices / name).read_bytes(), number
    broken = (FIXTURES / "notices" / f"{BROKEN}.xml").read_bytes()
    assert (notices / "eforms_cn_cern.xml").read_bytes().startswith(broken)
    assert sorted([*COPIES, BROKEN]) == sorted(recorded_notice_numbers())


def test_a_notice_document_becomes_a_notice() -> None:
    spider = make_spider()
    numbers = [n for n in recorded_notice_numbers() if n != BROKEN]
    notices = [notice for n in numbers for notice in spider.parse_notice(xml_response(n))]
    assert all(isinstance(n, Notice) for n in notices)
    assert sorted(n.source_id for n in notices) == sorted(r["source_id"] for r in expected_records())
    assert stat(spider, "ilo_monitor/invalid_document") is None


def test_a_broken_document_is_counted_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    spider = make_spider()
    assert list(spider.parse_notice(xml_response(BROKEN))) == []
    assert stat(spider, "ilo_monitor/invalid_document") == 1
    assert f"Invalid document https://ted.europa.eu/en/notice/{BROKEN}/xml" in caplog.text
    assert all(r.levelname == "WARNING" for r in caplog.records if "Invalid document" in r.message)


def test_an_http_error_is_described_with_its_body() -> None:
    from scrapy.spidermiddlewares.httperror import HttpError
    from twisted.python.failure import Failure

    request = Request(SEARCH_URL)
    response = TextResponse(SEARCH_URL, status=400, body=b'{"message": "Invalid query"}', request=request)
    text = describe_failure(Failure(HttpError(response)))
    assert text == f'HTTP 400 from {SEARCH_URL}: \'{{"message": "Invalid query"}}\''


# -- the validation pipeline --------------------------------------------------------------------


def test_validation_drops_with_the_reason_and_counts_it() -> None:
    crawler = get_crawler(TedSpider)
    assert crawler.stats is not None
    pipeline = ValidatePipeline.from_crawler(crawler)
    good = Notice(source="ted", source_id="12-2026", title="  Cryogenic   valves ")
    assert pipeline.process_item(good).title == "Cryogenic valves"
    with pytest.raises(DropItem, match="TED source_id '0012-2026' is not NNNNNN-YYYY"):
        pipeline.process_item(Notice(source="ted", source_id="0012-2026", title="x", language="english"))
    with pytest.raises(DropItem, match="not a Notice: dict"):
        pipeline.process_item({"title": "x"})
    stats = crawler.stats.get_stats()
    assert stats["ilo_monitor/dropped/source_id"] == 1
    assert stats["ilo_monitor/dropped/language"] == 1
    assert stats["ilo_monitor/dropped/not_a_notice"] == 1


def test_problem_keys_name_the_field() -> None:
    assert problem_key("title is missing") == "title"
    assert problem_key("TED source_id '1' is not NNNNNN-YYYY without leading zeros") == "source_id"
    assert problem_key("document url 'ftp://x' is not http(s)") == "documents"
    assert problem_key("something else entirely") == "other"


def test_a_storage_error_loses_one_notice_not_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    crawler = get_crawler(TedSpider, {"ILO_MONITOR_DB": new_database_url(tmp_path, "store")})
    assert crawler.stats is not None
    pipeline = StorePipeline.from_crawler(crawler)
    original_save = NoticeStore.save

    def save(self: NoticeStore, notice: Notice) -> str:
        if notice.source_id == "2-2026":
            raise RuntimeError("disk full")
        return original_save(self, notice)

    monkeypatch.setattr(NoticeStore, "save", save)
    pipeline.open_spider()
    try:
        for number in ("1-2026", "2-2026", "3-2026"):
            pipeline.process_item(Notice(source="ted", source_id=number, title=f"Notice {number}"))
    finally:
        pipeline.close_spider()
    stats = crawler.stats.get_stats()
    assert (stats["ilo_monitor/store/new"], stats["ilo_monitor/store/error"]) == (2, 1)
    assert "Could not store ted 2-2026" in caplog.text
    assert [r["source_id"] for r in stored_records(pipeline.db_url)] == ["1-2026", "3-2026"]


# -- the replay machinery -----------------------------------------------------------------------


def test_replay_paths_round_trip() -> None:
    for url in (SEARCH_URL, "https://ted.europa.eu/en/notice/1-2026/xml?lang=en&x=1", "http://example.org/"):
        path = replay_path(url)
        assert path.startswith("/replay/")
        assert original_url(path) == url
    assert original_url("/robots.txt") is None


def test_the_middleware_replays_and_restores_the_original_request() -> None:
    middleware = ReplayMiddleware("http://127.0.0.1:9")
    original = JsonRequest(SEARCH_URL, data={"query": "x"}, callback=print)
    replayed = middleware.process_request(original)
    assert isinstance(replayed, Request)
    assert replayed.url == "http://127.0.0.1:9/replay/https/api.ted.europa.eu/v3/notices/search"
    assert replayed.body == original.body and replayed.method == "POST" and replayed.dont_filter
    assert middleware.process_request(replayed) is None
    response = middleware.process_response(replayed, TextResponse(replayed.url, body=b"{}", request=replayed))
    assert response.url == SEARCH_URL
    assert response.request is original


def test_the_server_answers_recorded_exchanges_and_lists_the_others() -> None:
    import urllib.error
    import urllib.request

    first_page = json.loads((FIXTURES / "exchanges.json").read_text(encoding="utf-8"))[0]
    with ReplayServer(FIXTURES) as server:
        post = urllib.request.Request(
            server.url + replay_path(SEARCH_URL),
            data=json.dumps(first_page["match_body"], sort_keys=True).encode(),
            method="POST",
        )
        with urllib.request.urlopen(post) as answer:
            assert json.load(answer) == search_page(1)
        for path in (replay_path("https://ted.europa.eu/robots.txt"), replay_path("https://ted.europa.eu/nope")):
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(server.url + path)
            assert refused.value.code == 404
        wrong_body = urllib.request.Request(server.url + replay_path(SEARCH_URL), data=b'{"query": "y"}')
        with pytest.raises(urllib.error.HTTPError) as unmatched:
            urllib.request.urlopen(wrong_body)
        assert b"no recorded exchange for POST " + SEARCH_URL.encode() in unmatched.value.read()
    assert [(u.method, u.url) for u in server.unmatched] == [
        ("GET", "https://ted.europa.eu/nope"),
        ("POST", SEARCH_URL),
    ]


# -- a real crawl -------------------------------------------------------------------------------


def stored_records(db_url: str) -> list[dict[str, Any]]:
    engine = db.make_engine(db_url)
    try:
        with db.session_factory(engine)() as session:
            records = list(iter_records(session, NoticeFilter(source="ted"), READ_AT))
    finally:
        engine.dispose()
    for record in records:
        # When the crawl ran, not what TED said: not part of the reviewed expectation.
        del record["first_seen_at"], record["last_changed_at"]
        # Which areas, with what score and evidence, is the classifier's own business (its tests
        # pin it down; it moves with every retrained model). Here: that every notice got some.
        areas = record.pop("technology_areas")
        assert areas and all(area["evidence"] and area["version"] == CLASSIFIER_VERSION for area in areas), record
    return sorted(records, key=lambda r: r["source_id"])


@dataclass
class Replayed:
    db_url: str
    first: CrawlResult
    second: CrawlResult
    unmatched: list[Served]


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> Replayed:
    """The recording crawled twice into one fresh SQLite file (a crawl takes about two seconds)."""
    db_url = new_database_url(tmp_path_factory.mktemp('crawl'), "monitor")
    arguments = recorded_spider_args(FIXTURES)
    with ReplayServer(FIXTURES) as server:
        first = run_crawl("ted", db_url=db_url, replay_url=server.url, spider_args=arguments, timeout=120)
        second = run_crawl("ted", db_url=db_url, replay_url=server.url, spider_args=arguments, timeout=120)
    return Replayed(db_url, first, second, list(server.unmatched))


def test_replayed_crawl_is_healthy(replayed: Replayed) -> None:
    result = replayed.first
    assert replayed.unmatched == [], "requests the recording does not answer"
    assert result.errors == [], result.log
    assert result.returncode == 0 and result.finish_reason == "finished", result.log
    # Exactly the one truncated notice is unreadable, and it did not stop the crawl.
    assert result.invalid_documents == 1, result.log
    assert result.stats["ilo_monitor/invalid_document/InputError"] == 1
    assert result.items_dropped == 0, result.log
    expected = len(expected_records())
    assert result.items_scraped == expected
    assert result.stored == {"new": expected, "changed": 0, "unchanged": 0, "error": 0}
    # robots.txt was asked of both hosts through the replay server (unrecorded: 404, allow all).
    assert result.stats["robotstxt/response_status_count/404"] == 2
    # Three pages of results: two with notices, then an empty one with a null token.
    assert result.stats["downloader/request_method_count/POST"] == 3
    # A clean replay needs no retry; a retry here means the harness, not the source, misbehaved.
    assert "retry/count" not in result.stats and "downloader/exception_count" not in result.stats


def differences(actual: list[dict[str, Any]], expected: list[dict[str, Any]]) -> dict[str, Any]:
    """{source_id: {key: [stored, expected]}} for every record that differs, and missing ones."""
    stored = {r["source_id"]: r for r in actual}
    wanted = {r["source_id"]: r for r in expected}
    found: dict[str, Any] = {}
    for source_id in sorted(stored.keys() | wanted.keys()):
        a, b = stored.get(source_id), wanted.get(source_id)
        if a is None or b is None:
            found[source_id] = "not stored" if a is None else "not expected"
        elif a != b:
            found[source_id] = {k: [a.get(k), b.get(k)] for k in sorted(a.keys() | b.keys()) if a.get(k) != b.get(k)}
    return found


def test_replayed_crawl_stores_the_expected_notices(replayed: Replayed) -> None:
    found = differences(stored_records(replayed.db_url), expected_records())
    assert not found, "stored [actual, expected]: " + json.dumps(found, indent=1, ensure_ascii=False)


def test_crawling_again_changes_nothing(replayed: Replayed) -> None:
    result = replayed.second
    assert result.ok, result.log
    expected = len(expected_records())
    assert result.stored == {"new": 0, "changed": 0, "unchanged": expected, "error": 0}
    found = differences(stored_records(replayed.db_url), expected_records())
    assert not found, "stored [actual, expected]: " + json.dumps(found, indent=1, ensure_ascii=False)
