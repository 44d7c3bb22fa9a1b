"""Classification of one notice: rule evidence + text model + buyer prior -> technology areas.

Evidence is gathered (`gather`) and described per area (phrases in title or description, strong
or weak; CPV codes, main or not; the buyer; the text model's probability).  The decision is a
learned combination (`stack_features` -> the artifact's `Stacker`, a logistic regression fitted
by cross-validation on the training data, see `training`) with a decision threshold per area.

The hand-set weights below are kept for two things only: the rule baselines of `evaluate`
(CPV-only, phrase-only), and a fallback when no artifact with a stacker exists yet.  In that
fallback each kind of evidence means what a reader expects: a strong phrase in the title or a
strong main CPV code asserts an area on its own; weak phrases, weak codes and the buyer only add
up; the buyer alone never asserts anything (the stacked decision keeps that rule too).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Final

import numpy as np

from monitor.classifier import model as text_model
from monitor.classifier.rules import (
    STRONG,
    CpvHit,
    ItemHit,
    PhraseHit,
    find_cpv,
    find_item,
    find_phrases,
    phrase_languages,
)
from monitor.classifier.taxonomy import GENERAL, TAXONOMY_PATH, Taxonomy, default_taxonomy
from monitor.classifier.text import detect_language
from monitor.contract import Notice

CODE_VERSION: Final = "1"
# Hand-set weights: rule baselines and the no-artifact fallback only (see the module docstring).
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
TEXT_LOGIT_CLIP: Final = 8.0

# What the stacker reads for one (notice, area) pair; the artifact stores these names and is
# refused when they differ.  Phrase and CPV features are indicators (and capped counts) so that
# one long description cannot outweigh a precise title.
STACK_FEATURES: Final = (
    "strong_title",  # a strong phrase of the area in the title
    "strong_description",  # ... only in the description
    "strong_distinct",  # log(1 + distinct strong phrases)
    "weak_title",
    "weak_description",
    "weak_distinct",
    "ignored",  # phrases dropped by an `unless` context or a veto
    "cpv_strong_main",
    "cpv_strong_other",
    "cpv_weak_main",
    "cpv_weak_other",
    "cpv_elsewhere",  # the notice has CPV codes, none of them for this area
    "no_cpv",
    "prior",  # the buyer organisation's push for the area (taxonomy.yaml)
    "text_logit",  # the text model's log-odds, clipped
    "text_logit_positive",  # max(0, text_logit): a confident model counts more than a doubtful one
    "other_area_strong",  # another area has a strong phrase in the title or a strong main CPV code
    "strong_share",  # this area's share of the notice's distinct strong phrases
    "text_top",  # the text model ranks this area first
    "text_gap",  # text_logit minus the best area's text_logit (<= 0): secondary areas need more
    "general_title",  # a general_other phrase (catering, vacuum cleaner...) in the title
    "general_description",
    "cpv_general_main",  # the main CPV code is a general_other code
    "title_only",
    "all_languages",  # the notice's language was unknown: phrases of every language were tried
    "title_served",  # the area's strong title phrases all name what the item is for, not the item
    "title_served_system",  # ... and the area is a system area (accelerator, telescope)
    "system_item_installation",  # a system area with evidence, and the title buys an item made for one
    "system_item_general",  # ... and the title buys a product, material, service or works
    "rule5_item",  # engineering services / materials, and the title buys a service / a material
    "rule5_item_other",  # ... and the title buys an item of another kind
)
# The system areas also go, beside the technology area, on items specific to their installation
# (the taxonomy's definitions; rule 4 of tests/data/classifier/README.md), so a served
# "for the synchrotron" is kept apart from a served "for the magnets": how much it counts is
# learned (vacuum chambers for the ring carry the area, ion pumps for it do not).
SYSTEM_AREAS: Final = frozenset({"accelerator_beam", "telescopes_astro_instrumentation"})
# Rule 5: engineering services only when a service is bought, materials only when a material or a
# materials process is (not for goods made of it): the area and the item kind that carries it.
RULE5_KINDS: Final = {"engineering_rd_services": "service", "materials_coatings": "material"}
_F: Final = {name: i for i, name in enumerate(STACK_FEATURES)}


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
    """Hand-set log-odds of one area (baselines, fallback) and the readable reasons (always)."""

    logit: float = BIAS
    reasons: list[str] = field(default_factory=list)
    has_rule: bool = False


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _quote(items: list[str]) -> str:
    # A stem ("*vakuum*") reads as the word part it matched: the wildcards mean nothing to a reader.
    return ", ".join(f"'{p}'" for p in dict.fromkeys(item.strip("*") for item in items))


@dataclass(slots=True)
class Evidence:
    """Everything `classify` found, kept apart so that baselines can use one kind alone."""

    language: str | None
    language_note: str | None
    phrases: list[PhraseHit]
    cpv: list[CpvHit]
    model: dict[str, float]
    notes: list[str]
    all_languages: bool = False
    item: ItemHit | None = None  # what the title buys, when a taxonomy `item_kinds` phrase names it


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
            language = None
            language_note = "language could not be detected; phrases of all languages tried"
    all_languages = language is None or language not in taxonomy.languages
    if language and all_languages:
        # A Polish or Czech notice often carries English or German terms; every phrase list is
        # tried rather than English alone, and the evidence says so.
        notes.append(f"no phrase list for language '{language}': phrases of all languages tried")
    if not notice.description:
        notes.append("only a title to read (no description)")
    if not notice.cpv_codes:
        notes.append("no CPV code")
    languages = taxonomy.languages if all_languages else phrase_languages(language, taxonomy)
    phrases = find_phrases(taxonomy, languages, notice.title, notice.description)
    cpv = find_cpv(taxonomy, notice.cpv_codes)
    item = find_item(taxonomy, languages, notice.title)
    scores: dict[str, float] = {}
    if model is not False:
        loaded = default_model() if model is True else model
        if loaded is not None:
            scores = loaded.predict(text)
    return Evidence(language, language_note, phrases, cpv, scores, notes, all_languages, item)


def stack_features(
    notice: Notice, evidence: Evidence, areas: tuple[str, ...], taxonomy: Taxonomy | None = None
) -> np.ndarray:
    """The stacker's input: one row of `STACK_FEATURES` per area of `areas` (float64)."""
    taxonomy = taxonomy or default_taxonomy()
    # Plain lists, one array at the end: item assignment into a small numpy array costs more
    # than the whole rest of this function.
    n_features = len(STACK_FEATURES)
    row_of = {area: i for i, area in enumerate(areas)}
    rows = [[0.0] * n_features for _ in areas]
    shared = [0.0] * n_features  # notice-level features, the same for every area
    strong: dict[str, set[str]] = {}
    weak: dict[str, set[str]] = {}
    decisive: set[str] = set()
    served: set[str] = set()
    head: set[str] = set()
    for hit in evidence.phrases:
        if hit.area == GENERAL and hit.ignored_because is None:
            shared[_F["general_title" if hit.field == "title" else "general_description"]] = 1.0
        i = row_of.get(hit.area)
        if i is None:
            continue
        row = rows[i]
        if hit.ignored_because is not None:
            row[_F["ignored"]] = 1.0
        elif hit.strength == STRONG:
            strong.setdefault(hit.area, set()).add(hit.phrase)
            row[_F["strong_title" if hit.field == "title" else "strong_description"]] = 1.0
            if hit.field == "title":
                (served if hit.served else head).add(hit.area)
                if not hit.served:
                    decisive.add(hit.area)
        else:
            weak.setdefault(hit.area, set()).add(hit.phrase)
            row[_F["weak_title" if hit.field == "title" else "weak_description"]] = 1.0
    for area in served - head:
        rows[row_of[area]][_F["title_served_system" if area in SYSTEM_AREAS else "title_served"]] = 1.0
    total_strong = sum(len(found) for found in strong.values())
    for area, found in strong.items():
        rows[row_of[area]][_F["strong_distinct"]] = math.log1p(len(found))
        rows[row_of[area]][_F["strong_share"]] = len(found) / total_strong
    for area, found in weak.items():
        rows[row_of[area]][_F["weak_distinct"]] = math.log1p(len(found))
    cpv_areas: set[str] = set()
    for cpv_hit in evidence.cpv:
        if cpv_hit.area == GENERAL and cpv_hit.main and cpv_hit.strength == STRONG:
            shared[_F["cpv_general_main"]] = 1.0
        i = row_of.get(cpv_hit.area)
        if i is None:
            continue
        cpv_areas.add(cpv_hit.area)
        kind = "strong" if cpv_hit.strength == STRONG else "weak"
        rows[i][_F[f"cpv_{kind}_{'main' if cpv_hit.main else 'other'}"]] = 1.0
        if cpv_hit.strength == STRONG and cpv_hit.main:
            decisive.add(cpv_hit.area)
    if notice.cpv_codes:
        for area, i in row_of.items():
            if area not in cpv_areas:
                rows[i][_F["cpv_elsewhere"]] = 1.0
    else:
        shared[_F["no_cpv"]] = 1.0
    organisation = taxonomy.organisations.get((notice.organisation or "").lower())
    if organisation is not None:
        for area, push in organisation.areas.items():
            if area in row_of:
                rows[row_of[area]][_F["prior"]] = push
    logits: list[float] = []
    for area in areas:
        p = min(max(evidence.model.get(area, 0.5), 1e-6), 1 - 1e-6)
        logits.append(min(max(math.log(p / (1 - p)), -TEXT_LOGIT_CLIP), TEXT_LOGIT_CLIP))
    if evidence.model:
        best = max(logits)
        top = logits.index(best)
        for i, row in enumerate(rows):
            row[_F["text_logit"]] = logits[i]
            row[_F["text_logit_positive"]] = max(logits[i], 0.0)
            row[_F["text_gap"]] = logits[i] - best
        rows[top][_F["text_top"]] = 1.0
    for area, i in row_of.items():
        if decisive - {area}:
            rows[i][_F["other_area_strong"]] = 1.0
    if evidence.item is not None:
        # Rule 4: the system area goes beside the technology area for items made for the
        # installation, not for what any installation buys.  Only where the system area has
        # evidence of its own, so the item's kind never asserts a system area by itself.
        kind = "system_item_installation" if evidence.item.kind == "installation" else "system_item_general"
        for area in SYSTEM_AREAS & row_of.keys():
            row = rows[row_of[area]]
            if area in strong or area in weak or row[_F["text_logit"]] > 0:
                row[_F[kind]] = 1.0
        for area, carrier in RULE5_KINDS.items():
            if area in row_of:
                rows[row_of[area]][_F["rule5_item" if evidence.item.kind == carrier else "rule5_item_other"]] = 1.0
    if not notice.description:
        shared[_F["title_only"]] = 1.0
    if evidence.all_languages:
        shared[_F["all_languages"]] = 1.0
    return np.asarray(rows, dtype=np.float64) + np.asarray(shared, dtype=np.float64)


