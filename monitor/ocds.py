"""Open Contracting Data Standard (OCDS 1.1) export: stored notices as release packages.

`ilo-monitor notices export --format ocds` writes one JSON release package, so that existing
procurement tooling (OCDS Kit, Kingfisher, the OCDS data review tool) can read what we gathered.

How a notice becomes releases (`releases()`, pure: a notice row and its versions in, dicts out):

- **one release per notice version** (`NoticeVersion`): version 1 is the notice as first
  stored, each later version the notice after that change. A version records only what changed
  (old → new), so the state at version *k* is today's row with the changes of every later
  version undone. Each release is a full snapshot of the notice (not a delta), the simplest
  form for OCDS merging;
- `ocid` = `<prefix>-<procedure_key>`: every notice of one procurement (PIN, call, corrigendum,
  award) shares the procedure key, so OCDS tools compile them into one contracting process. A
  notice without a key uses `<source>-<source_id>`. The prefix is the publisher's ocid prefix
  registered with the Open Contracting Partnership (`ocds-` and six characters); until the
  ILO-net has one, `OCID_PREFIX_PLACEHOLDER` (`ocds-xxxxxx`) stands in its place;
- `id` = `<source>-<source_id>-v<version>` (unique within the ocid), `date` = when the version
  was recorded;
- `tag` from the notice type (`TAGS`): planning, tender, tenderAmendment, award,
  tenderCancellation; a later version of a planning, tender or award notice is its `...Update`,
  and a version in which the notice became cancelled is `tenderCancellation`;
- `parties`: the buyer (role buyer) and every award winner (role supplier);
  `buyer` and award `suppliers` reference them by id;
- `tender`: title, description, status, value, the deadline as `tenderPeriod.endDate`, CPV codes
  as items, documents; `awards` from an award notice's `awards` (winner, value, lot).

Party ids are derived from the names (`<role>-<slug>`): the same buyer gets the same id in every
release of a process, which is what OCDS merging needs.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from typing import IO, Any, Final, Protocol

OCDS_VERSION: Final = "1.1"
# Stand-in for the ocid prefix the Open Contracting Partnership assigns to a publisher.
OCID_PREFIX_PLACEHOLDER: Final = "ocds-xxxxxx"
PUBLISHER: Final = "ILO-net Big Science Tender Monitor"

# notice_type → release tag of its first version (OCDS releaseTag codelist).
TAGS: Final = {
    "prior_information": "planning",
    "market_survey": "planning",
    "call_for_expression_of_interest": "planning",
    "contract_notice": "tender",
    "invitation_to_tender": "tender",
    "price_enquiry": "tender",
    "other": "tender",
    "corrigendum": "tenderAmendment",
    "contract_award": "award",
    "cancellation": "tenderCancellation",
}
_UPDATES: Final = {"planning": "planningUpdate", "tender": "tenderUpdate", "award": "awardUpdate"}
# Our notice status → OCDS tender.status (tenderStatus codelist).
TENDER_STATUS: Final = {
    "planned": "planned",
    "open": "active",
    "closed": "complete",
    "cancelled": "cancelled",
    "awarded": "complete",
}
# Fields of a notice that a release is built from (all stored on `NoticeRow`).
FIELDS: Final = (
    "source",
    "source_id",
    "procedure_key",
    "notice_type",
    "status",
    "title",
    "description",
    "buyer",
    "buyer_country",
    "published_on",
    "deadline",
    "cpv_codes",
    "estimated_value",
    "currency",
    "url",
    "documents",
    "awards",
)


class VersionLike(Protocol):
    version: int
    recorded_at: datetime
    kind: str
    changes: dict[str, Any]


def _text(value: Any) -> Any:
    # The state is kept as JSON values (versions store changes that way): dates as ISO text.
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def version_states(current: dict[str, Any], versions: Sequence[VersionLike]) -> list[dict[str, Any]]:
    """The notice as it was after each version, oldest first (`current` is after the last one).

    Walks back from today's state, undoing each version's changes ({field: [old, new]}).
    """
    ordered = sorted(versions, key=lambda v: v.version)
    state = {name: _text(value) for name, value in current.items()}
    states: list[dict[str, Any]] = []
    for version in reversed(ordered):
        states.append(dict(state))
        for name, change in (version.changes or {}).items():
            if name in state and isinstance(change, list | tuple) and len(change) == 2:
                state[name] = change[0]
    states.reverse()
    return states


def slug(text: str) -> str:
    """A stable id part from a name: ASCII, lower case, dashes."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:80] or "unnamed"


