"""Classification in storage: notices classified when stored, ILO corrections that win and last."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from conftest import new_database_url

from monitor.classifier import CLASSIFIER_VERSION, CORRECTION_EVIDENCE
from monitor.classifier.evaluate import read_gold
from monitor.classifier.training import curated_examples
from monitor.cli import main
from monitor.settings import PROJECT_ROOT

NOTICES = PROJECT_ROOT / "tests" / "fixtures" / "notices"


def run(*args: str, db: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [*args, "--db", db], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def exported(db: str) -> dict[str, dict[str, object]]:
    _, out, _ = run("notices", "export", db=db)
    return {record["source_id"]: record for record in map(json.loads, out.splitlines())}


def area_ids(record: dict[str, object]) -> list[str]:
    return [a["id"] for a in record["technology_areas"]]  # type: ignore[attr-defined, index]


def test_notices_are_classified_when_imported_with_the_version_on_each_tag(tmp_path: Path) -> None:
    db = new_database_url(tmp_path, "c")
    run("import", "--quiet", str(NOTICES), db=db)
    records = exported(db)
    cern = records["700001-2026"]
    assert {"vacuum", "cryogenics"} <= set(area_ids(cern))
    for area in cern["technology_areas"]:  # type: ignore[attr-defined]
        assert area["version"] == CLASSIFIER_VERSION
        assert area["evidence"]


def test_corrections_win_survive_reclassification_and_export_as_training_data(tmp_path: Path) -> None:
    db = new_database_url(tmp_path, "c")
    run("import", "--quiet", str(NOTICES), db=db)
    before = area_ids(exported(db)["700001-2026"])
    code, out, _ = run(
        "notices", "tag", "ted/700001-2026", "+magnets_superconductivity", "-vacuum", "--by", "Jan", db=db
    )
    assert code == 0, out
    after = area_ids(exported(db)["700001-2026"])
    assert after[0] == "magnets_superconductivity" and "vacuum" not in after
    assert out.strip() == f"ted/700001-2026: {', '.join(before)} -> {', '.join(after)}"
    corrected = exported(db)["700001-2026"]["technology_areas"][0]  # type: ignore[index]
    assert corrected["evidence"] == CORRECTION_EVIDENCE
    # Reclassifying everything (a new model) keeps the ILO's word.
    code, out, _ = run("classify", "--all", db=db)
    assert code == 0 and "with other areas than before" in out
    assert area_ids(exported(db)["700001-2026"]) == after
    # The history says who corrected what.
    _, out, _ = run("notices", "show", "ted/700001-2026", db=db)
    assert "corrected by Jan" in out
    # Corrections become training data: contract records with gold_areas.
    target = tmp_path / "corrections.jsonl"
    code, _, err = run("classifier", "corrections", "--output", str(target), db=db)
    assert code == 0 and "1 corrected notice(s)" in err
    (line,) = target.read_text(encoding="utf-8").splitlines()
    record = json.loads(line)
    assert record["source_id"] == "700001-2026" and record["gold_areas"] == after
    # ... that `classifier train` and `classifier evaluate` read as they are.
    (example,) = curated_examples(target)
    assert example.curated and example.areas == tuple(sorted(a for a in after if a != "general_other"))
    ((notice, gold),) = read_gold(target)
    assert notice.source_id == "700001-2026" and set(gold) == set(after)


def test_a_correction_whose_area_holds_an_h_is_applied_not_read_as_help(tmp_path: Path) -> None:
    # The README's and the issue's own example: "-general_other" (and "+robotics_remote_handling")
    # hold an "h", which click would read as the short help flag.
    db = new_database_url(tmp_path, "c")
    run("import", "--quiet", str(NOTICES), db=db)
    code, out, _ = run("notices", "tag", "ted/700001-2026", "+robotics_remote_handling", "-general_other", db=db)
    assert code == 0 and out.startswith("ted/700001-2026: "), out
    assert area_ids(exported(db)["700001-2026"])[0] == "robotics_remote_handling"


def test_an_unknown_area_in_a_correction_is_one_clear_line(tmp_path: Path) -> None:
    db = new_database_url(tmp_path, "c")
    run("import", "--quiet", str(NOTICES), db=db)
    result = CliRunner().invoke(main, ["notices", "tag", "ted/700001-2026", "+warp_drive", "--db", db])
    assert result.exit_code == 1
    assert "+warp_drive" in result.stderr and "Traceback" not in result.output
