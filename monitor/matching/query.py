"""The keyword language of profiles: parsed once, matched fast against many notices.

A profile has a list of keyword *expressions*; a notice matches the profile's keywords when any
one expression matches. Inside an expression:

- `cryostat` is a word, `"liquid helium"` a phrase (words next to each other, in that order);
  an unquoted hyphenated word is a phrase too (`ultra-high` = `"ultra high"`);
- terms side by side must all occur (AND); `OR` (in capitals) between two terms means either:
  `cryostat OR "cold box" helium` = (cryostat or cold box) and helium;
- `-word` and `-"a phrase"` are *exclusions*: a notice containing one is never matched to the
  profile, whatever else matches (exclusions win over areas, CPV codes and keywords);
- matching is case- and accent-insensitive, on whole words; hyphens, slashes and spaces are
  the same ("ultra-high vacuum" = "ultra high vacuum" = "ultrahigh vacuum"), and a simple plural
  or inflection is tolerated ("pump" matches "pumps" and German "Pumpen");
- a term that is a phrase of `lexicon.LEXICON` also matches its translations, in notices written
  in that language: "vacuum pump" matches "Vakuumpumpe" in a German notice.

Instead of running one regular expression per profile per notice, all terms of all profiles go
into one `TermIndex` keyed on the first word's forms; a notice is tokenised once and each token
is looked up once (see `TermIndex.scan`), so cost does not grow with the number of profiles.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Final

from monitor.errors import ConfigurationError
from monitor.matching.lexicon import LEXICON

# Endings removed from a notice's words so that plurals and inflections meet the keyword's form.
# Longer stems for the vowel endings keep "tube" from reaching "tub"; "s" alone needs three letters.
_ENDINGS: Final = (("s", 3), ("es", 3), ("en", 4), ("e", 4), ("n", 4))
_TOKEN: Final = re.compile(r"-?\"[^\"]*\"|\S+")
_NON_WORD: Final = re.compile(r"[\W_]+", re.UNICODE)


class QueryError(ConfigurationError, ValueError):
    """A keyword expression of a profile cannot be parsed; the message names profile and expression.

    Raised by `parse()` when profiles are imported, edited or compiled for matching.
    """


def fold(text: str) -> str:
    """Text as keywords are compared: no accents, case-folded, punctuation and hyphens as spaces."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NON_WORD.sub(" ", stripped.casefold()).strip()


@lru_cache(maxsize=65536)
def token_variants(token: str) -> frozenset[str]:
    """A notice word and its stems without a plural or inflection ending (cached: words repeat)."""
    forms = {token}
    for ending, min_stem in _ENDINGS:
        if token.endswith(ending) and len(token) - len(ending) >= min_stem:
            forms.add(token[: -len(ending)])
    return frozenset(forms)


def word_forms(word: str) -> frozenset[str]:
    """A keyword's word and its singular guesses: "pumps" is looked up as "pumps", "pump"."""
    forms = {word}
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        forms.add(word[:-1])
        if word.endswith("es") and len(word) > 4:
            forms.add(word[:-2])
    return frozenset(forms)


@dataclass(frozen=True, slots=True)
class Variant:
    """One surface form of a term: its folded words, and the notice language it is valid in."""

    words: tuple[str, ...]
    display: str
    language: str | None  # None: every language (the form the profile wrote, or English)


@dataclass(frozen=True, slots=True)
class Term:
    """A word or phrase of an expression, with its translations and hyphen/space variants."""

    text: str  # as written (for reasons)
    variants: tuple[Variant, ...]


@dataclass(frozen=True, slots=True)
class Expression:
    """One parsed keyword expression: all `clauses` must match (each is an OR of term indexes)."""

    source: str
    clauses: tuple[tuple[Term, ...], ...]
    exclusions: tuple[Term, ...]

    @property
    def terms(self) -> tuple[Term, ...]:
        return tuple(term for clause in self.clauses for term in clause)


def _lexicon_groups() -> dict[tuple[str, ...], list[tuple[str, str | None]]]:
    """Every lexicon phrase (folded words) → the whole concept as (display, language) pairs."""
    groups: dict[tuple[str, ...], list[tuple[str, str | None]]] = {}
    for english, translations in LEXICON.items():
        concept: list[tuple[str, str | None]] = [(english, None)]
        concept += [(phrase, lang) for lang, phrases in translations.items() for phrase in phrases]
        for phrase, _ in concept:
            groups.setdefault(tuple(fold(phrase).split()), concept)
    return groups


_GROUPS: Final = _lexicon_groups()


def _variants(words: tuple[str, ...], text: str) -> tuple[Variant, ...]:
    found: dict[tuple[tuple[str, ...], str | None], Variant] = {}

    def add(words: tuple[str, ...], display: str, language: str | None) -> None:
        found.setdefault((words, language), Variant(words, display, language))
        # Writers join compounds ("ultrahigh vacuum", "cryocooler"): every way of joining
        # neighbouring words is a variant too (for phrases of up to four words).
        if 1 < len(words) <= 4:
            for joins in range(1, 2 ** (len(words) - 1)):
                joined = [words[0]]
                for i, word in enumerate(words[1:]):
                    if joins >> i & 1:
                        joined[-1] += word
                    else:
                        joined.append(word)
                found.setdefault((tuple(joined), language), Variant(tuple(joined), display, language))

    add(words, text, None)
    for display, language in _GROUPS.get(words, ()):
        folded = tuple(fold(display).split())
        if folded != words:
            add(folded, display, language)
    return tuple(found.values())


