"""The CLI end to end on a real SQLite file: manual import, list, show, export, the contract checker."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import new_database_url

from monitor.cli import main
from monitor.contract import EXPORT_KEYS, from_record, validate
from monitor.settings import PROJECT_ROOT

CHECK_EXPORT = PROJECT_ROOT.parent / "shared" / "tools" / "check_export.py"

MANUAL = [
    {
        "title": "CERN price enquiry: 40 CF-flanged gate valves DN63",
        "organisation": "cern",
        "buyer": "CERN",
        "buyer_country": "CH",
        "notice_type": "price_enquiry",
        "deadline": "2026-12-18T17:00:00+01:00",
        "estimated_value": 120000,
        "currency": "CHF",
        "language": "en",
        "url": "https://procurement.example.org/pe-123",
        "documents": [{"url": "javascript:alert(1)", "title": "bad"}, {"url": "https://example.org/a.pdf"}],
    },
    {
        "source": "manual",
        "source_id": "eso-2026-17",
        "title": "ESO: advance notice, M1 segment cleaning units",
    },
]


def run(*args: str, db: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [*args, "--db", db], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def db(tmp_path: Path) -> str:
    return new_database_url(tmp_path, "cli")


@pytest.fixture
def manual_file(tmp_path: Path) -> Path:
    path = tmp_path / "mail.jsonl"
    lines = [json.dumps(record) for record in MANUAL]
    lines.insert(1, '{"description": "no title here"}')
    lines.insert(2, "{not json")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_manual_import_reports_each_bad_line_and_keeps_the_rest(db: str, manual_file: Path) -> None:
    code, out, err = run("import", "--quiet", str(manual_file), db=db)
    assert code == 0
    assert "2 new, 0 changed, 0 unchanged, 2 rejected" in out
    assert f"rejected {manual_file} line 2: title: is required" in err
    assert f"rejected {manual_file} line 3: not JSON" in err
    code, out, _ = run("import", "--quiet", str(manual_file), db=db)
    assert "0 new, 0 changed, 2 unchanged, 2 rejected" in out


def test_export_meets_the_contract(db: str, manual_file: Path) -> None:
    run("import", "--quiet", str(manual_file), db=db)
    code, out, err = run("notices", "export", "--format", "jsonl", db=db)
    assert code == 0 and "2 notice(s) exported" in err
    records = [json.loads(line) for line in out.splitlines()]
    assert [list(r) for r in records] == [list(EXPORT_KEYS)] * 2
    cern = next(r for r in records if r["organisation"] == "cern")
    assert cern["source"] == "manual" and len(cern["source_id"]) == 16  # stable content hash
    assert cern["deadline"] == "2026-12-18T16:00:00+00:00"
    assert cern["documents"] == [{"url": "https://example.org/a.pdf", "title": None}]  # javascript: dropped
    for record in records:
        assert validate(from_record(record)) == []
    if CHECK_EXPORT.exists():  # the shared contract checker, when ../shared is beside the checkout
        checked = subprocess.run(
            [sys.executable, str(CHECK_EXPORT)], input=out, capture_output=True, text=True, check=False
        )
        assert checked.returncode == 0, checked.stdout
        assert "2 notices, 0 with contract violations" in checked.stdout


def test_export_csv_and_to_a_file(db: str, manual_file: Path, tmp_path: Path) -> None:
    run("import", "--quiet", str(manual_file), db=db)
    target = tmp_path / "out.csv"
    code, _, err = run(
        "notices", "export", "--format", "csv", "--output", str(target), "--organisation", "cern", db=db
    )
    assert code == 0 and f"1 notice(s) exported to {target}" in err
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert len(rows) == 1
    assert rows[0]["title"].startswith("CERN price enquiry")
    assert rows[0]["documents"] == "https://example.org/a.pdf"


def test_list_filters_and_show_history(db: str, manual_file: Path, tmp_path: Path) -> None:
    run("import", "--quiet", str(manual_file), db=db)
    code, out, _ = run("notices", "list", "--text", "gate valves", db=db)
    assert code == 0 and "CERN price enquiry" in out and "ESO" not in out
    code, out, _ = run("notices", "list", "--type", "price_enquiry", "--organisation", "eso", db=db)
    assert "CERN" not in out
    changed = dict(MANUAL[1], title="ESO: advance notice, M1 segment cleaning units (revised)")
    update = tmp_path / "update.json"
    update.write_text(json.dumps(changed), encoding="utf-8")
    code, out, _ = run("import", "--quiet", str(update), db=db)
    assert "0 new, 1 changed" in out
    code, out, _ = run("notices", "show", "manual/eso-2026-17", db=db)
    assert code == 0
    assert "v2" in out and "updated" in out
    assert "title: ESO: advance notice, M1 segment cleaning units -> ESO: advance notice" in out


def test_unknown_notice_and_bad_database_url_are_one_clear_line(db: str) -> None:
    code, _, err = run("notices", "show", "ted/1-2000", db=db)
    assert code == 1 and "no notice 'ted/1-2000'" in err
    result = CliRunner().invoke(main, ["notices", "list", "--db", "nosuchdriver://x"])
    assert result.exit_code == 1
    assert "cannot use database URL 'nosuchdriver://x'" in result.stderr
    assert "Traceback" not in result.output


def test_missing_path_is_rejected_by_name(db: str, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.xml"
    code, _, err = run("import", "--quiet", str(missing), db=db)
    assert code == 1
    assert f"rejected {missing}: no such file or folder" in err
