"""`companies import`: companies, one recipient and one profile per line, from CSV or JSONL.

A JSONL line is `{"id", "name", "country", "email", "areas": [...], "keywords": [...],
"cpv_prefixes": [...], "organisations": [...], "min_value", "notice_types": [...]}`, optionally
with `recipient_name`, `role`, `profile` (the profile's name, default "default"), `max_value`,
`languages`, `frequency`, `digest_weekday` (mon..sun), `digest_hour` (0..23, Amsterdam time) and
`active`. A CSV file has the same columns, with `;` between the
items of a list.

Every row is checked before anything is written; a bad row (missing name, malformed email,
unknown area id, bad keyword expression...) is rejected with its line number and reason, and the
other rows still import. Re-importing updates by company id (and recipient email, profile name)
and never duplicates; every change of a profile is kept as a `ProfileVersion` (field → [old,
new], when, by whom), the same history that `companies edit` writes.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from sqlalchemy.orm import Session

from monitor.contract import AREA_IDS, NOTICE_TYPES
from monitor.errors import InputError
from monitor.matching.matcher import STAGES
from monitor.matching.models import (
    FREQUENCIES,
    PROFILE_FIELDS,
    WEEKDAYS,
    Company,
    Profile,
    ProfileVersion,
    Recipient,
)
from monitor.matching.query import QueryError, parse_all
from monitor.organisations import all_organisations

LIST_COLUMNS: Final = ("areas", "keywords", "cpv_prefixes", "organisations", "notice_types", "languages")
COLUMNS: Final = (
    "id",
    "name",
    "country",
    "email",
    "recipient_name",
    "role",
    "profile",
    *LIST_COLUMNS,
    "min_value",
    "max_value",
    "frequency",
    "digest_weekday",
    "digest_hour",
    "active",
)
EMAIL: Final = re.compile(
    r"^[^@\s<>(),;:\"\[\]]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$"
)
_ID: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_CPV_PREFIX: Final = re.compile(r"^\d{2,8}$")


class RowError(ValueError):
    """One import row is unusable; the message is the reason (the importer adds the line)."""


@dataclass(frozen=True)
class CompanyRow:
    """One checked import row: a company, one recipient, one profile's settings."""

    id: str
    name: str
    country: str | None
    email: str
    recipient_name: str | None
    role: str | None
    profile: str
    settings: dict[str, Any]