def ocid(state: dict[str, Any], prefix: str = OCID_PREFIX_PLACEHOLDER) -> str:
    key = state.get("procedure_key") or f"{state['source']}-{state['source_id']}"
    return f"{prefix}-{key}"


def _tag(state: dict[str, Any], previous: dict[str, Any] | None) -> str:
    first = TAGS.get(str(state.get("notice_type")), "tender")
    if previous is None:
        return first
    if state.get("status") == "cancelled" and previous.get("status") != "cancelled":
        return "tenderCancellation"
    return _UPDATES.get(first, first)


def _value(amount: Any, currency: Any) -> dict[str, Any] | None:
    if not isinstance(amount, int | float):
        return None
    value: dict[str, Any] = {"amount": amount}
    if currency:
        value["currency"] = currency
    return value


def _date_time(value: Any) -> str | None:
    """An OCDS date-time (RFC 3339 with offset) from a stored datetime or date text."""
    if not value:
        return None
    text = str(value)
    if len(text) == 10:  # a date: midnight UTC
        return f"{text}T00:00:00Z"
    return text.replace("+00:00", "Z")


def release(
    state: dict[str, Any],
    *,
    version: int,
    recorded_at: datetime,
    previous: dict[str, Any] | None = None,
    prefix: str = OCID_PREFIX_PLACEHOLDER,
) -> dict[str, Any]:
    """One OCDS release of a notice in `state` (JSON values of `FIELDS`) at `version`."""
    parties: list[dict[str, Any]] = []
    result: dict[str, Any] = {
        "ocid": ocid(state, prefix),
        "id": f"{state['source']}-{state['source_id']}-v{version}",
        "date": _date_time(recorded_at.isoformat()),
        "tag": [_tag(state, previous)],
        "initiationType": "tender",
        "language": "en",
        "parties": parties,
    }
    if state.get("buyer"):
        buyer = {"id": f"buyer-{slug(state['buyer'])}", "name": state["buyer"]}
        # Buyer and procuring entity at once: OCDS says to name it as `buyer` only.
        party: dict[str, Any] = {**buyer, "roles": ["buyer"]}
        if state.get("buyer_country"):
            party["address"] = {"countryName": state["buyer_country"]}
        parties.append(party)
        result["buyer"] = buyer
    tender: dict[str, Any] = {
        "id": str(state["source_id"]),
        "title": state.get("title"),
        "status": TENDER_STATUS.get(str(state.get("status")), "active"),
    }
    if state.get("description"):
        tender["description"] = state["description"]
    value = _value(state.get("estimated_value"), state.get("currency"))
    if value is not None:
        tender["value"] = value
    if state.get("deadline"):
        tender["tenderPeriod"] = {"endDate": _date_time(state["deadline"])}
    cpv = [code for code in state.get("cpv_codes") or [] if code]
    if cpv:
        tender["items"] = [
            {"id": str(number), "classification": {"scheme": "CPV", "id": code}}
            for number, code in enumerate(cpv, start=1)
        ]
        tender["classification"] = {"scheme": "CPV", "id": cpv[0]}
    documents = [
        {"id": str(number), "url": doc["url"], **({"title": doc["title"]} if doc.get("title") else {})}
        for number, doc in enumerate(state.get("documents") or [], start=1)
        if isinstance(doc, dict) and doc.get("url")
    ]
    if state.get("url"):
        documents.insert(0, {"id": "notice", "documentType": "tenderNotice", "url": state["url"]})
    if documents:
        tender["documents"] = documents
    if state.get("published_on"):
        tender["datePublished"] = _date_time(state["published_on"])
    result["tender"] = tender
    awards = _awards(state, parties)
    if awards:
        result["awards"] = awards
    return result


