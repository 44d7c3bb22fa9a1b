"""The text model artifact: loads without pickle, and retraining reproduces it byte for byte."""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

import numpy as np
import pytest
from test_classifier_eval import TEST_SETS

from monitor.classifier import model as text_model
from monitor.classifier.core import _F, STACK_FEATURES
from monitor.classifier.taxonomy import default_taxonomy
from monitor.classifier.training import (
    CORE_RECALL_FLOOR,
    MODEL_AREAS,
    THRESHOLDS,
    _recall_floor,
    _stack_rows,
    curated_examples,
    lexicon_examples,
    train,
)

ROOT = Path(__file__).resolve().parent.parent
CURATED = ROOT / "tests" / "data" / "classifier" / "train_curated.jsonl"
# The labelled files the committed artifact is trained on: the curated set and the evaluation sets
# whose single decisive measure has been taken (tests/data/classifier/README.md, decision 15).
COMMITTED_TRAINING = [CURATED] + [CURATED.with_name(f"{name}.jsonl") for name in TEST_SETS]


def real_data() -> Path | None:
    path = Path(os.environ.get("ILO_MONITOR_REAL_DATA", ROOT.parent / "shared" / "data"))
    return path if path.exists() else None


def test_artifact_loads_without_pickle_and_is_small() -> None:
    assert text_model.MODEL_PATH.stat().st_size < 2_000_000
    with np.load(text_model.MODEL_PATH, allow_pickle=False) as archive:
        assert all(archive[name].dtype != object for name in archive.files)
    loaded = text_model.load()
    assert loaded.labels == MODEL_AREAS
    probabilities = loaded.predict("Supply of turbomolecular vacuum pumps and ion pumps")
    assert max(probabilities, key=probabilities.__getitem__) == "vacuum"


def test_training_is_deterministic(tmp_path: Path) -> None:
    # The curated set alone: seconds, and the same code path as the full corpus training.
    first, second = tmp_path / "a.npz", tmp_path / "b.npz"
    train([CURATED], first)
    train([CURATED], second)
    assert first.read_bytes() == second.read_bytes()
    loaded = text_model.load(first)
    assert loaded.labels == MODEL_AREAS
    assert loaded.stacker is not None
    assert loaded.stacker.feature_names == STACK_FEATURES


def test_committed_artifact_has_a_stacker_for_the_current_features() -> None:
    stacker = text_model.load().stacker
    assert stacker is not None
    assert stacker.feature_names == STACK_FEATURES
    assert stacker.threshold.shape == (len(MODEL_AREAS),)
    assert all(0.0 < t < 1.0 for t in stacker.threshold)


def test_token_cache_does_not_change_features() -> None:
    text = "Vakuumkammer und Turbomolekularpumpen; vacuum chambers, vacuum chambers"
    first = text_model.feature_indices(text)
    text_model._token_features.cache_clear()
    assert text_model.feature_indices(text) == first
    assert len(first) > 20


def test_curated_examples_are_read_with_their_areas() -> None:
    examples = curated_examples(CURATED)
    assert len(examples) >= 100
    assert any(e.areas == () for e in examples)  # negatives are kept


def test_taxonomy_phrases_become_training_documents_with_every_area_that_lists_them() -> None:
    by_text = {e.text: e for e in lexicon_examples(default_taxonomy())}
    assert by_text["crab cavity"].areas == ("accelerator_beam", "rf_microwave")  # listed by both
    assert by_text["vacuum cleaner"].areas == ()  # general_other: a negative for every area
    assert "*" not in "".join(by_text)  # stems are documents without their wildcard
    assert by_text["kryo"].areas == ("cryogenics",)
    assert all(e.weight == 1.0 and not e.curated for e in by_text.values())


def test_technology_phrases_say_nothing_about_the_system_areas() -> None:
    """A magnets phrase is no negative example for the accelerator: rule 4 decides by context."""
    by_text = {e.text: e for e in lexicon_examples(default_taxonomy())}
    assert by_text["kryo"].silent == ("accelerator_beam", "telescopes_astro_instrumentation")
    assert by_text["crab cavity"].silent == ("telescopes_astro_instrumentation",)
    assert by_text["vacuum cleaner"].silent == ()  # general phrases stay negatives for every area


def test_silent_rows_are_left_out_of_that_area_only() -> None:
    texts = ["dipole magnet", "dipole magnet", "quadrupole lens", "office chair"]
    labels = [("magnets_superconductivity",), ("magnets_superconductivity", "accelerator_beam"), (), ()]
    areas = ("accelerator_beam", "magnets_superconductivity")
    matrix = text_model.design_matrix(texts)
    loud, _ = text_model.fit(matrix, labels, areas, [1.0] * 4)
    quiet, _ = text_model.fit(matrix, labels, areas, [1.0] * 4, silent=[("accelerator_beam",), (), (), ()])
    assert (quiet[1] == loud[1]).all()  # magnets: the same problem
    dipole = text_model.vectorise("dipole magnet")
    # accelerator: the first row no longer counts against "dipole magnet"
    assert float(quiet[0][dipole[0]] @ dipole[1]) > float(loud[0][dipole[0]] @ dipole[1])


