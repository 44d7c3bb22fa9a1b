"""Manual intake: opportunities that reach the ILOs by mail, as notices like any other.

Pure functions, used by `import` (`monitor.importer`) and `ilo-monitor notices add`:

- `notice_from_email(data, origin)`: a forwarded `.eml` message. The subject (without "Fwd:",
  "TR:", "WG:", "Doorst:"...) is the title, the text body (or the HTML body reduced to text) the
  description; what can be recognised is filled in: the organisation (a registry name in the
  subject or text, else the sender's domain), a registry reference ("MS-4321/EN", "F4E-OMF-1108")
  and its procedure key, the notice type from its words, a deadline after a deadline phrase in
  English, French, German or Dutch. Attachments cannot be contract documents (those need http(s)
  links), so their names are listed at the end of the description. Everything else is left for
  the ILO to complete (`notices edit`).
- `notices_from_yaml(text, origin)`: notices in the contract format, one mapping or a list.

Both give `source` "manual"; nothing here touches the database or the network.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import date, datetime, time
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parseaddr, parsedate_to_datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

import yaml
from bs4 import BeautifulSoup

from monitor import organisations
from monitor.contract import Notice, clean_text, from_record, normalise, validate
from monitor.errors import ContractError, InputError

SOURCE: Final = "manual"
DEFAULT_ZONE: Final = "Europe/Amsterdam"  # the ILOs' own, when no organisation is recognised
LANGUAGES: Final = ("en", "fr", "de", "nl")
# Reply and forward prefixes of the mail clients the ILOs and their contacts use.
_PREFIX = re.compile(r"^\s*(?:(?:fwd?|fw|tr|wg|doorst|re|aw|antw|sv|rif|i)\s*:\s*)+", re.I)
# Phrases after which a deadline is written, in the four languages of the ILOs' mail.
_DEADLINE_PHRASES: Final = (
    r"deadline",
    r"closing date",
    r"no later than",
    r"submission date",
    r"date limite",
    r"au plus tard le",
    r"avant le",
    r"abgabefrist",
    r"frist",
    r"spätestens( am)?",
    r"einreichung bis",
    r"uiterlijk( op)?",
    r"sluitingsdatum",
    r"inschrijven vóór",
    r"reageren vóór",
)
_DEADLINE = re.compile(r"(?:" + "|".join(_DEADLINE_PHRASES) + r")\s*[:\-]?\s*(?P<rest>[^\n]{4,80})", re.I)
# Words of a notice type, in the four languages; the first that appears wins.
_TYPES: Final = (
    ("price_enquiry", r"price enquiry|price inquiry|prijsaanvraag|prijsvraag|demande de prix|preisanfrage"),
    ("market_survey", r"market survey|marktverkenning|marktconsultatie|enquête de marché|markterkundung"),
    (
        "call_for_expression_of_interest",
        r"expression of interest|call for interest|belangstellingsregistratie|interessebekundung",
    ),
    ("prior_information", r"prior information|advance information|vooraankondiging|imminent call"),
    ("invitation_to_tender", r"invitation to tender|call for tenders?|aanbesteding|appel d'offres|ausschreibung"),
)


def strip_subject(subject: str | None) -> str | None:
    """The subject without its reply and forward prefixes ("Fwd: TR: Doorst: ...")."""
    return clean_text(_PREFIX.sub("", subject or ""))


def html_text(markup: str) -> str | None:
    """The text a reader sees in an HTML mail: scripts, styles and comments dropped, never run."""
    soup = BeautifulSoup(markup, "html.parser")
    for hidden in soup(["script", "style", "head", "title", "template", "noscript", "iframe", "object"]):
        hidden.decompose()
    for line_break in soup.find_all(["br", "p", "div", "li", "tr", "h1", "h2", "h3"]):
        line_break.insert_after("\n")
    return clean_text(soup.get_text())


def _body(message: EmailMessage) -> str | None:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return None
    content = part.get_content()
    if not isinstance(content, str):
        return None
    return html_text(content) if part.get_content_subtype() == "html" else clean_text(content)


def _attachments(message: EmailMessage) -> list[str]:
    names = []
    for part in message.iter_attachments():
        name = part.get_filename()
        if name:
            names.append(clean_text(name) or "unnamed")
    return names


def find_organisation(text: str, sender: str | None) -> str | None:
    """The registry organisation the text names, else the one whose domain sent the mail."""
    for line in text.splitlines():
        found = organisations.identify(line)
        if found:
            return found
    domain = (parseaddr(sender or "")[1].rpartition("@")[2] or "").casefold()
    if domain:
        for org in organisations.all_organisations():
            host = re.sub(r"^https?://(www\.)?", "", org.website).split("/")[0].casefold()
            labels = [label for label in host.split(".") if label not in ("home", "int", "eu", "org", "europa")]
            if any(label and (domain == label or f".{label}." in f".{domain}.") for label in labels):
                return org.id
    return None


def find_reference(text: str, organisation: str | None) -> tuple[str | None, str | None]:
    """(organisation id, procedure key) of the first registry reference in `text`."""
    candidates = [organisations.get(organisation)] if organisation else []
    candidates += [org for org in organisations.all_organisations() if org.id != organisation]
    for org in candidates:
        if org.reference_pattern is None:
            continue
        match = org.reference_pattern.search(text)
        if match:
            return org.id, organisations.procedure_key_for(org.id, match.group(0))
    return organisation, None


def find_deadline(text: str, zone: str) -> datetime | None:
    """The first date written after a deadline phrase, in `zone`; end of day without a time."""
    import dateparser.search  # slow to import; only intake needs its search

    settings: Any = {
        "TIMEZONE": zone,
        "RETURN_AS_TIMEZONE_AWARE": True,
        "REQUIRE_PARTS": ["day", "month", "year"],
        "DATE_ORDER": "DMY",
    }
    for match in _DEADLINE.finditer(text):
        rest = match.group("rest")
        found = dateparser.search.search_dates(rest, languages=list(LANGUAGES), settings=settings)
        if not found:
            continue
        _written, stamp = found[0]
        local = stamp.astimezone(ZoneInfo(zone))
        if not re.search(r"\d{1,2}[:.h]\d{2}", rest):
            local = datetime.combine(local.date(), time(23, 59, 59), tzinfo=ZoneInfo(zone))
        return local
    return None


def notice_type_of(text: str) -> str:
    folded = text.casefold()
    for notice_type, words in _TYPES:
        if re.search(words, folded):
            return notice_type
    return "other"


def _language(text: str) -> str | None:
    try:
        import py3langid

        code, _ = py3langid.classify(text)
    except Exception:  # language detection is a nicety; never a reason to refuse a mail
        return None
    return str(code) if re.fullmatch(r"[a-z]{2}", str(code)) else None


def notice_from_email(data: bytes, origin: str) -> Notice:
    """The notice in a forwarded `.eml` message (see the module docstring); `InputError` if none."""
    message = BytesParser(policy=policy.default).parsebytes(data)
    if not isinstance(message, EmailMessage) or not (message["Subject"] or message.get_body()):
        raise InputError(origin, "not an e-mail message (no subject and no body)")
    title = strip_subject(str(message["Subject"] or ""))
    body = _body(message)
    if not title:
        title = clean_text((body or "").split("\n", 1)[0][:200])
    if not title:
        raise InputError(origin, "the mail has neither a subject nor a text to take a title from")
    text = f"{title}\n{body or ''}"
    organisation = find_organisation(text, str(message["From"] or ""))
    organisation, procedure_key = find_reference(text, organisation)
    org = organisations.get(organisation) if organisation else None
    zone = org.timezone if org else DEFAULT_ZONE
    attachments = _attachments(message)
    description = body or ""
    if attachments:
        # Contract documents must be http(s) links; the files stay in the ILO's mailbox.
        description += "\n\nAttachments of the original mail (not stored): " + ", ".join(attachments)
    published: date | None = None
    if message["Date"]:
        try:
            published = parsedate_to_datetime(str(message["Date"])).date()
        except (TypeError, ValueError):
            published = None
    message_id = str(message["Message-ID"] or "").strip()
    notice = Notice(
        source=SOURCE,
        # The Message-ID makes importing the same mail twice a no-op; without one, the content.
        source_id=f"mail-{hashlib.sha256(message_id.encode()).hexdigest()[:16]}" if message_id else "",
        title=title,
        notice_type=notice_type_of(text),
        status="open",
        procedure_key=procedure_key,
        description=description.strip() or None,
        buyer=org.name if org else None,
        buyer_country=org.country if org else None,
        organisation=organisation,
        published_on=published,
        deadline=find_deadline(text, zone),
        currency="CHF" if organisation == "cern" else None,
        language=_language(body or title),
    )
    try:
        normalise(notice)
    except ContractError as error:
        raise InputError(origin, str(error)) from error
    if not notice.source_id:
        from monitor.contract import content_hash

        notice.source_id = f"mail-{content_hash(notice)}"
    problems = validate(notice)
    if problems:
        raise InputError(origin, "; ".join(problems))
    return notice


def notices_from_yaml(text: str, origin: str) -> Iterator[tuple[str, Notice | ContractError]]:
    """(origin, notice or the reason it was refused) for each notice of a YAML document."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise InputError(origin, f"not YAML: {error}") from error
    items = data if isinstance(data, list) else [data]
    for index, item in enumerate(items):
        where = f"{origin} [{index}]" if isinstance(data, list) else origin
        if isinstance(item, dict):
            # YAML reads an unquoted 2026-12-18 as a date: the contract wants text.
            item = {k: v.isoformat() if isinstance(v, date | datetime) else v for k, v in item.items()}
        try:
            yield where, from_record(item, default_source=SOURCE)
        except ContractError as error:
            yield where, error
