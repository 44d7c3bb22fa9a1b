"""The classifier meets the issue's targets on the development set and on test10.

`dev.jsonl` has never been trained on; `test10.jsonl` is the sixth decisive test set, on which the
committed artifact met the targets in its single evaluation and which is not trained on either
(tests/data/classifier/README.md), so a retrain that loses the targets fails here.  The earlier
test sets (`test.jsonl` to `test9.jsonl`, each written blind by other writers to the labelling
guideline and measured once as unseen notices) have been training data since their measure was
taken; here they only have to be read and to show the learned classifier ahead of both rule
baselines, which a broken artifact or evidence path fails.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.classifier.evaluate import CORE_AREAS, Report, agreement, evaluate, format_report, read_gold, read_labels
from monitor.cli import main

DATA = Path(__file__).parent / "data" / "classifier"
DEV = DATA / "dev.jsonl"
# The measured test sets, training data since their measure, and their sizes (tests/data/classifier/README.md).
TEST_SETS = {
    "test": 200, "test2": 193, "test3": 178, "test4": 174, "test5": 473, "test6": 426, "test7": 525, "test8": 493,
    "test9": 487,
}  # fmt: skip


# Sets the targets are checked on: never trained on (README of tests/data/classifier).
TARGET_SETS = {"dev": DEV, "test10": DATA / "test10.jsonl"}


@pytest.fixture(scope="module", params=TARGET_SETS)
def reports(request: pytest.FixtureRequest) -> dict[str, Report]:
    return evaluate(read_gold(TARGET_SETS[request.param]))


def test_report_prints_all_systems(reports: dict[str, Report]) -> None:
    table = format_report(reports)
    for word in ("classifier", "cpv_only", "phrase_only", "micro", "macro", "relevant-vs-general", "vacuum*"):
        assert word in table


def test_classifier_beats_both_baselines(reports: dict[str, Report]) -> None:
    f1 = {name: r.micro.f1 for name, r in reports.items()}
    assert f1["classifier"] > f1["cpv_only"]
    assert f1["classifier"] > f1["phrase_only"]


def test_micro_f1_target(reports: dict[str, Report]) -> None:
    assert reports["classifier"].micro.f1 >= 0.90


def test_core_recall_target(reports: dict[str, Report]) -> None:
    recall = {a: reports["classifier"].per_area[a].recall for a in CORE_AREAS}
    assert all(r >= 0.85 for r in recall.values()), {a: f"{r:.3f}" for a, r in recall.items()}


def test_relevance_accuracy_target(reports: dict[str, Report]) -> None:
    assert reports["classifier"].relevance_accuracy >= 0.95


@pytest.mark.parametrize(("name", "size"), TEST_SETS.items())
def test_test_sets_classifier_beats_both_baselines(name: str, size: int) -> None:
    reports = evaluate(read_gold(DATA / f"{name}.jsonl"))
    assert reports["classifier"].total == size
    f1 = {name: r.micro.f1 for name, r in reports.items()}
    assert f1["classifier"] > max(f1["cpv_only"], f1["phrase_only"])
    assert reports["classifier"].relevance_accuracy >= reports["phrase_only"].relevance_accuracy


def write_labels(path: Path, labels: dict[str, list[str]]) -> Path:
    path.write_text("".join(json.dumps({"source_id": k, "gold_areas": v}) + "\n" for k, v in labels.items()))
    return path


def test_agreement_counts_what_two_readers_share(tmp_path: Path) -> None:
    first = {"a": ["vacuum"], "b": ["magnets_superconductivity", "accelerator_beam"], "c": ["general_other"]}
    second = {"a": ["vacuum"], "b": ["magnets_superconductivity"], "c": ["optics_photonics"]}
    report = agreement(
        read_labels(write_labels(tmp_path / "1.jsonl", first)), read_labels(write_labels(tmp_path / "2.jsonl", second))
    )
    micro = report.micro
    assert (micro.tp, micro.fp, micro.fn) == (2, 1, 1)
    assert report.per_area["accelerator_beam"].recall == 0.0
    assert report.relevance_accuracy == 2 / 3
    # Micro-F1 is the same whichever reading is taken as gold.
    swapped = agreement(read_labels(tmp_path / "2.jsonl"), read_labels(tmp_path / "1.jsonl"))
    assert swapped.micro.f1 == micro.f1 == 2 / 3


def test_agreement_command_reads_a_gold_file_against_bare_labels(tmp_path: Path) -> None:
    gold = {json.loads(line)["source_id"]: json.loads(line)["gold_areas"] for line in DEV.read_text().splitlines()}
    other = write_labels(tmp_path / "second.jsonl", gold)
    result = CliRunner().invoke(main, ["classifier", "agreement", str(DEV), str(other)])
    assert result.exit_code == 0, result.output
    assert "second" in result.output
    micro_line = next(line for line in result.output.splitlines() if line.startswith("micro"))
    assert micro_line.split()[-3:] == ["1.00", "1.00", "1.00"]


def test_agreement_names_the_files_when_the_notices_differ(tmp_path: Path) -> None:
    first = write_labels(tmp_path / "first.jsonl", {"a": ["vacuum"], "b": ["optics_photonics"]})
    second = write_labels(tmp_path / "second.jsonl", {"a": ["vacuum"]})
    result = CliRunner().invoke(main, ["classifier", "agreement", str(first), str(second)])
    assert result.exit_code != 0
    assert "first.jsonl and" in result.output and "second.jsonl" in result.output and "(b)" in result.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"source_id": "a", "gold_areas": ["warp_drive"]}\n')
    result = CliRunner().invoke(main, ["classifier", "agreement", str(first), str(bad)])
    assert result.exit_code != 0 and "bad.jsonl:1: unknown area(s) warp_drive" in result.output
