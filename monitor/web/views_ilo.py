"""The ILO pages (login required): the coming weekly digest to review and approve, notice search,
a notice with its history and procedure, companies with their links, and the exports.

Each form posts to its own small view, which checks the CSRF token and the input, writes, commits
once and redirects back (`next`); invalid input renders the notice page again with the message
next to its field (status 400) and nothing saved.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Final

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from alerts.ilo import assemble_ilo
from alerts.schedule import Week
from monitor.contract import AREA_IDS, NOTICE_TYPES
from monitor.matching.models import Company, Match, Profile
from monitor.matching.service import find_company
from monitor.models import NoticeRow
from monitor.organisations import all_organisations
from monitor.store import NoticeFilter, effective_status, procedure_of, select_notices
from monitor.web import exports
from monitor.web.app import db, now, safe_next, state
from monitor.web.auth import check_csrf, current_user, login_required
from monitor.web.review import (
    ReviewError,
    add_company,
    add_note,
    approval,
    approve_and_send,
    coming_week,
    decisions_of,
    notes_of,
    parse_areas,
    remove_company,
    set_areas,
)

ilo = Blueprint("ilo", __name__, url_prefix="/ilo")
SEARCH_LIMIT: Final = 200


@dataclass
class MatchedCompany:
    id: str
    name: str
    reasons: list[str]


def _matched(notice_ids: list[int]) -> dict[int, list[MatchedCompany]]:
    found: dict[int, dict[str, MatchedCompany]] = defaultdict(dict)
    if notice_ids:
        query = (
            select(Match.notice_id, Company.id, Company.name, Match.reasons)
            .join(Profile, Profile.id == Match.profile_id)
            .join(Company, Company.id == Profile.company_id)
            .where(Match.notice_id.in_(notice_ids))
            .order_by(Company.name)
        )
        for notice_id, company_id, name, reasons in db().execute(query):
            entry = found[notice_id].setdefault(company_id, MatchedCompany(company_id, name, []))
            entry.reasons += [str(r) for r in reasons or [] if str(r) not in entry.reasons]
    return {i: list(found[i].values()) for i in notice_ids}


def _user_name() -> str:
    user = current_user()
    assert user is not None
    return user.name


def _notice(notice_id: int) -> NoticeRow:
    row = db().get(NoticeRow, notice_id)
    if row is None:
        abort(404, "No such notice.")
    return row


def _companies() -> list[Company]:
    return list(db().scalars(select(Company).order_by(Company.name)))


def _tools(rows: list[NoticeRow]) -> dict[str, Any]:
    """What the per-notice review tools (areas, companies, notes) need for `rows`."""
    ids = [r.id for r in rows]
    return {
        "matched": _matched(ids),
        "notes": notes_of(db(), ids),
        "removed": {r.id: [d for d in decisions_of(db(), r.id).values() if d.decision == "removed"] for r in rows},
        "all_companies": _companies(),
        "area_ids": AREA_IDS,
    }


# -- the weekly digest -----------------------------------------------------------------------------


@ilo.get("/")
@login_required
def home() -> Response:
    return redirect(url_for("ilo.digest"))


@ilo.get("/digest")
@login_required
def digest() -> str:
    session = db()
    moment = now()
    try:
        week = Week.parse(request.args["week"]) if request.args.get("week") else coming_week(session, moment)
    except ValueError as error:
        abort(400, str(error))
    result = assemble_ilo(session, week, moment)
    ids = [entry.item.notice_id for _, areas in result.groups for _, entries in areas for entry in entries]
    rows = {row.id: row for row in session.scalars(select(NoticeRow).where(NoticeRow.id.in_(ids)))}
    return render_template(
        "ilo_digest.html",
        week=week,
        digest=result,
        rows=rows,
        approved=approval(session, week),
        ended=week.end <= moment,
        previous=week.previous(),
        following=Week.of(week.monday + timedelta(days=7)),
        **_tools(list(rows.values())),
    )


@ilo.post("/digest/approve")
@login_required
def approve() -> Response | tuple[str, int]:
    check_csrf()
    session = db()
    try:
        week = Week.parse(request.form.get("week", ""))
        result = approve_and_send(state().engine, session, week, _user_name(), now())
    except ValueError as error:  # ReviewError included: nothing was recorded
        session.rollback()
        return render_template("message.html", title="Not approved", message=str(error)), 400
    flash(f"Digest {week} approved and sent: {result}")
    return redirect(url_for("ilo.digest", week=str(week)))


# -- notices ---------------------------------------------------------------------------------------


@ilo.get("/notices")
@login_required
def notices() -> str:
    criteria, area = _criteria()
    session = db()
    rows: list[NoticeRow] = []
    for row in session.scalars(select_notices(criteria, now()).execution_options(yield_per=500)):
        if area and area not in [a.get("id") for a in row.technology_areas or []]:
            continue
        rows.append(row)
        if len(rows) >= SEARCH_LIMIT:
            break
    return render_template(
        "notices.html",
        rows=rows,
        args=request.args,
        limit=SEARCH_LIMIT,
        area_ids=AREA_IDS,
        notice_types=NOTICE_TYPES,
        organisations=all_organisations(),
        status_of=lambda r: effective_status(r, now()),
    )


def _criteria() -> tuple[NoticeFilter, str | None]:
    args = request.args
    since: date | None = None
    if args.get("since"):
        try:
            since = date.fromisoformat(args["since"])
        except ValueError:
            abort(400, "since: expected a date like 2026-01-31")
    notice_type = args.get("type") or None
    if notice_type is not None and notice_type not in NOTICE_TYPES:
        abort(400, "type: unknown notice type")
    area = args.get("area") or None
    if area is not None and area not in AREA_IDS:
        abort(400, "area: unknown area")
    criteria = NoticeFilter(
        organisation=args.get("organisation") or None,
        notice_type=notice_type,
        open_only=args.get("open") == "1",
        since=since,
        text=(args.get("text") or "").strip() or None,
    )
    return criteria, area


@ilo.get("/notices/<int:notice_id>")
@login_required
def notice(notice_id: int) -> str:
    return _notice_page(_notice(notice_id), {}, 200)[0]


def _notice_page(row: NoticeRow, errors: dict[str, str], status: int, **values: str) -> tuple[str, int]:
    return (
        render_template(
            "notice.html",
            row=row,
            status=effective_status(row, now()),
            procedure=procedure_of(db(), row),
            errors=errors,
            values=values,
            **_tools([row]),
        ),
        status,
    )


@ilo.post("/notices/<int:notice_id>/areas")
@login_required
def notice_areas(notice_id: int) -> Response | tuple[str, int]:
    check_csrf()
    session = db()
    row = _notice(notice_id)
    text = request.form.get("areas", "")
    try:
        changed = set_areas(session, row, parse_areas(text), f"ILO {_user_name()}", now())
    except ReviewError as error:
        session.rollback()
        return _notice_page(row, {f"{error.field}-{row.id}": str(error)}, 400, areas=text)
    session.commit()
    flash("Areas corrected." if changed else "Areas unchanged.")
    return redirect(safe_next(url_for("ilo.notice", notice_id=row.id)))


@ilo.post("/notices/<int:notice_id>/companies")
@login_required
def notice_companies(notice_id: int) -> Response | tuple[str, int]:
    check_csrf()
    session = db()
    row = _notice(notice_id)
    action = request.form.get("action")
    company = find_company(session, request.form.get("company", ""))
    try:
        if company is None:
            raise ReviewError("company", "choose a company")
        if action == "remove":
            remove_company(session, company, row, _user_name(), now())
            flash(f"{company.name} removed from this notice (marked not relevant).")
        elif action == "add":
            add_company(session, company, row, _user_name(), now())
            flash(f"{company.name} added to this notice.")
        else:
            abort(400, "unknown action")
    except ReviewError as error:
        session.rollback()
        return _notice_page(row, {f"{error.field}-{row.id}": str(error)}, 400)
    session.commit()
    return redirect(safe_next(url_for("ilo.notice", notice_id=row.id)))


@ilo.post("/notices/<int:notice_id>/notes")
@login_required
def notice_notes(notice_id: int) -> Response | tuple[str, int]:
    check_csrf()
    session = db()
    row = _notice(notice_id)
    text = request.form.get("note", "")
    try:
        add_note(session, row, text, _user_name(), now())
    except ReviewError as error:
        session.rollback()
        return _notice_page(row, {f"{error.field}-{row.id}": str(error)}, 400, note=text)
    session.commit()
    flash("Note saved.")
    return redirect(safe_next(url_for("ilo.notice", notice_id=row.id)))


# -- companies and exports -------------------------------------------------------------------------


@ilo.get("/companies")
@login_required
def companies() -> str:
    links = state().links
    base = state().base_url
    rows = [(c, f"{base}{url_for('company.home', token=links.token(c.id))}") for c in _companies()]
    return render_template("companies.html", rows=rows)


def _download(body: str | bytes, mimetype: str, name: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@ilo.get("/export/notices.csv")
@login_required
def export_notices() -> Response:
    criteria, _ = _criteria()
    return _download(exports.notices_csv(db(), criteria, now()), "text/csv", "notices.csv")


@ilo.get("/export/matches.csv")
@login_required
def export_matches() -> Response:
    company_id = request.args.get("company") or None
    return _download(exports.matches_csv(db(), company_id), "text/csv", "matches.csv")


@ilo.get("/export/deadlines.ics")
@login_required
def export_calendar() -> Response:
    return _download(exports.ilo_calendar(db(), now()), "text/calendar", "deadlines.ics")


@ilo.get("/companies/<company_id>/deadlines.ics")
@login_required
def export_company_calendar(company_id: str) -> Response:
    company = find_company(db(), company_id)
    if company is None:
        abort(404, "No such company.")
    return _download(exports.company_calendar(db(), company, now()), "text/calendar", f"{company.id}-deadlines.ics")


@ilo.get("/profiles/<int:profile_id>/feed.atom")
@login_required
def export_feed(profile_id: int) -> Response:
    profile = db().get(Profile, profile_id)
    if profile is None:
        abort(404, "No such profile.")
    return Response(exports.profile_feed(db(), profile), mimetype="application/atom+xml")
