"""Reading the company profile form: every field checked on its own, so each error sits by its field.

`read_profile_form` returns the checked settings and recipients, or the errors by field name;
the page saves only when there are none (nothing half-saved). The checks are those of
`companies import` and `companies edit` (`monitor.matching.importer.check_settings`), applied
per field first for the message's place, then once more as a whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from werkzeug.datastructures import MultiDict

from monitor.contract import AREA_IDS
from monitor.matching.importer import RowError, check_settings, organisation_ids
from monitor.matching.models import FREQUENCIES, Company, Profile, Recipient
from monitor.matching.query import QueryError, parse_all


@dataclass
class ProfileForm:
    """What the form said (to show again) and, when valid, what to save."""

    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    recipients: list[Recipient] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.errors


def form_values(profile: Profile) -> dict[str, str]:
    """A stored profile as the form shows it."""
    return {
        "areas": " ".join(profile.areas or []),
        "keywords": "\n".join(profile.keywords or []),
        "organisations": " ".join(profile.organisations or []),
        "frequency": profile.frequency,
        "recipients": " ".join(str(r.id) for r in profile.recipients),
    }


def _words(text: str) -> list[str]:
    return [w for w in text.replace(",", " ").split() if w]


def read_profile_form(form: MultiDict[str, str], company: Company, profile: Profile) -> ProfileForm:
    values = {
        "areas": form.get("areas", ""),
        "keywords": form.get("keywords", ""),
        "organisations": form.get("organisations", ""),
        "frequency": form.get("frequency", ""),
        "recipients": " ".join(form.getlist("recipients")),
    }
    result = ProfileForm(values)
    areas = [a.lower() for a in _words(values["areas"])]
    unknown = [a for a in areas if a not in AREA_IDS]
    if unknown:
        result.errors["areas"] = f"unknown area {unknown[0]!r}; choose from the list below"
    keywords = [line.strip() for line in values["keywords"].splitlines() if line.strip()]
    try:
        parse_all(keywords, profile=profile.label)
    except QueryError as error:
        result.errors["keywords"] = str(error)
    organisations = [o.lower() for o in _words(values["organisations"])]
    known = organisation_ids()
    unknown = [o for o in organisations if o not in known]
    if unknown:
        result.errors["organisations"] = f"unknown organisation {unknown[0]!r}; known: {', '.join(sorted(known))}"
    if values["frequency"] not in FREQUENCIES:
        result.errors["frequency"] = f"choose one of {', '.join(FREQUENCIES)}"
    by_id = {str(r.id): r for r in company.recipients}
    chosen = form.getlist("recipients")
    if any(r not in by_id for r in chosen):
        result.errors["recipients"] = "unknown recipient"
    elif not chosen:
        result.errors["recipients"] = "choose at least one recipient, or nobody receives this profile's alerts"
    result.recipients = [by_id[r] for r in chosen if r in by_id]
    if result.errors:
        return result
    settings = profile.settings()
    settings.update(areas=areas, keywords=keywords, organisations=organisations, frequency=values["frequency"])
    try:
        result.settings = check_settings(settings, label=profile.label)
    except (RowError, QueryError) as error:
        result.errors["form"] = str(error)
    return result
