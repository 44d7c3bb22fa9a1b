"""Rule evidence: taxonomy phrases found in a notice's text, and what its CPV codes say.

Phrase matching works on word tokens (see `text.tokens`).  At each position the longest phrase
of any area wins and consumes its words, which is how general_other's "vacuum cleaner" masks
vacuum's "vacuum"; single-word stems ("kryo*", "*vakuum*") catch compounds.  A phrase found in a
notice that also contains one of its `unless` contexts, or any of its area's `veto` contexts,
is dropped, and the drop is kept so the evidence can say why.

A title is often "what is bought" + "for" + "what it serves" ("Power converters for the corrector
magnets"): a phrase found after such a purpose word, once a technology phrase has come before it,
is marked `served`, so the classifier can tell the item bought from the installation it goes to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from monitor.classifier.taxonomy import GENERAL, Taxonomy
from monitor.classifier.text import joined, tokens

STRONG: Final = "strong"
WEAK: Final = "weak"
# Purpose words that introduce what an item is for, in the taxonomy's languages (as `tokens`
# gives them).  All languages at once: a wrongly detected language must not hide the split.
# Words that are common in another of the languages with another meaning stay out (Dutch "ten",
# as in "ten behoeve van", is the English number).
PURPOSE_WORDS: Final = frozenset(
    {
        "for",  # en
        "pour", "destiné", "destinée",  # fr
        "für", "zur", "zum",  # de
        "voor",  # nl
        "para", "destinado", "destinada",  # es
        "för", "till",  # sv
        "per", "destinato", "destinata", "destinati",  # it
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class PhraseHit:
    """A phrase of `area` found in `field` ("title" or "description").

    `served`: in the title, after a purpose word that follows another technology phrase (the
    installation the item bought is for, not the item itself).
    """

    area: str
    strength: str
    phrase: str
    field: str
    ignored_because: str | None = None
    served: bool = False


@dataclass(frozen=True, slots=True)
class ItemHit:
    """What the title buys: `kind` of `taxonomy.ITEM_KINDS`, named by `phrase`."""

    kind: str
    phrase: str


@dataclass(frozen=True, slots=True)
class CpvHit:
    """A CPV code of the notice that is evidence for `area` (`main`: the first, main code)."""

    area: str
    strength: str
    code: str
    prefix: str
    main: bool


Target = tuple[str, ...]


class PhraseIndex:
    """Phrases indexed for token-level longest match; each phrase carries a target tuple."""

    def __init__(self, entries: list[tuple[str, Target]]) -> None:
        self.exact: dict[tuple[str, ...], list[Target]] = {}
        self.first: set[str] = set()
        self.max_len = 1
        self.prefixes: dict[str, list[Target]] = {}
        self.infixes: dict[str, list[Target]] = {}
        for phrase, target in entries:
            if phrase.endswith("*") and " " not in phrase:
                stem = tokens(phrase.strip("*"))
                if len(stem) != 1:
                    continue
                bucket = self.infixes if phrase.startswith("*") else self.prefixes
                bucket.setdefault(stem[0], []).append(target)
                continue
            key = tuple(tokens(phrase))
            if not key:
                continue
            self.exact.setdefault(key, []).append(target)
            self.first.add(key[0])
            self.max_len = max(self.max_len, len(key))
        # Longest stem first so that "kryostat" is credited to the longer, more specific stem.
        self._prefix_re = _alternation(self.prefixes, anchored=True)
        self._infix_re = _alternation(self.infixes, anchored=False)

    def find(self, words: list[str], *, first_only: bool = False) -> list[tuple[int, Target]]:
        """(position, target) of the phrases in `words`, longest match first.

        An exact phrase beats a prefix stem, which beats an infix stem, at the same position.
        `first_only`: stop at the first position where anything matches.
        """
        found: list[tuple[int, Target]] = []
        i = 0
        n = len(words)
        while i < n:
            word = words[i]
            step = 1
            matched = False
            if word in self.first:
                for length in range(min(self.max_len, n - i), 0, -1):
                    targets = self.exact.get(tuple(words[i : i + length]))
                    if targets:
                        found.extend((i, t) for t in targets)
                        step = length
                        matched = True
                        break
            if not matched:
                if self._prefix_re is not None:
                    m = self._prefix_re.match(word)
                    if m:
                        found.extend((i, t) for t in self.prefixes[m.group(0)])
                        matched = True
                if not matched and self._infix_re is not None:
                    m = self._infix_re.search(word)
                    if m:
                        found.extend((i, t) for t in self.infixes[m.group(0)])
            if found and first_only:
                break
            i += step
        return found


class PhraseMatcher:
    """All area phrases for one set of languages, with their `unless` and `veto` contexts."""

    def __init__(self, taxonomy: Taxonomy, languages: tuple[str, ...]) -> None:
        entries: list[tuple[str, Target]] = []
        self.unless: dict[tuple[str, str], tuple[str, ...]] = {}
        self.veto: dict[str, list[tuple[str, str]]] = {}
        for area in taxonomy.areas:
            for strength, groups in ((STRONG, area.phrases), (WEAK, area.weak_phrases)):
                for lang in languages:
                    entries.extend((phrase, (area.id, strength, phrase)) for phrase in groups.get(lang, ()))
            for phrase, contexts in area.unless.items():
                self.unless[(area.id, phrase)] = tuple(joined(tokens(c)) for c in contexts)
            self.veto[area.id] = [(c, joined(tokens(c))) for lang in languages for c in area.veto.get(lang, ())]
        self.index = PhraseIndex(entries)

    def find(self, words: list[str]) -> list[tuple[int, str, str, str]]:
        """(position, area, strength, phrase) of the phrases in `words`, longest match first."""
        return [(position, *target) for position, target in self.index.find(words)]  # type: ignore[misc]


def _alternation(stems: dict[str, list[Target]], *, anchored: bool) -> re.Pattern[str] | None:
    if not stems:
        return None
    body = "|".join(re.escape(s) for s in sorted(stems, key=lambda s: (-len(s), s)))
    return re.compile(f"^(?:{body})" if anchored else f"(?:{body})")


@lru_cache(maxsize=64)
def _item_index(taxonomy: Taxonomy, languages: tuple[str, ...]) -> PhraseIndex:
    return PhraseIndex(
        [
            (phrase, (kind, phrase))
            for kind, per_language in taxonomy.item_kinds.items()
            for lang in languages
            for phrase in per_language.get(lang, ())
        ]
    )


def find_item(taxonomy: Taxonomy, languages: tuple[str, ...], title: str) -> ItemHit | None:
    """The item a title buys: the first `item_kinds` phrase in it, or None when there is none.

    "Ion pumps for the vacuum chambers of the ring" buys pumps (a product), "Vacuum chambers for
    the ring" buys chambers (made for the installation): titles name the item before what it is
    for, so reading from the start finds it first.
    """
    found = _item_index(taxonomy, languages).find(tokens(title), first_only=True)
    if not found:
        return None
    kind, phrase = found[0][1]
    return ItemHit(kind, phrase)


@lru_cache(maxsize=64)
def _matcher(taxonomy: Taxonomy, languages: tuple[str, ...]) -> PhraseMatcher:
    return PhraseMatcher(taxonomy, languages)


def phrase_languages(language: str | None, taxonomy: Taxonomy) -> tuple[str, ...]:
    """English plus the notice's language when the taxonomy has phrases for it."""
    if language and language != "en" and language in taxonomy.languages:
        return ("en", language)
    return ("en",)


