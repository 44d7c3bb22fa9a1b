"""The Big Science organisation registry: which buyer is CERN, ESO, F4E, an NWO-I institute...

The registry lives in `organisations.yaml` next to this module (package data) and is loaded once.
`identify()` runs on every parsed notice, so the matching is precompiled into two regular
expressions and results are cached per buyer name:

- name variants ("aliases") are compared on a *folded* form of the buyer: accents stripped,
  case-folded, every run of punctuation or white space turned into one space, so that
  "Organisation Européenne pour la Recherche Nucléaire" and "ORGANISATION EUROPEENNE POUR LA
  RECHERCHE NUCLEAIRE," match the same variant; a variant must start and end on word boundaries;
- acronyms are compared case-sensitively on the accent-stripped buyer, as whole words, so "ESO"
  never matches inside "PROFESSOR" and "ILL" never inside "WILL" or "Illinois". Acronyms that
  are also ordinary words ("weak" ones: ESO, ILL, ITER, FAIR...) are ignored in buyer names
  written all in capitals, where every word looks like an acronym.

When variants of several organisations match, the longest matched text wins (F4E's full name
contains "ITER"; "Fusion for Energy" must still give `f4e`).

`procedure_key_for()` gives the identity of a procedure across sources: an organisation whose
references follow a known pattern (`reference_pattern`: F4E's "F4E-OMF-1108", CERN's
"MS-4321/EN" and "IT-4321/EN" sharing the number) keys a procedure by that reference, so that
its own portal's notice and its TED notice, or a CERN market survey and the invitation to
tender that follows it, land in one procedure.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Final

from monitor.errors import ConfigurationError
from monitor.yamlload import safe_load

_RESOURCE: Final = "organisations.yaml"


@dataclass(frozen=True, slots=True)
class Organisation:
    """One Big Science organisation: its id, seat, time zone and every name it is known by."""

    id: str
    name: str
    country: str
    timezone: str
    website: str
    aliases: tuple[str, ...]
    acronyms: tuple[str, ...]
    weak_acronyms: tuple[str, ...]
    # Other bodies whose names contain one of ours ("Consorcio ESS Bilbao" is not ESS ERIC).
    not_names: tuple[str, ...] = ()
    # How the organisation numbers its procedures (a regular expression, searched for in a
    # reference); its `key` group, else the whole match, identifies the procedure.
    reference_pattern: re.Pattern[str] | None = None


def _strip_accents(text: str) -> str:
    # NFKD splits "é" into "e" + a combining accent, which is then dropped; "ß" and "æ" have no
    # decomposition and are handled by casefold() ("ss") or stay as they are (consistently on
    # both sides of the comparison, which is all that matters).
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


def fold(text: str) -> str:
    """`text` reduced for comparison: no accents, case-folded, punctuation runs as one space."""
    return " " + _NON_WORD.sub(" ", _strip_accents(text).casefold()).strip() + " "


class _Registry:
    """The loaded registry with its precompiled matchers (built once, see `_registry()`)."""

    def __init__(self, organisations: list[Organisation]) -> None:
        self.by_id: dict[str, Organisation] = {org.id: org for org in organisations}
        self.alias_owner: dict[str, str] = {}
        self.acronym_owner: dict[str, str] = {}
        self.weak: set[str] = set()
        self.exclusions: dict[str, tuple[str, ...]] = {}
        for org in organisations:
            for alias in (*org.aliases, org.name):
                folded = fold(alias).strip()
                if folded:
                    self.alias_owner.setdefault(folded, org.id)
            for acronym in (*org.acronyms, *org.weak_acronyms):
                self.acronym_owner.setdefault(_strip_accents(acronym), org.id)
            self.weak.update(_strip_accents(a) for a in org.weak_acronyms)
            if org.not_names:
                self.exclusions[org.id] = tuple(fold(n) for n in org.not_names)
        # Longest first: at one position the regex alternation takes the first alternative
        # that matches, so the longest variant is found there.
        aliases = sorted(self.alias_owner, key=len, reverse=True)
        # The folded text is padded with spaces and has only single spaces between words, so a
        # word boundary is simply a space on each side (kept out of the match by lookarounds).
        self.alias_re = re.compile("(?<= )(?:" + "|".join(re.escape(a) for a in aliases) + ")(?= )")
        acronyms = sorted(self.acronym_owner, key=len, reverse=True)
        self.acronym_re = (
            re.compile(r"(?<![^\W_])(?:" + "|".join(re.escape(a) for a in acronyms) + r")(?![^\W_])")
            if acronyms
            else None
        )

    def identify(self, buyer: str) -> str | None:
        folded = fold(buyer)
        best: tuple[int, str] | None = None
        for match in self.alias_re.finditer(folded):
            candidate = (len(match.group(0)), self.alias_owner[match.group(0)])
            if best is None or candidate[0] > best[0]:
                best = candidate
        if self.acronym_re is not None:
            plain = _strip_accents(buyer)
            # A name in capitals ("FUNDACION ESO ...") says nothing by its capitals.
            shouting = not any(ch.islower() for ch in plain)
            alone = fold(plain).strip()
            for match in self.acronym_re.finditer(plain):
                acronym = match.group(0)
                # ...unless the acronym is the whole name ("ESO", "ILL").
                if shouting and acronym in self.weak and alone != acronym.casefold():
                    continue
                candidate = (len(acronym), self.acronym_owner[acronym])
                if best is None or candidate[0] > best[0]:
                    best = candidate
        if best is not None and any(n in folded for n in self.exclusions.get(best[1], ())):
            return None
        return best[1] if best else None


def _pattern(entry: dict[str, Any]) -> re.Pattern[str] | None:
    text = entry.get("reference_pattern")
    if text is None:
        return None
    try:
        return re.compile(str(text))
    except re.error as error:
        raise ConfigurationError(f"{_RESOURCE}: {entry.get('id')}: reference_pattern: {error}") from error


def _load(text: str) -> list[Organisation]:
    data: Any = safe_load(text)
    if not isinstance(data, list):
        raise ConfigurationError(f"{_RESOURCE}: expected a list of organisations")
    organisations: list[Organisation] = []
    for entry in data:
        try:
            organisations.append(
                Organisation(
                    id=str(entry["id"]),
                    name=str(entry["name"]),
                    country=str(entry["country"]),
                    timezone=str(entry["timezone"]),
                    website=str(entry["website"]),
                    aliases=tuple(str(a) for a in entry.get("aliases") or ()),
                    acronyms=tuple(str(a) for a in entry.get("acronyms") or ()),
                    weak_acronyms=tuple(str(a) for a in entry.get("weak_acronyms") or ()),
                    not_names=tuple(str(a) for a in entry.get("not_names") or ()),
                    reference_pattern=_pattern(entry),
                )
            )
        except (KeyError, TypeError) as error:
            raise ConfigurationError(f"{_RESOURCE}: malformed entry {entry!r}: {error}") from error
    ids = [org.id for org in organisations]
    if len(set(ids)) != len(ids):
        raise ConfigurationError(f"{_RESOURCE}: duplicate organisation ids")
    return organisations


@lru_cache(maxsize=1)
def _registry() -> _Registry:
    text = resources.files("monitor").joinpath(_RESOURCE).read_text(encoding="utf-8")
    return _Registry(_load(text))


@lru_cache(maxsize=4096)
def identify(buyer: str | None) -> str | None:
    """The id of the Big Science organisation `buyer` names, or None (cached: names repeat)."""
    if not buyer or not buyer.strip():
        return None
    return _registry().identify(buyer)


def get(org_id: str) -> Organisation:
    """The organisation with id `org_id`; `KeyError` naming it when there is none."""
    try:
        return _registry().by_id[org_id]
    except KeyError:
        raise KeyError(f"no Big Science organisation with id {org_id!r}") from None


def procedure_key_for(org_id: str | None, reference: str | None) -> str | None:
    """The cross-source procedure key of `reference` at organisation `org_id`, or None.

    None when the organisation is unknown, has no `reference_pattern`, or the reference does not
    follow it (then the caller keeps its own key): "f4e", "F4E-OMF-1108 Lot 2" gives
    "f4e:F4E-OMF-1108"; "cern", "MS-4321/EN" and "IT-4321/EN" both give "cern:4321/EN".
    """
    if not org_id or not reference:
        return None
    org = _registry().by_id.get(org_id)
    if org is None or org.reference_pattern is None:
        return None
    match = org.reference_pattern.search(reference.strip())
    if match is None:
        return None
    key = match.groupdict().get("key") or match.group(0)
    return f"{org.id}:{key}"


def all_organisations() -> tuple[Organisation, ...]:
    """Every organisation of the registry, in the file's order."""
    return tuple(_registry().by_id.values())


def ted_buyer_names(org_ids: list[str] | None = None) -> list[str]:
    """Name variants to put into a TED expert query (buyer-name field), deduplicated.

    Full names and aliases only, plus the acronyms that are not ordinary words: a TED search
    on "ESO" or "ILL" alone would drown the results. Callers quote each name themselves.
    """
    names: list[str] = []
    seen: set[str] = set()
    for org in all_organisations():
        if org_ids is not None and org.id not in org_ids:
            continue
        for name in (*org.aliases, *org.acronyms):
            key = fold(name)
            if key not in seen:
                seen.add(key)
                names.append(name)
    return names
