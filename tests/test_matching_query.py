"""The keyword language of profiles: phrases, OR, exclusions, folding, plurals, translations, errors."""

from __future__ import annotations

import pytest

from monitor.errors import IloMonitorError
from monitor.matching.query import QueryError, matches, parse


@pytest.mark.parametrize(
    ("expression", "text", "language", "expected"),
    [
        ('"ultra-high vacuum"', "Supply of ultra high vacuum chambers", None, True),
        ('"ultra high vacuum"', "An ultra-high-vacuum system", None, True),
        ('"ultra high vacuum"', "Ultrahigh vacuum gauges", None, True),
        ('"vacuum chamber"', "chamber for vacuum tests", None, False),  # a phrase keeps its order
        ("cryostat", "Fourniture de CRYOSTATS", "fr", True),  # case and plural
        ("pumps", "one pump", None, True),  # a plural keyword finds the singular
        ("vacuum", "Vacuüm-systeem", "nl", True),  # accents
        ("UHV", "UHVX controllers", None, False),  # whole words only
        ("ion", "ionisation chamber", None, False),
        ('cryostat OR "cold box" helium', "cold boxes for helium", None, True),
        ('cryostat OR "cold box" helium', "cold boxes for nitrogen", None, False),
        ("cryostat -repair", "cryostat repair", None, False),
        ('cryostat -"spare parts"', "cryostat with spare parts", None, False),
        ('cryostat -"spare parts"', "cryostat, parts and spares", None, True),
        ('"vacuum pump"', "Lieferung von Vakuumpumpen", "de", True),  # translation, German plural
        ('"vacuum pump"', "Lieferung von Vakuumpumpen", "en", False),  # ... only in German notices
        ("vacuümpomp", "Supply of vacuum pumps", "en", True),  # a Dutch keyword finds English
        ('"remote handling"', "Fernhantierung im Heißlabor", "de", True),
    ],
)
def test_matching(expression: str, text: str, language: str | None, expected: bool) -> None:
    assert matches(expression, text, language) is expected


def test_parse_structure() -> None:
    parsed = parse('cryostat OR "cold box" helium -repair -"spare parts"')
    assert [[t.text for t in clause] for clause in parsed.clauses] == [["cryostat", "cold box"], ["helium"]]
    assert [t.text for t in parsed.exclusions] == ["repair", "spare parts"]
    assert parse("-repair").clauses == ()  # an exclusion alone is allowed (profile-wide veto)


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("", "is empty"),
        ("OR cryostat", "OR must stand between two terms"),
        ("cryostat OR", "OR must stand between two terms"),
        ("a OR OR b", "OR must stand between two terms"),
        ('"liquid helium', "unbalanced quote"),
        ('""', "empty phrase"),
        ("-", "must be followed by a word"),
        ("a OR -b", "exclusion cannot be one side of OR"),
        ('ab"c"', "quote inside"),
        ('"!!"', "has no letters or digits"),
    ],
)
def test_bad_expressions_name_profile_and_expression(expression: str, reason: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse(expression, profile="vacutech/default")
    message = str(caught.value)
    assert message.startswith(f"profile vacutech/default: keyword {expression!r}: ")
    assert reason in message
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, IloMonitorError)
