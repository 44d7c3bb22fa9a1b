"""The database side of matching: stored matches kept in step with stored notices and profiles.

- `match_notices(session, rows, now)`: after notices were stored or changed, match them against
  every active profile; creates, updates or removes `Match` rows (a notice that no longer
  matches a profile loses that match);
- `match_profiles(session, profiles, now)`: after profiles were created or edited, match them
  against every stored notice, likewise;
- `record_feedback(...)` and `is_suppressed(...)`: a company or ILO judges a notice; the latest
  judgement "not relevant" keeps that notice from ever being alerted to the company again;
- `preview(...)`: what a company's profiles would match over recent notices, writing nothing.

Functions take the `session` and `now` they need and never commit: the caller owns the
transaction, so a notice batch and its matches are stored together or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, cast

from sqlalchemy import ColumnElement, Select, Table, bindparam, delete, insert, or_, select, update
from sqlalchemy.orm import Session, selectinload

from monitor.matching.matcher import Matcher, MatchResult, ProfileSpec, compile_profiles
from monitor.matching.models import Company, CompanyDecision, Feedback, Match, Profile
from monitor.models import NoticeRow

_BATCH = 500  # notices per query and per IN list (far below any backend's parameter limit)
_WRITE_BATCH = 5000  # new matches per bulk INSERT (memory stays flat however many match)


@dataclass
class MatchSummary:
    created: int = 0
    updated: int = 0
    removed: int = 0

    def __str__(self) -> str:
        return f"{self.created} new match(es), {self.updated} updated, {self.removed} removed"

    def __iadd__(self, other: MatchSummary) -> MatchSummary:
        self.created += other.created
        self.updated += other.updated
        self.removed += other.removed
        return self


def spec_of(profile: Profile) -> ProfileSpec:
    """The matcher's view of a stored profile (keyed by its database id)."""
    return ProfileSpec(
        key=profile.id,
        company=profile.company_id,
        name=profile.name,
        areas=tuple(profile.areas or ()),
        cpv_prefixes=tuple(profile.cpv_prefixes or ()),
        keywords=tuple(profile.keywords or ()),
        organisations=tuple(profile.organisations or ()),
        notice_types=tuple(profile.notice_types or ()),
        languages=tuple(profile.languages or ()),
        min_value=profile.min_value,
        max_value=profile.max_value,
    )


def active_matcher(session: Session) -> Matcher:
    """Every active profile, compiled."""
    profiles = session.scalars(select(Profile).where(Profile.active.is_(True)).order_by(Profile.id))
    return compile_profiles(spec_of(p) for p in profiles)


def _chunks(rows: Sequence[NoticeRow]) -> Iterator[Sequence[NoticeRow]]:
    for start in range(0, len(rows), _BATCH):
        yield rows[start : start + _BATCH]


# The matches table for Core statements (bulk writes without ORM objects, see `_sync`).
_MATCHES: Final = cast(Table, Match.__table__)
# A stored match as `_sync` compares it: (id, score, reasons).
_Stored = tuple[int, float, list[Any]]


def _stored(session: Session, condition: ColumnElement[bool]) -> dict[tuple[int, int], _Stored]:
    """The stored matches under `condition`, keyed (profile id, notice id); plain rows, no objects."""
    query = select(Match.id, Match.profile_id, Match.notice_id, Match.score, Match.reasons).where(condition)
    return {(p, n): (i, s, r) for i, p, n, s, r in session.execute(query)}


