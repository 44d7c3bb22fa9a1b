"""The text model artifact: loads without pickle, and retraining reproduces it byte for byte."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from monitor.classifier import model as text_model
from monitor.classifier.training import MODEL_AREAS, curated_examples, train

ROOT = Path(__file__).resolve().parent.parent
CURATED = ROOT / "tests" / "data" / "classifier" / "train_curated.jsonl"


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
    assert text_model.load(first).labels == MODEL_AREAS


def test_curated_examples_are_read_with_their_areas() -> None:
    examples = curated_examples(CURATED)
    assert len(examples) >= 100
    assert any(e.areas == () for e in examples)  # negatives are kept


@pytest.mark.real_data
def test_retraining_on_the_corpus_reproduces_the_committed_artifact(tmp_path: Path) -> None:
    data = real_data()
    if data is None:
        pytest.skip("../shared/data is absent")
    out = tmp_path / "model.npz"
    train([data / "ted-xml-corpus" / "sampling_2014_2022.tar.gz", CURATED], out)
    assert out.read_bytes() == text_model.MODEL_PATH.read_bytes()
