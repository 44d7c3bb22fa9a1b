"""Mail settings from the environment (read when asked for, never at import time).

| variable | meaning (default) |
|---|---|
| `ILO_MONITOR_SMTP_HOST` | SMTP server; unset: messages are written as `.eml` files to the outbox folder |
| `ILO_MONITOR_SMTP_PORT` | port (587 for starttls, 465 for tls, 25 for none) |
| `ILO_MONITOR_SMTP_USER`, `ILO_MONITOR_SMTP_PASSWORD` | login, when the server wants one |
| `ILO_MONITOR_SMTP_SECURITY` | `starttls` (default), `tls` or `none` |
| `ILO_MONITOR_SMTP_RATE` | messages per second at most (20; 0: no limit) |
| `ILO_MONITOR_SMTP_BATCH` | messages per SMTP connection before reconnecting (50) |
| `ILO_MONITOR_MAIL_FROM` | sender address (`ilo-monitor@localhost`) |
| `ILO_MONITOR_OUTBOX_DIR` | folder of the file outbox (`<data dir>/outbox`) |
| `ILO_MONITOR_SECRET` | key that signs unsubscribe and feedback links (see alerts.tokens) |
| `ILO_MONITOR_BASE_URL` | base of the links in messages (`http://localhost:8000`) |
| `ILO_MONITOR_UNSUBSCRIBE_MAILTO` | address of the mailto unsubscribe (the sender address) |
| `ILO_MONITOR_ILO_EMAILS` | the ILO list: addresses of the weekly ILO digest, comma-separated |
"""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import parseaddr
from pathlib import Path
from typing import Final

from monitor.errors import ConfigurationError
from monitor.settings import data_dir, env

SECURITIES: Final = ("starttls", "tls", "none")
_DEFAULT_PORTS: Final = {"starttls": 587, "tls": 465, "none": 25}


@dataclass(frozen=True)
class MailSettings:
    smtp_host: str | None
    smtp_port: int
    smtp_user: str | None
    smtp_password: str | None
    smtp_security: str
    rate: float
    batch: int
    mail_from: str
    outbox_dir: Path
    base_url: str
    unsubscribe_mailto: str
    ilo_emails: tuple[str, ...]

    @property
    def uses_files(self) -> bool:
        """No SMTP host: the embedded default writes `.eml` files instead of sending."""
        return self.smtp_host is None


def _number(name: str, default: str, kind: type[int] | type[float]) -> float:
    raw = env(name, default) or default
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigurationError(f"ILO_MONITOR_{name}={raw!r} is not a number") from None
    if value < 0:
        raise ConfigurationError(f"ILO_MONITOR_{name}={raw!r} must not be negative")
    return value


def mail_settings() -> MailSettings:
    """The settings as the environment has them now; `ConfigurationError` naming a bad one."""
    security = (env("SMTP_SECURITY", "starttls") or "starttls").lower()
    if security not in SECURITIES:
        raise ConfigurationError(f"ILO_MONITOR_SMTP_SECURITY={security!r} is not one of {', '.join(SECURITIES)}")
    mail_from = env("MAIL_FROM", "ilo-monitor@localhost") or "ilo-monitor@localhost"
    emails = tuple(e.strip() for e in (env("ILO_EMAILS", "") or "").split(",") if e.strip())
    outbox = env("OUTBOX_DIR")
    return MailSettings(
        smtp_host=env("SMTP_HOST"),
        smtp_port=int(_number("SMTP_PORT", str(_DEFAULT_PORTS[security]), int)),
        smtp_user=env("SMTP_USER"),
        smtp_password=env("SMTP_PASSWORD"),
        smtp_security=security,
        rate=_number("SMTP_RATE", "20", float),
        batch=max(1, int(_number("SMTP_BATCH", "50", int))),
        mail_from=mail_from,
        outbox_dir=Path(outbox) if outbox else data_dir() / "outbox",
        base_url=(env("BASE_URL", "http://localhost:8000") or "").rstrip("/"),
        # A mailto: URI takes the bare address, not "Name <address>".
        unsubscribe_mailto=env("UNSUBSCRIBE_MAILTO") or parseaddr(mail_from)[1] or mail_from,
        ilo_emails=emails,
    )