def _sync(
    session: Session,
    existing: dict[tuple[int, int], _Stored],
    found: Iterable[tuple[int, MatchResult]],
    now: datetime,
    summary: MatchSummary,
) -> None:
    """Insert or update a match for each (notice id, result); pops each from `existing` (left: to remove).

    Written as bulk Core statements, not ORM objects: a day of notices against thousands of
    profiles is a hundred thousand matches, and building, tracking and flushing an object for
    each took four fifths of the time (most of all on PostgreSQL). No `Match` object is loaded
    or created here; any a caller loaded before is expired when its row is updated or deleted.
    """
    table = _MATCHES
    created: list[dict[str, Any]] = []
    updated: list[dict[str, Any]] = []
    for notice_id, result in found:
        assert isinstance(result.key, int)
        stored = existing.pop((result.key, notice_id), None)
        if stored is None:
            created.append(
                {
                    "profile_id": result.key,
                    "notice_id": notice_id,
                    "score": result.score,
                    "reasons": result.reasons,
                    "first_matched_at": now,
                    "updated_at": now,
                }
            )
        elif stored[1] != result.score or stored[2] != result.reasons:
            updated.append({"match_id": stored[0], "score": result.score, "reasons": result.reasons, "updated_at": now})
        if len(created) >= _WRITE_BATCH:
            session.execute(insert(table), created)
            summary.created += len(created)
            created.clear()
    if created:
        session.execute(insert(table), created)
        summary.created += len(created)
    if updated:
        _expire_loaded_matches(session)
        statement = (
            update(table)
            .where(table.c.id == bindparam("match_id"))
            .values(score=bindparam("score"), reasons=bindparam("reasons"), updated_at=bindparam("updated_at"))
        )
        session.execute(statement, updated)
        summary.updated += len(updated)


def _expire_loaded_matches(session: Session) -> None:
    """Expire `Match` objects a caller loaded earlier in this session: Core updates bypass them."""
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Match):
            session.expire(obj)


def _remove(session: Session, existing: dict[tuple[int, int], _Stored], summary: MatchSummary) -> None:
    """Delete the stored matches left in `existing` (they no longer match)."""
    ids = [stored[0] for stored in existing.values()]
    if ids:
        _expire_loaded_matches(session)
    for start in range(0, len(ids), _BATCH):
        session.execute(delete(_MATCHES).where(_MATCHES.c.id.in_(ids[start : start + _BATCH])))
    summary.removed += len(ids)


def match_notices(
    session: Session, rows: Sequence[NoticeRow], now: datetime, matcher: Matcher | None = None
) -> MatchSummary:
    """Match stored (new or changed) notices against every active profile and store the result."""
    summary = MatchSummary()
    if not rows:
        return summary
    session.flush()  # new rows need their ids
    matcher = matcher if matcher is not None else active_matcher(session)
    for chunk in _chunks(rows):
        ids = [row.id for row in chunk]
        existing = _stored(session, Match.notice_id.in_(ids))
        found = ((row.id, result) for row in chunk for result in matcher.match(row.to_notice()))
        _sync(session, existing, found, now, summary)
        _remove(session, existing, summary)
        # An ILO's decisions (a company added to or removed from a notice) outlast recomputation.
        apply_decisions(session, ids, now)
    return summary


def match_profiles(session: Session, profiles: Sequence[Profile], now: datetime) -> MatchSummary:
    """Match new or edited profiles against every stored notice and store the result.

    An inactive profile loses all its matches; it gets them back when it is made active again.
    """
    summary = MatchSummary()
    if not profiles:
        return summary
    session.flush()
    ids = [p.id for p in profiles]
    existing = _stored(session, Match.profile_id.in_(ids))
    active = [p for p in profiles if p.active]
    if active:
        matcher = compile_profiles(spec_of(p) for p in active)
        query = select(NoticeRow).order_by(NoticeRow.id).execution_options(yield_per=_BATCH)
        found = ((row.id, result) for row in session.scalars(query) for result in matcher.match(row.to_notice()))
        _sync(session, existing, found, now, summary)
    _remove(session, existing, summary)
    companies = {p.company_id for p in profiles}
    decided = select(CompanyDecision.notice_id).where(CompanyDecision.company_id.in_(companies))
    apply_decisions(session, list(session.scalars(decided)), now)
    return summary


# -- feedback ------------------------------------------------------------------------------------


def record_feedback(
    session: Session,
    company: Company,
    notice: NoticeRow,
    *,
    relevant: bool,
    now: datetime,
    by: str | None = None,
    note: str | None = None,
) -> Feedback:
    """Keep one judgement (all are kept, for tuning; the latest one counts for alerts)."""
    feedback = Feedback(company_id=company.id, notice_id=notice.id, relevant=relevant, by=by, note=note, created_at=now)
    session.add(feedback)
    session.flush()
    return feedback


