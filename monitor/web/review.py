"""What the ILO review pages do to the database: areas, companies per notice, notes, approval.

Every function takes the `session` and `now` it needs and never commits (the page does, once,
after everything was checked), so invalid input leaves nothing half-saved.

Companies per notice. The matcher owns the `matches` table: it recomputes a notice's matches
whenever the notice or a profile changes. An ILO's decision is therefore kept apart
(`CompanyDecision`) and applied again with `apply_decisions` after every change made here and
right before the ILO digest is sent:

- *removed*: "not relevant" feedback for the company (`record_feedback`: never alerted to it
  again, and kept for tuning), and the company's matches of the notice are deleted;
- *added*: a manual `Match` on the company's first active profile, reason "added by ILO <name>".

Approval. The digest of an ISO week can be approved once the week has ended; approving records
a `DigestApproval` and sends the digest at once (`alerts.outbox.plan_ilo` + `alerts.send.deliver`,
keyed by the week in the outbox, so the scheduler's Monday job can never send it twice).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Final

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from alerts.schedule import Week, local
from monitor.contract import AREA_IDS
from monitor.matching.models import Company, CompanyDecision
from monitor.matching.service import apply_decisions, record_feedback
from monitor.models import NoticeRow
from monitor.store import NoticeStore
from monitor.web.models import DigestApproval, NoticeNote

MAX_NOTE: Final = 4000


class ReviewError(ValueError):
    """Input of a review form that cannot be saved; `field` names the form field it belongs to."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


# -- weeks -----------------------------------------------------------------------------------------


def coming_week(session: Session, now: datetime) -> Week:
    """The digest an ILO reviews next: last week's until it is approved, then this week's."""
    this_week = Week.of(local(now).date())
    previous = this_week.previous()
    return this_week if approval(session, previous) is not None else previous


def approval(session: Session, week: Week) -> DigestApproval | None:
    return session.get(DigestApproval, str(week))


def is_approved(session: Session, week: Week) -> bool:
    """Whether an ILO approved the digest of `week` (the scheduler's hook, see the README)."""
    return approval(session, week) is not None


# -- areas -----------------------------------------------------------------------------------------


def parse_areas(text: str) -> list[str]:
    """Area ids from a form field ("cryogenics, vacuum" or one per line); `ReviewError` if unknown."""
    areas: list[str] = []
    for part in text.replace(",", " ").split():
        area = part.strip().lower()
        if area not in AREA_IDS:
            raise ReviewError("areas", f"unknown area {part!r}; known areas: {', '.join(AREA_IDS)}")
        if area not in areas:
            areas.append(area)
    if not areas:
        raise ReviewError("areas", "give at least one area (general_other when none fits)")
    return areas


def set_areas(session: Session, row: NoticeRow, wanted: list[str], by: str, now: datetime) -> bool:
    """Make the notice's areas exactly `wanted`, as ILO corrections the classifier will respect.

    The corrections are computed against what the classifier says now *and* what the notice
    shows, so that the result is `wanted` even when the model would answer differently today.
    The notice is matched again (areas change matches) and the ILO's company decisions re-applied.
    """
    store = NoticeStore(session, now)
    current = [a["id"] for a in row.technology_areas or []]
    if current == wanted:
        return False
    fresh = [a["id"] for a in store.classify(row.to_notice())] if store.classify else []
    corrections = [f"+{a}" for a in wanted] + [f"-{a}" for a in dict.fromkeys([*fresh, *current]) if a not in wanted]
    store.correct_areas(row, corrections, by)
    store.rematch([row])
    apply_decisions(session, [row.id], now)
    return True


# -- companies per notice --------------------------------------------------------------------------


def _decide(session: Session, company: Company, row: NoticeRow, decision: str, by: str, now: datetime) -> None:
    existing = session.scalar(
        select(CompanyDecision).where(CompanyDecision.company_id == company.id, CompanyDecision.notice_id == row.id)
    )
    if existing is None:
        session.add(CompanyDecision(company_id=company.id, notice_id=row.id, decision=decision, by=by, created_at=now))
    else:
        existing.decision, existing.by, existing.created_at = decision, by, now
    session.flush()


