"""The notice contract: the one item every source produces and every export writes.

A `Notice` is what a spider yields, what a parser returns, what `import` reads from a manual
JSON line and what storage keeps. `EXPORT_KEYS` is the exact key set of
`ilo-monitor notices export --format jsonl` (checked by `../shared/tools/check_export.py`);
the few extra attributes (`amends`, `awards`, `references`) travel from the source to storage
but are not part of the export.

`normalise()` turns what a source found into the contract's shapes (no empty strings, http(s)
links only, 8-digit CPV codes, upper-case country codes); `validate()` lists what is still wrong,
so that the Scrapy validation pipeline and `import` reject a notice for the same reasons.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime
from typing import Any, Final

from monitor.errors import ContractError

NOTICE_TYPES: Final = (
    "prior_information",
    "market_survey",
    "call_for_expression_of_interest",
    "contract_notice",
    "invitation_to_tender",
    "price_enquiry",
    "corrigendum",
    "contract_award",
    "cancellation",
    "other",
)
# Stages before a call for tenders: companies want these first (a missed CERN market survey
# means no invitation to tender).
PRE_TENDER_TYPES: Final = frozenset({"prior_information", "market_survey", "call_for_expression_of_interest"})
STATUSES: Final = ("planned", "open", "closed", "cancelled", "awarded")
# The technology areas: a public interface (companies subscribe to them, evaluations and the
# export checker use them). `monitor/taxonomy.yaml` may improve everything about an area but its id.
AREA_IDS: Final = (
    "accelerator_beam",
    "vacuum",
    "cryogenics",
    "magnets_superconductivity",
    "rf_microwave",
    "power_electrical",
    "electronics_daq",
    "detectors_sensors",
    "optics_photonics",
    "precision_mechatronics",
    "mechanical_fabrication",
    "materials_coatings",
    "controls_automation",
    "it_hpc_data",
    "robotics_remote_handling",
    "nuclear_fusion_radiation",
    "civil_engineering",
    "thermal_fluids_utilities",
    "space_systems",
    "telescopes_astro_instrumentation",
    "lab_life_science",
    "engineering_rd_services",
    "general_other",
)

EXPORT_KEYS: Final = (
    "source",
    "source_id",
    "procedure_key",
    "notice_type",
    "status",
    "title",
    "description",
    "buyer",
    "buyer_country",
    "organisation",
    "published_on",
    "deadline",
    "cpv_codes",
    "estimated_value",
    "currency",
    "language",
    "url",
    "documents",
    "technology_areas",
    "first_seen_at",
    "last_changed_at",
)

_CPV = re.compile(r"^(\d{8})(?:-\d)?$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_LANGUAGE = re.compile(r"^[a-z]{2}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_TED_ID = re.compile(r"^0*([1-9]\d*)-(\d{4})$")


@dataclass(slots=True, kw_only=True)
class Notice:
    """One tender notice in the contract's shape (see the module docstring)."""

    source: str
    source_id: str
    title: str
    notice_type: str = "other"
    status: str = "open"
    procedure_key: str | None = None
    description: str | None = None
    buyer: str | None = None
    buyer_country: str | None = None
    organisation: str | None = None
    published_on: date | None = None
    deadline: datetime | None = None
    cpv_codes: list[str] = field(default_factory=list)
    estimated_value: float | None = None
    currency: str | None = None
    language: str | None = None
    url: str | None = None
    documents: list[dict[str, str | None]] = field(default_factory=list)
    technology_areas: list[dict[str, Any]] = field(default_factory=list)
    first_seen_at: datetime | None = None
    last_changed_at: datetime | None = None
    # Not exported. `amends`: source_id (same source) of the notice this corrigendum or change
    # notice amends. `references`: other source_ids of the same source that belong to the same
    # procedure (a PIN referenced by a contract notice, a notice referenced by an award).
    # `awards`: [{"winner", "winner_country", "value", "currency", "lot"}] of an award notice.
    amends: str | None = None
    references: list[str] = field(default_factory=list)
    awards: list[dict[str, Any]] = field(default_factory=list)
    # Other keys the same procedure is known by (an eForms notice keyed by its buyer's reference
    # is also "ted:<folder id>"): storage unifies them, so notices of either key join one procedure.
    procedure_aliases: list[str] = field(default_factory=list)

    def to_record(self) -> dict[str, Any]:
        """The JSON-ready export object, with exactly `EXPORT_KEYS`."""
        return {
            "source": self.source,
            "source_id": self.source_id,
            "procedure_key": self.procedure_key,
            "notice_type": self.notice_type,
            "status": self.status,
            "title": self.title,
            "description": self.description,
            "buyer": self.buyer,
            "buyer_country": self.buyer_country,
            "organisation": self.organisation,
            "published_on": self.published_on.isoformat() if self.published_on else None,
            "deadline": _iso(self.deadline),
            "cpv_codes": list(self.cpv_codes),
            "estimated_value": self.estimated_value,
            "currency": self.currency,
            "language": self.language,
            "url": self.url,
            "documents": [dict(d) for d in self.documents],
            "technology_areas": [dict(a) for a in self.technology_areas],
            "first_seen_at": _iso(self.first_seen_at),
            "last_changed_at": _iso(self.last_changed_at),
        }