def _stacked_probabilities(
    notice: Notice, evidence: Evidence, loaded: text_model.TextModel, taxonomy: Taxonomy
) -> dict[str, tuple[float, bool]]:
    """area -> (probability, asserted) from the artifact's stacker."""
    stacker = loaded.stacker
    assert stacker is not None
    if stacker.feature_names != STACK_FEATURES:
        # An artifact from another version of this code: reading its weights against the
        # current features would give confident nonsense.
        raise ValueError(
            f"{text_model.MODEL_PATH.name} was trained for other stacker features; "
            "rebuild it with `ilo-monitor classifier train` (see monitor/classifier/training.py)"
        )
    x = stack_features(notice, evidence, loaded.labels, taxonomy)
    logits = stacker.area_bias + x @ stacker.weight
    probabilities = 1.0 / (1.0 + np.exp(-logits))
    return {
        area: (float(p), bool(p >= t and has))
        for area, p, t, has in zip(
            loaded.labels, probabilities, stacker.threshold, has_own_evidence(x), strict=True
        )
    }


def has_own_evidence(x: np.ndarray) -> np.ndarray:
    """Rows of `stack_features` output with evidence from the notice itself (bool per row).

    The buyer alone never asserts an area: a phrase, a CPV code or the text model must speak (or,
    for the two areas of rule 5, the title naming a service or a material as what is bought).
    """
    own = x[:, _F["strong_title"]] + x[:, _F["strong_description"]] + x[:, _F["weak_distinct"]]
    own = own + x[:, _F["cpv_strong_main"]] + x[:, _F["cpv_strong_other"]] + x[:, _F["cpv_weak_main"]]
    own = own + x[:, _F["cpv_weak_other"]] + x[:, _F["text_logit_positive"]] + x[:, _F["rule5_item"]]
    return np.asarray(own > 0)


