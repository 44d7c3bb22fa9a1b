"""The README's main job, `ilo-monitor demo`, end to end on the project's own fixtures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from email import message_from_bytes, policy
from pathlib import Path

from monitor.contract import EXPORT_KEYS, from_record, validate
from monitor.demo import recorded_sources


def test_demo_crawls_every_recording_and_writes_exports_and_digests(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    env = {"ILO_MONITOR_OUTBOX_DIR": str(tmp_path / "not-used"), "ILO_MONITOR_SMTP_HOST": "smtp.invalid"}
    result = subprocess.run(
        [sys.executable, "-m", "monitor.cli", "demo", "--no-real-data", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**_environment(tmp_path), **env},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for source in recorded_sources():
        assert f"Crawling {source} " in result.stdout
    assert "unrecorded request" not in result.stdout and "error:" not in result.stdout
    records = [json.loads(line) for line in (out / "notices.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(records) > 20
    for record in records:
        assert list(record) == list(EXPORT_KEYS)
        assert validate(from_record(record)) == []
    assert (out / "matches.jsonl").read_text(encoding="utf-8").strip()
    # Digests go to the demo's own outbox as files, even with SMTP configured in the environment.
    messages = sorted((out / "outbox").glob("*.eml"))
    assert messages and not (tmp_path / "not-used").exists()
    parsed = [message_from_bytes(p.read_bytes(), policy=policy.default) for p in messages]
    assert any(m["To"] == "ilo-net@example.nl" for m in parsed)
    assert all(m["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click" for m in parsed)
    assert list((out / "ilo").glob("ilo-digest-*.html")) and list((out / "ilo").glob("ilo-digest-*.csv"))
    assert f"database:  {out / 'ilo-monitor.sqlite'}" in result.stdout


def _environment(tmp_path: Path) -> dict[str, str]:
    # A private data folder: the demo must not depend on (or write) the user's own files.
    return {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data"), "ILO_MONITOR_DB": ""}
