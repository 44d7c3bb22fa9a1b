"""A base spider for portals that publish their opportunities as an HTML listing (a table or cards).

Big Science portals (CERN, ESO, F4E, ITER, SKAO, CTAO) render their calls as server-side HTML
that changes without notice: a column is added, two are swapped, "Deadline" becomes "Closing
date". This base reads a listing by *meaning*, not by position:

- a **table** is found by its header words: every table of the page is scored by how many of the
  spider's fields its header row names (synonyms in several languages, compared accent- and
  case-insensitively, with a little fuzziness for typos), and the best table that names every
  required field wins. Columns are then read by the field their header names, so added or
  reordered columns change nothing; `th` and `td` headers both work;
- **cards** (a list of `<article>`, `<li>` or `<div>` blocks, as ESO and CTAO publish) are read by
  their labels ("Reference:", "Deadline:"), in whatever order the labels come;
- **dates** are read with `dateparser` in the portal's languages and the buyer's time zone.

It fails loudly: a page where no table or card list matches is an ERROR counted under
`ilo_monitor/listing/not_found`, an empty listing an ERROR under `ilo_monitor/listing/empty`
(both fail the crawl run, see `monitor.crawl.runs.judge`), and each row that cannot become a
notice is counted under `ilo_monitor/listing/invalid/<field>` (a listing whose rows all fail
yields nothing from what it listed, which fails the run too).
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from functools import lru_cache
from html import escape
from typing import Any, ClassVar, Final
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

import dateparser
from parsel import Selector, SelectorList
from scrapy import Request
from scrapy.http import Response
from twisted.python.failure import Failure

from monitor.contract import Notice
from monitor.crawl.base import BaseSpider, describe_failure
from monitor.crawl.jsonapi import html_to_text
from monitor.organisations import Organisation, get, procedure_key_for

# A deadline given as a day without a time is open until the end of that day.
END_OF_DAY: Final = time(23, 59, 59)
# How close a header must be to a synonym to count (difflib ratio): catches "Referance" and
# "Deadline (CET)" without letting "Type" stand for "Title".
FUZZY_RATIO: Final = 0.86
_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


def fold(text: str) -> str:
    """`text` reduced for comparing labels: no accents, case-folded, punctuation runs as one space."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NON_WORD.sub(" ", plain.casefold()).strip()


def cell_text(selector: Selector | SelectorList[Selector] | None) -> str | None:
    """The text a reader sees in a cell: scripts and styles gone, white space collapsed."""
    if selector is None:
        return None
    markup = selector.get() if isinstance(selector, Selector) else "".join(selector.getall())
    return html_to_text(markup)


class RowError(ValueError):
    """A listing row that cannot become a notice; `field` names what is wrong (for the counter)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field


@dataclass(frozen=True)
class Listing:
    """One listing page of a portal: where it is, how it is laid out, and what it lists."""

    url: str
    # "table": a table found by its header words; "cards": blocks found by their labels.
    layout: str = "table"
    # Free for the spider (e.g. "planned" vs "calls" on two ESO pages).
    kind: str = ""
    # The fields this page must name to be the listing (default: the spider's `required_fields`).
    required: tuple[str, ...] = ()


@dataclass
class Row:
    """One entry of a listing: its cells by field name, as selectors (text and links)."""

    cells: dict[str, Selector]
    listing: Listing
    url: str
    # Text of a card with no label for the title (its heading), and every link of the entry.
    heading: str | None = None
    links: list[tuple[str, str]] = field(default_factory=list)

    def text(self, name: str, *, first_link: bool = False) -> str | None:
        """The text of the field's cell (of its first link with `first_link`, when it has one)."""
        cell = self.cells.get(name)
        if first_link and cell is not None and cell.xpath(".//a"):
            return cell_text(cell.xpath(".//a")[0])
        return cell_text(cell)

    def require(self, name: str) -> str:
        """The text of a required field; `RowError` naming it when the cell is empty."""
        value = self.text(name)
        if not value:
            raise RowError(name, "is empty")
        return value

    def link(self, name: str | None = None) -> str | None:
        """The first http(s) link of the field's cell (any cell's when `name` is None), absolute."""
        cells = [self.cells[name]] if name is not None and name in self.cells else []
        hrefs = [href for cell in cells for href in cell.xpath(".//a/@href").getall()]
        if name is None:
            hrefs = [href for href, _ in self.links]
        for href in hrefs:
            absolute = _absolute(self.url, href)
            if absolute is not None:
                return absolute
        return None

    def documents(self) -> list[dict[str, str | None]]:
        """Links of the entry that point to files (PDF, Word, zip...), as contract documents."""
        found: list[dict[str, str | None]] = []
        for href, title in self.links:
            absolute = _absolute(self.url, href)
            if absolute and re.search(r"\.(pdf|docx?|xlsx?|zip)(?:$|\?)", absolute, re.I):
                found.append({"url": absolute, "title": title or None})
        return found