@dataclass
class CompanyImport:
    """What an import did; `profiles` are the created or changed profiles (to be matched)."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)
    profiles: list[Profile] = field(default_factory=list)


def organisation_ids() -> frozenset[str]:
    return frozenset(o.id for o in all_organisations())


def check_settings(settings: dict[str, Any], *, label: str) -> dict[str, Any]:
    """Profile settings checked and normalised; `RowError` (or `QueryError`) says what is wrong."""
    out = dict(settings)
    for name in LIST_COLUMNS:
        value = out.get(name) or []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise RowError(f"{name} must be a list of strings")
        out[name] = [v.strip() for v in value if v.strip()]
    unknown = [a for a in out["areas"] if a not in AREA_IDS]
    if unknown:
        raise RowError(f"unknown area id {unknown[0]!r} (known: {', '.join(AREA_IDS)})")
    known_orgs = organisation_ids()
    out["organisations"] = [o.lower() for o in out["organisations"]]
    unknown = [o for o in out["organisations"] if o not in known_orgs]
    if unknown:
        raise RowError(f"unknown organisation id {unknown[0]!r} (known: {', '.join(sorted(known_orgs))})")
    types = (*NOTICE_TYPES, *STAGES)
    unknown = [t for t in out["notice_types"] if t not in types]
    if unknown:
        raise RowError(f"unknown notice type {unknown[0]!r} (known: {', '.join(types)})")
    prefixes = [p.replace(" ", "").split("-")[0] for p in out["cpv_prefixes"]]
    bad = [p for p in prefixes if not _CPV_PREFIX.match(p)]
    if bad:
        raise RowError(f"CPV prefix {bad[0]!r} must be 2 to 8 digits")
    out["cpv_prefixes"] = prefixes
    out["languages"] = [lang.lower() for lang in out["languages"]]
    bad = [lang for lang in out["languages"] if not re.fullmatch(r"[a-z]{2}", lang)]
    if bad:
        raise RowError(f"language {bad[0]!r} is not an ISO 639-1 code")
    parse_all(out["keywords"], profile=label)  # QueryError names the profile and expression
    for name in ("min_value", "max_value"):
        value = out.get(name)
        if value in (None, ""):
            out[name] = None
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise RowError(f"{name} {value!r} is not a number") from None
        if isinstance(value, bool) or number < 0:
            raise RowError(f"{name} {value!r} must be a non-negative number")
        out[name] = number
    if out["min_value"] is not None and out["max_value"] is not None and out["min_value"] > out["max_value"]:
        raise RowError("min_value is above max_value")
    frequency = out.get("frequency") or "weekly"
    if frequency not in FREQUENCIES:
        raise RowError(f"frequency {frequency!r} is not one of {', '.join(FREQUENCIES)}")
    out["frequency"] = frequency
    # When a daily or weekly digest goes out (Amsterdam time): weekday mon..sun (or 1..7, ISO),
    # hour 0..23; Monday 07:00 unless said otherwise.
    day = out.get("digest_weekday")
    if day in (None, ""):
        out["digest_weekday"] = 1
    elif str(day).strip().lower()[:3] in WEEKDAYS:
        out["digest_weekday"] = WEEKDAYS.index(str(day).strip().lower()[:3]) + 1
    elif str(day).strip().isdigit() and 1 <= int(str(day).strip()) <= 7:
        out["digest_weekday"] = int(str(day).strip())
    else:
        raise RowError(f"digest_weekday {day!r} is not a weekday (mon..sun or 1..7)")
    hour = out.get("digest_hour")
    if hour in (None, ""):
        out["digest_hour"] = 7
    elif str(hour).strip().isdigit() and 0 <= int(str(hour).strip()) <= 23:
        out["digest_hour"] = int(str(hour).strip())
    else:
        raise RowError(f"digest_hour {hour!r} is not an hour from 0 to 23")
    active = out.get("active")
    if active in (None, ""):
        out["active"] = True
    elif isinstance(active, bool):
        out["active"] = active
    elif str(active).strip().lower() in ("true", "yes", "1", "false", "no", "0"):
        out["active"] = str(active).strip().lower() in ("true", "yes", "1")
    else:
        raise RowError(f"active {active!r} is not true or false")
    return {name: out[name] for name in PROFILE_FIELDS}


def check_row(record: dict[str, Any]) -> CompanyRow:
    """One raw row (from JSON or CSV) checked; `RowError`/`QueryError` give the reason."""
    unknown = sorted(set(record) - set(COLUMNS))
    if unknown:
        raise RowError(f"unknown column {unknown[0]!r} (columns: {', '.join(COLUMNS)})")

    def text(name: str) -> str | None:
        value = record.get(name)
        if value is None:
            return None
        if not isinstance(value, str):
            raise RowError(f"{name} must be a string")
        return value.strip() or None

    company_id = text("id")
    if not company_id:
        raise RowError("id is missing")
    if not _ID.match(company_id):
        raise RowError(f"id {company_id!r} must be letters, digits, '.', '_' or '-' (at most 64)")
    name = text("name")
    if not name:
        raise RowError("name is missing")
    email = text("email")
    if not email:
        raise RowError("email is missing")
    if not EMAIL.match(email):
        raise RowError(f"email {email!r} is malformed")
    country = text("country")
    if country is not None:
        country = country.upper()
        if not re.fullmatch(r"[A-Z]{2}", country):
            raise RowError(f"country {country!r} is not ISO 3166 alpha-2")
    profile = text("profile") or "default"
    settings = check_settings(
        {k: record.get(k) for k in PROFILE_FIELDS},
        label=f"{company_id}/{profile}",
    )
    return CompanyRow(
        id=company_id,
        name=name,
        country=country,
        email=email.lower(),
        recipient_name=text("recipient_name"),
        role=text("role"),
        profile=profile,
        settings=settings,
    )


def read_rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    """(line number, raw row or the reason it cannot be read) for a `.csv` or `.jsonl` file."""
    try:
        data = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(str(path), f"cannot read: {error}") from error
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(io.StringIO(data, newline=""))
        if reader.fieldnames is None:
            return
        start = reader.line_num
        for raw in reader:
            line = start + 1
            start = reader.line_num
            if raw.get(None):
                yield line, RowError("more cells than columns")
                continue
            record: dict[str, Any] = {}
            for key, value in raw.items():
                value = (value or "").strip()
                if key in LIST_COLUMNS:
                    record[key] = [item for item in value.split(";") if item.strip()]
                elif value:
                    record[key] = value
            yield line, record
        return
    if path.suffix.lower() not in (".jsonl", ".ndjson", ".json"):
        raise InputError(str(path), "companies are read from .csv or .jsonl files")
    for line, text in enumerate(data.splitlines(), 1):
        if not text.strip():
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as error:
            yield line, RowError(f"not JSON ({error.msg})")
            continue
        yield line, value if isinstance(value, dict) else RowError("expected a JSON object")


def record_version(profile: Profile, changes: dict[str, list[Any]], now: datetime, by: str | None) -> None:
    """Keep one edit of `profile` in its history (nothing when nothing changed)."""
    if not changes:
        return
    number = max((v.version for v in profile.versions), default=0) + 1
    profile.versions.append(ProfileVersion(version=number, recorded_at=now, by=by, changes=changes))
    profile.updated_at = now


def empty_settings() -> dict[str, Any]:
    """A profile's settings before anything is set (what the first history entry starts from)."""
    return {
        **{name: [] for name in LIST_COLUMNS},
        "min_value": None,
        "max_value": None,
        "frequency": None,
        # Not null in the table: the defaults, so a first import records them as unchanged.
        "digest_weekday": 1,
        "digest_hour": 7,
        "active": None,
    }


