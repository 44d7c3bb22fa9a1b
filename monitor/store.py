"""Storing notices with their history, and reading them back.

`NoticeStore.save_many()` is the one way notices enter the database, used by `import`, the
Scrapy store pipeline and manual intake alike:

- the natural key is (source, source_id); a notice seen again with the same content is
  `unchanged` and touches nothing;
- a notice whose source now says something else is `changed`, and a `NoticeVersion` keeps each
  changed field as [old, new];
- notices of one procurement share a `procedure_key`; a notice that references or amends a
  stored one adopts that notice's key;
- a corrigendum or change notice amends the notice it corrects (deadline, value, documents), a
  cancellation cancels it and an award marks it awarded. This is recorded as an `amended`
  version whose `cause` names the amending notice, and it works in either arrival order: an
  amendment stored before its target is applied when the target arrives.

What the source itself last said is kept apart (`NoticeRow.source_record`), so re-importing an
original notice after its corrigendum neither reverts the amendment nor counts as a change.

Notices are classified when stored (and again when their text changes): `technology_areas` is
the classifier's answer with the ILO's corrections (`area_corrections`) applied on top, and
`classifier_version` says which classifier gave it. Areas a source or a manual file states are
not kept: areas are derived data, and an ILO corrects them with `notices tag`.

Every new, changed or amended notice is then matched against the active company profiles
(`monitor.matching.service.match_notices`), in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, update
from sqlalchemy.orm import Session

from monitor import classifier
from monitor.contract import Notice
from monitor.matching import service as matching
from monitor.models import CONTENT_FIELDS, NoticeRow, NoticeVersion, ProcedureAlias

SaveOutcome = Literal["new", "changed", "unchanged"]
Classifier = Callable[[Notice], list[dict[str, Any]]]

# Notice types that change another notice of their procedure rather than stand alone.
AMENDING_TYPES = frozenset({"corrigendum", "cancellation", "contract_award"})
# Fields whose change is worth reclassifying for.
_TEXT_FIELDS = frozenset({"title", "description", "cpv_codes", "organisation", "language", "buyer"})
_BATCH_QUERY = 500  # SQLite allows 32766 bound parameters; stay far below for tuple IN lists.


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        # Same instant, same text: a deadline read as +01:00 equals the stored UTC one.
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def _without_nul(value: Any) -> Any:
    # PostgreSQL text cannot hold NUL (SQLite can); it is never meaningful in a notice and
    # rendering drops it anyway, so it is removed before storing, on every backend alike.
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    return value


def storable(notice: Notice) -> Notice:
    """`notice` without NUL characters in its text (the same object when it has none)."""
    changed = {}
    for spec in fields(notice):
        value = getattr(notice, spec.name)
        clean = _without_nul(value)
        if clean != value:
            changed[spec.name] = clean
    return replace(notice, **changed) if changed else notice


def source_record(notice: Notice) -> dict[str, Any]:
    """What the source said about `notice`, as JSON-ready values of `CONTENT_FIELDS`."""
    return {name: _jsonable(getattr(notice, name)) for name in CONTENT_FIELDS}


def effective_status(row: NoticeRow | Notice, now: datetime) -> str:
    """The status a reader should see at `now`: an open call whose deadline passed is closed."""
    if row.status == "open" and row.deadline is not None and row.deadline <= now:
        return "closed"
    return row.status


@dataclass
class NoticeStore:
    """Saves notices through one session; the caller commits (or rolls back) the batch."""

    session: Session
    now: datetime
    classify: Classifier | None = classifier.classify
    classifier_version: str | None = classifier.CLASSIFIER_VERSION
    match: bool = True
    matcher: matching.Matcher | None = None
    matches: matching.MatchSummary = field(default_factory=matching.MatchSummary)
    _amended: list[NoticeRow] = field(default_factory=list, init=False)
    # Per batch (`_load_procedures`): alias → procedure key, and procedure keys already stored.
    _aliases: dict[str, str] = field(default_factory=dict, init=False)
    _procedures: set[str] = field(default_factory=set, init=False)

    def save(self, notice: Notice) -> SaveOutcome:
        return self.save_many([notice])[0]

    def save_many(self, notices: Sequence[Notice]) -> list[SaveOutcome]:
        """Insert or update each notice; returns each one's outcome in order."""
        notices = [storable(notice) for notice in notices]
        existing = self._load({(n.source, n.source_id) for n in notices})
        referenced = self._load_referenced(notices, existing)
        self._load_procedures([n for n in notices if (n.source, n.source_id) not in existing])
        outcomes: list[SaveOutcome] = []
        touched: list[NoticeRow] = []
        for notice in notices:
            key = (notice.source, notice.source_id)
            row = existing.get(key)
            if row is None:
                row = self._insert(notice, referenced)
                existing[key] = row
                referenced.setdefault(key, row)
                outcomes.append("new")
                touched.append(row)
            else:
                outcome = self._update(row, notice)
                outcomes.append(outcome)
                if outcome == "changed":
                    touched.append(row)
        if touched:
            self.session.flush()
            self._link(touched)
            self.rematch([*touched, *self._amended])
            self._amended.clear()
        return outcomes

    def rematch(self, rows: Sequence[NoticeRow]) -> None:
        """Match new or changed notices against every active profile (unless `match` is off)."""
        if not self.match or not rows:
            return
        if self.matcher is None:
            # Compiled once per store; a crawl passes one compiled at its start.
            self.matcher = matching.active_matcher(self.session)
        if not self.matcher.profiles:
            # No active profile: nothing can match, and a profile leaves no matches behind when
            # it is switched off. Skipping saves tokenising every notice of a bulk import.
            return
        unique = list({id(row): row for row in rows}.values())
        self.matches += matching.match_notices(self.session, unique, self.now, matcher=self.matcher)

    # -- loading -------------------------------------------------------------------------------

    def _load(self, keys: set[tuple[str, str]]) -> dict[tuple[str, str], NoticeRow]:
        found: dict[tuple[str, str], NoticeRow] = {}
        # One `source = ? AND source_id IN (...)` per source, not a row-value IN over both
        # columns: SQLite (3.40) answers the latter with a scan of the whole notices table, which
        # made each batch of a bulk import slower as the table grew.
        for source, ids in _by_source(sorted(keys)).items():
            for start in range(0, len(ids), _BATCH_QUERY):
                chunk = ids[start : start + _BATCH_QUERY]
                query = select(NoticeRow).where(NoticeRow.source == source, NoticeRow.source_id.in_(chunk))
                for row in self.session.scalars(query):
                    found[(row.source, row.source_id)] = row
        return found

    def _load_referenced(
        self, notices: Sequence[Notice], existing: dict[tuple[str, str], NoticeRow]
    ) -> dict[tuple[str, str], NoticeRow]:
        wanted = {(n.source, ref) for n in notices for ref in [n.amends, *n.references] if ref is not None} - set(
            existing
        )
        found = dict(existing)
        found.update(self._load(wanted))
        return found

    # -- insert and update ---------------------------------------------------------------------

    def _classify(self, row: NoticeRow, notice: Notice) -> None:
        """Set the row's areas from the classifier, with the ILO's corrections winning."""
        if self.classify is None:  # tests of storage alone, and the benchmark's bare baseline
            row.technology_areas = list(notice.technology_areas)
            return
        areas = self.classify(notice)
        for area in areas:
            area.setdefault("version", self.classifier_version)
        if row.area_corrections:
            areas = classifier.apply_corrections(areas, list(row.area_corrections))
        row.technology_areas = areas
        row.classifier_version = self.classifier_version

    def reclassify(self, row: NoticeRow) -> bool:
        """Classify a stored notice again (new model or taxonomy); True when its areas changed."""
        before = row.technology_areas
        self._classify(row, row.to_notice())
        return bool(_area_ids(before) != _area_ids(row.technology_areas))

    def correct_areas(self, row: NoticeRow, corrections: list[str], by: str) -> dict[str, list[Any]]:
        """Record an ILO's corrections ("+vacuum", "-general_other") and re-derive the areas.

        Corrections accumulate (a later "+x" undoes an earlier "-x") and are kept with the
        notice, so they win over every later classification. Returns the change recorded.
        """
        added, removed = classifier.parse_corrections([*row.area_corrections, *corrections])
        before = _area_ids(row.technology_areas)
        row.area_corrections = [f"+{a}" for a in added] + [f"-{a}" for a in removed]
        self._classify(row, row.to_notice())
        changes = {"technology_areas": [before, _area_ids(row.technology_areas)]}
        self._add_version(row, "corrected", changes, cause=by)
        return changes

    def _insert(self, notice: Notice, referenced: dict[tuple[str, str], NoticeRow]) -> NoticeRow:
        # Adopt the procedure of the notice this one amends or references, so that PIN → notice →
        # corrigendum → award group under one key whatever key each source computed.
        for ref in [notice.amends, *notice.references]:
            target = referenced.get((notice.source, ref)) if ref else None
            if target is not None and target.procedure_key:
                notice.procedure_key = target.procedure_key
                break
        else:
            self._unify_procedure(notice)
        values = {name: getattr(notice, name) for name in CONTENT_FIELDS}
        row = NoticeRow(
            source=notice.source,
            source_id=notice.source_id,
            area_corrections=[],
            source_record=source_record(notice),
            first_seen_at=self.now,
            last_changed_at=self.now,
            **values,
        )
        self._classify(row, notice)
        row.versions.append(NoticeVersion(version=1, recorded_at=self.now, kind="created", changes={}))
        self.session.add(row)
        return row

    def _load_procedures(self, notices: Sequence[Notice]) -> None:
        """Which of the new notices' procedure keys and aliases are known already (two queries)."""
        candidates = sorted({c for n in notices for c in (n.procedure_key, *n.procedure_aliases) if c})
        self._aliases = {}
        self._procedures = set()
        for start in range(0, len(candidates), _BATCH_QUERY):
            chunk = candidates[start : start + _BATCH_QUERY]
            for alias in self.session.scalars(select(ProcedureAlias).where(ProcedureAlias.alias.in_(chunk))):
                self._aliases[alias.alias] = alias.procedure_key
            keys = select(NoticeRow.procedure_key).where(NoticeRow.procedure_key.in_(chunk)).distinct()
            self._procedures.update(k for k in self.session.scalars(keys) if k)

    def _unify_procedure(self, notice: Notice) -> None:
        """Join the procedure that any of the notice's keys already names, and record its aliases.

        A notice with aliases names its procedure by its own key (e.g. the buyer's reference) and
        maps the others to it; notices stored earlier under another of those keys are moved to it.
        A notice carrying any one of the keys (a portal's reference, TED's folder id) so joins the
        same procedure, whatever order they arrive in.
        """
        candidates = [c for c in dict.fromkeys([notice.procedure_key, *notice.procedure_aliases]) if c]
        # An established mapping wins; otherwise the notice's own key does (the buyer's reference
        # before TED's folder id), so the result does not depend on the order notices arrive in.
        known = next((self._aliases[c] for c in candidates if c in self._aliases), None)
        if known is not None:
            notice.procedure_key = known
        final = notice.procedure_key
        if not final:
            return
        self._procedures.add(final)
        if len(candidates) < 2:
            return
        for alias in candidates:
            if alias != final and alias in self._procedures and self._aliases.get(alias) != final:
                # Notices stored earlier under this other key (an award read before its call)
                # are the same procedure: move them, and the aliases that pointed at them.
                self.session.execute(
                    update(NoticeRow).where(NoticeRow.procedure_key == alias).values(procedure_key=final)
                )
                self.session.execute(
                    update(ProcedureAlias).where(ProcedureAlias.procedure_key == alias).values(procedure_key=final)
                )
                self._aliases = {a: (final if k == alias else k) for a, k in self._aliases.items()}
            if alias not in self._aliases:
                self.session.add(ProcedureAlias(alias=alias, procedure_key=final))
            self._aliases[alias] = final

    def _update(self, row: NoticeRow, notice: Notice) -> SaveOutcome:
        record = source_record(notice)
        if record == row.source_record:
            return "unchanged"
        before = row.source_record or {}
        changes: dict[str, list[Any]] = {}
        for name in CONTENT_FIELDS:
            if before.get(name) == record[name]:
                continue  # the source did not change this field: keep any amendment of it
            if name == "procedure_key" and row.procedure_key and before.get(name) is not None:
                continue  # the stored key may have been adopted from a linked notice; keep it
            old, new = getattr(row, name), getattr(notice, name)
            if _jsonable(old) != _jsonable(new):
                setattr(row, name, new)
                changes[name] = [_jsonable(old), _jsonable(new)]
        row.source_record = record
        if not changes:
            return "unchanged"
        if _TEXT_FIELDS & changes.keys():
            self._classify(row, row.to_notice())
        self._add_version(row, "updated", changes, cause=None)
        return "changed"

    def _add_version(self, row: NoticeRow, kind: str, changes: dict[str, list[Any]], cause: str | None) -> None:
        if row.id is None:
            number = len(row.versions) + 1
        else:
            last = self.session.scalar(select(func.max(NoticeVersion.version)).where(NoticeVersion.notice_id == row.id))
            number = max(last or 0, len(row.versions)) + 1
        row.versions.append(
            NoticeVersion(version=number, recorded_at=self.now, kind=kind, cause=cause, changes=changes)
        )
        row.last_changed_at = self.now

    # -- procedures and amendments -------------------------------------------------------------

    def _link(self, touched: list[NoticeRow]) -> None:
        amending: dict[int, NoticeRow] = {r.id: r for r in touched if _is_amending(r)}
        plain = [r for r in touched if not _is_amending(r)]
        # Amendments stored before the notice they amend: find them now that it is here.
        for start in range(0, len(plain), _BATCH_QUERY):
            chunk = plain[start : start + _BATCH_QUERY]
            keys = [r.procedure_key for r in chunk if r.procedure_key]
            # Per source, not a row-value IN over (source, amends): see `_load`.
            conditions: list[ColumnElement[bool]] = [
                and_(NoticeRow.source == source, NoticeRow.amends.in_(ids))
                for source, ids in _by_source((r.source, r.source_id) for r in chunk).items()
            ]
            if keys:
                conditions.append(and_(NoticeRow.procedure_key.in_(keys), NoticeRow.notice_type.in_(AMENDING_TYPES)))
            for row in self.session.scalars(select(NoticeRow).where(or_(*conditions))):
                amending.setdefault(row.id, row)
        ordered = sorted(amending.values(), key=lambda r: (r.published_on or date.min, r.id))
        targets = self._targets(ordered)
        for row in ordered:
            target = targets.get(row.id)
            if target is not None and target.id != row.id:
                self._apply(row, target)

    def _targets(self, amending: list[NoticeRow]) -> dict[int, NoticeRow]:
        """For each amending notice, the notice it changes: the one it names, else the latest call
        of its procedure. Looked up for the whole batch at once (awards are a third of TED)."""
        named = self._load({(r.source, r.amends) for r in amending if r.amends})
        keys = sorted({r.procedure_key for r in amending if r.procedure_key})
        latest: dict[str, NoticeRow] = {}
        for start in range(0, len(keys), _BATCH_QUERY):
            query = (
                select(NoticeRow)
                .where(
                    NoticeRow.procedure_key.in_(keys[start : start + _BATCH_QUERY]),
                    NoticeRow.notice_type.not_in(AMENDING_TYPES),
                )
                .order_by(NoticeRow.published_on.asc().nulls_first(), NoticeRow.id)
            )
            for row in self.session.scalars(query):
                assert row.procedure_key is not None
                latest[row.procedure_key] = row  # ascending order: the last one wins
        targets: dict[int, NoticeRow] = {}
        for row in amending:
            target = named.get((row.source, row.amends)) if row.amends else None
            if target is None and row.procedure_key:
                target = latest.get(row.procedure_key)
            if target is not None:
                targets[row.id] = target
        return targets

    def _apply(self, amending: NoticeRow, target: NoticeRow) -> None:
        cause = f"{amending.source}/{amending.source_id}"
        if amending.procedure_key != target.procedure_key and target.procedure_key:
            amending.procedure_key = target.procedure_key
        changes: dict[str, list[Any]] = {}

        def change(name: str, new: Any) -> None:
            old = getattr(target, name)
            if _jsonable(old) != _jsonable(new):
                setattr(target, name, new)
                changes[name] = [_jsonable(old), _jsonable(new)]

        if amending.notice_type == "cancellation":
            change("status", "cancelled")
        elif amending.notice_type == "contract_award":
            if target.status != "cancelled":
                change("status", "awarded")
            merged = list(target.awards or [])
            merged += [a for a in amending.awards or [] if a not in merged]
            change("awards", merged)
        else:
            # An older corrigendum read after a newer one must not roll the deadline back.
            if amending.deadline is not None and not self._superseded(amending, target):
                change("deadline", amending.deadline)
            if amending.estimated_value is not None:
                change("estimated_value", amending.estimated_value)
                if amending.currency:
                    change("currency", amending.currency)
            documents = list(target.documents or [])
            known = {d.get("url") for d in documents}
            documents += [d for d in amending.documents or [] if d.get("url") not in known]
            change("documents", documents)
        if changes:
            self._add_version(target, "amended", changes, cause=cause)
            self._amended.append(target)

    def _superseded(self, amending: NoticeRow, target: NoticeRow) -> bool:
        """Whether an amendment published after `amending` already set the target's deadline."""
        versions = self.session.execute(
            select(NoticeVersion.cause, NoticeVersion.changes).where(
                NoticeVersion.notice_id == target.id, NoticeVersion.kind == "amended"
            )
        ).all()
        # Only amendments that set the deadline count: an award read earlier changed the status.
        source_ids = [
            cause.split("/", 1)[1]
            for cause, changes in versions
            if cause and cause.startswith(amending.source + "/") and "deadline" in (changes or {})
        ]
        if not source_ids or amending.published_on is None:
            return False
        latest = self.session.scalar(
            select(func.max(NoticeRow.published_on)).where(
                NoticeRow.source == amending.source, NoticeRow.source_id.in_(source_ids)
            )
        )
        return latest is not None and latest > amending.published_on