def _awards(state: dict[str, Any], parties: list[dict[str, Any]]) -> list[dict[str, Any]]:
    awards: list[dict[str, Any]] = []
    known = {party["id"] for party in parties}
    for number, entry in enumerate(state.get("awards") or [], start=1):
        if not isinstance(entry, dict):
            continue
        award: dict[str, Any] = {"id": f"{state['source_id']}-award-{number}", "status": "active"}
        winner = entry.get("winner")
        if winner:
            supplier = {"id": f"supplier-{slug(str(winner))}", "name": str(winner)}
            award["suppliers"] = [supplier]
            if supplier["id"] not in known:
                party: dict[str, Any] = {**supplier, "roles": ["supplier"]}
                if entry.get("winner_country"):
                    party["address"] = {"countryName": entry["winner_country"]}
                parties.append(party)
                known.add(supplier["id"])
        value = _value(entry.get("value"), entry.get("currency"))
        if value is not None:
            award["value"] = value
        if entry.get("lot"):
            award["relatedLots"] = [str(entry["lot"])]
        awards.append(award)
    return awards


def releases(
    current: dict[str, Any], versions: Sequence[VersionLike], *, prefix: str = OCID_PREFIX_PLACEHOLDER
) -> list[dict[str, Any]]:
    """Every release of one notice: `current` is its state now (`FIELDS`), `versions` its history."""
    ordered = sorted(versions, key=lambda v: v.version)
    if not ordered:
        raise ValueError(f"notice {current.get('source')}/{current.get('source_id')} has no versions")
    states = version_states(current, ordered)
    result: list[dict[str, Any]] = []
    previous: dict[str, Any] | None = None
    for version, state in zip(ordered, states, strict=True):
        result.append(
            release(state, version=version.version, recorded_at=version.recorded_at, previous=previous, prefix=prefix)
        )
        previous = state
    return result


def notice_state(row: Any) -> dict[str, Any]:
    """The `FIELDS` of a stored notice (a `NoticeRow`) as JSON values."""
    return {name: _text(getattr(row, name)) for name in FIELDS}


def package_header(*, uri: str, published: datetime, publisher: str = PUBLISHER) -> dict[str, Any]:
    """The metadata of a release package (everything but `releases`)."""
    return {
        "uri": uri,
        "version": OCDS_VERSION,
        "publishedDate": _date_time(published.isoformat()),
        "publisher": {"name": publisher},
    }


def write_package(stream: IO[str], all_releases: Iterable[dict[str, Any]], *, uri: str, published: datetime) -> int:
    """Write one release package as JSON, releases streamed one by one; how many were written."""
    header = json.dumps(package_header(uri=uri, published=published), ensure_ascii=False)
    stream.write(header[:-1] + ', "releases": [')
    count = 0
    for item in all_releases:
        stream.write(("," if count else "") + "\n  " + json.dumps(item, ensure_ascii=False))
        count += 1
    stream.write("\n]}\n")
    return count


def iter_releases(rows: Iterable[Any], *, prefix: str = OCID_PREFIX_PLACEHOLDER) -> Iterator[dict[str, Any]]:
    """The releases of every stored notice in `rows` (NoticeRows with their `versions`)."""
    for row in rows:
        yield from releases(notice_state(row), row.versions, prefix=prefix)


def export(session: Any, query: Any, stream: IO[str], *, now: datetime, prefix: str = OCID_PREFIX_PLACEHOLDER) -> int:
    """Write the notices `query` selects (`monitor.store.select_notices`) as one release package.

    The package `uri` names the export and its moment (there is no public URL to give yet).
    Returns how many releases were written.
    """
    from sqlalchemy.orm import selectinload

    from monitor.models import NoticeRow

    rows = session.scalars(query.options(selectinload(NoticeRow.versions)).execution_options(yield_per=500))
    uri = f"urn:ilo-monitor:notices:{now.strftime('%Y%m%dT%H%M%SZ')}"
    return write_package(stream, iter_releases(rows, prefix=prefix), uri=uri, published=now)
