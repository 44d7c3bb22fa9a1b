"""`matches evaluate`: precision, recall and F1 of the matcher against a gold file.

The gold file lists every (company, notice) pair that should match, one JSON object a line:
`{"company": "...", "source_id": "..."}`. Every other pair of an evaluated company and an
evaluated notice should not match. A company matches a notice when any of its profiles does.

Beside the matcher, the same profiles are run as a *keyword-only baseline* (their keyword
expressions and filters alone, without technology areas and CPV prefixes), which is what a
plain keyword alert service would send; the matcher has to beat it to earn its keep.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from monitor.contract import Notice
from monitor.errors import InputError
from monitor.matching.matcher import Mode, ProfileSpec, compile_profiles

Pair = tuple[str, str]  # (company id, notice source_id)


@dataclass
class Scores:
    """Counts of one comparison, and the figures drawn from them."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass
class Evaluation:
    """The matcher and the baseline, overall and per company, with the matcher's mistakes."""

    notices: int
    matcher: Scores
    baseline: Scores
    per_company: dict[str, tuple[Scores, Scores]]
    false_positives: list[Pair] = field(default_factory=list)
    false_negatives: list[Pair] = field(default_factory=list)


def read_gold(path: Path) -> set[Pair]:
    """The gold pairs; a malformed line raises `InputError` naming the file and line."""
    pairs: set[Pair] = set()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(str(path), f"cannot read: {error}") from error
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise InputError(f"{path} line {number}", f"not JSON ({error.msg})") from error
        if not isinstance(record, dict) or not all(isinstance(record.get(k), str) for k in ("company", "source_id")):
            raise InputError(f"{path} line {number}", 'expected {"company": "...", "source_id": "..."}')
        pairs.add((record["company"], record["source_id"]))
    return pairs


def predict(specs: Sequence[ProfileSpec], notices: Iterable[Notice], mode: Mode = "full") -> set[Pair]:
    """Every (company, source_id) pair that the profiles match."""
    matcher = compile_profiles(specs, mode=mode)
    return {(result.company, notice.source_id) for notice in notices for result in matcher.match(notice)}


def _score(predicted: set[Pair], gold: set[Pair]) -> Scores:
    return Scores(tp=len(predicted & gold), fp=len(predicted - gold), fn=len(gold - predicted))


def evaluate(specs: Sequence[ProfileSpec], notices: Sequence[Notice], gold: set[Pair]) -> Evaluation:
    """Compare matcher and baseline with `gold`, over `notices` and the companies of `specs`."""
    ids = {n.source_id for n in notices}
    companies = sorted({s.company for s in specs})
    gold = {pair for pair in gold if pair[1] in ids}
    full = predict(specs, notices, "full")
    keywords = predict(specs, notices, "keywords")
    per_company = {}
    for company in companies:
        wanted = {p for p in gold if p[0] == company}
        per_company[company] = (
            _score({p for p in full if p[0] == company}, wanted),
            _score({p for p in keywords if p[0] == company}, wanted),
        )
    return Evaluation(
        notices=len(notices),
        matcher=_score(full, gold),
        baseline=_score(keywords, gold),
        per_company=per_company,
        false_positives=sorted(full - gold),
        false_negatives=sorted(gold - full),
    )


def format_table(evaluation: Evaluation) -> str:
    """A plain-text table: matcher and keyword-only baseline side by side, overall last."""
    width = max([len("overall"), *(len(c) for c in evaluation.per_company)])
    head = (
        f"{'company':<{width}}  {'gold':>4}  {'matcher P':>9} {'R':>5} {'F1':>5}  {'keywords P':>10} {'R':>5} {'F1':>5}"
    )
    lines = [head, "-" * len(head)]

    def row(name: str, full: Scores, base: Scores) -> str:
        return (
            f"{name:<{width}}  {full.tp + full.fn:>4}  {full.precision:>9.2f} {full.recall:>5.2f} {full.f1:>5.2f}"
            f"  {base.precision:>10.2f} {base.recall:>5.2f} {base.f1:>5.2f}"
        )

    for company, (full, base) in evaluation.per_company.items():
        lines.append(row(company, full, base))
    lines.append("-" * len(head))
    lines.append(row("overall", evaluation.matcher, evaluation.baseline))
    lines.append(
        f"{evaluation.notices} notices × {len(evaluation.per_company)} companies; "
        f"matcher {evaluation.matcher.tp} right, {evaluation.matcher.fp} extra, {evaluation.matcher.fn} missed"
    )
    return "\n".join(lines)
