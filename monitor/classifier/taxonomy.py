"""Load and validate `monitor/taxonomy.yaml`, the technology areas companies subscribe to.

The file is edited by hand, so every mistake is reported with the file and the area it is in
(unknown keys, duplicate or missing ids, a language nobody declared, an `unless` entry that names
no phrase of its area) instead of silently producing a classifier that never fires.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import yaml

from monitor.contract import AREA_IDS
from monitor.errors import ConfigurationError
from monitor.yamlload import safe_load

TAXONOMY_PATH: Final = Path(__file__).resolve().parent.parent / "taxonomy.yaml"

# The ids are a public interface (subscriptions, evaluations): `monitor.contract.AREA_IDS`.
GENERAL: Final = "general_other"
# The areas most Big Science tenders are about, for which a missed notice costs most: the issue
# sets a recall target on each (evaluation), and training holds their recall up (`training`).
CORE_AREAS: Final = (
    "accelerator_beam",
    "vacuum",
    "cryogenics",
    "magnets_superconductivity",
    "rf_microwave",
    "detectors_sensors",
    "optics_photonics",
    "precision_mechatronics",
    "telescopes_astro_instrumentation",
)

_AREA_KEYS: Final = frozenset(
    {
        "id",
        "name",
        "definition",
        "cpv",
        "cpv_weak",
        "cpv_exclude",
        "phrases",
        "weak_phrases",
        "unless",
        "veto",
    }
)
_TOP_KEYS: Final = frozenset({"version", "languages", "organisations", "item_kinds", "areas"})
# Kinds of item a title buys (`item_kinds` in the file, `rules.find_item`): made for one
# installation, or what any buyer may buy (see the file's comment).
ITEM_KINDS: Final = ("installation", "product", "material", "service", "works")


class TaxonomyError(ConfigurationError):
    """The taxonomy file is malformed; the message names the file and the area.

    Raised by `load_taxonomy` (at the first classification, or by the `classifier` commands).
    """


@dataclass(frozen=True, slots=True)
class Area:
    """One technology area as the classifier uses it."""

    id: str
    name: dict[str, str]
    definition: str
    cpv: tuple[str, ...]
    cpv_weak: tuple[str, ...]
    cpv_exclude: tuple[str, ...]
    phrases: dict[str, tuple[str, ...]]
    weak_phrases: dict[str, tuple[str, ...]]
    unless: dict[str, tuple[str, ...]]
    veto: dict[str, tuple[str, ...]]

    @property
    def label(self) -> str:
        """The English name, for evidence and tables."""
        return self.name.get("en", self.id)


@dataclass(frozen=True, slots=True)
class Organisation:
    """A buyer organisation and the areas it mostly buys (log-odds push per area)."""

    id: str
    name: str
    areas: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, eq=False)  # identity hash: matchers are cached per taxonomy
class Taxonomy:
    """The validated file: areas in file order, organisations, languages and a content hash."""

    version: str
    languages: tuple[str, ...]
    areas: tuple[Area, ...]
    organisations: dict[str, Organisation]
    sha256: str
    item_kinds: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)

    def area(self, area_id: str) -> Area:
        """The area with this id (KeyError when unknown)."""
        for area in self.areas:
            if area.id == area_id:
                return area
        raise KeyError(area_id)


def _fail(path: Path, where: str, reason: str) -> TaxonomyError:
    return TaxonomyError(f"{path}: {where}: {reason}")


def _string_list(path: Path, where: str, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
        raise _fail(path, where, "must be a list of strings")
    return tuple(str(v).strip() for v in value)


def _per_language(path: Path, where: str, value: Any, languages: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _fail(path, where, "must map a language code to a list of phrases")
    result: dict[str, tuple[str, ...]] = {}
    for lang, phrases in value.items():
        if lang not in languages:
            raise _fail(path, f"{where}.{lang}", f"language is not one of {', '.join(languages)}")
        items = _string_list(path, f"{where}.{lang}", phrases)
        for phrase in items:
            if phrase != phrase.lower() or not phrase:
                raise _fail(path, f"{where}.{lang}", f"phrase {phrase!r} must be lower case and not empty")
        result[lang] = items
    return result


def _cpv_list(path: Path, where: str, value: Any) -> tuple[str, ...]:
    codes = _string_list(path, where, value)
    for code in codes:
        if not code.isdigit() or not 2 <= len(code) <= 8:
            raise _fail(path, where, f"CPV prefix {code!r} must be 2 to 8 digits")
    return codes


def parse_taxonomy(text: str, path: Path) -> Taxonomy:
    """Validate the YAML `text` read from `path` and build the `Taxonomy`."""
    try:
        data = safe_load(text)
    except yaml.YAMLError as error:
        raise TaxonomyError(f"{path}: not valid YAML: {error}") from error
    if not isinstance(data, dict):
        raise _fail(path, "(top)", "must be a mapping with version, languages, organisations, areas")
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise _fail(path, "(top)", f"unknown key(s) {', '.join(sorted(unknown))}")
    languages = _string_list(path, "languages", data.get("languages"))
    if "en" not in languages:
        raise _fail(path, "languages", "must include en (phrases in English apply to every notice)")
    raw_areas = data.get("areas")
    if not isinstance(raw_areas, list):
        raise _fail(path, "areas", "must be a list")
    areas: list[Area] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_areas):
        if not isinstance(raw, dict):
            raise _fail(path, f"areas[{index}]", "must be a mapping")
        area_id = raw.get("id")
        where = f"area {area_id!r}" if area_id else f"areas[{index}]"
        unknown = set(raw) - _AREA_KEYS
        if unknown:
            raise _fail(path, where, f"unknown key(s) {', '.join(sorted(unknown))}")
        if area_id not in AREA_IDS:
            raise _fail(path, where, "id is not one of the 23 fixed area ids")
        if area_id in seen:
            raise _fail(path, where, "duplicate id")
        seen.add(area_id)
        name = raw.get("name")
        if not isinstance(name, dict) or not {"en", "nl"} <= set(name):
            raise _fail(path, where, "name must give at least en and nl")
        definition = raw.get("definition")
        if not isinstance(definition, str) or not definition.strip():
            raise _fail(path, where, "definition is missing")
        phrases = _per_language(path, f"{where}.phrases", raw.get("phrases"), languages)
        weak = _per_language(path, f"{where}.weak_phrases", raw.get("weak_phrases"), languages)
        veto = _per_language(path, f"{where}.veto", raw.get("veto"), languages)
        for lang, strong_list in phrases.items():
            # A phrase listed twice, or as both strong and weak, is an editing slip: which
            # strength wins would depend on the matcher's order, and the list becomes training text.
            twice = sorted(p for p, count in Counter(strong_list).items() if count > 1)
            both = sorted(set(strong_list) & set(weak.get(lang, ())))
            if twice:
                raise _fail(path, f"{where}.phrases.{lang}", f"listed twice: {', '.join(map(repr, twice))}")
            if both:
                raise _fail(path, f"{where}.phrases.{lang}", f"both strong and weak: {', '.join(map(repr, both))}")
        known = {p for group in (phrases, weak) for items in group.values() for p in items}
        raw_unless = raw.get("unless") or {}
        if not isinstance(raw_unless, dict):
            raise _fail(path, f"{where}.unless", "must map a phrase to a list of contexts")
        unless: dict[str, tuple[str, ...]] = {}
        for phrase, contexts in raw_unless.items():
            if phrase not in known:
                raise _fail(path, f"{where}.unless", f"{phrase!r} is not a phrase of this area")
            unless[phrase] = _string_list(path, f"{where}.unless.{phrase}", contexts)
        areas.append(
            Area(
                id=area_id,
                name={str(k): str(v) for k, v in name.items()},
                definition=" ".join(definition.split()),
                cpv=_cpv_list(path, f"{where}.cpv", raw.get("cpv")),
                cpv_weak=_cpv_list(path, f"{where}.cpv_weak", raw.get("cpv_weak")),
                cpv_exclude=_cpv_list(path, f"{where}.cpv_exclude", raw.get("cpv_exclude")),
                phrases=phrases,
                weak_phrases=weak,
                unless=unless,
                veto=veto,
            )
        )
    missing = [a for a in AREA_IDS if a not in seen]
    if missing:
        raise _fail(path, "areas", f"missing area(s) {', '.join(missing)}")
    organisations: dict[str, Organisation] = {}
    raw_orgs = data.get("organisations") or {}
    if not isinstance(raw_orgs, dict):
        raise _fail(path, "organisations", "must map an organisation id to {name, areas}")
    for org_id, raw in raw_orgs.items():
        where = f"organisation {org_id!r}"
        if not isinstance(raw, dict) or set(raw) - {"name", "areas"}:
            raise _fail(path, where, "must be {name, areas}")
        pushes = raw.get("areas") or {}
        if not isinstance(pushes, dict):
            raise _fail(path, where, "areas must map an area id to a number")
        for area_id, value in pushes.items():
            if area_id not in AREA_IDS:
                raise _fail(path, where, f"unknown area {area_id!r}")
            if not isinstance(value, int | float) or not 0 <= value <= 2:
                raise _fail(path, where, f"prior for {area_id} must be a number from 0 to 2")
        organisations[str(org_id)] = Organisation(
            id=str(org_id),
            name=str(raw.get("name") or org_id),
            areas={k: float(v) for k, v in pushes.items()},
        )
    order = {area_id: i for i, area_id in enumerate(AREA_IDS)}
    item_kinds = _item_kinds(path, data.get("item_kinds"), languages)
    return Taxonomy(
        version=str(data.get("version") or "0"),
        languages=languages,
        areas=tuple(sorted(areas, key=lambda a: order[a.id])),
        organisations=organisations,
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        item_kinds=item_kinds,
    )


def _item_kinds(path: Path, value: Any, languages: tuple[str, ...]) -> dict[str, dict[str, tuple[str, ...]]]:
    if value is None:
        return {}
    if not isinstance(value, dict) or set(value) - set(ITEM_KINDS):
        raise _fail(path, "item_kinds", f"must map some of {', '.join(ITEM_KINDS)} to phrases per language")
    kinds = {kind: _per_language(path, f"item_kinds.{kind}", value.get(kind), languages) for kind in ITEM_KINDS}
    # A phrase of two kinds (in any two languages: English applies to every notice) would make
    # the answer depend on file order.
    seen: dict[str, str] = {}
    for kind, per_language in kinds.items():
        for phrase in sorted({p for items in per_language.values() for p in items}):
            other = seen.setdefault(phrase, kind)
            if other != kind:
                raise _fail(path, "item_kinds", f"phrase {phrase!r} listed as both {other} and {kind}")
    return kinds


def load_taxonomy(path: Path | None = None) -> Taxonomy:
    """Read and validate the taxonomy (the packaged file unless `path` is given)."""
    path = path or TAXONOMY_PATH
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise TaxonomyError(f"{path}: cannot be read: {error}") from error
    return parse_taxonomy(text, path)


@lru_cache(maxsize=1)
def default_taxonomy() -> Taxonomy:
    """The packaged taxonomy, read once per process."""
    return load_taxonomy()