def score(
    notice: Notice,
    evidence: Evidence,
    taxonomy: Taxonomy | None = None,
    *,
    use_phrases: bool = True,
    use_cpv: bool = True,
    use_model: bool = True,
    use_prior: bool = True,
    model: text_model.TextModel | bool | None = True,
) -> list[dict[str, Any]]:
    """Turn evidence into the contract's `technology_areas` (the `use_*` flags give baselines).

    With every kind of evidence on and an artifact that has a stacker (`model`: True = the
    packaged one), the learned combination decides; otherwise the hand-set rule weights do.
    """
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
    if evidence.item is not None:
        named = _quote([evidence.item.phrase])
        if evidence.item.kind == "installation":
            for area_id in SYSTEM_AREAS:
                if tallies[area_id].reasons:  # only beside evidence the area already has
                    tallies[area_id].reasons.append(f"{named} is made for the installation")
        for area_id, carrier in RULE5_KINDS.items():
            if evidence.item.kind == carrier:
                tallies[area_id].reasons.append(f"the title buys a {carrier} ({named})")
    loaded = default_model() if model is True else (model or None)
    decided: dict[str, tuple[float, bool]]
    if use_phrases and use_cpv and use_model and use_prior and loaded is not None and loaded.stacker is not None:
        decided = _stacked_probabilities(notice, evidence, loaded, taxonomy)
    else:
        decided = {k: (_sigmoid(t.logit), t.logit > 0) for k, t in tallies.items() if k != GENERAL}
    result: list[dict[str, Any]] = []
    for area in taxonomy.areas:
        if area.id == GENERAL or area.id not in decided:
            continue
        probability, asserted = decided[area.id]
        if asserted:
            reasons = tallies[area.id].reasons or ["the combined evidence"]
            result.append({"id": area.id, "score": round(probability, 3), "evidence": "; ".join(reasons)})
    result.sort(key=lambda a: (-a["score"], a["id"]))
    notes = list(evidence.notes)
    if evidence.language_note:
        notes.insert(0, evidence.language_note)
    if not result:
        general = tallies[GENERAL]
        reasons = general.reasons or ["no technology evidence found"]
        best = max((p for p, _ in decided.values()), default=0.0)
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
            if in_title and all(h.served for h in strong if h.field == "title"):
                # "Vacuum chambers for the synchrotron": say that the synchrotron is what the
                # item is for, so a reader sees why the area comes second.
                tally.reasons.append(f"title says it is for {_quote(in_title)}")
            else:
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
