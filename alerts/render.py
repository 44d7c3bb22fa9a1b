"""Rendering digests into MIME messages: Jinja2 templates (text and HTML), CSS inlined, headers.

Templates live in the top-level `templates/email/` folder, always as a pair `<name>.txt` and
`<name>.html`. Autoescaping is on for `.html` (and for any template given as a string);
scraped text is passed as plain strings and never marked safe, so a title with `<script>`
reaches the reader as text. `StrictUndefined` makes a misspelt variable an error instead of an
empty hole in a message someone receives. The `plain` filter also drops control and bidi
override characters, which would otherwise reorder or hide what a title says.

CSS is written once in a `<style>` block and inlined by css-inline (mail clients drop `<style>`);
remote stylesheets are never fetched.

Every message is multipart/alternative (text, then HTML), quoted-printable so that it is pure
ASCII on the wire, with a stable Message-ID derived from recipient and period, and the RFC 8058
headers `List-Unsubscribe` (https and mailto) and `List-Unsubscribe-Post`.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

import css_inline
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATES: Final = Path(__file__).resolve().parent.parent / "templates" / "email"
# C0/C1 controls (but newline and tab), bidi embeddings/overrides/isolates, and the BOM.
_INVISIBLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufeff]")


class RenderError(Exception):
    """A template failed for one digest (recorded on that outbox row; the others go on)."""


def plain(value: Any) -> str:
    """Scraped text made safe to show as text: no controls, no direction overrides."""
    return _INVISIBLE.sub("", "" if value is None else str(value))


@lru_cache(maxsize=4)
def environment(folder: str = str(TEMPLATES)) -> Environment:
    env = Environment(
        loader=FileSystemLoader(folder),
        # On for HTML and for anything unknown; off only for the text part, where "&amp;" would be noise.
        autoescape=select_autoescape(
            enabled_extensions=("html", "htm", "xml"),
            disabled_extensions=("txt",),
            default_for_string=True,
            default=True,
        ),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["plain"] = plain
    return env


@lru_cache(maxsize=1)
def _inliner() -> css_inline.CSSInliner:
    return css_inline.CSSInliner(load_remote_stylesheets=False, keep_style_tags=False)


def render_pair(name: str, context: dict[str, Any]) -> tuple[str, str]:
    """(text, HTML with inlined CSS) of the template pair `name`."""
    env = environment()
    try:
        text = env.get_template(f"{name}.txt").render(context)
        html = env.get_template(f"{name}.html").render(context)
        return text, _inliner().inline(html)
    except Exception as error:  # one digest's failure is recorded, never fatal to the batch
        raise RenderError(f"{type(error).__name__}: {error}") from error


def message_id(recipient: str, period: str, mail_from: str) -> str:
    """The same Message-ID for the same recipient and period, on every retry and every run."""
    digest = hashlib.sha256(f"{recipient}\n{period}".encode()).hexdigest()[:32]
    domain = mail_from.rsplit("@", 1)[-1].strip("<> ") or "localhost"
    return f"<digest.{digest}@{domain}>"


def build_message(
    *,
    subject: str,
    text: str,
    html: str,
    mail_from: str,
    to: str,
    message_id: str,
    now: datetime,
    unsubscribe_url: str,
    unsubscribe_mailto: str,
    unsubscribe_token: str,
) -> EmailMessage:
    """A multipart/alternative message with the headers every digest carries."""
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = mail_from
    message["To"] = to
    message["Subject"] = plain(subject).replace("\n", " ")
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies, please
    mailto = f"mailto:{unsubscribe_mailto}?subject={quote('unsubscribe ' + unsubscribe_token)}"
    message["List-Unsubscribe"] = f"<{unsubscribe_url}>, <{mailto}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    return message
