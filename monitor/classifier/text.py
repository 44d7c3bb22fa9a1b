"""Text preparation shared by the phrase rules and the text model: tokens, plural folding, language.

Phrases and notice text go through the same `tokens()`, so a phrase written "vacuum chamber" in
the taxonomy finds "Vacuum-Chambers" in a title.  Language detection (py3langid, restricted to
the EU languages) is only used when the notice does not state its language.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

_TOKEN: Final = re.compile(r"[^\W_]+(?:&[^\W_]+)*")

# Languages the detector may answer: the EU's official languages.  Restricting the set keeps
# py3langid from answering Latin or Esperanto for a two-word English title.
EU_LANGUAGES: Final = (
    "bg", "cs", "da", "de", "el", "en", "es", "et", "fi", "fr", "ga", "hr", "hu", "it",
    "lt", "lv", "mt", "nl", "pl", "pt", "ro", "sk", "sl", "sv",
)  # fmt: skip


def fold(token: str) -> str:
    """Light plural folding: "chambers" -> "chamber", "détecteurs" -> "détecteur".

    Applied to phrases and text alike, so it only has to be consistent, not linguistically right;
    "ss" endings (glass, mass) and short words (gas, ups) are left alone.
    """
    if len(token) > 3 and token.endswith("s") and not token.endswith(("ss", "us", "is")):
        return token[:-1]
    return token


def tokens(text: str) -> list[str]:
    """Lower-case, plural-folded word tokens; hyphens and apostrophes separate words, "&" joins."""
    # `fold` inlined: this runs on every word of every notice, and a call per word was a fifth
    # of the classifier's time.
    return [
        t[:-1] if len(t) > 3 and t[-1] == "s" and t[-2:] not in ("ss", "us", "is") else t
        for t in _TOKEN.findall(text.lower())
    ]


def joined(words: list[str]) -> str:
    """Tokens as " a b c " so that a context phrase is found with a plain substring test."""
    return " " + " ".join(words) + " "


@lru_cache(maxsize=1)
def _identifier() -> object | None:
    try:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier
    except ImportError:  # the detector is optional: without it the notice's own language is used
        return None
    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(EU_LANGUAGES))
    return identifier


def detect_language(text: str) -> tuple[str | None, float]:
    """(ISO 639-1 code, probability) of `text`, or (None, 0.0) when there is nothing to go on."""
    if len(_TOKEN.findall(text)) < 2:
        return None, 0.0
    identifier = _identifier()
    if identifier is None:
        return None, 0.0
    lang, probability = identifier.classify(text)  # type: ignore[attr-defined]
    return str(lang), float(probability)
