"""Company self-service through a signed link (`/company/<token>`, no password).

What a company sees and can do: its profiles (areas, keywords, organisations, frequency,
recipients) with a preview of what each would have matched in the last 90 days (also before
saving: "Preview" applies the form in memory and rolls back), feedback on the notices it was
alerted to, and unsubscribing each of its recipients. Every edit is kept in the profile's
history (`apply_settings`, by "company self-service") and the profile is matched again at once.

The token names the company only; it is checked on every request (tampered, expired or
another purpose's token: 403), and every form also carries the session's CSRF token.
"""

from __future__ import annotations

from typing import Any, Final

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from alerts.models import AlertedItem
from alerts.tokens import TokenError
from monitor.contract import AREA_IDS
from monitor.matching.importer import apply_settings, record_version
from monitor.matching.models import FREQUENCIES, Company, CompanyDecision, Feedback, Profile
from monitor.matching.service import apply_decisions, find_company, match_profiles, preview, record_feedback
from monitor.models import NoticeRow
from monitor.organisations import all_organisations
from monitor.web import exports
from monitor.web.app import db, now, state
from monitor.web.auth import check_csrf
from monitor.web.forms import ProfileForm, form_values, read_profile_form

company = Blueprint("company", __name__, url_prefix="/company/<token>")
PREVIEW_DAYS: Final = 90
PREVIEW_SHOWN: Final = 50
ALERTS_SHOWN: Final = 50
BY: Final = "company self-service"


def _company(token: str) -> Company:
    try:
        company_id = state().links.company_id(token)
    except TokenError as error:
        abort(403, str(error))
    found = find_company(db(), company_id)
    if found is None:
        abort(403, "this company is no longer in the monitor")
    return found


def _profile(found: Company, profile_id: int) -> Profile:
    profile = next((p for p in found.profiles if p.id == profile_id), None)
    if profile is None:
        abort(404, "No such profile.")
    return profile


def _alerts(found: Company) -> list[dict[str, Any]]:
    """The notices alerted to the company's recipients, newest first, with the latest feedback."""
    session = db()
    query = (
        select(AlertedItem, NoticeRow)
        .join(NoticeRow, NoticeRow.id == AlertedItem.notice_id)
        .where(AlertedItem.company_id == found.id)
        .order_by(AlertedItem.created_at.desc(), AlertedItem.id.desc())
    )
    latest: dict[int, bool] = {}
    feedback = select(Feedback).where(Feedback.company_id == found.id).order_by(Feedback.created_at, Feedback.id)
    for judgement in session.scalars(feedback):
        latest[judgement.notice_id] = judgement.relevant
    seen: dict[int, dict[str, Any]] = {}
    for item, row in session.execute(query):
        if row.id not in seen:
            seen[row.id] = {"row": row, "alerted_at": item.created_at, "relevant": latest.get(row.id)}
        if len(seen) >= ALERTS_SHOWN:
            break
    return list(seen.values())


def _page(found: Company, token: str, forms: dict[int, ProfileForm] | None = None, previewed: int | None = None) -> str:
    forms = forms or {}
    moment = now()
    results = preview(db(), found, moment, days=PREVIEW_DAYS)
    by_profile: dict[str, list[Any]] = {}
    for row, result in results:
        by_profile.setdefault(result.profile, []).append((row, result))
    return render_template(
        "company.html",
        company=found,
        token=token,
        forms={p.id: forms.get(p.id) or ProfileForm(form_values(p)) for p in found.profiles},
        previews=by_profile,
        previewed=previewed,
        preview_days=PREVIEW_DAYS,
        preview_shown=PREVIEW_SHOWN,
        alerts=_alerts(found),
        area_ids=AREA_IDS,
        organisations=all_organisations(),
        frequencies=FREQUENCIES,
    )


@company.get("/")
def home(token: str) -> str:
    return _page(_company(token), token)


@company.post("/profiles/<int:profile_id>")
def edit_profile(token: str, profile_id: int) -> Response | tuple[str, int]:
    check_csrf()
    session = db()
    found = _company(token)
    profile = _profile(found, profile_id)
    form = read_profile_form(request.form, found, profile)
    if not form.valid:
        session.rollback()
        return _page(found, token, {profile.id: form}), 400
    if request.form.get("action") == "preview":
        # Applied in memory only, for the preview; rolled back before anything is committed.
        with session.no_autoflush:
            for name, value in form.settings.items():
                setattr(profile, name, value)
            page = _page(found, token, {profile.id: form}, previewed=profile.id)
        session.rollback()
        return page, 200
    changes = apply_settings(profile, form.settings, now(), BY)
    old, new = [r.email for r in profile.recipients], [r.email for r in form.recipients]
    if old != new:
        # Recipients are not matching settings: kept in the history as a version of their own.
        profile.recipients = list(form.recipients)
        record_version(profile, {"recipients": [old, new]}, now(), BY)
        changes["recipients"] = [old, new]
    if changes:
        session.flush()
        match_profiles(session, [profile], now())
        # The matcher just recomputed this profile's matches: the ILOs' decisions still hold.
        decided = select(CompanyDecision.notice_id).where(CompanyDecision.company_id == found.id)
        apply_decisions(session, list(session.scalars(decided)), now())
    session.commit()
    flash(f"Profile {profile.name} saved." if changes else f"Profile {profile.name}: nothing changed.")
    return redirect(url_for("company.home", token=token) + f"#profile-{profile.id}")


@company.post("/feedback")
def give_feedback(token: str) -> Response:
    check_csrf()
    session = db()
    found = _company(token)
    try:
        notice_id = int(request.form.get("notice", ""))
    except ValueError:
        abort(400, "unknown notice")
    alerted = session.scalar(
        select(AlertedItem.id).where(AlertedItem.company_id == found.id, AlertedItem.notice_id == notice_id).limit(1)
    )
    row = session.get(NoticeRow, notice_id)
    if alerted is None or row is None:
        abort(400, "feedback is for notices you were alerted to")
    relevant = request.form.get("relevant") == "1"
    record_feedback(session, found, row, relevant=relevant, now=now(), by=BY)
    session.commit()
    flash("Thank you: " + ("marked relevant." if relevant else "marked not relevant; it will not be alerted again."))
    return redirect(url_for("company.home", token=token) + "#alerts")


@company.post("/unsubscribe")
def unsubscribe(token: str) -> Response:
    check_csrf()
    session = db()
    found = _company(token)
    recipient = next((r for r in found.recipients if str(r.id) == request.form.get("recipient")), None)
    if recipient is None:
        abort(400, "unknown recipient")
    if recipient.unsubscribed_at is None:
        recipient.unsubscribed_at = now()
    session.commit()
    flash(f"{recipient.email} is unsubscribed: no more digests will be sent to this address.")
    return redirect(url_for("company.home", token=token) + "#recipients")


@company.get("/deadlines.ics")
def calendar(token: str) -> Response:
    found = _company(token)
    return Response(exports.company_calendar(db(), found, now()), mimetype="text/calendar")


@company.get("/profiles/<int:profile_id>/feed.atom")
def feed(token: str, profile_id: int) -> Response:
    profile = _profile(_company(token), profile_id)
    return Response(exports.profile_feed(db(), profile), mimetype="application/atom+xml")