NOTICE_FIELDS: Final = tuple(f.name for f in fields(Notice))


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def ted_source_id(publication_number: str) -> str:
    """TED's publication number as the contract wants it: "NNNNNN-YYYY" without leading zeros."""
    match = _TED_ID.match(publication_number.strip())
    if not match:
        raise ContractError("source_id", f"{publication_number!r} is not a TED publication number")
    return f"{match.group(1)}-{match.group(2)}"


def is_http_url(value: object) -> bool:
    """Only http(s) links ever leave the system: scraped `javascript:` or `file:` links are dropped."""
    return isinstance(value, str) and re.match(r"^https?://[^\s/]+", value.strip(), re.I) is not None


def clean_text(value: object) -> str | None:
    """Collapse white space; empty becomes None (the contract never has "")."""
    if value is None:
        return None
    text = re.sub(r"[ \t\r\f\v]+", " ", str(value))
    text = re.sub(r" *\n[ \n]*", "\n", text).strip()
    return text or None


def normalise(notice: Notice) -> Notice:
    """Bring a freshly parsed notice into the contract's shapes, in place, and return it."""
    for name in ("title", "description", "buyer", "procedure_key", "organisation", "amends"):
        setattr(notice, name, clean_text(getattr(notice, name)))
    if notice.title is not None:
        notice.title = notice.title.replace("\n", " ")
    notice.source = (notice.source or "").strip()
    notice.source_id = (notice.source_id or "").strip()
    if notice.buyer_country:
        notice.buyer_country = notice.buyer_country.strip().upper() or None
    else:
        notice.buyer_country = None
    if notice.language:
        notice.language = notice.language.strip().lower() or None
    else:
        notice.language = None
    if notice.currency:
        notice.currency = notice.currency.strip().upper() or None
    else:
        notice.currency = None
    cpvs: list[str] = []
    for code in notice.cpv_codes:
        match = _CPV.match(str(code).strip())
        if match and match.group(1) not in cpvs:
            cpvs.append(match.group(1))
    notice.cpv_codes = cpvs
    notice.url = notice.url.strip() if is_http_url(notice.url) else None  # type: ignore[union-attr]
    documents: list[dict[str, str | None]] = []
    seen: set[str] = set()
    for doc in notice.documents:
        url = doc.get("url")
        if is_http_url(url) and url not in seen:
            assert url is not None
            seen.add(url)
            documents.append({"url": url.strip(), "title": clean_text(doc.get("title"))})
    notice.documents = documents
    if notice.deadline is not None and notice.deadline.tzinfo is None:
        # A deadline without a zone is ambiguous; parsers must attach the buyer's zone first.
        raise ContractError("deadline", f"{notice.deadline.isoformat()} has no time zone")
    notice.references = [r for r in dict.fromkeys(notice.references) if r and r != notice.source_id]
    return notice


def validate(notice: Notice) -> list[str]:
    """Everything that keeps `notice` from meeting the contract; empty when it does."""
    problems: list[str] = []
    for name in ("source", "source_id", "title"):
        value = getattr(notice, name)
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{name} is missing")
    if notice.notice_type not in NOTICE_TYPES:
        problems.append(f"notice_type {notice.notice_type!r} is not one of {', '.join(NOTICE_TYPES)}")
    if notice.status not in STATUSES:
        problems.append(f"status {notice.status!r} is not one of {', '.join(STATUSES)}")
    if notice.source == "ted" and not re.fullmatch(r"[1-9]\d*-\d{4}", notice.source_id or ""):
        problems.append(f"TED source_id {notice.source_id!r} is not NNNNNN-YYYY without leading zeros")
    if notice.buyer_country is not None and not _COUNTRY.match(notice.buyer_country):
        problems.append(f"buyer_country {notice.buyer_country!r} is not ISO 3166 alpha-2")
    if notice.language is not None and not _LANGUAGE.match(notice.language):
        problems.append(f"language {notice.language!r} is not ISO 639-1")
    if notice.currency is not None and not _CURRENCY.match(notice.currency):
        problems.append(f"currency {notice.currency!r} is not ISO 4217")
    if any(not re.fullmatch(r"\d{8}", c) for c in notice.cpv_codes):
        problems.append(f"cpv_codes {notice.cpv_codes!r} must be 8-digit strings")
    value = notice.estimated_value
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or value < 0):
        problems.append(f"estimated_value {value!r} must be a non-negative number")
    if notice.published_on is not None and not isinstance(notice.published_on, date):
        problems.append("published_on must be a date")
    for name in ("deadline", "first_seen_at", "last_changed_at"):
        stamp = getattr(notice, name)
        if stamp is not None and (not isinstance(stamp, datetime) or stamp.tzinfo is None):
            problems.append(f"{name} must be a datetime with a time zone")
    if notice.url is not None and not is_http_url(notice.url):
        problems.append(f"url {notice.url!r} is not http(s)")
    for doc in notice.documents:
        if not is_http_url(doc.get("url")):
            problems.append(f"document url {doc.get('url')!r} is not http(s)")
    for area in notice.technology_areas:
        if not isinstance(area, dict) or not {"id", "score", "evidence"} <= set(area):
            problems.append(f"technology_areas entry {area!r} must be {{id, score, evidence}}")
    return problems


