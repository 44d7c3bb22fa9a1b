"""The signed self-service link of a company: `/company/<token>`, no password.

Signed with the same secret as the links in messages (`ILO_MONITOR_SECRET`) but under its own
salt, so a company link is never accepted as an unsubscribe or feedback token and back
(`alerts.tokens` keeps those two purposes). A link stays valid for 90 days: ILOs send a fresh
one with each profile review, and a forwarded old mail stops working on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from alerts.tokens import TokenError

COMPANY: Final = "ilo-monitor.company-link"
COMPANY_MAX_AGE: Final = 90 * 86400


@dataclass(frozen=True)
class CompanyLinks:
    """Makes and checks company self-service tokens of one secret."""

    secret: str
    max_age: int = COMPANY_MAX_AGE

    def _serializer(self) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(self.secret, salt=COMPANY)

    def token(self, company_id: str) -> str:
        return str(self._serializer().dumps({"c": company_id}))

    def company_id(self, token: str) -> str:
        """The company of `token`; `TokenError` when forged, cut, for another purpose or expired."""
        try:
            payload = self._serializer().loads(token.strip(), max_age=self.max_age)
        except SignatureExpired:
            raise TokenError("this link has expired: ask your ILO for a new one") from None
        except BadSignature:
            raise TokenError("this link is not valid (changed, cut short or not ours)") from None
        if not isinstance(payload, dict) or not isinstance(payload.get("c"), str):
            raise TokenError("this link is not valid")
        return str(payload["c"])