def _absolute(base: str, href: str) -> str | None:
    href = href.strip()
    if not href or re.match(r"^(javascript|mailto|data|file|tel):", href, re.I):
        return None
    absolute = urljoin(base, href)
    return absolute if re.match(r"^https?://", absolute) else None


# -- finding a table by its header words -----------------------------------------------------------


def field_of(label: str, synonyms: Mapping[str, tuple[str, ...]]) -> str | None:
    """The field a header label names: an exact synonym, a synonym it starts with, else a close one."""
    folded = fold(label)
    if not folded:
        return None
    best: tuple[float, str] | None = None
    for name, words in synonyms.items():
        for word in words:
            target = fold(word)
            if folded == target:
                return name
            # "Deadline (CET)", "Reference no." name what their first words name.
            if folded.startswith(target + " ") and (best is None or best[0] < 0.99):
                best = (0.99, name)
            ratio = difflib.SequenceMatcher(None, folded, target).ratio()
            if ratio >= FUZZY_RATIO and (best is None or ratio > best[0]):
                best = (ratio, name)
    return best[1] if best else None


def _cells(row: Selector) -> list[Selector]:
    """The cells of a table row, each repeated over its colspan so indexes follow the columns."""
    cells: list[Selector] = []
    for cell in row.xpath("./th|./td"):
        try:
            span = max(1, min(int(cell.attrib.get("colspan", "1")), 20))
        except ValueError:
            span = 1
        cells.extend([cell] * span)
    return cells


def _header_row(table: Selector) -> Selector | None:
    for path in ("./thead/tr[1]", "./tr[th][1]", "./tbody/tr[th][1]", "./tr[1]", "./tbody/tr[1]"):
        found = table.xpath(path)
        if found:
            return found[0]
    return None


def find_table(
    page: Selector, synonyms: Mapping[str, tuple[str, ...]], required: Iterable[str]
) -> tuple[dict[int, str], list[Selector]] | None:
    """The listing table of `page`: (column index → field, body rows), or None when none fits.

    The table whose header names every required field and the most fields overall wins; nested
    layout tables are considered like any other and lose on their headers.
    """
    required = set(required)
    best: tuple[int, dict[int, str], list[Selector]] | None = None
    for table in page.xpath("//table"):
        header = _header_row(table)
        if header is None:
            continue
        columns: dict[int, str] = {}
        for index, cell in enumerate(_cells(header)):
            name = field_of(cell_text(cell) or "", synonyms)
            if name is not None and name not in columns.values():
                columns[index] = name
        if not required <= set(columns.values()):
            continue
        rows = [
            row
            for row in table.xpath("./tr|./tbody/tr|./tfoot/tr")
            if row.root is not header.root and row.xpath("./td")
        ]
        if best is None or len(columns) > best[0]:
            best = (len(columns), columns, rows)
    return (best[1], best[2]) if best else None


# -- reading cards by their labels -----------------------------------------------------------------

# Where a card puts its labels: "<dt>Deadline</dt><dd>...</dd>", "<strong>Deadline:</strong> ...",
# "<span class=label>Deadline</span> ...", or a two-cell table row.
_LABEL_PATHS: Final = (".//dt", ".//strong", ".//b", ".//th", ".//*[contains(@class, 'label')]")


def card_fields(card: Selector, synonyms: Mapping[str, tuple[str, ...]]) -> dict[str, Selector]:
    """The labelled values of one card, by field: whatever follows each recognised label."""
    found: dict[str, Selector] = {}
    for path in _LABEL_PATHS:
        for label in card.xpath(path):
            name = field_of((cell_text(label) or "").rstrip(":"), synonyms)
            if name is None or name in found:
                continue
            value = label.xpath("following-sibling::*[1][self::dd or self::td]")
            if value:
                found[name] = value[0]
                continue
            # Inline ("<p><strong>Deadline:</strong> 15 March 2026</p>"): the rest of the parent.
            parents = label.xpath("..")
            if not parents:
                continue
            rest = [
                escape(node.root) if isinstance(node.root, str) else node.get()
                for node in parents[0].xpath("node()")
                if node.root is not label.root
            ]
            found[name] = Selector(text=f"<div>{''.join(rest)}</div>").xpath("//body/div")[0]
    return found


