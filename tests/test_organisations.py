"""The Big Science registry recognises buyers from their names in any language, and only them."""

from __future__ import annotations

import dataclasses
from zoneinfo import ZoneInfo

import pytest

from monitor import organisations
from monitor.organisations import Organisation, all_organisations, get, identify, ted_buyer_names

EXPECTED_IDS = {
    "cern",
    "eso",
    "esa",
    "f4e",
    "iter",
    "ess",
    "xfel",
    "fair",
    "esrf",
    "ill",
    "embl",
    "skao",
    "ctao",
    "eli",
    "eurofusion",
    "nikhef",
    "astron",
    "sron",
    "differ",
    "jive",
}


@pytest.mark.parametrize(
    ("buyer", "expected"),
    [
        # CERN
        ("European Organization for Nuclear Research (CERN)", "cern"),
        ("Organisation européenne pour la recherche nucléaire", "cern"),
        ("ORGANISATION EUROPEENNE POUR LA RECHERCHE NUCLEAIRE", "cern"),
        ("Europäische Organisation für Kernforschung", "cern"),
        ("CERN", "cern"),
        ("CERN - Procurement Service", "cern"),
        # F4E, including the Danish form TED prints and the French full name containing "ITER"
        ("Fusion for Energy", "f4e"),
        ("Fællesforetagendet Fusion for Energy (»Fusion for Energy«)", "f4e"),
        ("Fusion for Energy Joint Undertaking (‘Fusion for Energy’)", "f4e"),
        ("Entreprise commune européenne pour ITER et le développement de l'énergie de fusion", "f4e"),
        ("The European Joint Undertaking for ITER and the Development of Fusion Energy", "f4e"),
        ("F4E", "f4e"),
        # ITER
        ("ITER Organization", "iter"),
        ("ITER International Fusion Energy Organization", "iter"),
        # FAIR / GSI
        ("GSI Helmholtzzentrum für Schwerionenforschung GmbH", "fair"),
        ("Facility for Antiproton and Ion Research in Europe GmbH (FAIR GmbH)", "fair"),
        ("Facility for Antiprotons and Ion Research", "fair"),
        # ESS, XFEL, ESRF, ILL, EMBL
        ("European Spallation Source ERIC", "ess"),
        ("ESS ERIC", "ess"),
        ("European XFEL GmbH", "xfel"),
        ("European Synchrotron Radiation Facility", "esrf"),
        ("ESRF - The European Synchrotron", "esrf"),
        ("Institut Laue-Langevin", "ill"),
        ("INSTITUT LAUE LANGEVIN", "ill"),
        ("ILL", "ill"),
        ("European Molecular Biology Laboratory (EMBL)", "embl"),
        ("EMBL-EBI", "embl"),
        # ESA and ESO in several languages
        ("European Space Agency", "esa"),
        ("Agence spatiale européenne", "esa"),
        ("Europäische Weltraumorganisation", "esa"),
        ("ESA/ESTEC", "esa"),
        ("ESA", "esa"),
        ("European Southern Observatory", "eso"),
        ("Europäische Südsternwarte (ESO)", "eso"),
        ("ESO", "eso"),
        # SKAO, CTAO, ELI, EUROfusion
        ("Square Kilometre Array Observatory", "skao"),
        ("SKAO", "skao"),
        ("Cherenkov Telescope Array Observatory gGmbH", "ctao"),
        ("ELI ERIC", "eli"),
        ("Extreme Light Infrastructure ERIC", "eli"),
        ("EUROfusion", "eurofusion"),
        # NWO-I institutes
        ("Stichting Nederlandse Wetenschappelijk Onderzoek Instituten (NWO-I), Nikhef", "nikhef"),
        ("NWO-I ASTRON", "astron"),
        ("ASTRON", "astron"),
        ("Netherlands Institute for Radio Astronomy", "astron"),
        ("SRON Netherlands Institute for Space Research", "sron"),
        ("Stichting NWO-I, instituut DIFFER", "differ"),
        ("Dutch Institute for Fundamental Energy Research", "differ"),
        ("Joint Institute for VLBI ERIC", "jive"),
        ("JIVE", "jive"),
    ],
)
def test_recognises_name_variants(buyer: str, expected: str) -> None:
    assert identify(buyer) == expected


