"""OCDS export: a stored procedure (PIN → call → corrigendum → award, and a cancelled call) as releases.

The package is validated with `jsonschema` (draft 4, formats checked) against `SCHEMA`: the
OCDS 1.1 release-package and release schemas reduced to what this export writes — every field
the standard requires (package: releases, version; release: ocid, id, date, tag,
initiationType; tender, award, item and document ids) and the closed codelists we use (release
tags, party roles, tender and award status, initiation type, CPV as item scheme). No package on
PyPI ships the schema files and the tests are offline, hence the reduction.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import click
import jsonschema
import pytest
from click.testing import CliRunner
from sqlalchemy import Engine

from monitor.cli import main
from monitor.contract import Notice
from monitor.db import open_database, session_scope
from monitor.ocds import OCID_PREFIX_PLACEHOLDER, export, version_states
from monitor.store import NoticeFilter, NoticeStore, select_notices

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)

_ORG_REF = {
    "type": "object",
    "required": ["id", "name"],
    "properties": {"id": {"type": "string", "minLength": 1}, "name": {"type": "string"}},
}
_VALUE = {
    "type": "object",
    "properties": {"amount": {"type": "number"}, "currency": {"type": "string", "pattern": "^[A-Z]{3}$"}},
}
_DOCUMENT = {
    "type": "object",
    "required": ["id"],
    "properties": {"id": {"type": "string", "minLength": 1}, "url": {"type": "string", "format": "uri"}},
}
RELEASE = {
    "type": "object",
    "required": ["ocid", "id", "date", "tag", "initiationType"],
    "properties": {
        "ocid": {"type": "string", "pattern": "^ocds-[a-z0-9]{6}-.+"},
        "id": {"type": "string", "minLength": 1, "not": {"pattern": "#"}},
        "date": {"type": "string", "format": "date-time"},
        "tag": {
            "type": "array",
            "minItems": 1,
            "items": {
                "enum": [
                    "planning",
                    "planningUpdate",
                    "tender",
                    "tenderAmendment",
                    "tenderUpdate",
                    "tenderCancellation",
                    "award",
                    "awardUpdate",
                    "awardCancellation",
                    "contract",
                    "contractUpdate",
                    "contractAmendment",
                    "implementation",
                    "implementationUpdate",
                    "contractTermination",
                    "compiled",
                ]
            },
        },
        "initiationType": {"enum": ["tender"]},
        "language": {"type": "string"},
        "buyer": _ORG_REF,
        "parties": {
            "type": "array",
            "uniqueItems": True,
            "items": {
                "type": "object",
                "required": ["id", "name", "roles"],
                "properties": {
                    "id": {"type": "string"},
                    "name": {"type": "string"},
                    "roles": {
                        "type": "array",
                        "items": {
                            "enum": [
                                "buyer",
                                "procuringEntity",
                                "supplier",
                                "tenderer",
                                "funder",
                                "enquirer",
                                "payer",
                                "payee",
                                "reviewBody",
                                "interestedParty",
                            ]
                        },
                    },
                    "address": {"type": "object", "properties": {"countryName": {"type": "string"}}},
                },
            },
        },
        "tender": {
            "type": "object",
            "required": ["id"],
            "properties": {
                "id": {"type": "string", "minLength": 1},
                "title": {"type": ["string", "null"]},
                "description": {"type": ["string", "null"]},
                "status": {
                    "enum": ["planning", "planned", "active", "cancelled", "unsuccessful", "complete", "withdrawn"]
                },
                "value": _VALUE,
                "tenderPeriod": {
                    "type": "object",
                    "properties": {"endDate": {"type": "string", "format": "date-time"}},
                },
                "datePublished": {"type": "string", "format": "date-time"},
                "classification": {"type": "object", "required": ["scheme", "id"]},
                "items": {
                    "type": "array",
                    "uniqueItems": True,
                    "items": {
                        "type": "object",
                        "required": ["id"],
                        "properties": {
                            "id": {"type": "string"},
                            "classification": {
                                "type": "object",
                                "required": ["scheme", "id"],
                                "properties": {"scheme": {"enum": ["CPV", "CPVS", "GSIN", "UNSPSC", "CPC", "OKDP"]}},
                            },
                        },
                    },
                },
                "documents": {"type": "array", "items": _DOCUMENT},
            },
        },
        "awards": {
            "type": "array",
            "uniqueItems": True,
            "items": {
                "type": "object",
                "required": ["id"],
                "properties": {
                    "id": {"type": "string", "minLength": 1},
                    "status": {"enum": ["pending", "active", "cancelled", "unsuccessful"]},
                    "value": _VALUE,
                    "suppliers": {"type": "array", "items": _ORG_REF},
                    "relatedLots": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
    },
}
SCHEMA = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "type": "object",
    "required": ["uri", "publisher", "publishedDate", "releases", "version"],
    "properties": {
        "uri": {"type": "string", "format": "uri"},
        "version": {"type": "string", "pattern": r"^(\d+\.)(\d+)$"},
        "publishedDate": {"type": "string", "format": "date-time"},
        "publisher": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}},
        "releases": {"type": "array", "minItems": 1, "items": RELEASE},
    },
}


def notice(source_id: str, **values: Any) -> Notice:
    base: dict[str, Any] = {
        "source": "ted",
        "source_id": source_id,
        "title": "Cryogenic transfer lines",
        "notice_type": "contract_notice",
        "status": "open",
        "procedure_key": "ted:proc-7",
        "buyer": "CERN – Organisation européenne",
        "buyer_country": "CH",
        "published_on": date(2026, 11, 2),
        "deadline": datetime(2026, 12, 15, 12, 0, tzinfo=UTC),
        "cpv_codes": ["42512000", "39717000"],
        "estimated_value": 1_200_000.0,
        "currency": "CHF",
        "url": "https://ted.europa.eu/en/notice/-/detail/700001-2026",
        "documents": [{"url": "https://example.org/spec.pdf", "title": "Specification"}],
    }
    base.update(values)
    return Notice(**base)


@pytest.fixture
def engine(db_url: str) -> Engine:
    engine = open_database(db_url)
    steps = [
        [notice("690000-2026", notice_type="prior_information", status="planned", deadline=None)],
        [notice("700001-2026")],
        [
            notice(
                "710000-2026",
                title="Corrigendum",
                notice_type="corrigendum",
                amends="700001-2026",
                deadline=datetime(2027, 1, 10, 12, 0, tzinfo=UTC),
            )
        ],
        [
            notice(
                "720000-2026",
                title="Award",
                notice_type="contract_award",
                status="awarded",
                references=["700001-2026"],
                deadline=None,
                awards=[
                    {
                        "winner": "Cryo Systems B.V.",
                        "winner_country": "NL",
                        "value": 990000,
                        "currency": "CHF",
                        "lot": "1",
                    },
                    {"winner": "Kälte AG", "winner_country": "DE", "value": 150000.5, "currency": "CHF", "lot": "2"},
                ],
            ),
            notice("730000-2026", procedure_key="ted:proc-8", title="Helium recovery"),
        ],
        [notice("739000-2026", procedure_key="ted:proc-8", notice_type="cancellation", amends="730000-2026")],
    ]
    for day, batch in enumerate(steps):
        with session_scope(engine) as session:
            NoticeStore(session, NOW + timedelta(days=day), classify=None, match=False).save_many(batch)
    return engine


def exported(engine: Engine) -> dict[str, Any]:
    stream = io.StringIO()
    with session_scope(engine) as session:
        count = export(session, select_notices(NoticeFilter(), NOW), stream, now=NOW + timedelta(days=9))
    package: dict[str, Any] = json.loads(stream.getvalue())
    assert count == len(package["releases"])
    return package


def test_the_package_is_valid_ocds(engine: Engine) -> None:
    package = exported(engine)
    checker = jsonschema.Draft4Validator.FORMAT_CHECKER
    # Without rfc3339-validator and rfc3987 installed, jsonschema silently skips these formats.
    assert {"date-time", "uri"} <= set(checker.checkers)
    validator = jsonschema.Draft4Validator(SCHEMA, format_checker=checker)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(package)]
    assert errors == []
    assert package["version"] == "1.1"
    # The validator does catch what is wrong: a date without a zone, a missing tender id.
    package["releases"][0]["date"] = "2026-11-27T12:00:00"
    del package["releases"][1]["tender"]["id"]
    assert len(list(validator.iter_errors(package))) == 2


def test_one_release_per_version_with_the_procedure_as_ocid(engine: Engine) -> None:
    releases = exported(engine)["releases"]
    by_id = {r["id"]: r for r in releases}
    # The call: created, then amended by the corrigendum, then marked awarded by the award.
    assert [k for k in by_id if k.startswith("ted-700001-2026-")] == [
        "ted-700001-2026-v1",
        "ted-700001-2026-v2",
        "ted-700001-2026-v3",
    ]
    first, amended, awarded = (by_id[f"ted-700001-2026-v{n}"] for n in (1, 2, 3))
    assert first["tag"] == ["tender"] and first["date"] == "2026-11-28T12:00:00Z"
    assert first["tender"]["tenderPeriod"]["endDate"] == "2026-12-15T12:00:00Z"  # as first published
    assert amended["tender"]["tenderPeriod"]["endDate"] == "2027-01-10T12:00:00Z"  # the corrigendum's date
    assert amended["tag"] == ["tenderUpdate"] and awarded["tender"]["status"] == "complete"
    assert {
        r["ocid"]
        for r in releases
        if r["id"].split("-v")[0] in {"ted-690000-2026", "ted-700001-2026", "ted-710000-2026", "ted-720000-2026"}
    } == {f"{OCID_PREFIX_PLACEHOLDER}-ted:proc-7"}
    tags = {r["id"]: r["tag"][0] for r in releases if r["id"].endswith("-v1")}
    assert tags == {
        "ted-690000-2026-v1": "planning",
        "ted-700001-2026-v1": "tender",
        "ted-710000-2026-v1": "tenderAmendment",
        "ted-720000-2026-v1": "award",
        "ted-730000-2026-v1": "tender",
        "ted-739000-2026-v1": "tenderCancellation",
    }
    # The cancelled call's later version says so.
    assert by_id["ted-730000-2026-v2"]["tag"] == ["tenderCancellation"]
    assert by_id["ted-730000-2026-v2"]["tender"]["status"] == "cancelled"


def test_parties_buyer_and_award_suppliers(engine: Engine) -> None:
    award = next(r for r in exported(engine)["releases"] if r["id"] == "ted-720000-2026-v1")
    parties = {p["id"]: p for p in award["parties"]}
    assert award["buyer"] == {"id": "buyer-cern-organisation-europeenne", "name": "CERN – Organisation européenne"}
    assert parties[award["buyer"]["id"]]["roles"] == ["buyer"]
    suppliers = [s for a in award["awards"] for s in a["suppliers"]]
    assert [s["name"] for s in suppliers] == ["Cryo Systems B.V.", "Kälte AG"]
    assert all(parties[s["id"]]["roles"] == ["supplier"] for s in suppliers)
    assert parties["supplier-kalte-ag"]["address"] == {"countryName": "DE"}
    assert award["awards"][1] == {
        "id": "720000-2026-award-2",
        "status": "active",
        "suppliers": [{"id": "supplier-kalte-ag", "name": "Kälte AG"}],
        "value": {"amount": 150000.5, "currency": "CHF"},
        "relatedLots": ["2"],
    }
    assert [i["classification"]["id"] for i in award["tender"]["items"]] == ["42512000", "39717000"]


class _Version:
    def __init__(self, version: int, changes: dict[str, Any]) -> None:
        self.version, self.changes, self.kind = version, changes, "updated"
        self.recorded_at = NOW


def test_states_are_rebuilt_backwards_from_the_changes() -> None:
    current = {"title": "C", "deadline": "2027-01-01T00:00:00+00:00", "status": "open"}
    versions = [_Version(1, {}), _Version(2, {"title": ["A", "B"]}), _Version(3, {"title": ["B", "C"]})]
    assert [s["title"] for s in version_states(current, versions)] == ["A", "B", "C"]


def _export_formats() -> list[str]:
    notices = main.commands["notices"]
    assert isinstance(notices, click.Group)
    option = next(p for p in notices.commands["export"].params if p.name == "fmt")
    assert isinstance(option.type, click.Choice)
    return [str(choice) for choice in option.type.choices]


@pytest.mark.skipif("ocds" not in _export_formats(), reason="`notices export --format ocds` is not wired yet")
def test_the_cli_writes_the_package(engine: Engine, db_url: str, tmp_path: Path) -> None:
    target = tmp_path / "ocds.json"
    result = CliRunner().invoke(
        main, ["notices", "export", "--format", "ocds", "--output", str(target), "--db", db_url], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    package = json.loads(target.read_text(encoding="utf-8"))
    assert len(package["releases"]) == 9 and "9 OCDS release(s) exported" in result.stderr
