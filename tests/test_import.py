"""`import` over files, folders, packages and JSON, with hostile input mixed in: the rest still lands."""

from __future__ import annotations

import base64
import io
import json
import shutil
import subprocess
import sys
import tarfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import new_database_url
from realdata import require_real_data
from sqlalchemy import Engine, func, select

from monitor.cli import main
from monitor.db import open_database, session_scope
from monitor.importer import ImportSummary, import_paths
from monitor.models import NoticeRow
from monitor.settings import PROJECT_ROOT

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
NOTICES = PROJECT_ROOT / "tests" / "fixtures" / "notices"
HOSTILE = PROJECT_ROOT / "tests" / "fixtures" / "hostile"
CHECK_EXPORT = PROJECT_ROOT.parent / "shared" / "tools" / "check_export.py"


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return open_database(new_database_url(tmp_path, "import"))


def count(engine: Engine) -> int:
    with session_scope(engine) as session:
        return session.scalar(select(func.count(NoticeRow.id))) or 0


def reasons(summary: ImportSummary) -> dict[str, str]:
    return {
        Path(r.origin.split(":")[-1]).name if ":" in r.origin else Path(r.origin).name: r.reason
        for r in summary.rejected
    }


def test_folder_import_is_recursive_and_hostile_files_are_rejected_by_name(engine: Engine, tmp_path: Path) -> None:
    folder = tmp_path / "inbox"
    shutil.copytree(NOTICES, folder / "good")
    shutil.copytree(HOSTILE, folder / "nested" / "hostile")
    summary = import_paths(engine, [folder], now=NOW)
    good = len(list(NOTICES.glob("*.xml")))
    assert summary.new == good
    assert count(engine) == good
    rejected = reasons(summary)
    # Every hostile file but the well-formed UTF-16 notice is refused, each with its reason.
    hostile = {p.name for p in HOSTILE.glob("*.xml")} - {"utf16_notice.xml"}
    assert hostile <= set(rejected)
    assert "DTD" in rejected["billion_laughs.xml"] and "DTD" in rejected["xxe.xml"]
    assert "malformed XML" in rejected["truncated.xml"]
    assert "empty" in rejected["empty.xml"]
    assert all(str(folder) in r.origin for r in summary.rejected)
    # The README in the fixture folder is not a notice file and is skipped, not rejected.
    assert "README.md" not in rejected


def test_reimport_is_unchanged(engine: Engine) -> None:
    first = import_paths(engine, [NOTICES], now=NOW)
    second = import_paths(engine, [NOTICES], now=NOW)
    assert second.new == 0 and second.changed == 0 and second.unchanged == first.new


def make_package(path: Path, members: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


def test_ted_daily_package_with_a_broken_member(engine: Engine, tmp_path: Path) -> None:
    members = {f"20261127/{p.name}": p.read_bytes() for p in sorted(NOTICES.glob("*.xml"))}
    members["20261127/broken.xml"] = (HOSTILE / "truncated.xml").read_bytes()
    package = tmp_path / "20261127_2026227.tar.gz"
    make_package(package, members)
    summary = import_paths(engine, [package], now=NOW)
    assert summary.new == len(members) - 1
    assert [r.origin for r in summary.rejected] == [f"{package}:20261127/broken.xml"]


def test_truncated_package_keeps_what_was_read(engine: Engine, tmp_path: Path) -> None:
    members = {f"d/{i:03d}-{p.name}": p.read_bytes() for i, p in enumerate(sorted(NOTICES.glob("*.xml")))}
    package = tmp_path / "whole.tar.gz"
    make_package(package, members)
    cut = tmp_path / "cut.tar.gz"
    data = package.read_bytes()
    cut.write_bytes(data[: len(data) * 2 // 3])
    summary = import_paths(engine, [cut], now=NOW)
    assert 0 < summary.new < len(members)
    assert len(summary.rejected) == 1
    assert summary.rejected[0].origin == str(cut) and "damaged" in summary.rejected[0].reason


def test_ted_api_json_with_base64_content_and_v3_links_only(engine: Engine, tmp_path: Path) -> None:
    xml = (NOTICES / "tedxml_f02_f4e.xml").read_bytes()
    legacy = tmp_path / "legacy.json"
    legacy.write_text(json.dumps({"ND": "301234-2022", "content": base64.b64encode(xml).decode()}))
    v3 = tmp_path / "v3.json"
    v3.write_text(
        json.dumps(
            {
                "notices": [{"publication-number": "1-2026", "links": {}}],
                "totalNoticeCount": 1,
                "iterationNextToken": None,
            }
        )
    )
    bad = tmp_path / "bad64.json"
    bad.write_text(json.dumps({"ND": "2-2026", "content": "not base64!"}))
    summary = import_paths(engine, [legacy, v3, bad], now=NOW)
    assert summary.new == 1
    messages = {Path(r.origin.split(" ")[0]).name: r.reason for r in summary.rejected}
    assert "no notice content, only links" in messages["v3.json"]
    assert "not base64" in messages["bad64.json"]


def test_json_in_a_wrong_encoding_is_rejected(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "latin1.json"
    path.write_bytes(json.dumps({"title": "Vakuumkammer für Strahlführung"}, ensure_ascii=False).encode("latin-1"))
    summary = import_paths(engine, [path], now=NOW)
    assert summary.new == 0
    assert "not UTF-8" in summary.rejected[0].reason


def test_cli_import_names_every_rejected_file(tmp_path: Path) -> None:
    db = new_database_url(tmp_path, "cli")
    result = CliRunner().invoke(main, ["import", str(NOTICES), str(HOSTILE), "--db", db])
    assert result.exit_code == 0, result.output
    assert "rejected" in result.stdout
    assert f"rejected {HOSTILE / 'xxe.xml'}:" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.real_data
def test_every_valid_file_in_shared_data_imports(tmp_path: Path) -> None:
    shared = require_real_data()
    db = new_database_url(tmp_path, "real")
    engine = open_database(db)
    summary = import_paths(engine, [shared], now=NOW)
    rejected = {r.origin: r.reason for r in summary.rejected}
    # Only the intentionally invalid SDK examples and the v3 search response (links, no content) are refused.
    for origin in rejected:
        assert "INVALID_" in origin or "ted_api_v3_search_response" in origin, (origin, rejected[origin])
    assert sum("INVALID_" in o for o in rejected) == 2
    assert summary.stored > 3800
    # The whole store exports within the contract, as the shared checker sees it.
    export = CliRunner().invoke(main, ["notices", "export", "--db", db])
    assert export.exit_code == 0
    if CHECK_EXPORT.exists():
        checked = subprocess.run(
            [sys.executable, str(CHECK_EXPORT)], input=export.stdout, capture_output=True, text=True, check=False
        )
        assert checked.returncode == 0, checked.stdout[-3000:]
    with session_scope(engine) as session:
        f4e = session.scalar(select(NoticeRow).where(NoticeRow.source_id == "89010-2021"))
        assert f4e is not None and f4e.organisation == "f4e"