def content_hash(notice: Notice) -> str:
    """A stable hash of what a notice says, used as the manual `source_id` default."""
    record = notice.to_record()
    for volatile in ("source_id", "first_seen_at", "last_changed_at", "technology_areas"):
        record.pop(volatile)
    payload = json.dumps(record, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _parse_date(name: str, value: object) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError as error:
        raise ContractError(name, f"{value!r} is not a YYYY-MM-DD date") from error


def _parse_datetime(name: str, value: object) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        stamp = value
    else:
        try:
            stamp = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError as error:
            raise ContractError(name, f"{value!r} is not an ISO 8601 date-time") from error
    if stamp.tzinfo is None:
        raise ContractError(name, f"{value!r} has no UTC offset (write e.g. 2026-12-01T12:00:00+01:00)")
    return stamp


def from_record(record: dict[str, Any], *, default_source: str = "manual") -> Notice:
    """A notice from a contract-shaped dict (a manual JSON line, or an export read back).

    Only `title` is required; `source` defaults to `default_source` and `source_id` to a stable
    hash of the content. Unknown keys and badly typed values raise `ContractError` naming the key.
    """
    if not isinstance(record, dict):
        raise ContractError("(notice)", "expected a JSON object")
    unknown = set(record) - set(EXPORT_KEYS) - {"amends", "references", "awards"}
    if unknown:
        raise ContractError(sorted(unknown)[0], "is not a key of the notice contract")
    title = clean_text(record.get("title"))
    if not title:
        raise ContractError("title", "is required")

    def text(name: str) -> str | None:
        value = record.get(name)
        if value is not None and not isinstance(value, str):
            raise ContractError(name, f"must be a string, not {type(value).__name__}")
        return clean_text(value)

    def str_list(name: str) -> list[str]:
        value = record.get(name) or []
        if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
            raise ContractError(name, "must be a list of strings")
        return [str(v) for v in value]

    value = record.get("estimated_value")
    if value is not None:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ContractError("estimated_value", f"{value!r} is not a number")
        try:
            value = float(value)
        except ValueError as error:
            raise ContractError("estimated_value", f"{value!r} is not a number") from error
    documents = record.get("documents") or []
    if not isinstance(documents, list) or not all(isinstance(d, dict) for d in documents):
        raise ContractError("documents", "must be a list of {url, title}")
    areas = record.get("technology_areas") or []
    if not isinstance(areas, list):
        raise ContractError("technology_areas", "must be a list")
    awards = record.get("awards") or []
    if not isinstance(awards, list):
        raise ContractError("awards", "must be a list")
    notice = Notice(
        source=text("source") or default_source,
        source_id=text("source_id") or "",
        title=title,
        notice_type=text("notice_type") or "other",
        status=text("status") or "open",
        procedure_key=text("procedure_key"),
        description=text("description"),
        buyer=text("buyer"),
        buyer_country=text("buyer_country"),
        organisation=text("organisation"),
        published_on=_parse_date("published_on", record.get("published_on")),
        deadline=_parse_datetime("deadline", record.get("deadline")),
        cpv_codes=str_list("cpv_codes"),
        estimated_value=value,
        currency=text("currency"),
        language=text("language"),
        url=text("url"),
        documents=[{"url": d.get("url"), "title": d.get("title")} for d in documents],
        technology_areas=list(areas),
        first_seen_at=_parse_datetime("first_seen_at", record.get("first_seen_at")),
        last_changed_at=_parse_datetime("last_changed_at", record.get("last_changed_at")),
        amends=text("amends"),
        references=str_list("references"),
        awards=list(awards),
    )
    normalise(notice)
    if notice.url is None and record.get("url"):
        raise ContractError("url", f"{record['url']!r} is not an http(s) link")
    if not notice.source_id:
        notice.source_id = content_hash(notice)
    problems = validate(notice)
    if problems:
        raise ContractError("(notice)", "; ".join(problems))
    return notice


def utcnow() -> datetime:
    """The current time, aware, in UTC; callers pass `now` down instead of calling this deep inside."""
    return datetime.now(UTC)
