"""The supervised text model: hashed word and character n-grams, one linear scorer per area.

Features are language-agnostic (character 3-5-grams inside words catch "vacu", "kryo", "cryo"
across languages) and hashed with CRC-32, so no vocabulary is stored and inference needs only
numpy: a gather of weight rows and a sum.  Training (`fit`) uses scikit-learn's liblinear
logistic regression, deterministic for a fixed input order.

The artifact `model.npz` also carries the `Stacker`: the learned combination of all evidence
(phrases, CPV codes, buyer, this text model) into one probability per area, with per-area
decision thresholds (fitted in `training`, applied in `core`).  It is a plain numpy archive read
with `allow_pickle=False`; `save()` writes it with fixed zip timestamps so the same inputs give
the same bytes.
"""

from __future__ import annotations

import io
import math
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Final

import numpy as np

from monitor.classifier.text import tokens

if TYPE_CHECKING:
    from scipy.sparse import csr_matrix

MODEL_PATH: Final = Path(__file__).resolve().parent / "model.npz"
N_FEATURES: Final = 1 << 18
FEATURE_SCHEME: Final = "crc32-w1-c345-v1"
MAX_CHARS: Final = 3000  # long TED descriptions add little beyond their first paragraphs
KEEP_PER_AREA: Final = 6000  # weights kept per area: the artifact stays small, accuracy barely moves
# Distinct tokens whose feature ids are remembered: ~30 ids of 4 bytes each plus the array
# header, so about 15 MB when full.
TOKEN_CACHE_SIZE: Final = 1 << 16


@lru_cache(maxsize=TOKEN_CACHE_SIZE)
def _token_features(word: str) -> np.ndarray:
    """Feature ids of one token (int32 array): the word itself and its character 3-5-grams.

    A pure function of the token, so caching it changes no result; notices share most of their
    words, and hashing each n-gram in Python was most of the classifier's time.
    """
    crc = zlib.crc32
    mask = N_FEATURES - 1
    padded = f"<{word}>".encode()
    size = len(padded)
    ids = [crc(b"w" + word.encode()) & mask]
    ids += [crc(padded[start : start + n]) & mask for n in (3, 4, 5) for start in range(size - n + 1)]
    return np.asarray(ids, dtype=np.int32)


def _feature_arrays(text: str) -> list[np.ndarray]:
    return [_token_features(word) for word in tokens(text[:MAX_CHARS])]


def feature_indices(text: str) -> list[int]:
    """Hashed feature ids of `text` (with repeats: the count is the term frequency)."""
    arrays = _feature_arrays(text)
    return np.concatenate(arrays).tolist() if arrays else []


def vectorise(text: str) -> tuple[np.ndarray, np.ndarray]:
    """(unique feature ids, L2-normalised log(1 + tf) values)."""
    arrays = _feature_arrays(text)
    if not arrays:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    # One concatenation and one C-level unique per notice instead of a Python loop over ids.
    unique, counts = np.unique(np.concatenate(arrays), return_counts=True)
    values = np.log1p(counts.astype(np.float32))
    values /= np.float32(np.sqrt(float(np.dot(values, values))))
    return unique.astype(np.int64), values


@dataclass(frozen=True, slots=True)
class Stacker:
    """The learned evidence combination: a logistic regression shared by all areas.

    logit(area) = area_bias[area] + weight . features(area); the area is asserted when its
    probability reaches threshold[area].  Feature names are stored so that an artifact built for
    another feature list is refused instead of silently misread.
    """

    feature_names: tuple[str, ...]
    weight: np.ndarray  # (n_features,) float64
    area_bias: np.ndarray  # (n_labels,) float64
    threshold: np.ndarray  # (n_labels,) float64


@dataclass(slots=True)
class TextModel:
    """Per-area weights over hashed features; `predict` gives a probability per area."""

    labels: tuple[str, ...]
    weights: np.ndarray  # (N_FEATURES, n_labels) float32, mostly zero
    bias: np.ndarray  # (n_labels,) float32
    stacker: Stacker | None = None

    def predict(self, text: str) -> dict[str, float]:
        """Probability that the text belongs to each area."""
        ids, values = vectorise(text)
        scores = self.bias + (values @ self.weights[ids] if len(ids) else 0.0)
        return {label: 1.0 / (1.0 + math.exp(-float(s))) for label, s in zip(self.labels, scores, strict=True)}