def _term(text: str, *, profile: str, expression: str) -> Term:
    words = tuple(fold(text).split())
    if not words:
        raise QueryError(f"profile {profile}: keyword {expression!r}: {text!r} has no letters or digits")
    return Term(text=text, variants=_variants(words, text))


def parse(expression: str, *, profile: str = "?") -> Expression:
    """Parse one keyword expression; `QueryError` names `profile` and the expression when it is bad."""

    def fail(reason: str) -> QueryError:
        return QueryError(f"profile {profile}: keyword {expression!r}: {reason}")

    if not isinstance(expression, str) or not expression.strip():
        raise fail("is empty")
    if expression.count('"') % 2:
        raise fail("has an unbalanced quote")
    clauses: list[list[Term]] = []
    exclusions: list[Term] = []
    pending_or = False
    for raw in _TOKEN.findall(expression):
        if raw == "OR":
            if not clauses or pending_or:
                raise fail("OR must stand between two terms")
            pending_or = True
            continue
        negative = raw.startswith("-")
        body = raw[1:] if negative else raw
        if body.startswith('"'):
            text = body[1:-1].strip()
            if not text:
                raise fail("has an empty phrase")
        else:
            if '"' in body:
                raise fail(f"quote inside {raw!r}; put the whole phrase in quotes")
            text = body
        if not text:
            raise fail("'-' must be followed by a word or a quoted phrase")
        term = _term(text, profile=profile, expression=expression)
        if negative:
            if pending_or:
                raise fail("an exclusion cannot be one side of OR")
            exclusions.append(term)
        elif pending_or:
            clauses[-1].append(term)
            pending_or = False
        else:
            clauses.append([term])
    if pending_or:
        raise fail("OR must stand between two terms")
    return Expression(source=expression.strip(), clauses=tuple(tuple(c) for c in clauses), exclusions=tuple(exclusions))


def parse_all(expressions: Iterable[str], *, profile: str = "?") -> list[Expression]:
    """Parse a profile's keyword list (each entry one expression)."""
    return [parse(expression, profile=profile) for expression in expressions]


# -- matching ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tokens:
    """A text tokenised once for every lookup: each position's word forms."""

    forms: tuple[frozenset[str], ...]
    language: str | None

    @classmethod
    def of(cls, text: str, language: str | None = None) -> Tokens:
        return cls(tuple(token_variants(token) for token in fold(text).split()), language)


@dataclass(slots=True)
class _Entry:
    term: int
    variant: Variant
    rest: tuple[frozenset[str], ...]  # forms of the words after the first


@dataclass
class TermIndex:
    """Many terms (deduplicated), looked up together: the first word's forms → candidate phrases."""

    terms: list[Term] = field(default_factory=list)
    _ids: dict[tuple[tuple[str, ...], ...], int] = field(default_factory=dict)
    _first: dict[str, list[_Entry]] = field(default_factory=dict)

    def add(self, term: Term) -> int:
        """The id of `term` in this index (the same id for the same words, whoever wrote them)."""
        key = tuple(v.words for v in term.variants)
        if key in self._ids:
            return self._ids[key]
        term_id = len(self.terms)
        self._ids[key] = term_id
        self.terms.append(term)
        for variant in term.variants:
            rest = tuple(word_forms(word) for word in variant.words[1:])
            for form in word_forms(variant.words[0]):
                self._first.setdefault(form, []).append(_Entry(term_id, variant, rest))
        return term_id

    def scan(self, tokens: Tokens) -> dict[int, Variant]:
        """Every term found in `tokens`, with the variant that was found (first occurrence)."""
        hits: dict[int, Variant] = {}
        forms = tokens.forms
        size = len(forms)
        for position, token_forms in enumerate(forms):
            for form in token_forms:
                entries = self._first.get(form)
                if not entries:
                    continue
                for entry in entries:
                    if entry.term in hits and hits[entry.term].language is None:
                        continue
                    language = entry.variant.language
                    if language is not None and tokens.language is not None and language != tokens.language:
                        continue  # a translation counts only in a notice of its own language
                    if entry.rest and not _follows(forms, position + 1, size, entry.rest):
                        continue
                    if entry.term not in hits or language is None:
                        hits[entry.term] = entry.variant
        return hits


def _follows(forms: Sequence[frozenset[str]], start: int, size: int, rest: tuple[frozenset[str], ...]) -> bool:
    if start + len(rest) > size:
        return False
    return all(not wanted.isdisjoint(forms[start + offset]) for offset, wanted in enumerate(rest))


def matches(expression: Expression | str, text: str, language: str | None = None) -> bool:
    """Whether one expression matches `text` (convenient for tests; matching proper uses `TermIndex`)."""
    parsed = parse(expression) if isinstance(expression, str) else expression
    index = TermIndex()
    clause_ids = [[index.add(t) for t in clause] for clause in parsed.clauses]
    exclusion_ids = [index.add(t) for t in parsed.exclusions]
    hits = index.scan(Tokens.of(text, language))
    if any(e in hits for e in exclusion_ids):
        return False
    return bool(clause_ids) and all(any(t in hits for t in clause) for clause in clause_ids)
