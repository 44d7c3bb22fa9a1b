"""The pure matcher: signals, hard filters, exclusions, reasons, scores and the keyword baseline."""

from __future__ import annotations

from typing import Any

from monitor.contract import Notice
from monitor.matching.matcher import ProfileSpec, compile_profiles


def notice(**fields: Any) -> Notice:
    values: dict[str, Any] = {"source": "dev", "source_id": "n1", "title": "Supply of equipment", "language": "en"}
    values.update(fields)
    return Notice(**values)


VACUUM_NOTICE = notice(
    title="Turbomolecular pumps for the UHV system",
    organisation="cern",
    notice_type="invitation_to_tender",
    estimated_value=200000.0,
    currency="CHF",
    cpv_codes=["42122450"],
    technology_areas=[{"id": "vacuum", "score": 0.9, "evidence": ["phrase 'turbomolecular pump'"]}],
)


def spec(**fields: Any) -> ProfileSpec:
    values: dict[str, Any] = {"key": 1, "company": "vacutech"}
    values.update(fields)
    return ProfileSpec(**values)


def only(profile: ProfileSpec, item: Notice) -> list[str] | None:
    results = compile_profiles([profile]).match(item)
    return results[0].reasons if results else None


def test_reasons_name_area_evidence_keyword_cpv_and_organisation() -> None:
    profile = spec(areas=["vacuum"], keywords=["UHV"], cpv_prefixes=["42122"], organisations=["cern", "eso"])
    [result] = compile_profiles([profile]).match(VACUUM_NOTICE)
    assert result.reasons == [
        "area vacuum (phrase 'turbomolecular pump')",
        "CPV 42122450 (prefix 42122)",
        'keyword "UHV"',
        "organisation CERN",
    ]
    assert 0.9 < result.score <= 1.0
    weaker = compile_profiles([spec(keywords=["UHV"])]).match(VACUUM_NOTICE)[0]
    assert weaker.score < result.score


def test_translation_is_named_in_the_reason() -> None:
    german = notice(title="Lieferung von Vakuumpumpen", language="de")
    assert only(spec(keywords=['"vacuum pump"']), german) == ['keyword "vacuum pump" (as "Vakuumpumpe")']


def test_exclusions_win_over_every_signal() -> None:
    profile = spec(areas=["vacuum"], cpv_prefixes=["42"], keywords=["UHV", '-"turbomolecular pumps"'])
    assert only(profile, VACUUM_NOTICE) is None


def test_hard_filters() -> None:
    assert only(spec(areas=["vacuum"], organisations=["eso"]), VACUUM_NOTICE) is None
    assert only(spec(areas=["vacuum"], notice_types=["contract_award"]), VACUUM_NOTICE) is None
    assert only(spec(areas=["vacuum"], notice_types=["tender"]), VACUUM_NOTICE) is not None  # a stage
    assert only(spec(areas=["vacuum"], min_value=500000), VACUUM_NOTICE) is None
    assert only(spec(areas=["vacuum"], max_value=100000), VACUUM_NOTICE) is None
    assert only(spec(areas=["vacuum"], languages=["fr"]), VACUUM_NOTICE) is None
    unknown = notice(title="UHV valves", estimated_value=None, language=None)
    assert only(spec(keywords=["UHV"], min_value=500000, languages=["fr"]), unknown) == ['keyword "UHV"']
    reasons = only(spec(areas=["vacuum"], min_value=100000), VACUUM_NOTICE)
    assert reasons is not None and reasons[-1] == "value 200,000 CHF"


def test_status_does_not_matter() -> None:
    for status in ("closed", "cancelled", "awarded"):
        item = notice(title="UHV valves", status=status)
        assert only(spec(keywords=["UHV"]), item) == ['keyword "UHV"']


def test_secondary_areas_count_only_when_strong() -> None:
    areas = [
        {"id": "magnets_superconductivity", "score": 0.85, "evidence": []},
        {"id": "accelerator_beam", "score": 0.5, "evidence": ["phrase 'storage ring'"]},
        {"id": "cryogenics", "score": 0.72, "evidence": "phrase 'cryostat'"},
    ]
    item = notice(technology_areas=areas)
    assert only(spec(areas=["accelerator_beam"]), item) is None
    assert only(spec(areas=["cryogenics"]), item) == ["area cryogenics (phrase 'cryostat')"]
    assert only(spec(areas=["magnets_superconductivity"]), item) == ["area magnets_superconductivity"]
    weak = notice(technology_areas=[{"id": "vacuum", "score": 0.3, "evidence": []}])
    assert only(spec(areas=["vacuum"]), weak) is None


def test_profile_without_criteria_matches_everything_that_passes_its_filters() -> None:
    profile = spec(organisations=["cern"])
    assert only(profile, VACUUM_NOTICE) == [
        "profile without areas, CPV prefixes or keywords: every notice that passes its filters",
        "organisation CERN",
    ]
    assert only(profile, notice(organisation="eso")) is None
    baseline = compile_profiles([profile], mode="keywords")
    assert baseline.match(VACUUM_NOTICE) == []


def test_keyword_baseline_ignores_areas_and_cpv() -> None:
    profile = spec(areas=["vacuum"], cpv_prefixes=["42"], keywords=["cryostat"])
    assert compile_profiles([profile], mode="keywords").match(VACUUM_NOTICE) == []
    assert compile_profiles([profile]).match(VACUUM_NOTICE) != []


def test_many_profiles_share_one_index_and_results_are_sorted() -> None:
    profiles = [spec(key=i, company=f"c{i:03d}", keywords=[f"word{i}", "UHV"]) for i in range(200)]
    matcher = compile_profiles(profiles)
    assert len(matcher.terms.terms) == 201  # "UHV" is indexed once for all 200 profiles
    results = matcher.match(VACUUM_NOTICE)
    assert [r.company for r in results] == sorted(r.company for r in results)
    assert len(results) == 200
