"""Pure matching: compiled profiles + a notice → the profiles it matches, with score and reasons.

A notice matches a profile when it passes the profile's hard filters and at least one of:
- one of the profile's technology areas is among the notice's `technology_areas` (as the
  classifier stored them): the notice's main area from `MIN_AREA_SCORE`, any other area from
  `SECONDARY_AREA_SCORE`; the reason quotes the area's evidence:
  "area vacuum (phrase 'turbomolecular pump')";
- one of the notice's CPV codes starts with one of the profile's CPV prefixes;
- one of the profile's keyword expressions matches the title or description (see `query`).

Hard filters and exclusions win over all of these: organisations, notice types (or stages
`pre_tender`, `tender`, `award`), value range (a notice without a value passes) and languages
(a notice without a language passes) must all allow the notice, and no `-exclusion` of the
profile may occur in it. A profile without areas, CPV prefixes and keywords matches every
notice that passes its filters. Status plays no part: closed, cancelled and awarded notices
match on content, and the alert digests decide what to send when.

Speed: `Matcher` keeps inverted indexes (area → profiles, CPV prefix → profiles, and one
`TermIndex` of every keyword term of every profile), so a notice is tokenised once and only the
profiles that something points at are examined; cost grows with notices, not notices × profiles.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from monitor.contract import PRE_TENDER_TYPES, Notice
from monitor.matching.query import Term, TermIndex, Tokens, Variant, parse_all

# What a notice is about is its main area (the highest-scored one) when that scores at least
# MIN_AREA_SCORE; a further area counts on its own only from SECONDARY_AREA_SCORE up. Lower
# secondary areas are the classifier's hints ("for the storage ring" in a magnet notice), and
# matching on them sent beam-instrumentation firms every notice that mentions a beamline.
MIN_AREA_SCORE: Final = 0.5
SECONDARY_AREA_SCORE: Final = 0.7
# Stages a profile may name instead of listing notice types one by one.
STAGES: Final[dict[str, frozenset[str]]] = {
    "pre_tender": PRE_TENDER_TYPES,
    "tender": frozenset({"contract_notice", "invitation_to_tender", "price_enquiry", "corrigendum"}),
    "award": frozenset({"contract_award"}),
}
# How much each kind of evidence says about fit; combined as independent evidence (1 - Π(1 - s)).
_KEYWORD_WEIGHT: Final = 0.7
_CPV_WEIGHT: Final = 0.45
_CPV_WEIGHT_PER_DIGIT: Final = 0.05
_MATCH_ALL_SCORE: Final = 0.1
_ORGANISATION_NAMES: Final = {
    "eurofusion": "EUROfusion",
    "nikhef": "Nikhef",
    "jive": "JIVE",
}

Mode = Literal["full", "keywords"]


@dataclass(frozen=True)
class ProfileSpec:
    """What the matcher needs of a profile, as plain values (no database)."""

    key: Hashable  # the caller's handle: a database id, or (company, profile) in evaluations
    company: str
    name: str = "default"
    areas: Sequence[str] = ()
    cpv_prefixes: Sequence[str] = ()
    keywords: Sequence[str] = ()
    organisations: Sequence[str] = ()
    notice_types: Sequence[str] = ()
    languages: Sequence[str] = ()
    min_value: float | None = None
    max_value: float | None = None

    @property
    def label(self) -> str:
        return f"{self.company}/{self.name}"


@dataclass(frozen=True)
class MatchResult:
    """One profile that a notice matches."""

    key: Hashable
    company: str
    profile: str
    score: float
    reasons: list[str]


@dataclass
class _Compiled:
    spec: ProfileSpec
    # Each keyword expression: its clauses as tuples of term ids (all clauses must hit).
    expressions: list[tuple[tuple[int, ...], ...]]
    exclusions: frozenset[int]
    organisations: frozenset[str]
    notice_types: frozenset[str]
    languages: frozenset[str]
    match_all: bool


@dataclass
class Matcher:
    """Compiled profiles with their inverted indexes; `match()` is pure and safe to call repeatedly."""

    mode: Mode = "full"
    min_area_score: float = MIN_AREA_SCORE
    secondary_area_score: float = SECONDARY_AREA_SCORE
    profiles: list[_Compiled] = field(default_factory=list)
    terms: TermIndex = field(default_factory=TermIndex)
    by_area: dict[str, list[int]] = field(default_factory=dict)
    by_cpv: dict[str, list[int]] = field(default_factory=dict)
    by_term: dict[int, list[int]] = field(default_factory=dict)
    match_all: list[int] = field(default_factory=list)

    def add(self, spec: ProfileSpec) -> None:
        """Compile one profile into the indexes (`QueryError` names the profile if a keyword is bad)."""
        index = len(self.profiles)
        expressions: list[tuple[tuple[int, ...], ...]] = []
        exclusions: set[int] = set()
        for expression in parse_all(spec.keywords, profile=spec.label):
            exclusions.update(self._term(t, None) for t in expression.exclusions)
            if expression.clauses:
                expressions.append(tuple(tuple(self._term(t, index) for t in c) for c in expression.clauses))
        areas = list(spec.areas) if self.mode == "full" else []
        cpvs = list(spec.cpv_prefixes) if self.mode == "full" else []
        for area in areas:
            self.by_area.setdefault(area, []).append(index)
        for prefix in cpvs:
            self.by_cpv.setdefault(prefix, []).append(index)
        # The keyword-only baseline never matches "everything": a profile without keywords
        # simply has nothing to search for.
        match_all = self.mode == "full" and not (areas or cpvs or expressions)
        if match_all:
            self.match_all.append(index)
        types: set[str] = set()
        for name in spec.notice_types:
            types |= STAGES.get(name, {name})
        self.profiles.append(
            _Compiled(
                spec=spec,
                expressions=expressions,
                exclusions=frozenset(exclusions),
                organisations=frozenset(spec.organisations),
                notice_types=frozenset(types),
                languages=frozenset(spec.languages),
                match_all=match_all,
            )
        )

    def _term(self, term: Term, profile: int | None) -> int:
        term_id = self.terms.add(term)
        if profile is not None:
            listed = self.by_term.setdefault(term_id, [])
            if not listed or listed[-1] != profile:
                listed.append(profile)
        return term_id

    # -- matching --------------------------------------------------------------------------------

    def match(self, notice: Notice) -> list[MatchResult]:
        """The profiles `notice` matches, best first."""
        text = notice.title if not notice.description else f"{notice.title}\n{notice.description}"
        hits = self.terms.scan(Tokens.of(text, notice.language))
        areas = self._notice_areas(notice)
        candidates: set[int] = set(self.match_all)
        for area in areas:
            candidates.update(self.by_area.get(area, ()))
        cpv_hits: dict[int, tuple[str, str]] = {}
        if self.by_cpv:
            for code in notice.cpv_codes:
                for length in range(2, len(code) + 1):
                    for index in self.by_cpv.get(code[:length], ()):
                        best = cpv_hits.get(index)
                        if best is None or len(best[1]) < length:
                            cpv_hits[index] = (code, code[:length])
            candidates.update(cpv_hits)
        for term_id in hits:
            candidates.update(self.by_term.get(term_id, ()))
        results = []
        for index in candidates:
            result = self._judge(self.profiles[index], notice, hits, areas, cpv_hits.get(index))
            if result is not None:
                results.append(result)
        results.sort(key=lambda r: (-r.score, r.company, r.profile))
        return results

    def _notice_areas(self, notice: Notice) -> dict[str, tuple[float, list[str]]]:
        """The notice's areas that count for matching: its main area and strong further ones."""
        if self.mode != "full":
            return {}
        scored: list[tuple[float, str, list[str]]] = []
        for area in notice.technology_areas:
            try:
                score = float(area.get("score") or 0)
            except (TypeError, ValueError):
                continue
            if isinstance(area.get("id"), str):
                evidence = area.get("evidence") or []
                scored.append(
                    (min(score, 1.0), area["id"], [evidence] if isinstance(evidence, str) else list(evidence))
                )
        if not scored:
            return {}
        top = max(score for score, _, _ in scored)
        return {
            area: (score, evidence)
            for score, area, evidence in scored
            if score >= self.min_area_score and (score == top or score >= self.secondary_area_score)
        }

    def _judge(
        self,
        profile: _Compiled,
        notice: Notice,
        hits: dict[int, Variant],
        areas: dict[str, tuple[float, list[str]]],
        cpv_hit: tuple[str, str] | None,
    ) -> MatchResult | None:
        spec = profile.spec
        # Filters and exclusions first: they win over any evidence.
        if profile.organisations and notice.organisation not in profile.organisations:
            return None
        if profile.notice_types and notice.notice_type not in profile.notice_types:
            return None
        if profile.languages and notice.language is not None and notice.language not in profile.languages:
            return None
        value = notice.estimated_value
        if value is not None:
            if spec.min_value is not None and value < spec.min_value:
                return None
            if spec.max_value is not None and value > spec.max_value:
                return None
        if not profile.exclusions.isdisjoint(hits):
            return None
        reasons: list[str] = []
        strengths: list[float] = []
        for area in spec.areas if self.mode == "full" else ():
            if area in areas:
                score, evidence = areas[area]
                strengths.append(score)
                reasons.append(f"area {area}" + (f" ({', '.join(_dedupe(evidence)[:2])})" if evidence else ""))
        if cpv_hit is not None:
            code, prefix = cpv_hit
            strengths.append(min(0.9, _CPV_WEIGHT + _CPV_WEIGHT_PER_DIGIT * (len(prefix) - 2)))
            reasons.append(f"CPV {code}" + (f" (prefix {prefix})" if prefix != code else ""))
        for clauses in profile.expressions:
            found = []
            for clause in clauses:
                term_id = next((t for t in clause if t in hits), None)
                if term_id is None:
                    break
                found.append(_describe(self.terms.terms[term_id], hits[term_id]))
            else:
                strengths.append(_KEYWORD_WEIGHT)
                reasons.append(("keyword " if len(found) == 1 else "keywords ") + " + ".join(found))
        if not strengths:
            if not profile.match_all:
                return None
            strengths.append(_MATCH_ALL_SCORE)
            reasons.append("profile without areas, CPV prefixes or keywords: every notice that passes its filters")
        if profile.organisations and notice.organisation:
            reasons.append(f"organisation {organisation_name(notice.organisation)}")
        if value is not None and (spec.min_value is not None or spec.max_value is not None):
            reasons.append(f"value {value:,.0f} {notice.currency or ''}".rstrip())
        miss = 1.0
        for strength in strengths:
            miss *= 1.0 - strength
        return MatchResult(spec.key, spec.company, spec.name, round(1.0 - miss, 3), reasons)


def _describe(term: Term, variant: Variant) -> str:
    if variant.language is not None:  # found through a translation: say which
        return f'"{term.text}" (as "{variant.display}")'
    return f'"{term.text}"'


def _dedupe(items: Iterable[Any]) -> list[str]:
    return list(dict.fromkeys(str(item) for item in items if item))


def organisation_name(org_id: str) -> str:
    """How people write an organisation id: CERN, ESO, F4E, EUROfusion, Nikhef..."""
    return _ORGANISATION_NAMES.get(org_id, org_id.upper())


def compile_profiles(
    specs: Iterable[ProfileSpec], *, mode: Mode = "full", min_area_score: float = MIN_AREA_SCORE
) -> Matcher:
    """A `Matcher` over `specs`; `mode="keywords"` is the keyword-only baseline (no areas or CPV)."""
    matcher = Matcher(mode=mode, min_area_score=min_area_score)
    for spec in specs:
        matcher.add(spec)
    return matcher