def _pruned(coef: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(feature, label, float16 weight) of the KEEP_PER_AREA largest weights of each area."""
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    for j in range(coef.shape[0]):
        w = coef[j]
        keep = np.nonzero(w)[0]
        if len(keep) > KEEP_PER_AREA:
            # stable sort on |w| then index: ties broken the same way every time
            order = np.lexsort((keep, -np.abs(w[keep])))
            keep = np.sort(keep[order[:KEEP_PER_AREA]])
        rows.append(keep.astype(np.uint32))
        cols.append(np.full(len(keep), j, dtype=np.uint8))
        vals.append(w[keep].astype(np.float16))
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)


def _dense(n_labels: int, feature: np.ndarray, label: np.ndarray, weight: np.ndarray) -> np.ndarray:
    weights = np.zeros((N_FEATURES, n_labels), dtype=np.float32)
    weights[feature.astype(np.int64), label.astype(np.int64)] = weight
    return weights


def from_fit(labels: Sequence[str], coef: np.ndarray, intercept: np.ndarray) -> TextModel:
    """The model exactly as `save` then `load` would give it (pruned, float16), without a file.

    Cross-validation in training predicts with this, so the stacker learns from the same
    rounded weights that inference will use.
    """
    feature, label, weight = _pruned(coef)
    bias = np.asarray(intercept, dtype=np.float32)
    return TextModel(labels=tuple(labels), weights=_dense(len(labels), feature, label, weight), bias=bias)


def save(
    path: Path,
    labels: Sequence[str],
    coef: np.ndarray,
    intercept: np.ndarray,
    meta: str,
    stacker: Stacker | None = None,
) -> None:
    """Write the pruned, float16 weights (and the stacker) as a deterministic .npz."""
    feature, label, weight = _pruned(coef)
    arrays = {
        "labels": np.asarray(list(labels), dtype="<U40"),
        "feature": feature,
        "label": label,
        "weight": weight,
        "bias": np.asarray(intercept, dtype=np.float32),
        "scheme": np.asarray([FEATURE_SCHEME, str(N_FEATURES)], dtype="<U40"),
        "meta": np.asarray([meta], dtype="<U200"),
    }
    if stacker is not None:
        arrays["stack_features"] = np.asarray(list(stacker.feature_names), dtype="<U40")
        arrays["stack_weight"] = np.asarray(stacker.weight, dtype=np.float64)
        arrays["stack_area_bias"] = np.asarray(stacker.area_bias, dtype=np.float64)
        arrays["stack_threshold"] = np.asarray(stacker.threshold, dtype=np.float64)
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
        weights = _dense(len(labels), archive["feature"], archive["label"], archive["weight"])
        bias = archive["bias"].astype(np.float32)
        stacker = None
        if "stack_weight" in archive.files:
            stacker = Stacker(
                feature_names=tuple(str(s) for s in archive["stack_features"]),
                weight=archive["stack_weight"].astype(np.float64),
                area_bias=archive["stack_area_bias"].astype(np.float64),
                threshold=archive["stack_threshold"].astype(np.float64),
            )
    return TextModel(labels=labels, weights=weights, bias=bias, stacker=stacker)


def design_matrix(texts: Sequence[str]) -> csr_matrix:
    """Sparse (texts x N_FEATURES) matrix of `vectorise` rows, built once per training run."""
    from scipy.sparse import csr_matrix

    indptr = [0]
    indices: list[np.ndarray] = [np.zeros(0, dtype=np.int64)]
    data: list[np.ndarray] = [np.zeros(0, dtype=np.float32)]
    for text in texts:
        ids, values = vectorise(text)
        indices.append(ids)
        data.append(values)
        indptr.append(indptr[-1] + len(ids))
    return csr_matrix(
        (np.concatenate(data), np.concatenate(indices), np.asarray(indptr)),
        shape=(len(texts), N_FEATURES),
        dtype=np.float64,
    )


def fit(
    matrix: csr_matrix,
    labels: Sequence[Sequence[str]],
    areas: Sequence[str],
    weights: Sequence[float],
    c: float = 4.0,
    silent: Sequence[Sequence[str]] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """One-vs-rest logistic regression on `design_matrix` rows; returns (coef, intercept).

    coef is (n_areas, N_FEATURES).  Needs scikit-learn (training only).  An area without a
    positive example gets zero weights and a very negative bias, so the model never asserts it.
    `silent[i]`: areas row i says nothing about (left out of those areas' fits, neither a
    positive nor a negative example).
    """
    from sklearn.linear_model import LogisticRegression

    sample_weight = np.asarray(weights, dtype=np.float64)
    # Fit on the columns that occur: the same problem (an absent feature keeps weight 0 under
    # L2), but liblinear no longer walks 2^18 columns per iteration (tens of times faster).
    used = np.unique(matrix.indices)
    compact = matrix[:, used]
    coef = np.zeros((len(areas), N_FEATURES), dtype=np.float64)
    intercept = np.full(len(areas), -6.0, dtype=np.float64)
    for j, area in enumerate(areas):
        y = np.asarray([1 if area in row else 0 for row in labels])
        rows = np.asarray([area not in quiet for quiet in silent]) if silent is not None else None
        if y.sum() == 0 or y.sum() == len(y):
            continue
        # The dual solver: far fewer texts than features, so it is several times faster here;
        # its coordinate order is drawn from random_state, fixed, so results stay reproducible.
        clf = LogisticRegression(
            solver="liblinear", dual=True, C=c, class_weight="balanced", random_state=0, max_iter=1000, tol=1e-5
        )
        if rows is not None and not rows.all():
            clf.fit(compact[rows], y[rows], sample_weight=sample_weight[rows])
        else:
            clf.fit(compact, y, sample_weight=sample_weight)
        coef[j, used] = clf.coef_[0]
        intercept[j] = clf.intercept_[0]
    return coef, intercept
