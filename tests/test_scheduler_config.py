"""The schedule file: the shipped one loads, every mistake is refused with file, line and reason."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.crawl.sources import SourceConfig, load_sources, parse_sources
from monitor.errors import ConfigurationError
from monitor.scheduling.cli import serve
from monitor.scheduling.config import SCHEDULE_PATH, load_schedule, parse_schedule

SOURCES = {"ted": SourceConfig(name="ted"), "tenderned": SourceConfig(name="tenderned"),
           "off": SourceConfig(name="off", enabled=False)}  # fmt: skip


def test_the_shipped_schedule_covers_every_enabled_source(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ILO_MONITOR_OPERATOR_EMAILS", raising=False)
    schedule = load_schedule(SCHEDULE_PATH)
    enabled = {name for name, source in load_sources().items() if source.enabled}
    assert {c.source for c in schedule.crawls} == enabled
    assert schedule.timezone == "Europe/Amsterdam"
    assert schedule.ilo_digest is not None and schedule.ilo_digest.expression == "0 8 * * mon"
    ids = [spec.id for spec in schedule.jobs("sqlite:///x")]
    assert len(ids) == len(set(ids))  # ids derived from the configuration, one per job
    assert {"digests", "catch-up", "ilo-digest", "health"} <= set(ids)


def test_defaults_disabled_sources_and_the_operator_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ILO_MONITOR_OPERATOR_EMAILS", "a@example.org, b@example.org")
    schedule = parse_schedule("crawls:\n  ted: {cron: '0 9 * * mon-fri'}\n", tmp_path / "s.yaml", SOURCES)
    assert [(c.source, c.cron.expression, c.timeout) for c in schedule.crawls] == [
        ("ted", "0 9 * * mon-fri", 3600),
        ("tenderned", "0 6,18 * * *", 3600),  # crawl_defaults; `off` is disabled: no job
    ]
    assert schedule.operator_emails == ("a@example.org", "b@example.org")


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ("crawls:\n  ted:\n    cron: '0 9 * *'\n", ":3: crawls.ted.cron: '0 9 * *' must have 5 fields"),
        ("crawls:\n  ted:\n    cron: '0 9 * * 1'\n", ":3: crawls.ted.cron: day of week '1': write day names"),
        ("crawls:\n  ted:\n    cron: '0 25 * * *'\n", ":3: crawls.ted.cron: '0 25 * * *': "),
        ("crawls:\n  cern:\n    cron: '0 9 * * *'\n", ":2: crawls.cern: is not a source of monitor/sources.yaml"),
        ("crawls:\n  ted:\n    jitter: -5\n", ":3: crawls.ted.jitter: must be a whole number >= 0"),
        ("crawls:\n  ted:\n    cadence: daily\n", ":3: crawls.ted.cadence: is not a setting here"),
        ("timezone: Europe/Amsterdm\n", ":1: timezone: 'Europe/Amsterdm' is not an IANA time zone"),
        ("misfire_grace_time: 10\n", ":1: misfire_grace_time: must be a whole number >= 60"),
        ("digests:\n  every_minutes: 0\n", ":2: digests.every_minutes: must be a whole number >= 1"),
        ("operators:\n  emails: [ops@]\n", ":2: operators.emails: 'ops@' is not an email address"),
        ("ilo_digest:\n  when: monday\n", ":2: ilo_digest.when: is not a setting here"),
        ("health: {}\n", ":1: health: needs a `cron` expression"),
        ("crawls:\n  ted: {cron: '0 9 * * *'\n", ": not valid YAML"),
    ],
)
def test_a_broken_schedule_is_refused_with_file_line_and_reason(body: str, where: str, tmp_path: Path) -> None:
    path = tmp_path / "schedule.yaml"
    with pytest.raises(ConfigurationError) as caught:
        parse_schedule(body, path, SOURCES)
    assert str(caught.value).startswith(str(path))
    assert where in str(caught.value)


def test_serve_refuses_a_broken_schedule_before_starting(tmp_path: Path) -> None:
    path = tmp_path / "schedule.yaml"
    path.write_text("timezone: Europe/Amsterdam\ncrawls:\n  ted:\n    cron: '61 * * * *'\n")
    result = CliRunner().invoke(serve, ["--schedule", str(path), "--db", f"sqlite:///{tmp_path / 'x.sqlite'}"])
    assert result.exit_code == 1
    assert f"{path}:4: crawls.ted.cron:" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "x.sqlite").exists()  # refused before touching the database


def test_a_cadence_in_sources_yaml_is_refused_with_a_pointer(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"ted.schedule: crawl cadences live in monitor/schedule.yaml"):
        parse_sources("ted:\n  schedule: '0 9 * * *'\n", tmp_path / "sources.yaml")


def test_the_ilo_digest_is_due_from_its_configured_monday_time_for_the_week_before() -> None:
    from datetime import UTC, datetime

    from alerts.schedule import Week
    from monitor.scheduling.config import Cron
    from monitor.scheduling.jobs import ilo_week_due

    cron = Cron("0 8 * * mon", "Europe/Amsterdam")
    assert ilo_week_due(cron, datetime(2026, 11, 30, 6, 59, tzinfo=UTC)) is None  # 07:59 in Amsterdam
    assert ilo_week_due(cron, datetime(2026, 11, 30, 7, 0, tzinfo=UTC)) == Week(2026, 48)
    assert ilo_week_due(cron, datetime(2026, 12, 6, 22, 0, tzinfo=UTC)) == Week(2026, 48)  # Sunday: still that one
    # Summer time: 08:00 in Amsterdam is 06:00 UTC.
    assert ilo_week_due(cron, datetime(2026, 3, 30, 6, 0, tzinfo=UTC)) == Week(2026, 13)