def find_phrases(
    taxonomy: Taxonomy, languages: tuple[str, ...], title: str, description: str | None
) -> list[PhraseHit]:
    """Phrase evidence in title and description, with `unless`/`veto` drops marked."""
    matcher = _matcher(taxonomy, languages)
    title_words = tokens(title)
    description_words = tokens(description or "")
    context = joined(title_words) + joined(description_words)
    hits: list[PhraseHit] = []
    vetoed: dict[str, str | None] = {}
    for field_name, words in (("title", title_words), ("description", description_words)):
        found = matcher.find(words)
        split = _purpose_split(words, found) if field_name == "title" else len(words)
        for position, area, strength, phrase in found:
            reason: str | None = None
            for ctx in matcher.unless.get((area, phrase), ()):
                if ctx in context:
                    reason = ctx.strip()
                    break
            if reason is None:
                if area not in vetoed:
                    vetoed[area] = next((c for c, norm in matcher.veto.get(area, ()) if norm in context), None)
                reason = vetoed[area]
            hits.append(PhraseHit(area, strength, phrase, field_name, reason, position > split))
    return hits


def _purpose_split(words: list[str], found: list[tuple[int, str, str, str]]) -> int:
    """Position of the first purpose word that follows a technology phrase (len(words): none)."""
    first = min((position for position, area, _, _ in found if area != GENERAL), default=len(words))
    for position in range(first + 1, len(words)):
        if words[position] in PURPOSE_WORDS:
            return position
    return len(words)


@lru_cache(maxsize=4)
def _cpv_index(taxonomy: Taxonomy) -> dict[str, list[tuple[str, str]]]:
    """prefix -> [(area, strong|weak|exclude)]"""
    index: dict[str, list[tuple[str, str]]] = {}
    for area in taxonomy.areas:
        for kind, prefixes in (("exclude", area.cpv_exclude), (STRONG, area.cpv), (WEAK, area.cpv_weak)):
            for prefix in prefixes:
                index.setdefault(prefix, []).append((area.id, kind))
    return index


def find_cpv(taxonomy: Taxonomy, codes: list[str]) -> list[CpvHit]:
    """For each code and area, the longest matching prefix decides (an exclusion wins its length)."""
    index = _cpv_index(taxonomy)
    hits: list[CpvHit] = []
    for position, raw in enumerate(codes):
        code = re.sub(r"\D", "", raw)[:8]
        decided: set[str] = set()
        for length in range(len(code), 1, -1):
            prefix = code[:length]
            for area, kind in index.get(prefix, ()):
                if area in decided:
                    continue
                decided.add(area)
                if kind != "exclude":
                    hits.append(CpvHit(area, kind, code, prefix, position == 0))
    return hits
