"""Manual intake: forwarded mails and YAML notices become notices; add, edit and withdraw keep history."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from conftest import new_database_url
from sqlalchemy import Engine

from monitor.commandline import ErrorGroup
from monitor.db import open_database, session_scope
from monitor.importer import import_paths
from monitor.intake import notice_from_email, strip_subject
from monitor.intake_cli import add, edit, withdraw
from monitor.settings import PROJECT_ROOT
from monitor.store import find_notice

INTAKE = PROJECT_ROOT / "tests" / "fixtures" / "intake"
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def mail(name: str):  # type: ignore[no-untyped-def]
    return notice_from_email((INTAKE / name).read_bytes(), name)


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Fwd: TR: Doorst: Price enquiry", "Price enquiry"),
        ("WG: AW: Re: x", "x"),
        ("Forward planning", "Forward planning"),
    ],
)
def test_forward_prefixes_are_stripped(subject: str, expected: str) -> None:
    assert strip_subject(subject) == expected


def test_a_cern_price_enquiry_forwarded_in_dutch() -> None:
    notice = mail("cern-price-enquiry-nl.eml")
    assert notice.source == "manual" and notice.source_id.startswith("mail-")
    assert notice.title == "CERN price enquiry PE-4788/TE - 40 CF-flanged gate valves DN63"
    assert (notice.notice_type, notice.organisation, notice.procedure_key) == ("price_enquiry", "cern", "cern:4788/TE")
    # "uiterlijk op 18 december 2026 om 17:00 uur", read in CERN's zone.
    assert notice.deadline == datetime(2026, 12, 18, 16, 0, tzinfo=UTC)
    assert notice.language == "nl" and notice.published_on == date(2026, 11, 23)


def test_an_eso_call_with_a_pdf_attachment_lists_it_in_the_description() -> None:
    notice = mail("eso-imminent-call.eml")
    assert notice.organisation == "eso" and notice.documents == []
    assert notice.description is not None
    assert notice.description.endswith("Attachments of the original mail (not stored): ESO-CFT-26-1750-summary.pdf")
    assert notice.deadline == datetime(2027, 1, 15, 11, 0, tzinfo=UTC)


def test_hostile_html_gives_text_only() -> None:
    notice = mail("html-only-hostile.eml")
    text = notice.description or ""
    for bad in ("document.cookie", "alert(", "evil.example", "tracker.example", "javascript:", "color: red"):
        assert bad not in text
    assert "Fusion for Energy lance un appel d'offres" in text
    assert notice.procedure_key == "f4e:F4E-OMF-1350" and notice.organisation == "f4e"
    assert notice.deadline == datetime(2027, 2, 12, 11, 0, tzinfo=UTC)  # "12 février 2027 à 12h00", Madrid
    assert notice.url is None


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return open_database(new_database_url(tmp_path, "intake"))


def test_import_reads_mails_and_yaml_and_is_idempotent(engine: Engine, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("- title: ok notice\n- {deadline: '2026-12-01'}\n")
    summary = import_paths(engine, [INTAKE, bad], now=NOW)
    assert (summary.new, len(summary.rejected)) == (5, 1)
    assert "title: is required" in summary.rejected[0].reason and "bad.yaml [1]" in summary.rejected[0].origin
    again = import_paths(engine, [INTAKE], now=NOW)
    assert (again.new, again.unchanged) == (0, 4)
    with session_scope(engine) as session:
        row = find_notice(session, "manual/mail-4e62b80c563d3a90")
        assert row is not None and row.notice_type == "price_enquiry"


def cli() -> click.Group:
    group = ErrorGroup("notices")
    for command in (add, edit, withdraw):
        group.add_command(command)
    return group


def test_add_edit_withdraw_keep_history(engine: Engine, tmp_path: Path) -> None:
    db = ["--db", str(engine.url)]
    runner = CliRunner()
    added = runner.invoke(
        cli(),
        [
            "add",
            "--title",
            "ESO imminent call: dome motors",
            "--organisation",
            "eso",
            "--notice-type",
            "prior_information",
            "--deadline",
            "2027-01-20T12:00:00+01:00",
            "--cpv-codes",
            "31100000",
            *db,
        ],
    )
    assert added.exit_code == 0, added.output
    ref = added.output.split()[0]
    assert ref.startswith("manual/")
    edited = runner.invoke(cli(), ["edit", ref, "--deadline", "2027-01-27T12:00:00+01:00", "--by", "ilo-nl", *db])
    assert edited.exit_code == 0 and "changed" in edited.output, edited.output
    gone = runner.invoke(cli(), ["withdraw", ref, "--reason", "ESO cancelled it", "--by", "ilo-nl", *db])
    assert gone.exit_code == 0, gone.output
    with session_scope(engine) as session:
        row = find_notice(session, ref)
        assert row is not None and row.status == "cancelled"
        kinds = [(v.kind, v.cause, sorted(v.changes)) for v in row.versions]
    assert kinds == [
        ("created", None, []),
        ("updated", "ilo-nl", ["deadline"]),
        ("updated", "ilo-nl: ESO cancelled it", ["status"]),
    ]


def test_bad_input_is_refused_with_the_field(engine: Engine) -> None:
    runner = CliRunner()
    db = ["--db", str(engine.url)]
    result = runner.invoke(cli(), ["add", "--title", "x", "--deadline", "2027-01-20 12:00", *db])
    assert result.exit_code != 0 and "deadline" in result.output
    assert runner.invoke(cli(), ["add", *db]).exit_code != 0  # no title
    # Interactive: a bad date is asked again.
    answers = "Pumps\n\n\n\n\n\n\n\n\n2026-12-01\n2026-12-01T12:00:00+01:00\n\n\n\n\n"
    result = runner.invoke(cli(), ["add", "--interactive", *db], input=answers)
    assert result.exit_code == 0, result.output
    assert "has no UTC offset" in result.output


def test_only_manual_notices_can_be_edited(engine: Engine) -> None:
    import_paths(engine, [PROJECT_ROOT / "tests" / "fixtures" / "notices" / "tedxml_f02_f4e.xml"], now=NOW)
    result = CliRunner().invoke(
        cli(), ["edit", "ted/301234-2022", "--title", "x", "--by", "me", "--db", str(engine.url)]
    )
    assert result.exit_code == 1 and "only manual notices" in result.output