def remove_company(session: Session, company: Company, row: NoticeRow, by: str, now: datetime) -> None:
    """The company is not relevant for this notice: never alerted, gone from the ILO digest."""
    record_feedback(session, company, row, relevant=False, now=now, by=f"ILO {by}", note="removed in the ILO review")
    _decide(session, company, row, "removed", by, now)
    apply_decisions(session, [row.id], now)


def add_company(session: Session, company: Company, row: NoticeRow, by: str, now: datetime) -> None:
    """The company should see this notice although its profiles do not match it."""
    if not any(p.active for p in company.profiles):
        raise ReviewError("company", f"{company.name} has no active profile to add the notice to")
    record_feedback(session, company, row, relevant=True, now=now, by=f"ILO {by}", note="added in the ILO review")
    _decide(session, company, row, "added", by, now)
    apply_decisions(session, [row.id], now)


def decisions_of(session: Session, notice_id: int) -> dict[str, CompanyDecision]:
    query = select(CompanyDecision).where(CompanyDecision.notice_id == notice_id)
    return {d.company_id: d for d in session.scalars(query)}


# -- notes -----------------------------------------------------------------------------------------


def add_note(session: Session, row: NoticeRow, text: str, author: str, now: datetime) -> NoticeNote:
    cleaned = text.strip()
    if not cleaned:
        raise ReviewError("note", "the note is empty")
    if len(cleaned) > MAX_NOTE:
        raise ReviewError("note", f"a note has at most {MAX_NOTE} characters ({len(cleaned)} given)")
    note = NoticeNote(notice_id=row.id, author=author, text=cleaned, created_at=now)
    session.add(note)
    session.flush()
    return note


def notes_of(session: Session, notice_ids: Iterable[int]) -> dict[int, list[NoticeNote]]:
    ids = list(notice_ids)
    found: dict[int, list[NoticeNote]] = {i: [] for i in ids}
    if ids:
        query = select(NoticeNote).where(NoticeNote.notice_id.in_(ids)).order_by(NoticeNote.created_at, NoticeNote.id)
        for note in session.scalars(query):
            found[note.notice_id].append(note)
    return found


# -- approval --------------------------------------------------------------------------------------


def approve_and_send(engine: Engine, session: Session, week: Week, by: str, now: datetime) -> str:
    """Record the approval of `week`'s digest and send it to the ILO list; returns what happened.

    `ReviewError` (nothing recorded) when the week has not ended yet, was approved already, or
    there is no ILO list. The approval is committed before sending, so a failing SMTP server
    leaves an approved digest whose pending rows the next `digest send` delivers.
    """
    from alerts.outbox import Mailer, plan_ilo
    from alerts.send import RateLimit, deliver, transport_for

    if week.end > now:
        raise ReviewError("week", f"the week {week} has not ended yet: its digest can be approved from Monday")
    if approval(session, week) is not None:
        raise ReviewError("week", f"the digest of {week} is already approved")
    mailer = Mailer.from_environment()
    if not mailer.settings.ilo_emails:
        raise ReviewError("week", "ILO_MONITOR_ILO_EMAILS is empty: there is no ILO list to send the digest to")
    apply_decisions(session, _week_notice_ids(session, week), now)
    record = DigestApproval(week=str(week), approved_by=by, approved_at=now)
    session.add(record)
    session.commit()
    planned = plan_ilo(engine, week, now, mailer)
    settings = mailer.settings
    delivered = deliver(engine, transport_for(settings), now, mailer.sender, rate=RateLimit(settings.rate), kind="ilo")
    record.result = f"{planned}; {delivered}"
    session.commit()
    return record.result


def _week_notice_ids(session: Session, week: Week) -> list[int]:
    from monitor.models import NoticeVersion

    new = select(NoticeRow.id).where(NoticeRow.first_seen_at >= week.start, NoticeRow.first_seen_at < week.end)
    changed = select(NoticeVersion.notice_id).where(
        NoticeVersion.recorded_at >= week.start, NoticeVersion.recorded_at < week.end
    )
    return sorted({*session.scalars(new), *session.scalars(changed)})