def find_cards(
    page: Selector, synonyms: Mapping[str, tuple[str, ...]], required: Iterable[str]
) -> list[tuple[Selector, dict[str, Selector]]] | None:
    """The cards of `page` with their fields; None when no block carries every required label.

    A card is the innermost `article`, `li`, `section` or `div` whose labels name every required
    field (the heading may stand in for a required `title`): the blocks around it hold several
    cards and are not cards themselves.
    """
    required = set(required)
    candidates: list[tuple[Selector, dict[str, Selector]]] = []
    for block in page.xpath("//article|//li|//section|//div"):
        fields = card_fields(block, synonyms)
        names = set(fields)
        if "title" in required and "title" not in names and _heading(block):
            names.add("title")
        if required <= names:
            candidates.append((block, fields))
    if not candidates:
        return None
    # Keep the innermost: drop a block that contains another candidate.
    roots = [block.root for block, _ in candidates]
    inner = []
    for block, fields in candidates:
        contains_other = any(other is not block.root and _is_ancestor(block.root, other) for other in roots)
        if not contains_other:
            inner.append((block, fields))
    return inner


def _is_ancestor(ancestor: Any, node: Any) -> bool:
    parent = node.getparent()
    while parent is not None:
        if parent is ancestor:
            return True
        parent = parent.getparent()
    return False


def _heading(block: Selector) -> str | None:
    for path in (".//h1", ".//h2", ".//h3", ".//h4", ".//h5", ".//*[contains(@class, 'title')]"):
        text = cell_text(block.xpath(path)[:1])
        if text:
            return text
    return None


# -- dates ----------------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def _date_settings(zone: str) -> dict[str, Any]:
    return {
        "TIMEZONE": zone,
        "RETURN_AS_TIMEZONE_AWARE": True,
        # A date must say its day, month and year: "Q1 2027" or "March" is not a deadline.
        "REQUIRE_PARTS": ["day", "month", "year"],
        "DATE_ORDER": "DMY",
        "PREFER_DATES_FROM": "future",
    }


_HAS_TIME = re.compile(r"\d{1,2}\s*[:h.]\s*\d{2}(?!\d)|\b\d{1,2}\s*(?:am|pm)\b|\bnoon\b|\bmidi\b", re.I)
_ISO_DAY = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")


def parse_datetime(text: str | None, zone: str, languages: tuple[str, ...]) -> datetime | None:
    """A date written on a portal ("15 mars 2026, 12:00", "3. März 2026", "2026-11-30") in `zone`.

    None for no text; `ValueError` when the text is there but is not a full date. A day
    without a time is the end of that day (a deadline on that day is still open).
    """
    if text is None or not text.strip():
        return None
    cleaned = re.sub(r"\s+", " ", text).strip()
    stamp = dateparser.parse(cleaned, languages=list(languages), settings=_date_settings(zone))
    if stamp is None:
        raise ValueError(f"{cleaned!r} is not a date")
    local = stamp.astimezone(ZoneInfo(zone))
    if not _HAS_TIME.search(_ISO_DAY.sub("", cleaned)):
        local = datetime.combine(local.date(), END_OF_DAY, tzinfo=ZoneInfo(zone))
    return local


def parse_date(text: str | None, zone: str, languages: tuple[str, ...]) -> date | None:
    """The calendar day of `parse_datetime` (publication dates)."""
    stamp = parse_datetime(text, zone, languages)
    return stamp.date() if stamp is not None else None


# -- the spider -----------------------------------------------------------------------------------


