"""Classification of one notice: rule evidence + text model + buyer prior -> technology areas.

Every source of evidence adds log-odds to an area; an area is asserted when the sum passes zero,
and its score is the logistic of the sum.  The weights are few and set so that each kind of
evidence means what a reader expects:

* a strong phrase in the title, or a strong main CPV code, asserts an area on its own;
* weak phrases, weak CPV codes and the buyer's organisation only add up (a weak phrase plus a
  weak code, or a weak phrase plus a confident text model, is enough; the buyer alone never is);
* the text model can assert an area alone only when it is confident, and it can at most
  mildly argue against a phrase (it has seen few Big Science notices).

The weights were chosen on `tests/data/classifier/train_curated.jsonl` (with the text model
cross-validated), never on the development set.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Final

from monitor.classifier import model as text_model
from monitor.classifier.rules import STRONG, CpvHit, PhraseHit, find_cpv, find_phrases, phrase_languages
from monitor.classifier.taxonomy import GENERAL, TAXONOMY_PATH, Taxonomy, default_taxonomy
from monitor.classifier.text import detect_language
from monitor.contract import Notice

CODE_VERSION: Final = "1"
BIAS: Final = -2.5
W_PHRASE_TITLE: Final = 3.2
W_PHRASE_DESCRIPTION: Final = 2.8
W_PHRASE_EXTRA: Final = 0.4  # each further distinct strong phrase
W_WEAK_TITLE: Final = 1.0
W_WEAK_DESCRIPTION: Final = 0.6
CAP_WEAK: Final = 1.2
W_CPV_MAIN: Final = 3.0
W_CPV_OTHER: Final = 2.0
W_CPV_WEAK_MAIN: Final = 1.0
W_CPV_WEAK_OTHER: Final = 0.6
CAP_CPV: Final = 3.2
W_MODEL: Final = 1.0
MODEL_FLOOR: Final = -0.3
MODEL_CAP: Final = 3.2
MIN_LANGUAGE_CONFIDENCE: Final = 0.6


def _version() -> str:
    digest = hashlib.sha256(CODE_VERSION.encode())
    digest.update(TAXONOMY_PATH.read_bytes())
    if text_model.MODEL_PATH.exists():
        digest.update(text_model.MODEL_PATH.read_bytes())
    return f"{CODE_VERSION}+{digest.hexdigest()[:10]}"


# Changes whenever the code's scoring, the taxonomy file or the model artifact changes, so that
# storage can tell which tags were made by an older classifier.
CLASSIFIER_VERSION: Final = _version()


@lru_cache(maxsize=1)
def default_model() -> text_model.TextModel | None:
    """The packaged text model, loaded once; None when no artifact has been built yet."""
    if not text_model.MODEL_PATH.exists():
        return None
    return text_model.load(text_model.MODEL_PATH)


@dataclass(slots=True)
class _Tally:
    logit: float = BIAS
    reasons: list[str] = field(default_factory=list)
    has_rule: bool = False


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _quote(items: list[str]) -> str:
    return ", ".join(f"'{p}'" for p in dict.fromkeys(items))


@dataclass(slots=True)
class Evidence:
    """Everything `classify` found, kept apart so that baselines can use one kind alone."""

    language: str | None
    language_note: str | None
    phrases: list[PhraseHit]
    cpv: list[CpvHit]
    model: dict[str, float]
    notes: list[str]


def gather(
    notice: Notice,
    taxonomy: Taxonomy | None = None,
    model: text_model.TextModel | bool | None = True,
) -> Evidence:
    """Collect the evidence for `notice` (model=False: skip the text model)."""
    taxonomy = taxonomy or default_taxonomy()
    notes: list[str] = []
    language = notice.language
    language_note = None
    text = notice.title + ("\n" + notice.description if notice.description else "")
    if not language:
        detected, confidence = detect_language(text)
        if detected and confidence >= MIN_LANGUAGE_CONFIDENCE:
            language = detected
            language_note = f"language detected as {detected}"
        else:
            language_note = "language could not be detected; English phrases only"
    if language and language not in taxonomy.languages:
        notes.append(f"no phrase list for language '{language}': English phrases, CPV and text model only")
    if not notice.description:
        notes.append("only a title to read (no description)")
    if not notice.cpv_codes:
        notes.append("no CPV code")
    languages = phrase_languages(language, taxonomy)
    phrases = find_phrases(taxonomy, languages, notice.title, notice.description)
    cpv = find_cpv(taxonomy, notice.cpv_codes)
    scores: dict[str, float] = {}
    if model is not False:
        loaded = default_model() if model is True else model
        if loaded is not None:
            scores = loaded.predict(text)
    return Evidence(language, language_note, phrases, cpv, scores, notes)


def score(
    notice: Notice,
    evidence: Evidence,
    taxonomy: Taxonomy | None = None,
    *,
    use_phrases: bool = True,
    use_cpv: bool = True,
    use_model: bool = True,
    use_prior: bool = True,
) -> list[dict[str, Any]]:
    """Turn evidence into the contract's `technology_areas` (the `use_*` flags give baselines)."""
    taxonomy = taxonomy or default_taxonomy()
    tallies = {area.id: _Tally() for area in taxonomy.areas}
    if use_phrases:
        _add_phrases(tallies, evidence.phrases)
    if use_cpv:
        _add_cpv(tallies, evidence.cpv, taxonomy)
    if use_model:
        for area_id, probability in evidence.model.items():
            if area_id not in tallies or area_id == GENERAL:
                continue
            p = min(max(probability, 1e-6), 1 - 1e-6)
            push = min(max(W_MODEL * math.log(p / (1 - p)), MODEL_FLOOR), MODEL_CAP)
            tally = tallies[area_id]
            tally.logit += push
            if probability >= 0.5:
                tally.reasons.append(f"the text model rates it {probability:.2f}")
    organisation = taxonomy.organisations.get((notice.organisation or "").lower())
    if use_prior and organisation is not None:
        for area_id, push in organisation.areas.items():
            tally = tallies[area_id]
            tally.logit += push
            tally.reasons.append(f"buyer {organisation.name} often buys this")
    result: list[dict[str, Any]] = []
    for area in taxonomy.areas:
        if area.id == GENERAL:
            continue
        tally = tallies[area.id]
        if tally.logit > 0:
            result.append(
                {"id": area.id, "score": round(_sigmoid(tally.logit), 3), "evidence": "; ".join(tally.reasons)}
            )
    result.sort(key=lambda a: (-a["score"], a["id"]))
    notes = list(evidence.notes)
    if evidence.language_note:
        notes.insert(0, evidence.language_note)
    if not result:
        general = tallies[GENERAL]
        reasons = general.reasons or ["no technology evidence found"]
        best = max((_sigmoid(t.logit) for k, t in tallies.items() if k != GENERAL), default=0.0)
        result.append({"id": GENERAL, "score": round(max(1.0 - best, 0.5), 3), "evidence": "; ".join(reasons + notes)})
    elif notes:
        for item in result:
            item["evidence"] = item["evidence"] + " (" + "; ".join(notes) + ")"
    return result