def test_stacker_also_sees_each_example_without_its_technology_phrases() -> None:
    taxonomy = default_taxonomy()
    examples = [e for e in curated_examples(CURATED) if e.notice.title.startswith("Turbomolecular")][:2]
    assert examples
    probabilities = {i: {a: 0.5 for a in MODEL_AREAS} for i in range(len(examples))}
    x, y, fold, blind = _stack_rows(examples, list(range(len(examples))), probabilities, taxonomy)
    n = len(MODEL_AREAS) * len(examples)
    assert x.shape[0] == 2 * n and blind.sum() == n and not blind[:n].any()
    assert (y[:n] == y[n:]).all() and (fold[:n] == fold[n:]).all()
    phrase_columns = [_F[name] for name in ("strong_title", "strong_description", "weak_title", "weak_distinct")]
    vacuum = MODEL_AREAS.index("vacuum")
    assert x[vacuum, phrase_columns[0]] == 1.0  # the title names a turbomolecular pump ...
    assert not x[blind][:, phrase_columns].any()  # ... the blind copy keeps no technology phrase


def test_core_recall_floor_lowers_a_threshold_only_as_far_as_needed() -> None:
    y = np.array([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0], dtype=float)
    p = np.array([0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.8, 0.32, 0.12, 0.3, 0.9])
    asserts = np.ones(len(y), dtype=bool)
    # 8 of 10 positives at 0.5: below the floor; 0.3 finds the 9th (0.9 >= 0.90), and 0.3 is
    # the highest grid threshold that does.
    assert CORE_RECALL_FLOOR == 0.90 and 0.3 in THRESHOLDS
    assert _recall_floor(p, y, asserts, 0.5) == 0.3
    assert _recall_floor(p, y, asserts, 0.275) == 0.275  # already there: kept, not rounded down
    # A positive without evidence of its own is never asserted, whatever the threshold: without
    # the one at 0.32 the floor needs the one at 0.12, and without that one too it is out of
    # reach, so the threshold stays where F1 put it.
    asserts[8] = False
    assert _recall_floor(p, y, asserts, 0.5) == 0.1
    asserts[9] = False
    assert _recall_floor(p, y, asserts, 0.5) == 0.5


def subset_of_corpus(archive: Path, folder: Path, count: int) -> Path:
    """The first `count` XML notices of the archive (archive order: one pass over the gzip)."""
    folder.mkdir()
    with tarfile.open(archive) as tar:
        taken = 0
        for member in tar:
            if taken >= count:
                break
            if member.isfile() and member.name.endswith(".xml"):
                handle = tar.extractfile(member)
                if handle is not None:
                    (folder / f"{taken:05d}.xml").write_bytes(handle.read())
                    taken += 1
    return folder


@pytest.mark.real_data
def test_retraining_on_real_notices_reproduces_bytes(tmp_path: Path) -> None:
    # A bounded slice of the corpus keeps this under half a minute; the full corpus is the same
    # code path and is checked by hand (see monitor/classifier/training.py) or with
    # ILO_MONITOR_FULL_RETRAIN=1 below.
    data = real_data()
    if data is None:
        pytest.skip("../shared/data is absent")
    corpus = subset_of_corpus(data / "ted-xml-corpus" / "sampling_2014_2022.tar.gz", tmp_path / "xml", 400)
    first, second = tmp_path / "a.npz", tmp_path / "b.npz"
    stats = train([corpus, CURATED], first)
    train([corpus, CURATED], second)
    assert stats["read"] == 400
    assert stats["used"] > 100
    assert first.read_bytes() == second.read_bytes()
    assert text_model.load(first).stacker is not None


@pytest.mark.real_data
@pytest.mark.skipif(not os.environ.get("ILO_MONITOR_FULL_RETRAIN"), reason="set ILO_MONITOR_FULL_RETRAIN=1 (minutes)")
def test_retraining_on_the_corpus_reproduces_the_committed_artifact(tmp_path: Path) -> None:
    data = real_data()
    if data is None:
        pytest.skip("../shared/data is absent")
    out = tmp_path / "model.npz"
    train([data / "ted-xml-corpus" / "sampling_2014_2022.tar.gz", *COMMITTED_TRAINING], out)
    assert out.read_bytes() == text_model.MODEL_PATH.read_bytes()