def apply_settings(profile: Profile, settings: dict[str, Any], now: datetime, by: str | None) -> dict[str, list[Any]]:
    """Set `settings` on `profile`, recording what changed; returns the changes."""
    changes: dict[str, list[Any]] = {}
    for name, new in settings.items():
        old = getattr(profile, name)
        if old != new:
            changes[name] = [old, new]
            setattr(profile, name, list(new) if isinstance(new, list) else new)
    record_version(profile, changes, now, by)
    return changes


def _apply(session: Session, row: CompanyRow, now: datetime, by: str | None) -> tuple[str, Profile | None]:
    outcome = "unchanged"
    company = session.get(Company, row.id)
    if company is None:
        company = Company(id=row.id, name=row.name, country=row.country, created_at=now, updated_at=now)
        session.add(company)
        outcome = "created"
    elif (company.name, company.country) != (row.name, row.country):
        company.name, company.country, company.updated_at = row.name, row.country, now
        outcome = "updated"
    recipient = next((r for r in company.recipients if r.email.lower() == row.email), None)
    if recipient is None:
        recipient = Recipient(email=row.email, name=row.recipient_name, role=row.role)
        company.recipients.append(recipient)
        outcome = "updated" if outcome == "unchanged" else outcome
    elif (row.recipient_name and recipient.name != row.recipient_name) or (row.role and recipient.role != row.role):
        recipient.name = row.recipient_name or recipient.name
        recipient.role = row.role or recipient.role
        outcome = "updated" if outcome == "unchanged" else outcome
    profile = next((p for p in company.profiles if p.name == row.profile), None)
    touched: Profile | None = None
    if profile is None:
        # Created empty, then set like an edit: the first version records every initial setting.
        profile = Profile(name=row.profile, created_at=now, updated_at=now, **empty_settings())
        company.profiles.append(profile)
        apply_settings(profile, row.settings, now, by)
        touched = profile
        outcome = "updated" if outcome == "unchanged" else outcome
    elif apply_settings(profile, row.settings, now, by):
        touched = profile
        outcome = "updated" if outcome == "unchanged" else outcome
    if recipient not in profile.recipients:
        profile.recipients.append(recipient)
    return outcome, touched


def import_companies(session: Session, path: Path, now: datetime, by: str | None = None) -> CompanyImport:
    """Import every good row of `path`; bad rows are listed in `rejected` as (line, reason)."""
    summary = CompanyImport()
    by = by or f"import {path.name}"
    for line, raw in read_rows(path):
        if isinstance(raw, RowError):
            summary.rejected.append((line, str(raw)))
            continue
        try:
            row = check_row(raw)
        except (RowError, QueryError) as error:
            summary.rejected.append((line, str(error)))
            continue
        outcome, profile = _apply(session, row, now, by)
        session.flush()
        setattr(summary, outcome, getattr(summary, outcome) + 1)
        if profile is not None and profile not in summary.profiles:
            summary.profiles.append(profile)
    return summary
