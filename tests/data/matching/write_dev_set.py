"""Write companies.jsonl, notices.jsonl and gold.jsonl from the hand-written sources beside it.

Usage: python tests/data/matching/write_dev_set.py   (rewrites the three files; see README.md)
"""

from __future__ import annotations

import json
import sys
from datetime import date, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from companies_src import COMPANIES  # noqa: E402
from notices_src import TEST, TUNE, Row  # noqa: E402

BUYERS = {
    "cern": ("European Organization for Nuclear Research (CERN)", "CH", "CHF"),
    "eso": ("European Southern Observatory (ESO)", "DE", "EUR"),
    "esa": ("European Space Agency (ESA), ESTEC", "NL", "EUR"),
    "f4e": ("Fusion for Energy (F4E)", "ES", "EUR"),
    "iter": ("ITER Organization", "FR", "EUR"),
    "ess": ("European Spallation Source ERIC", "SE", "EUR"),
    "xfel": ("European XFEL GmbH", "DE", "EUR"),
    "fair": ("FAIR - Facility for Antiproton and Ion Research in Europe GmbH", "DE", "EUR"),
    "esrf": ("ESRF - European Synchrotron Radiation Facility", "FR", "EUR"),
    "ill": ("Institut Laue-Langevin (ILL)", "FR", "EUR"),
    "embl": ("European Molecular Biology Laboratory (EMBL)", "DE", "EUR"),
    "skao": ("SKA Observatory (SKAO)", "GB", "EUR"),
    "ctao": ("Cherenkov Telescope Array Observatory (CTAO) ERIC", "IT", "EUR"),
    "eli": ("ELI ERIC", "CZ", "EUR"),
    "eurofusion": ("EUROfusion consortium", "DE", "EUR"),
    "nikhef": ("NWO-I Nikhef", "NL", "EUR"),
    "astron": ("NWO-I ASTRON", "NL", "EUR"),
    "sron": ("NWO-I SRON", "NL", "EUR"),
    "differ": ("NWO-I DIFFER", "NL", "EUR"),
    "jive": ("JIVE ERIC", "NL", "EUR"),
}
STATUS = {"contract_award": "awarded", "cancellation": "cancelled"}
CLOSED = {"tune-026", "test-011"}  # deadline passed: still matched on content


def areas(text: str) -> list[dict[str, object]]:
    found = []
    for part in filter(None, (p.strip() for p in text.split(";"))):
        area, score, phrases = part.split(" ", 2)
        evidence = [f"phrase '{p.strip()}'" for p in phrases.split(",") if p.strip()]
        found.append({"id": area, "score": float(score), "evidence": evidence})
    return found


def notice(row: Row, day: int) -> dict[str, object]:
    source_id, org, notice_type, language, title, description, cpvs, value, area_text, _ = row
    buyer, country, currency = BUYERS[org]
    published = date(2026, 7, 1) + timedelta(days=day)
    record: dict[str, object] = {
        "source": "dev",
        "source_id": source_id,
        "notice_type": notice_type,
        "status": "closed" if source_id in CLOSED else STATUS.get(notice_type, "open"),
        "title": title,
        "description": description or None,
        "buyer": buyer,
        "buyer_country": country,
        "organisation": org,
        "published_on": published.isoformat(),
        "deadline": f"{published + timedelta(days=45)}T12:00:00+00:00",
        "cpv_codes": cpvs.split(),
        "estimated_value": value,
        "currency": currency if value is not None else None,
        "language": language,
        "url": f"https://tenders.example.org/{org}/{source_id}",
        "technology_areas": areas(area_text),
    }
    return record


def main() -> None:
    with (HERE / "companies.jsonl").open("w", encoding="utf-8") as out:
        for company_id, name, _, profile in COMPANIES:
            line = {"id": company_id, "name": name, "country": "NL", "email": f"tenders@{company_id}.example.nl"}
            line.update(profile)
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
    known = {c[0] for c in COMPANIES}
    with (
        (HERE / "notices.jsonl").open("w", encoding="utf-8") as notices,
        (HERE / "gold.jsonl").open("w", encoding="utf-8") as gold,
    ):
        for day, row in enumerate(TUNE + TEST):
            notices.write(json.dumps(notice(row, day % 80), ensure_ascii=False) + "\n")
            for company in row[9].split():
                assert company in known, company
                gold.write(json.dumps({"company": company, "source_id": row[0]}) + "\n")


if __name__ == "__main__":
    main()