class ListingSpider(BaseSpider):
    """Base class of spiders that read a portal's HTML listing of opportunities.

    To use it:

    1. Set `organisation` (the registry id of the buyer: its name, country and time zone are
       taken from `monitor/organisations.yaml`) and `languages` (those of the portal's text,
       for dates).
    2. Set `listings`: one `Listing(url, layout, kind)` per page, `layout` "table" or "cards".
    3. Set `fields`: for each field, the header words or labels that name it, in every language
       the portal may use (compared without accents and case, "Deadline (CET)" matches
       "deadline"); and `required_fields`, those a page must name to be the listing. A field not
       in `required_fields` is optional: a missing column or an empty cell gives None.
    4. Implement `notices(row)`: yield the `Notice` items of one `Row` (its cells by field:
       `row.text("reference")`, `row.require("title")`, `row.link("title")`). Raise
       `RowError(field, reason)` (or ValueError) for a row that makes no sense: it is logged and
       counted under `listing/invalid/<field>`, and the other rows go on. Use `self.date(text)`
       and `self.deadline(text)` for dates, `self.procedure_key(reference)` for the key.

    A page with no matching table or cards, or an empty listing, is an ERROR (the run fails).
    """

    # Regarding ListingSpider.
    organisation: ClassVar[str]
    languages: ClassVar[tuple[str, ...]] = ("en",)
    listings: ClassVar[tuple[Listing, ...]] = ()
    fields: ClassVar[dict[str, tuple[str, ...]]] = {}
    required_fields: ClassVar[tuple[str, ...]] = ("reference", "title")

    @property
    def buyer(self) -> Organisation:
        return get(self.organisation)

    @property
    def zone(self) -> str:
        return self.buyer.timezone

    async def start(self) -> AsyncIterator[Request]:
        for listing in self.listings:
            yield Request(
                listing.url, callback=self.parse_listing, errback=self.listing_failed, cb_kwargs={"listing": listing}
            )

    def notices(self, row: Row) -> Iterable[Notice]:
        raise NotImplementedError

    # -- helpers for `notices` --------------------------------------------------------------------

    def date(self, text: str | None, name: str = "published_on") -> date | None:
        try:
            return parse_date(text, self.zone, self.languages)
        except ValueError as error:
            raise RowError(name, str(error)) from error

    def deadline(self, text: str | None, name: str = "deadline") -> datetime | None:
        try:
            return parse_datetime(text, self.zone, self.languages)
        except ValueError as error:
            raise RowError(name, str(error)) from error

    def procedure_key(self, reference: str) -> str:
        """The registry's key for the reference ("f4e:F4E-OMF-1108"), else "<spider>:<reference>"."""
        return procedure_key_for(self.organisation, reference) or f"{self.name}:{reference}"

    # -- reading a page -----------------------------------------------------------------------------

    def rows(self, response: Response, listing: Listing) -> list[Row] | None:
        """The entries of a listing page; None when the page holds no listing this spider knows."""
        page = Selector(text=response.text)
        required = listing.required or self.required_fields
        if listing.layout == "cards":
            cards = find_cards(page, self.fields, required)
            if cards is None:
                return None
            rows = []
            for card, labelled in cards:
                links = [(a.attrib.get("href", ""), cell_text(a) or "") for a in card.xpath(".//a[@href]")]
                rows.append(Row(cells=labelled, listing=listing, url=response.url, heading=_heading(card), links=links))
            return rows
        table = find_table(page, self.fields, required)
        if table is None:
            return None
        columns, body = table
        rows = []
        for tr in body:
            row_cells = _cells(tr)
            by_field = {name: row_cells[index] for index, name in columns.items() if index < len(row_cells)}
            links = [(a.attrib.get("href", ""), cell_text(a) or "") for a in tr.xpath(".//a[@href]")]
            rows.append(Row(cells=by_field, listing=listing, url=response.url, links=links))
        return rows

    def parse_listing(self, response: Response, listing: Listing) -> Iterator[Notice]:
        rows = self.rows(response, listing)
        if rows is None:
            wanted = ", ".join(listing.required or self.required_fields)
            self.logger.error(
                "No %s listing found on %s (no %s naming %s): the page changed or is not the listing",
                self.name,
                response.url,
                "table" if listing.layout == "table" else "block of labels",
                wanted,
            )
            self.count("listing/not_found")
            return
        self.count("listed", len(rows))
        if not rows:
            # A portal that lists nothing is far more often a broken page than a quiet one.
            self.logger.error("The %s listing at %s is empty", self.name, response.url)
            self.count("listing/empty")
            return
        for number, row in enumerate(rows, 1):
            try:
                yield from list(self.notices(row))
            except RowError as error:
                self.invalid(response.url, number, error.field, str(error))
            except (ValueError, TypeError, KeyError) as error:
                self.invalid(response.url, number, "other", str(error))

    def invalid(self, url: str, number: int, name: str, reason: str) -> None:
        self.logger.warning("Skipped row %d of the %s listing at %s: %s", number, self.name, url, reason)
        self.count("listing/invalid")
        self.count(f"listing/invalid/{name}")

    def listing_failed(self, failure: Failure) -> None:
        # A lost listing page means opportunities never seen: the run must fail, loudly.
        self.logger.error("Lost a %s listing page: %s", self.name, describe_failure(failure))
        self.count("page_lost")

    def notice(self, **values: Any) -> Notice:
        """A notice of this portal, the buyer's name, country and id filled in unless given."""
        buyer = self.buyer
        values.setdefault("buyer", buyer.name)
        values.setdefault("buyer_country", buyer.country)
        values.setdefault("organisation", buyer.id)
        values.setdefault("language", self.languages[0])
        return Notice(source=self.name, **values)
