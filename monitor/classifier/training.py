"""Training data and `train()`: CPV-derived silver labels from TED XML plus curated examples.

Silver labels: a TED notice is labelled with every area for which one of its CPV codes is a
*strong* code of the taxonomy; a notice whose codes are only general_other codes is a negative
example for every technology area; a notice with only weak or unmapped codes says nothing and is
skipped.  Curated examples (`*.jsonl` with `gold_areas`, see tests/data/classifier/README.md)
weigh more because they are Big Science notices written the way those buyers write.

Inputs are sorted and de-duplicated before fitting, so the same inputs give the same artifact
byte for byte.
"""

from __future__ import annotations

import json
import tarfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from monitor.classifier import model as text_model
from monitor.classifier.rules import STRONG, find_cpv
from monitor.classifier.taxonomy import AREA_IDS, GENERAL, Taxonomy, default_taxonomy
from monitor.contract import from_record

CURATED_WEIGHT: Final = 3.0
SILVER_WEIGHT: Final = 1.0
MODEL_AREAS: Final = tuple(a for a in AREA_IDS if a != GENERAL)


@dataclass(frozen=True, slots=True)
class Example:
    """One training text with its areas (empty: a negative for every area)."""

    key: str
    text: str
    areas: tuple[str, ...]
    weight: float


def notice_text(title: str, description: str | None) -> str:
    """The text the model reads: title, then description."""
    return title + ("\n" + description if description else "")


def silver_areas(cpv_codes: list[str], taxonomy: Taxonomy) -> tuple[str, ...] | None:
    """Areas implied by strong CPV codes; () for a general-only notice; None when unknown."""
    strong = {h.area for h in find_cpv(taxonomy, cpv_codes) if h.strength == STRONG}
    technology = tuple(sorted(strong - {GENERAL}))
    if technology:
        return technology
    if GENERAL in strong:
        return ()
    return None


def _xml_documents(path: Path) -> Iterator[tuple[str, bytes]]:
    if path.is_dir():
        for file in sorted(path.rglob("*.xml")):
            yield str(file), file.read_bytes()
    elif path.name.endswith((".tar.gz", ".tgz", ".tar")):
        with tarfile.open(path) as archive:
            members = sorted(
                (m for m in archive.getmembers() if m.isfile() and m.name.endswith(".xml")), key=lambda m: m.name
            )
            for member in members:
                handle = archive.extractfile(member)
                if handle is not None:
                    yield f"{path}:{member.name}", handle.read()
    elif path.suffix == ".xml":
        yield str(path), path.read_bytes()


def silver_examples(paths: Iterable[Path], taxonomy: Taxonomy) -> tuple[list[Example], dict[str, int]]:
    """Examples from TED XML (folders, .xml files or .tar.gz), and counts of what was skipped."""
    from monitor.errors import InputError
    from monitor.parsers import parse_document

    stats = {"read": 0, "unparsable": 0, "no_strong_cpv": 0, "duplicate": 0, "used": 0}
    seen: set[str] = set()
    examples: list[Example] = []
    for path in paths:
        for origin, data in _xml_documents(path):
            stats["read"] += 1
            try:
                notice = parse_document(data, origin)
            except InputError:
                stats["unparsable"] += 1
                continue
            key = f"{notice.source}:{notice.source_id}"
            if key in seen:
                stats["duplicate"] += 1
                continue
            seen.add(key)
            areas = silver_areas(notice.cpv_codes, taxonomy)
            if areas is None:
                stats["no_strong_cpv"] += 1
                continue
            stats["used"] += 1
            examples.append(Example(key, notice_text(notice.title, notice.description), areas, SILVER_WEIGHT))
    return examples, stats


def curated_examples(path: Path) -> list[Example]:
    """Examples from a JSONL file of contract records with `gold_areas`."""
    examples: list[Example] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        record = json.loads(line)
        gold = record.pop("gold_areas", None)
        if not isinstance(gold, list):
            raise ValueError(f"{path}:{number}: gold_areas is missing")
        notice = from_record(record)
        areas = tuple(sorted(a for a in gold if a != GENERAL))
        key = f"curated:{path.name}:{notice.source_id or number}"
        examples.append(Example(key, notice_text(notice.title, notice.description), areas, CURATED_WEIGHT))
    return examples


def load_examples(paths: Iterable[Path], taxonomy: Taxonomy | None = None) -> tuple[list[Example], dict[str, int]]:
    """All examples from corpus paths (XML sources and curated .jsonl files), sorted by key."""
    taxonomy = taxonomy or default_taxonomy()
    paths = list(paths)
    xml_paths = [p for p in paths if p.suffix != ".jsonl"]
    examples, stats = silver_examples(xml_paths, taxonomy)
    curated = [e for p in paths if p.suffix == ".jsonl" for e in curated_examples(p)]
    stats["curated"] = len(curated)
    return sorted(examples + curated, key=lambda e: (e.key, e.text)), stats


def train(paths: Iterable[Path], out: Path = text_model.MODEL_PATH) -> dict[str, int]:
    """Fit the text model on `paths` and write the artifact to `out`; returns the input counts."""
    examples, stats = load_examples(paths)
    if not examples:
        raise ValueError("no training examples found in the given paths")
    coef, intercept = text_model.fit(
        [e.text for e in examples], [e.areas for e in examples], MODEL_AREAS, [e.weight for e in examples]
    )
    meta = f"examples={len(examples)} silver={stats['used']} curated={stats['curated']}"
    text_model.save(out, MODEL_AREAS, coef, intercept, meta)
    return stats
