"""Measure the classifier against notices with known areas (`gold_areas`), next to two baselines.

Systems compared on the same notices: the full classifier (the learned stacker over all
evidence); CPV-only (the taxonomy's CPV codes, nothing else); phrase-only (the taxonomy's
phrases with their masks and vetoes, nothing else), both with the hand-set rule weights.
Reported: per-area precision, recall, F1 and support; micro and macro F1 over the technology
areas; and relevant-vs-general_other accuracy (does the system tell a Big Science technology
notice from catering and cleaning).

The same figures measure how far two people's labels for the same notices agree (`agreement`):
a target is only as meaningful as the labels it is measured on, and where two careful readers
differ, no classifier can be scored above their agreement.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from monitor.classifier.core import gather, score
from monitor.classifier.taxonomy import AREA_IDS, CORE_AREAS, GENERAL
from monitor.contract import Notice, from_record

SYSTEMS: Final = ("classifier", "cpv_only", "phrase_only")


@dataclass(slots=True)
class Counts:
    """True/false positives and false negatives of one area."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass(slots=True)
class Report:
    """Scores of one system over a set of notices."""

    per_area: dict[str, Counts] = field(default_factory=lambda: {a: Counts() for a in AREA_IDS})
    relevant_correct: int = 0
    total: int = 0
    errors: list[tuple[str, list[str], list[str]]] = field(default_factory=list)

    def add(self, title: str, gold: set[str], predicted: set[str]) -> None:
        self.total += 1
        for area in AREA_IDS:
            counts = self.per_area[area]
            if area in gold and area in predicted:
                counts.tp += 1
            elif area in predicted:
                counts.fp += 1
            elif area in gold:
                counts.fn += 1
        if bool(gold - {GENERAL}) == bool(predicted - {GENERAL}):
            self.relevant_correct += 1
        if gold != predicted:
            self.errors.append((title, sorted(gold), sorted(predicted)))

    def _technology(self) -> list[Counts]:
        return [c for a, c in self.per_area.items() if a != GENERAL]

    @property
    def micro(self) -> Counts:
        total = Counts()
        for c in self._technology():
            total.tp += c.tp
            total.fp += c.fp
            total.fn += c.fn
        return total

    @property
    def macro_f1(self) -> float:
        present = [c for c in self._technology() if c.tp + c.fn]
        return sum(c.f1 for c in present) / len(present) if present else 0.0

    @property
    def relevance_accuracy(self) -> float:
        return self.relevant_correct / self.total if self.total else 0.0


def read_gold(path: Path) -> list[tuple[Notice, set[str]]]:
    """Notices and their gold areas from a JSONL file in the contract format + `gold_areas`."""
    items: list[tuple[Notice, set[str]]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        record: dict[str, Any] = json.loads(line)
        gold = record.pop("gold_areas", None)
        if not isinstance(gold, list) or not gold:
            raise ValueError(f"{path}:{number}: gold_areas must be a non-empty list")
        unknown = set(gold) - set(AREA_IDS)
        if unknown:
            raise ValueError(f"{path}:{number}: unknown area(s) {', '.join(sorted(unknown))}")
        items.append((from_record(record), set(gold)))
    return items


def read_labels(path: Path) -> dict[str, set[str]]:
    """Areas by `source_id` from JSON lines with `source_id` and `gold_areas` (other keys ignored).

    Reads both a full gold file (contract records + `gold_areas`) and a bare label file, so that a
    second reader's labels need not repeat the notices.
    """
    labels: dict[str, set[str]] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        record: dict[str, Any] = json.loads(line)
        key = record.get("source_id")
        gold = record.get("gold_areas")
        if not isinstance(key, str) or not key:
            raise ValueError(f"{path}:{number}: source_id is missing")
        if key in labels:
            raise ValueError(f"{path}:{number}: source_id {key} appears twice")
        if not isinstance(gold, list) or not gold:
            raise ValueError(f"{path}:{number}: gold_areas must be a non-empty list")
        unknown = set(gold) - set(AREA_IDS)
        if unknown:
            raise ValueError(f"{path}:{number}: unknown area(s) {', '.join(sorted(unknown))}")
        labels[key] = set(gold)
    return labels


def agreement(first: dict[str, set[str]], second: dict[str, set[str]]) -> Report:
    """How far `second` agrees with `first`, scored as if `first` were gold.

    Micro-F1 and relevance agreement do not depend on which reading is taken as gold (swapping
    them swaps false positives and false negatives); per-area precision and recall do.
    """
    unmatched = sorted(first.keys() ^ second.keys())
    if unmatched:
        shown = ", ".join(unmatched[:5]) + (" ..." if len(unmatched) > 5 else "")
        raise ValueError(f"the label sets cover different notices: {len(unmatched)} source_id(s) in one only ({shown})")
    report = Report()
    for key, gold in first.items():
        report.add(key, gold, second[key])
    return report


def evaluate(items: list[tuple[Notice, set[str]]]) -> dict[str, Report]:
    """A report per system (classifier, cpv_only, phrase_only)."""
    reports = {name: Report() for name in SYSTEMS}
    for notice, gold in items:
        evidence = gather(notice)
        variants = {
            "classifier": score(notice, evidence),
            "cpv_only": score(notice, evidence, use_phrases=False, use_model=False, use_prior=False),
            "phrase_only": score(notice, evidence, use_cpv=False, use_model=False, use_prior=False),
        }
        for name, areas in variants.items():
            reports[name].add(notice.title, gold, {a["id"] for a in areas})
    return reports


def format_report(reports: dict[str, Report]) -> str:
    """A plain-text table: one row per area, P/R/F1 per system (column), then the summary lines.

    Support is counted on the first report's gold; all reports must share that gold.
    """
    systems = list(reports)
    header = f"{'area':34} {'support':>7}  " + "  ".join(f"{name[:20]:^20}" for name in systems)
    sub = f"{'':34} {'':>7}  " + "  ".join(f"{'P':>6}{'R':>7}{'F1':>7}" for _ in systems)
    lines = [header, sub, "-" * len(header)]
    first = reports[systems[0]]
    for area in AREA_IDS:
        support = first.per_area[area].tp + first.per_area[area].fn
        cells = "  ".join(
            f"{c.precision:6.2f}{c.recall:7.2f}{c.f1:7.2f}" for c in (reports[s].per_area[area] for s in systems)
        )
        marker = "*" if area in CORE_AREAS else " "
        lines.append(f"{area + marker:34} {support:7d}  {cells}")
    lines.append("-" * len(header))
    for label, getter in (
        (
            "micro P/R/F1 (technology areas)",
            lambda r: f"{r.micro.precision:6.2f}{r.micro.recall:7.2f}{r.micro.f1:7.2f}",
        ),
        ("macro F1", lambda r: f"{'':13}{r.macro_f1:7.2f}"),
        ("relevant-vs-general accuracy", lambda r: f"{'':13}{r.relevance_accuracy:7.2f}"),
    ):
        lines.append(f"{label:34} {'':7}  " + "  ".join(getter(reports[s]) for s in systems))
    lines.append(f"notices: {first.total}; support: notices the gold tags with the area; * = core area")
    return "\n".join(lines)