@pytest.mark.parametrize(
    "buyer",
    [
        None,
        "",
        "   ",
        "PROFESSOR",  # contains ESO
        "WILL",  # contains ILL
        "ILLINOIS STATE UNIVERSITY",
        "University of Illinois",
        "FUNDACION ESO PARA LA EDUCACION",  # all capitals: "ESO" is a word here, not the observatory
        "Agenzia Spaziale Italiana",  # ASI, not ESA
        "Joint Research Centre",  # JRC is not Big Science
        "European Commission, JRC — Joint Research Centre",
        "Consorcio ESS Bilbao",  # the Spanish ESS partner, not ESS ERIC
        "Astron Buildings S.A.",  # a company, not the institute (acronyms are case-sensitive)
        "Iter Consulting Srl",
        "Fair Trade Procurement Ltd",
        "Deutsches Elektronen-Synchrotron DESY",
        "Stichting Nederlandse Wetenschappelijk Onderzoek Instituten (NWO-I)",  # no institute named
        "Gemeente Amsterdam",
        "Wageningen University and Research",
        "Cern Street Bakery",  # acronym in mixed case
    ],
)
def test_does_not_recognise_other_buyers(buyer: str | None) -> None:
    assert identify(buyer) is None


def test_registry_contents() -> None:
    ids = {org.id for org in all_organisations()}
    assert ids == EXPECTED_IDS
    assert "jrc" not in ids
    for org in all_organisations():
        assert len(org.country) == 2 and org.country.isupper()
        ZoneInfo(org.timezone)  # a real IANA zone
        assert org.website.startswith("https://")
        assert org.aliases or org.acronyms or org.weak_acronyms
    assert get("cern").timezone == "Europe/Zurich"
    assert get("eso").timezone == "Europe/Berlin"
    assert get("f4e").timezone == "Europe/Madrid"
    assert get("f4e").country == "ES"
    assert get("iter").timezone == "Europe/Paris"
    assert get("skao").timezone == "Europe/London"
    assert get("nikhef").country == "NL"


def test_organisation_is_frozen() -> None:
    org = get("cern")
    assert isinstance(org, Organisation)
    with pytest.raises(dataclasses.FrozenInstanceError):
        org.name = "x"  # type: ignore[misc]


def test_get_unknown_id() -> None:
    with pytest.raises(KeyError, match="jrc"):
        get("jrc")


def test_ted_buyer_names() -> None:
    names = ted_buyer_names()
    assert "European Organization for Nuclear Research" in names
    assert "Fusion for Energy" in names
    assert "CERN" in names
    # Acronyms that are ordinary words would flood a TED search.
    assert "ESO" not in names and "ILL" not in names and "ITER" not in names
    assert len(names) == len({n.casefold() for n in names})
    only_f4e = ted_buyer_names(["f4e"])
    assert "Fusion for Energy" in only_f4e
    assert "CERN" not in only_f4e


def test_fold_is_accent_case_and_punctuation_insensitive() -> None:
    assert organisations.fold("Organisation Européenne, pour la RECHERCHE-nucléaire!") == (
        " organisation europeenne pour la recherche nucleaire "
    )


@pytest.mark.parametrize(
    ("org_id", "reference", "key"),
    [
        ("cern", "MS-4321/EN", "cern:4321/EN"),  # a market survey and ...
        ("cern", "IT-4321/EN", "cern:4321/EN"),  # ... its invitation to tender: one procedure
        ("cern", "PE4788/TE", "cern:4788/TE"),
        ("f4e", "F4E-OMF-1108", "f4e:F4E-OMF-1108"),
        ("f4e", "F4E-OMF-1108 Lot 2", "f4e:F4E-OMF-1108"),
        ("iter", "IO/14/CFE/11235/JTR", "iter:IO/14/CFE/11235/JTR"),
        ("cern", "4321", None),  # not in the pattern
        ("f4e", "IO/14/CFE/11235/JTR", None),  # another organisation's pattern
        ("eso", "ESO/CFT/26/1701", None),  # no pattern known
        ("nobody", "MS-4321/EN", None),
        (None, "MS-4321/EN", None),
    ],
)
def test_procedure_keys_from_registry_reference_patterns(org_id: str | None, reference: str, key: str | None) -> None:
    assert organisations.procedure_key_for(org_id, reference) == key
