"""Signed tokens of the links in messages: one-click unsubscribe and relevant/not-relevant feedback.

Tokens are itsdangerous `URLSafeTimedSerializer` payloads signed with `ILO_MONITOR_SECRET`, with a
salt per purpose, so a feedback token can never be replayed as an unsubscribe token and back.
Unsubscribe links stay valid for a year (a message read late must still stop the mail, RFC
8058), feedback links for 120 days.

The secret: `ILO_MONITOR_SECRET` when set. Without it, the embedded default (no SMTP host: the
messages only go to `.eml` files) generates one and keeps it in `<data dir>/secret` (mode 600),
so that links stay valid across runs on that machine; with an SMTP host configured a missing
secret is a `ConfigurationError`, because links sent to real people must not depend on a file
someone may delete.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from monitor.errors import ConfigurationError, IloMonitorError
from monitor.settings import data_dir, env

UNSUBSCRIBE: Final = "ilo-monitor.unsubscribe"
FEEDBACK: Final = "ilo-monitor.feedback"
MAX_AGE: Final = {UNSUBSCRIBE: 365 * 86400, FEEDBACK: 120 * 86400}


class TokenError(IloMonitorError):
    """A token from a link is malformed, forged, for another purpose, or expired."""


def load_secret(*, allow_generated: bool) -> str:
    """`ILO_MONITOR_SECRET`, or (embedded default only) the one generated in the data folder."""
    secret = env("SECRET")
    if secret:
        return secret
    path = data_dir() / "secret"
    if path.is_file():
        # An earlier file-outbox run generated it: links it wrote must still verify.
        return path.read_text(encoding="utf-8").strip()
    if not allow_generated:
        raise ConfigurationError(
            "ILO_MONITOR_SECRET is not set: it signs the unsubscribe and feedback links of every message"
        )
    return _generate(path)


def _generate(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(32)
    # O_EXCL: two processes starting at once must not each write (and use) their own secret.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as stream:
        stream.write(secret + "\n")
    return secret


@dataclass(frozen=True)
class Signer:
    """Makes and checks the tokens of one secret."""

    secret: str

    def _serializer(self, purpose: str) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(self.secret, salt=purpose)

    def dumps(self, purpose: str, payload: dict[str, Any]) -> str:
        return str(self._serializer(purpose).dumps(payload))

    def loads(self, purpose: str, token: str) -> dict[str, Any]:
        try:
            payload = self._serializer(purpose).loads(token.strip(), max_age=MAX_AGE[purpose])
        except SignatureExpired:
            raise TokenError("this link has expired") from None
        except BadSignature:
            raise TokenError("this link is not valid (changed, cut short or not ours)") from None
        if not isinstance(payload, dict):
            raise TokenError("this link is not valid")
        return payload

    # The two purposes, with their payloads spelled out once.

    def unsubscribe_token(self, *, recipient_id: int | None = None, email: str | None = None) -> str:
        return self.dumps(UNSUBSCRIBE, {"r": recipient_id} if recipient_id is not None else {"e": email})

    def feedback_token(self, *, company_id: str, notice_id: int, recipient_id: int, relevant: bool) -> str:
        return self.dumps(FEEDBACK, {"c": company_id, "n": notice_id, "r": recipient_id, "v": int(relevant)})
