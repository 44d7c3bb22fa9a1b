"""Technology-area classifier: which of the 23 areas of `monitor/taxonomy.yaml` a notice is about.

Pure API, no storage and no Scrapy:

* `classify(notice)` -> the contract's `technology_areas` ([{id, score, evidence}], most
  confident first; `general_other` when nothing else applies);
* `CLASSIFIER_VERSION` -> changes with the scoring code, the taxonomy or the model artifact;
* `apply_corrections(areas, ["+vacuum", "-general_other"])` -> an ILO's corrections applied on
  top of the classifier's areas (corrections always win).

Training and evaluation live in `monitor.classifier.training` and `.evaluate`, the click group
`classifier` in `.cli`.
"""

from __future__ import annotations

from typing import Any, Final

from monitor.classifier.core import CLASSIFIER_VERSION, classify
from monitor.classifier.taxonomy import AREA_IDS, GENERAL, TaxonomyError

CORRECTION_EVIDENCE: Final = "corrected by an ILO"

__all__ = ["AREA_IDS", "CLASSIFIER_VERSION", "CORRECTION_EVIDENCE", "apply_corrections", "classify"]


def parse_corrections(corrections: list[str]) -> tuple[list[str], list[str]]:
    """(["vacuum"], ["general_other"]) from ["+vacuum", "-general_other"]; unknown ids raise."""
    added: list[str] = []
    removed: list[str] = []
    for item in corrections:
        sign, area = item[:1], item[1:].strip()
        if sign not in "+-" or not sign or area not in AREA_IDS:
            raise TaxonomyError(f"correction {item!r}: expected +AREA or -AREA with one of {', '.join(AREA_IDS)}")
        target, other = (added, removed) if sign == "+" else (removed, added)
        if area in other:
            other.remove(area)
        if area not in target:
            target.append(area)
    return added, removed


def apply_corrections(areas: list[dict[str, Any]], corrections: list[str]) -> list[dict[str, Any]]:
    """The classifier's `areas` with an ILO's corrections applied; corrections win.

    Added areas come first with score 1.0 and evidence "corrected by an ILO"; removed ones
    disappear.  `general_other` is dropped as soon as a real area is present, and comes back
    (as a correction) when the ILO removed everything else.
    """
    added, removed = parse_corrections(corrections)
    kept = [dict(a) for a in areas if a["id"] not in removed and a["id"] not in added]
    result = [{"id": area, "score": 1.0, "evidence": CORRECTION_EVIDENCE} for area in added] + kept
    if any(a["id"] != GENERAL for a in result):
        result = [a for a in result if a["id"] != GENERAL or a["id"] in added]
    if not result:
        result = [{"id": GENERAL, "score": 1.0, "evidence": CORRECTION_EVIDENCE}]
    return result
