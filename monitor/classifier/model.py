"""The supervised text model: hashed word and character n-grams, one linear scorer per area.

Features are language-agnostic (character 3-5-grams inside words catch "vacu", "kryo", "cryo"
across languages) and hashed with CRC-32, so no vocabulary is stored and inference needs only
numpy: a gather of weight rows and a sum.  Training (`fit`) uses scikit-learn's liblinear
logistic regression, deterministic for a fixed input order.

The artifact `model.npz` is a plain numpy archive read with `allow_pickle=False`; `save()`
writes it with fixed zip timestamps so the same inputs give the same bytes.
"""

from __future__ import annotations

import io
import math
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np

from monitor.classifier.text import tokens

MODEL_PATH: Final = Path(__file__).resolve().parent / "model.npz"
N_FEATURES: Final = 1 << 18
FEATURE_SCHEME: Final = "crc32-w1-c345-v1"
MAX_CHARS: Final = 3000  # long TED descriptions add little beyond their first paragraphs
KEEP_PER_AREA: Final = 6000  # weights kept per area: the artifact stays small, accuracy barely moves


def feature_indices(text: str) -> list[int]:
    """Hashed feature ids of `text` (with repeats: the count is the term frequency)."""
    out: list[int] = []
    append = out.append
    crc = zlib.crc32
    mask = N_FEATURES - 1
    for word in tokens(text[:MAX_CHARS]):
        append(crc(b"w" + word.encode()) & mask)
        padded = f"<{word}>".encode()
        size = len(padded)
        for n in (3, 4, 5):
            for start in range(0, size - n + 1):
                append(crc(padded[start : start + n]) & mask)
    return out


def vectorise(text: str) -> tuple[np.ndarray, np.ndarray]:
    """(unique feature ids, L2-normalised log(1 + tf) values)."""
    ids = feature_indices(text)
    if not ids:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    unique, counts = np.unique(np.asarray(ids, dtype=np.int64), return_counts=True)
    values = np.log1p(counts.astype(np.float32))
    values /= np.float32(np.sqrt(float(np.dot(values, values))))
    return unique, values


@dataclass(slots=True)
class TextModel:
    """Per-area weights over hashed features; `predict` gives a probability per area."""

    labels: tuple[str, ...]
    weights: np.ndarray  # (N_FEATURES, n_labels) float32, mostly zero
    bias: np.ndarray  # (n_labels,) float32

    def predict(self, text: str) -> dict[str, float]:
        """Probability that the text belongs to each area."""
        ids, values = vectorise(text)
        scores = self.bias + (values @ self.weights[ids] if len(ids) else 0.0)
        return {label: 1.0 / (1.0 + math.exp(-float(s))) for label, s in zip(self.labels, scores, strict=True)}


def save(path: Path, labels: Sequence[str], coef: np.ndarray, intercept: np.ndarray, meta: str) -> None:
    """Write the pruned, float16 weights as a deterministic .npz (no pickle, fixed timestamps)."""
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    for j in range(len(labels)):
        w = coef[j]
        keep = np.nonzero(w)[0]
        if len(keep) > KEEP_PER_AREA:
            # stable sort on |w| then index: ties broken the same way every time
            order = np.lexsort((keep, -np.abs(w[keep])))
            keep = np.sort(keep[order[:KEEP_PER_AREA]])
        rows.append(keep.astype(np.uint32))
        cols.append(np.full(len(keep), j, dtype=np.uint8))
        vals.append(w[keep].astype(np.float16))
    arrays = {
        "labels": np.asarray(list(labels), dtype="<U40"),
        "feature": np.concatenate(rows),
        "label": np.concatenate(cols),
        "weight": np.concatenate(vals),
        "bias": np.asarray(intercept, dtype=np.float32),
        "scheme": np.asarray([FEATURE_SCHEME, str(N_FEATURES)], dtype="<U40"),
        "meta": np.asarray([meta], dtype="<U200"),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(arrays):
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            data = io.BytesIO()
            np.lib.format.write_array(data, arrays[name], allow_pickle=False)
            archive.writestr(info, data.getvalue())
    path.write_bytes(buffer.getvalue())


def load(path: Path = MODEL_PATH) -> TextModel:
    """Read an artifact written by `save` (never unpickles anything)."""
    with np.load(path, allow_pickle=False) as archive:
        scheme = [str(s) for s in archive["scheme"]]
        if scheme != [FEATURE_SCHEME, str(N_FEATURES)]:
            raise ValueError(f"{path}: feature scheme {scheme} is not {FEATURE_SCHEME}/{N_FEATURES}")
        labels = tuple(str(s) for s in archive["labels"])
        weights = np.zeros((N_FEATURES, len(labels)), dtype=np.float32)
        weights[archive["feature"].astype(np.int64), archive["label"].astype(np.int64)] = archive["weight"]
        bias = archive["bias"].astype(np.float32)
    return TextModel(labels=labels, weights=weights, bias=bias)


def fit(
    texts: Sequence[str],
    labels: Sequence[Sequence[str]],
    areas: Sequence[str],
    weights: Sequence[float],
    c: float = 4.0,
) -> tuple[np.ndarray, np.ndarray]:
    """One-vs-rest logistic regression; returns (coef (n_areas, N_FEATURES), intercept).

    Needs scikit-learn (training only).  An area without a positive example gets zero weights
    and a very negative bias, so the model never asserts it.
    """
    from scipy.sparse import csr_matrix
    from sklearn.linear_model import LogisticRegression

    indptr = [0]
    indices: list[np.ndarray] = []
    data: list[np.ndarray] = []
    for text in texts:
        ids, values = vectorise(text)
        indices.append(ids)
        data.append(values)
        indptr.append(indptr[-1] + len(ids))
    matrix = csr_matrix(
        (np.concatenate(data), np.concatenate(indices), np.asarray(indptr)),
        shape=(len(texts), N_FEATURES),
        dtype=np.float64,
    )
    sample_weight = np.asarray(weights, dtype=np.float64)
    coef = np.zeros((len(areas), N_FEATURES), dtype=np.float64)
    intercept = np.full(len(areas), -6.0, dtype=np.float64)
    for j, area in enumerate(areas):
        y = np.asarray([1 if area in row else 0 for row in labels])
        if y.sum() == 0 or y.sum() == len(y):
            continue
        clf = LogisticRegression(
            solver="liblinear", C=c, class_weight="balanced", random_state=0, max_iter=200, tol=1e-5
        )
        clf.fit(matrix, y, sample_weight=sample_weight)
        coef[j] = clf.coef_[0]
        intercept[j] = clf.intercept_[0]
    return coef, intercept
