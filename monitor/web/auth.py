"""ILO accounts and the protections of every page: password hashes, login sessions, CSRF tokens.

- Passwords are kept only as werkzeug's scrypt hashes (`generate_password_hash`, salted, with
  its work factors in the hash), checked in constant time.
- The login lives in Flask's session cookie, signed with a key derived from
  `ILO_MONITOR_SECRET`, HttpOnly and SameSite=Lax; the session is cleared at login (no fixation)
  and at logout.
- Every form carries a CSRF token bound to the session (`csrf_token()` in templates); every
  POST but the RFC 8058 one-click unsubscribe is refused without it (`check_csrf`).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any, Final, TypeVar

from flask import abort, g, redirect, request, session, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from monitor.errors import IloMonitorError
from monitor.matching.importer import EMAIL
from monitor.web.models import IloUser

MIN_PASSWORD: Final = 10
F = TypeVar("F", bound=Callable[..., Any])
# A hash of nothing in particular: a login for an unknown address costs the same time as one
# with a wrong password, so timing does not tell which addresses have accounts.
_DUMMY_HASH: Final = generate_password_hash("not a password of anyone")


class AccountError(IloMonitorError):
    """An ILO account cannot be created as asked (bad address, short password, taken)."""


def add_user(session: Session, email: str, name: str | None, password: str, now: datetime) -> IloUser:
    """Create an ILO account; `AccountError` says what is wrong."""
    address = email.strip().lower()
    if not EMAIL.match(address):
        raise AccountError(f"email {email!r} is malformed")
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password must have at least {MIN_PASSWORD} characters")
    if session.scalar(select(IloUser.id).where(IloUser.email == address)) is not None:
        raise AccountError(f"there is already an account for {address}")
    user = IloUser(
        email=address,
        name=(name or address.split("@")[0]).strip(),
        password_hash=generate_password_hash(password),
        active=True,
        created_at=now,
    )
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, email: str, password: str) -> IloUser | None:
    """The active user with this address and password, else None (same time either way)."""
    user = session.scalar(select(IloUser).where(IloUser.email == email.strip().lower()))
    if user is None or not user.active:
        check_password_hash(_DUMMY_HASH, password)
        return None
    return user if check_password_hash(user.password_hash, password) else None


def log_in(user: IloUser) -> None:
    session.clear()  # a fresh session: no fixation of a cookie planted before the login
    session["uid"] = user.id
    session["csrf"] = secrets.token_urlsafe(32)


def csrf_token() -> str:
    """This session's CSRF token (created on first use, so company pages get one too)."""
    token = session.get("csrf")
    if not isinstance(token, str):
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def check_csrf() -> None:
    """Refuse (400) a form whose CSRF token is missing or not this session's."""
    expected = session.get("csrf")
    given = request.form.get("csrf_token", "")
    if not isinstance(expected, str) or not hmac.compare_digest(expected.encode(), given.encode()):
        abort(400, "This form has expired or did not come from this site. Reload the page and try again.")


def current_user() -> IloUser | None:
    return g.get("user")


def login_required(view: F) -> F:
    """ILO pages: redirect to the login page without a logged-in, active user."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_user() is None:
            return redirect(url_for("public.login", next=request.full_path if request.method == "GET" else None))
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]
