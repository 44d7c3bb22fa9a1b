"""The Flask application: `create_app(db_url, now=...)`, its request hooks and its page helpers.

Why Flask: a well-kept WSGI framework whose Jinja2 environment is the one the project already
uses, with a signed-cookie session (itsdangerous, already a dependency), a test client for the
fast tests and werkzeug's server for the browser tests. Every view is plain synchronous code
over the project's synchronous SQLAlchemy sessions.

One database session per request (`db()`), closed when the request ends; views commit
explicitly and only after every input was checked. `now()` is the app's clock (tests freeze it).
Every response carries a strict Content-Security-Policy (no scripts at all, styles from our
own file), `Referrer-Policy: no-referrer` (company links carry their token in the URL and must
not leak to the sites of scraped links) and `X-Frame-Options: DENY`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from flask import Flask, Response, g, render_template, request
from jinja2 import StrictUndefined
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from alerts.render import plain
from monitor.commandline import amsterdam
from monitor.contract import is_http_url, utcnow
from monitor.db import open_database, session_factory
from monitor.web.auth import csrf_token, current_user
from monitor.web.models import IloUser
from monitor.web.tokens import CompanyLinks

TEMPLATES: Final = Path(__file__).resolve().parent.parent.parent / "templates" / "web"
CSP: Final = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def _session_key(secret: str) -> bytes:
    # The session cookie gets its own key derived from the secret, so that nothing signed for
    # the session can ever pass as a link token (or the reverse).
    return hmac.new(secret.encode(), b"ilo-monitor.web-session", hashlib.sha256).digest()


def safe_url(value: Any) -> str | None:
    """A scraped link, only when it is http(s); anything else (javascript:, data:, file:) is dropped."""
    return value.strip() if is_http_url(value) else None


def create_app(
    db_url: str | None = None,
    now: Callable[[], datetime] | None = None,
    *,
    secret: str | None = None,
    base_url: str | None = None,
    secure_cookies: bool | None = None,
) -> Flask:
    """The web app on the database `db_url` (migrated to head), with the clock `now`.

    `secret` defaults to the secret that signs the links in messages (`ILO_MONITOR_SECRET`, see
    alerts.tokens); `base_url` to `ILO_MONITOR_BASE_URL`. Cookies are `Secure` when the base URL
    is https.
    """
    from alerts.settings import mail_settings
    from alerts.tokens import load_secret

    settings = mail_settings()
    secret = secret or load_secret(allow_generated=settings.uses_files)
    base_url = (base_url or settings.base_url).rstrip("/")
    engine = open_database(db_url)

    app = Flask(
        "monitor.web",
        template_folder=str(TEMPLATES),
        static_folder=str(TEMPLATES / "static"),
        static_url_path="/static",
    )
    app.config.update(
        SECRET_KEY=_session_key(secret),
        SESSION_COOKIE_NAME="ilo_monitor_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=base_url.startswith("https://") if secure_cookies is None else secure_cookies,
        MAX_CONTENT_LENGTH=256 * 1024,  # forms only: nothing here takes an upload
    )
    app.extensions["ilo_monitor"] = WebState(engine, session_factory(engine), now or utcnow, secret, base_url)
    # Autoescape is Flask's default for .html/.xml; StrictUndefined makes a misspelt variable an
    # error in the tests rather than an empty hole on a page.
    app.jinja_env.undefined = StrictUndefined
    app.jinja_env.filters.update(plain=plain, safe_url=safe_url, amsterdam=amsterdam)
    app.jinja_env.globals.update(csrf_token=csrf_token, current_user=current_user)

    from monitor.web.views_company import company
    from monitor.web.views_ilo import ilo
    from monitor.web.views_public import public

    app.register_blueprint(public)
    app.register_blueprint(ilo)
    app.register_blueprint(company)

    @app.before_request
    def load_user() -> None:
        from flask import session

        g.user = None
        uid = session.get("uid")
        if isinstance(uid, int):
            user = db().get(IloUser, uid)
            g.user = user if user is not None and user.active else None

    @app.teardown_request
    def close_session(_error: BaseException | None) -> None:
        session = g.pop("db", None)
        if session is not None:
            session.close()

    @app.after_request
    def security_headers(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "no-referrer"
        if response.mimetype == "text/html":
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> tuple[str, int]:
        return render_template("message.html", title=error.name, message=error.description), error.code or 500

    return app


class WebState:
    """What the views share: the engine, sessions, the clock, the secret and the public base URL."""

    def __init__(
        self, engine: Engine, factory: Callable[[], Session], now: Callable[[], datetime], secret: str, base_url: str
    ) -> None:
        self.engine = engine
        self.factory = factory
        self.now = now
        self.secret = secret
        self.base_url = base_url
        self.links = CompanyLinks(secret)


def state() -> WebState:
    from flask import current_app

    found = current_app.extensions["ilo_monitor"]
    assert isinstance(found, WebState)
    return found


def db() -> Session:
    """The request's database session."""
    if "db" not in g:
        g.db = state().factory()
    session = g.db
    assert isinstance(session, Session)
    return session


def now() -> datetime:
    return state().now()


def safe_next(default: str) -> str:
    """The form's `next` page when it is a path of this site (never an open redirect)."""
    target = request.form.get("next") or request.args.get("next") or ""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default
