"""Portal spiders survive layout drift, and fail loudly when the page no longer makes sense.

For every portal spider, the drift pages in `fixtures/<spider>/drift/` (derived from its
constructed listing, see the folder's README) must give:

- the same notices as the listing, with its columns (or card labels) reordered, with an extra
  column, or with a header renamed to a synonym;
- the same notices but one empty field, when an optional cell is empty;
- no notice and an ERROR counted as `listing/empty` for an empty listing (`listing/not_found`
  for cards, which have no header to recognise an empty list by), and as `listing/not_found`
  for a page that is not the listing at all: either fails the crawl run.
"""

from __future__ import annotations

from typing import Any

import pytest
from test_portal_common import FIXTURES, make_spider, parse_page, stat

from monitor.crawl.runs import judge

# spider: (its listing page, the listing's index, the Notice field the optional cell fills)
PORTALS: dict[str, tuple[str, int, str]] = {
    "cern": ("listing.html", 0, "description"),
    "f4e": ("opportunities.html", 0, "published_on"),
    "iter": ("open-tenders.html", 0, "published_on"),
    "skao": ("notices.html", 0, "published_on"),
    "eso": ("industry.html", 1, "published_on"),
    "ctao": ("procurement.html", 0, "published_on"),
}


def records(name: str, page: str) -> list[dict[str, Any]]:
    base, listing, _ = PORTALS[name]
    path = FIXTURES / name / ("drift/" + page if page != base else page)
    return [n.to_record() for n in parse_page(make_spider(name), path, listing)]


@pytest.mark.parametrize("name", sorted(PORTALS))
@pytest.mark.parametrize("variant", ["reordered", "extra_column", "renamed_header"])
def test_drift_in_layout_changes_nothing(name: str, variant: str) -> None:
    base = records(name, PORTALS[name][0])
    assert base, "the listing itself gives notices"
    assert records(name, f"{variant}.html") == base


@pytest.mark.parametrize("name", sorted(PORTALS))
def test_an_empty_optional_cell_empties_only_its_field(name: str) -> None:
    base = records(name, PORTALS[name][0])
    drifted = records(name, "missing_optional.html")
    field = PORTALS[name][2]
    assert [r["source_id"] for r in drifted] == [r["source_id"] for r in base]
    first = base[0]["source_id"]
    for before, after in zip(base, drifted, strict=True):
        if after["source_id"].split("-", 1)[-1] != first.split("-", 1)[-1]:
            assert after == before  # other rows untouched
            continue
        assert after[field] != before[field]
        if field == "description":
            assert "Cost range" not in (after[field] or "")
        else:
            assert after[field] is None
        assert {k: v for k, v in after.items() if k != field} == {k: v for k, v in before.items() if k != field}


@pytest.mark.parametrize("name", sorted(PORTALS))
@pytest.mark.parametrize(("variant", "counter"), [("empty", "listing/empty"), ("not_listing", "listing/not_found")])
def test_a_page_that_makes_no_sense_fails_the_run(
    name: str, variant: str, counter: str, caplog: pytest.LogCaptureFixture
) -> None:
    spider = make_spider(name)
    listing = PORTALS[name][1]
    assert parse_page(spider, FIXTURES / name / "drift" / f"{variant}.html", listing) == []
    if spider.listings[listing].layout == "cards":
        # Cards are recognised by their labels: a list without cards has none, so it cannot be
        # told from another page. Both are errors; only the counter differs.
        counter = "listing/not_found"
    assert stat(spider, counter) == 1
    assert any(r.levelname == "ERROR" and name in r.getMessage() for r in caplog.records), caplog.text
    assert spider.crawler.stats is not None
    stats = dict(spider.crawler.stats.get_stats())
    stats["log_count/ERROR"] = 1  # the log counter is a Scrapy extension, absent in a unit test
    assert judge(stats, "finished"), "the run is judged failed"


def test_drift_pages_are_never_replayed() -> None:
    """`ilo-monitor demo` crawls every recording: a drift page there would fail the demo."""
    for name in PORTALS:
        recording = (FIXTURES / name / "exchanges.json").read_text(encoding="utf-8")
        assert "drift/" not in recording