def _area_ids(areas: list[dict[str, Any]] | None) -> list[str]:
    return [a["id"] for a in areas or []]


def _by_source(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """(source, id) pairs grouped as source -> ids, in the order given."""
    grouped: dict[str, list[str]] = {}
    for source, identifier in pairs:
        grouped.setdefault(source, []).append(identifier)
    return grouped


def _is_amending(row: NoticeRow) -> bool:
    return row.notice_type in AMENDING_TYPES or row.amends is not None


# -- reading -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NoticeFilter:
    """What `notices list` and `notices export` select; every field optional."""

    organisation: str | None = None
    notice_type: str | None = None
    source: str | None = None
    open_only: bool = False
    since: date | None = None
    text: str | None = None


def select_notices(criteria: NoticeFilter, now: datetime) -> Select[NoticeRow]:
    query = select(NoticeRow)
    if criteria.organisation:
        query = query.where(NoticeRow.organisation == criteria.organisation)
    if criteria.notice_type:
        query = query.where(NoticeRow.notice_type == criteria.notice_type)
    if criteria.source:
        query = query.where(NoticeRow.source == criteria.source)
    if criteria.open_only:
        # Open = still accepting: planned stages, and open calls whose deadline has not passed.
        query = query.where(
            or_(
                NoticeRow.status == "planned",
                and_(NoticeRow.status == "open", or_(NoticeRow.deadline.is_(None), NoticeRow.deadline > now)),
            )
        )
    if criteria.since:
        query = query.where(NoticeRow.published_on >= criteria.since)
    if criteria.text:
        pattern = f"%{criteria.text.lower()}%"
        query = query.where(
            or_(
                func.lower(NoticeRow.title).like(pattern),
                func.lower(NoticeRow.description).like(pattern),
                func.lower(NoticeRow.buyer).like(pattern),
            )
        )
    return query.order_by(NoticeRow.published_on.desc().nulls_last(), NoticeRow.id.desc())


def iter_records(session: Session, criteria: NoticeFilter, now: datetime) -> Iterator[dict[str, Any]]:
    """Export records (the contract's keys) for the selected notices, streamed."""
    for row in session.scalars(select_notices(criteria, now).execution_options(yield_per=500)):
        record = row.to_notice().to_record()
        record["status"] = effective_status(row, now)
        yield record


def find_notice(session: Session, ref: str) -> NoticeRow | None:
    """A notice by "source/source_id", by bare source_id when unambiguous, or by database id."""
    if "/" in ref:
        source, source_id = ref.split("/", 1)
        return session.scalar(select(NoticeRow).where(NoticeRow.source == source, NoticeRow.source_id == source_id))
    matches = session.scalars(select(NoticeRow).where(NoticeRow.source_id == ref).limit(2)).all()
    if len(matches) == 1:
        return matches[0]
    if ref.isdigit():
        return session.get(NoticeRow, int(ref))
    return None


def procedure_of(session: Session, row: NoticeRow) -> list[NoticeRow]:
    """All notices of `row`'s procedure in publication order (just `row` when it has no key)."""
    if not row.procedure_key:
        return [row]
    query = (
        select(NoticeRow)
        .where(NoticeRow.procedure_key == row.procedure_key)
        .order_by(NoticeRow.published_on.asc().nulls_first(), NoticeRow.id)
    )
    return list(session.scalars(query))