def suppressed_notices(session: Session, company_id: str) -> set[int]:
    """Ids of the notices whose latest feedback for `company_id` is "not relevant"."""
    latest: dict[int, bool] = {}
    query = select(Feedback).where(Feedback.company_id == company_id).order_by(Feedback.created_at, Feedback.id)
    for feedback in session.scalars(query):
        latest[feedback.notice_id] = feedback.relevant
    return {notice_id for notice_id, relevant in latest.items() if not relevant}


def is_suppressed(session: Session, company_id: str, notice_id: int) -> bool:
    """Whether `notice_id` must never be alerted to `company_id` (latest feedback: not relevant)."""
    latest = session.scalar(
        select(Feedback.relevant)
        .where(Feedback.company_id == company_id, Feedback.notice_id == notice_id)
        .order_by(Feedback.created_at.desc(), Feedback.id.desc())
        .limit(1)
    )
    return latest is False


# -- reading -------------------------------------------------------------------------------------


def find_company(session: Session, company_id: str) -> Company | None:
    return session.scalar(
        select(Company)
        .where(Company.id == company_id)
        .options(selectinload(Company.profiles), selectinload(Company.recipients))
    )


def preview(
    session: Session, company: Company, now: datetime, days: int = 90, profile: str | None = None
) -> list[tuple[NoticeRow, MatchResult]]:
    """What the company's profiles (active or not) would match among notices of the last `days`.

    Computed in memory: nothing is written, so an ILO can tune a profile before it goes live.
    """
    specs = [spec_of(p) for p in company.profiles if profile is None or p.name == profile]
    matcher = compile_profiles(specs)
    since = now - timedelta(days=days)
    query = (
        select(NoticeRow)
        .where(
            or_(
                NoticeRow.published_on >= since.date(),
                NoticeRow.published_on.is_(None) & (NoticeRow.first_seen_at >= since),
            )
        )
        .order_by(NoticeRow.published_on.desc().nulls_last(), NoticeRow.id.desc())
        .execution_options(yield_per=_BATCH)
    )
    return [(row, result) for row in session.scalars(query) for result in matcher.match(row.to_notice())]


def match_query(company_id: str | None = None) -> Select[Match, Profile, NoticeRow]:
    """Stored matches with their profile and notice, by company, best first."""
    query = (
        select(Match, Profile, NoticeRow)
        .join(Profile, Match.profile_id == Profile.id)
        .join(NoticeRow, Match.notice_id == NoticeRow.id)
    )
    if company_id:
        query = query.where(Profile.company_id == company_id)
    return query.order_by(
        Profile.company_id, Match.score.desc(), NoticeRow.published_on.desc().nulls_last(), NoticeRow.id
    )


def match_records(session: Session, company_id: str | None = None) -> Iterator[dict[str, Any]]:
    """The `matches export` records: {company, profile, source, source_id, score, reasons}."""
    for match, profile, notice in session.execute(match_query(company_id).execution_options(yield_per=500)):
        yield {
            "company": profile.company_id,
            "profile": profile.name,
            "source": notice.source,
            "source_id": notice.source_id,
            "score": match.score,
            "reasons": list(match.reasons),
        }


def apply_decisions(session: Session, notice_ids: Iterable[int], now: datetime) -> None:
    """Bring the matches of these notices in line with the ILOs' decisions (idempotent)."""
    ids = list(notice_ids)
    if not ids:
        return
    session.flush()
    decisions = session.scalars(select(CompanyDecision).where(CompanyDecision.notice_id.in_(ids))).all()
    for decision in decisions:
        profiles = session.scalars(
            select(Profile).where(Profile.company_id == decision.company_id).order_by(Profile.id)
        ).all()
        profile_ids = [p.id for p in profiles]
        if decision.decision == "removed":
            session.execute(
                delete(Match).where(Match.notice_id == decision.notice_id, Match.profile_id.in_(profile_ids))
            )
            continue
        if session.scalar(
            select(Match.id).where(Match.notice_id == decision.notice_id, Match.profile_id.in_(profile_ids))
        ):
            continue  # matched anyway (by the matcher or an earlier application)
        target = next((p for p in profiles if p.active), None)
        if target is not None:
            session.add(
                Match(
                    profile_id=target.id,
                    notice_id=decision.notice_id,
                    score=1.0,
                    reasons=[f"added by ILO {decision.by}"],
                    first_matched_at=now,
                    updated_at=now,
                )
            )
    session.flush()
