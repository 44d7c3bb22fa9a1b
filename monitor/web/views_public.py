"""Pages without a login: the login itself, RFC 8058 one-click unsubscribe and the feedback links.

Unsubscribe (`/unsubscribe/<token>`, the https link of every message's `List-Unsubscribe`):

- `POST` with the body `List-Unsubscribe=One-Click` unsubscribes at once: mail clients send it
  without cookies and without showing anything (RFC 8058 section 3.2), so no CSRF token can be
  asked for; the signed token in the URL is the authority;
- `GET` shows a confirmation page whose button posts the same form (with a CSRF token, like
  every form of the site), and never unsubscribes by itself: link scanners and previews follow
  GET links.

Feedback links (`/feedback/<token>`) work the same way: GET asks, POST records.
"""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from alerts.actions import feedback as apply_feedback
from alerts.actions import unsubscribe as apply_unsubscribe
from alerts.tokens import FEEDBACK, UNSUBSCRIBE, Signer, TokenError
from monitor.web.app import db, now, safe_next, state
from monitor.web.auth import authenticate, check_csrf, log_in

public = Blueprint("public", __name__)


@public.get("/")
def index() -> Response:
    return redirect(url_for("ilo.digest"))


@public.route("/login", methods=["GET", "POST"])
def login() -> str | Response | tuple[str, int]:
    if request.method == "GET":
        return render_template("login.html", email="", error=None, next=request.args.get("next", ""))
    check_csrf()
    email = request.form.get("email", "")
    session = db()
    user = authenticate(session, email, request.form.get("password", ""))
    if user is None:
        page = render_template(
            "login.html", email=email, error="Unknown address or wrong password.", next=request.form.get("next", "")
        )
        return page, 401
    user.last_login_at = now()
    session.commit()
    log_in(user)
    return redirect(safe_next(url_for("ilo.digest")))


@public.post("/logout")
def logout() -> Response:
    from flask import session

    check_csrf()
    session.clear()
    return redirect(url_for("public.login"))


def _signer() -> Signer:
    return Signer(state().secret)


@public.route("/unsubscribe/<token>", methods=["GET", "POST"])
def unsubscribe(token: str) -> str | tuple[str, int]:
    session = db()
    signer = _signer()
    try:
        signer.loads(UNSUBSCRIBE, token)  # refuse a bad link before showing any button
    except TokenError as error:
        return render_template("message.html", title="Link not valid", message=str(error)), 400
    if request.method == "GET":
        return render_template("unsubscribe.html", token=token)
    one_click = request.form.get("List-Unsubscribe") == "One-Click"
    if not one_click:
        check_csrf()  # the confirmation page's own form
    try:
        message = apply_unsubscribe(session, signer, token, now())
    except TokenError as error:
        return render_template("message.html", title="Link not valid", message=str(error)), 400
    session.commit()
    return render_template("message.html", title="Unsubscribed", message=message)


@public.route("/feedback/<token>", methods=["GET", "POST"])
def feedback(token: str) -> str | tuple[str, int]:
    session = db()
    signer = _signer()
    try:
        payload = signer.loads(FEEDBACK, token)
    except TokenError as error:
        return render_template("message.html", title="Link not valid", message=str(error)), 400
    if request.method == "GET":
        return render_template("feedback.html", token=token, relevant=bool(payload.get("v")))
    check_csrf()
    try:
        message = apply_feedback(session, signer, token, now())
    except TokenError as error:
        return render_template("message.html", title="Link not valid", message=str(error)), 400
    session.commit()
    return render_template("message.html", title="Thank you", message=message)


__all__ = ["public", "safe_next"]