def _add_phrases(tallies: dict[str, _Tally], hits: list[PhraseHit]) -> None:
    by_area: dict[str, list[PhraseHit]] = {}
    for hit in hits:
        by_area.setdefault(hit.area, []).append(hit)
    for area_id, area_hits in by_area.items():
        tally = tallies[area_id]
        kept = [h for h in area_hits if h.ignored_because is None]
        strong = [h for h in kept if h.strength == STRONG]
        weak = [h for h in kept if h.strength != STRONG]
        if strong:
            in_title = [h.phrase for h in strong if h.field == "title"]
            first = W_PHRASE_TITLE if in_title else W_PHRASE_DESCRIPTION
            distinct = len({h.phrase for h in strong})
            tally.logit += first + W_PHRASE_EXTRA * min(distinct - 1, 3)
            where = "title" if in_title else "description"
            tally.reasons.append(f"{where} mentions {_quote(in_title or [h.phrase for h in strong])}")
            if in_title and len({h.phrase for h in strong}) > len(set(in_title)):
                others = [h.phrase for h in strong if h.field != "title" and h.phrase not in in_title]
                tally.reasons.append(f"description mentions {_quote(others)}")
            tally.has_rule = True
        if weak:
            push = sum(W_WEAK_TITLE if h.field == "title" else W_WEAK_DESCRIPTION for h in weak)
            tally.logit += min(push, CAP_WEAK)
            tally.reasons.append(f"mentions {_quote([h.phrase for h in weak])} (weak on its own)")
        ignored = [h for h in area_hits if h.ignored_because is not None]
        if ignored and not kept and area_id != GENERAL:
            tally.reasons.append(
                f"ignored {_quote([h.phrase for h in ignored])} because of '{ignored[0].ignored_because}'"
            )


def _add_cpv(tallies: dict[str, _Tally], hits: list[CpvHit], taxonomy: Taxonomy) -> None:
    by_area: dict[str, list[CpvHit]] = {}
    for hit in hits:
        by_area.setdefault(hit.area, []).append(hit)
    for area_id, area_hits in by_area.items():
        tally = tallies[area_id]
        push = 0.0
        for hit in area_hits:
            if hit.strength == STRONG:
                push += W_CPV_MAIN if hit.main else W_CPV_OTHER
            else:
                push += W_CPV_WEAK_MAIN if hit.main else W_CPV_WEAK_OTHER
        tally.logit += min(push, CAP_CPV)
        strong = [h for h in area_hits if h.strength == STRONG]
        label = taxonomy.area(area_id).label
        if strong:
            codes = ", ".join(dict.fromkeys(h.code for h in strong))
            tally.reasons.append(f"CPV {codes} is a code for {label}")
            tally.has_rule = True
        else:
            codes = ", ".join(dict.fromkeys(h.code for h in area_hits))
            tally.reasons.append(f"CPV {codes} is a broad code sometimes used for {label}")


def classify(notice: Notice) -> list[dict[str, Any]]:
    """The notice's `technology_areas`: [{id, score, evidence}], most confident first.

    Never empty: a notice without technology evidence gets `general_other`, with evidence that
    says what was found or missing.
    """
    return score(notice, gather(notice))
