"""What the links in a message do: unsubscribe and relevant/not-relevant feedback.

Used by `ilo-monitor unsubscribe TOKEN` now and by the web endpoints later (the one-click POST of
RFC 8058 and the feedback links), so both act the same. Each takes the session and `now`, checks
the token, writes, and returns a sentence for the person who clicked; the caller commits.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from alerts.models import SuppressedAddress
from alerts.tokens import FEEDBACK, UNSUBSCRIBE, Signer, TokenError
from monitor.matching.models import Company, Recipient
from monitor.matching.service import record_feedback
from monitor.models import NoticeRow


def unsubscribe(session: Session, signer: Signer, token: str, now: datetime) -> str:
    """Stop all mail to the address of `token` from the next send on (idempotent)."""
    payload = signer.loads(UNSUBSCRIBE, token)
    if "r" in payload:
        recipient = session.get(Recipient, payload["r"])
        if recipient is None:
            raise TokenError("this recipient no longer exists")
        if recipient.unsubscribed_at is None:
            recipient.unsubscribed_at = now
        return f"{recipient.email} is unsubscribed from the digests of {recipient.company.name}"
    email = str(payload.get("e") or "").lower()
    if not email:
        raise TokenError("this link is not valid")
    if session.get(SuppressedAddress, email) is None:
        session.add(SuppressedAddress(email=email, reason="unsubscribed", created_at=now))
    return f"{email} is unsubscribed from the ILO weekly digest"


def feedback(session: Session, signer: Signer, token: str, now: datetime) -> str:
    """Record the relevant / not relevant judgement of a feedback link (the latest one counts)."""
    payload = signer.loads(FEEDBACK, token)
    company = session.get(Company, payload.get("c"))
    notice = session.get(NoticeRow, payload.get("n"))
    if company is None or notice is None:
        raise TokenError("this notice or company no longer exists")
    recipient = session.get(Recipient, payload.get("r"))
    relevant = bool(payload.get("v"))
    record_feedback(
        session, company, notice, relevant=relevant, now=now, by=recipient.email if recipient else "feedback link"
    )
    verdict = "relevant" if relevant else "not relevant (it will not be alerted again)"
    return f"Thank you: {notice.title[:80]} marked {verdict} for {company.name}"
