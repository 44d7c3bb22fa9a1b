"""Storage with history on a real SQLite file: outcomes, versions, procedures and amendments."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from conftest import new_database_url
from sqlalchemy import Engine, select

from monitor.contract import Notice
from monitor.db import open_database, session_scope
from monitor.models import NoticeRow
from monitor.store import NoticeFilter, NoticeStore, effective_status, iter_records, procedure_of

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
CET = timezone(timedelta(hours=1))


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return open_database(new_database_url(tmp_path, "store"))


def call(**overrides: object) -> Notice:
    values: dict[str, object] = {
        "source": "ted",
        "source_id": "100-2026",
        "title": "Supply of cryogenic transfer lines",
        "notice_type": "contract_notice",
        "status": "open",
        "procedure_key": "ted:proc-1",
        "published_on": date(2026, 11, 2),
        "deadline": datetime(2026, 12, 15, 12, 0, tzinfo=CET),
        "cpv_codes": ["42512000"],
        "documents": [{"url": "https://example.org/spec.pdf", "title": "Specification"}],
    }
    values.update(overrides)
    return Notice(**values)  # type: ignore[arg-type]


def corrigendum(source_id: str, published: date, deadline: datetime, **overrides: object) -> Notice:
    return call(
        source_id=source_id,
        title="Corrigendum: cryogenic transfer lines",
        notice_type="corrigendum",
        amends="100-2026",
        published_on=published,
        deadline=deadline,
        documents=[{"url": f"https://example.org/{source_id}.pdf", "title": "Clarifications"}],
        **overrides,
    )


def save(engine: Engine, *notices: Notice, now: datetime = NOW) -> list[str]:
    with session_scope(engine) as session:
        return list(NoticeStore(session, now).save_many(list(notices)))


def stored(engine: Engine, source_id: str) -> NoticeRow:
    with session_scope(engine) as session:
        row = session.scalar(select(NoticeRow).where(NoticeRow.source_id == source_id))
        assert row is not None
        _ = row.versions  # load while the session is open
        return row


def test_new_then_identical_is_unchanged_and_writes_nothing(engine: Engine) -> None:
    assert save(engine, call()) == ["new"]
    assert save(engine, call(), now=NOW + timedelta(days=1)) == ["unchanged"]
    row = stored(engine, "100-2026")
    assert [v.kind for v in row.versions] == ["created"]
    assert row.last_changed_at == NOW


def test_changed_content_keeps_a_version_with_old_and_new(engine: Engine) -> None:
    save(engine, call())
    later = NOW + timedelta(hours=5)
    assert save(engine, call(title="Supply of cryogenic transfer lines (lot 2)"), now=later) == ["changed"]
    row = stored(engine, "100-2026")
    assert row.title.endswith("(lot 2)")
    assert row.last_changed_at == later
    assert row.versions[-1].kind == "updated"
    assert row.versions[-1].changes == {
        "title": ["Supply of cryogenic transfer lines", "Supply of cryogenic transfer lines (lot 2)"]
    }


def test_datetimes_come_back_aware_in_utc_on_sqlite(engine: Engine) -> None:
    save(engine, call())
    row = stored(engine, "100-2026")
    assert row.deadline == datetime(2026, 12, 15, 11, 0, tzinfo=UTC)
    assert row.deadline is not None and row.deadline.tzinfo is not None
    assert row.first_seen_at.utcoffset() == timedelta(0)


@pytest.mark.parametrize("order", ["original first", "corrigendum first"])
def test_corrigendum_extends_deadline_and_adds_documents_in_either_order(engine: Engine, order: str) -> None:
    extended = datetime(2027, 1, 10, 12, 0, tzinfo=CET)
    notices = [call(), corrigendum("101-2026", date(2026, 11, 20), extended)]
    if order == "corrigendum first":
        notices.reverse()
    for notice in notices:
        save(engine, notice)
    row = stored(engine, "100-2026")
    assert row.deadline == extended
    assert [d["url"] for d in row.documents] == [
        "https://example.org/spec.pdf",
        "https://example.org/101-2026.pdf",
    ]
    amended = row.versions[-1]
    assert amended.kind == "amended" and amended.cause == "ted/101-2026"
    assert amended.changes["deadline"] == ["2026-12-15T11:00:00+00:00", "2027-01-10T11:00:00+00:00"]


def test_reimporting_the_original_after_a_corrigendum_keeps_the_amendment(engine: Engine) -> None:
    extended = datetime(2027, 1, 10, 12, 0, tzinfo=CET)
    save(engine, call(), corrigendum("101-2026", date(2026, 11, 20), extended))
    assert save(engine, call(), corrigendum("101-2026", date(2026, 11, 20), extended)) == ["unchanged"] * 2
    row = stored(engine, "100-2026")
    assert row.deadline == extended
    assert [v.kind for v in row.versions] == ["created", "amended"]


def test_an_older_corrigendum_read_late_does_not_roll_the_deadline_back(engine: Engine) -> None:
    first = datetime(2027, 1, 10, 12, 0, tzinfo=CET)
    second = datetime(2027, 2, 1, 12, 0, tzinfo=CET)
    save(engine, call())
    save(engine, corrigendum("102-2026", date(2026, 12, 1), second))
    save(engine, corrigendum("101-2026", date(2026, 11, 20), first))
    row = stored(engine, "100-2026")
    assert row.deadline == second
    # The older corrigendum still adds its document.
    assert "https://example.org/101-2026.pdf" in [d["url"] for d in row.documents]


def test_award_and_cancellation_change_the_call_they_close(engine: Engine) -> None:
    award = call(
        source_id="200-2027",
        title="Award: cryogenic transfer lines",
        notice_type="contract_award",
        status="awarded",
        procedure_key="ted:proc-1",
        published_on=date(2027, 3, 1),
        deadline=None,
        documents=[],
        awards=[{"winner": "Cryo BV", "winner_country": "NL", "value": 1_200_000.0, "currency": "EUR"}],
    )
    save(engine, call(), award)
    row = stored(engine, "100-2026")
    assert row.status == "awarded"
    assert row.awards[0]["winner"] == "Cryo BV"
    other = call(source_id="300-2026", procedure_key="ted:proc-3")
    cancel = call(
        source_id="301-2026",
        notice_type="cancellation",
        status="cancelled",
        procedure_key="ted:proc-3",
        title="Cancellation",
        published_on=date(2026, 12, 1),
    )
    save(engine, cancel, other)
    assert stored(engine, "300-2026").status == "cancelled"


def test_referencing_notice_adopts_the_procedure_of_the_notice_it_names(engine: Engine) -> None:
    pin = call(source_id="50-2026", notice_type="prior_information", status="planned", procedure_key="ted:50-2026")
    cn = call(source_id="100-2026", procedure_key="ted:100-2026", references=["50-2026"])
    save(engine, pin)
    save(engine, cn)
    with session_scope(engine) as session:
        row = session.scalar(select(NoticeRow).where(NoticeRow.source_id == "100-2026"))
        assert row is not None
        assert row.procedure_key == "ted:50-2026"
        assert [r.source_id for r in procedure_of(session, row)] == ["50-2026", "100-2026"]
    # Reading the same notice again does not undo the adopted key.
    assert save(engine, cn) == ["unchanged"]


def test_duplicates_in_one_batch_are_one_notice(engine: Engine) -> None:
    assert save(engine, call(), call()) == ["new", "unchanged"]


def test_open_call_past_its_deadline_reads_as_closed(engine: Engine) -> None:
    save(engine, call())
    row = stored(engine, "100-2026")
    assert effective_status(row, NOW) == "open"
    assert effective_status(row, datetime(2026, 12, 16, tzinfo=UTC)) == "closed"
    with session_scope(engine) as session:
        assert list(iter_records(session, NoticeFilter(open_only=True), datetime(2026, 12, 16, tzinfo=UTC))) == []
        records = list(iter_records(session, NoticeFilter(), datetime(2026, 12, 16, tzinfo=UTC)))
        assert records[0]["status"] == "closed"


def test_an_award_read_before_a_corrigendum_does_not_block_its_deadline(engine: Engine) -> None:
    extended = datetime(2027, 1, 10, 12, 0, tzinfo=CET)
    award = call(
        source_id="200-2027",
        title="Award",
        notice_type="contract_award",
        status="awarded",
        published_on=date(2027, 3, 1),
        deadline=None,
        documents=[],
        awards=[{"winner": "Cryo BV"}],
    )
    save(engine, call(), award)
    save(engine, corrigendum("101-2026", date(2026, 11, 20), extended))
    row = stored(engine, "100-2026")
    assert row.deadline == extended and row.status == "awarded"


@pytest.mark.parametrize("order", ["call first", "award first", "portal first"])
def test_a_procedure_known_by_a_reference_and_by_a_folder_id_is_one(engine: Engine, order: str) -> None:
    # An eForms call keyed by the buyer's reference, with TED's folder id as an alias; its award
    # carries only the folder id; the buyer's portal knows only the reference.
    eforms_call = call(procedure_key="f4e:F4E-OMF-1", procedure_aliases=["ted:folder-1"])
    award = call(
        source_id="200-2027",
        title="Award",
        notice_type="contract_award",
        status="awarded",
        procedure_key="ted:folder-1",
        published_on=date(2027, 3, 1),
        deadline=None,
        documents=[],
    )
    portal = call(source="f4e", source_id="F4E-OMF-1", procedure_key="f4e:F4E-OMF-1")
    notices = {
        "call first": [eforms_call, award, portal],
        "award first": [award, eforms_call, portal],
        "portal first": [portal, award, eforms_call],
    }[order]
    for notice in notices:
        save(engine, notice)
    with session_scope(engine) as session:
        keys = {r.source_id: r.procedure_key for r in session.scalars(select(NoticeRow))}
    assert len(set(keys.values())) == 1, keys
