"""Matching throughput: 10,000 notices × 200 profiles through the pure matcher, on one core.

Usage: python bench/match_throughput.py [--notices 10000] [--profiles 200] [--seed 7]

Notices and profiles are generated (seeded) in memory from the vocabulary of the development set
in tests/data/matching (titles, descriptions, areas, CPV codes, profile keywords) and the
keyword lexicon, so they look like the real thing: multilingual text of 30 to 80 words, one to
three technology areas, profiles of areas + CPV prefixes + keyword expressions with phrases, OR
and exclusions, some with organisation or value filters.
Prints the time to compile the profiles and to match 5,000 and 10,000 notices (to show that the
cost grows linearly with notices), pairs per second and the process's peak memory (resident set,
from `resource.getrusage`; tracemalloc would slow the matching itself several times).
Targets (issue 4): 10,000 × 200 in <= 20 s on one core, memory <= 500 MB.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import time
from pathlib import Path

from monitor.contract import Notice, from_record
from monitor.matching.importer import AREA_IDS
from monitor.matching.lexicon import LEXICON
from monitor.matching.matcher import ProfileSpec, compile_profiles

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "matching"
ORGANISATIONS = ("cern", "eso", "esa", "f4e", "iter", "ess", "xfel", "fair", "esrf", "ill", "embl", "skao")


def load() -> tuple[list[Notice], list[dict[str, object]]]:
    notices = [from_record(json.loads(line)) for line in (DATA / "notices.jsonl").read_text("utf-8").splitlines()]
    companies = [json.loads(line) for line in (DATA / "companies.jsonl").read_text("utf-8").splitlines()]
    return notices, companies


def make_notices(count: int, rng: random.Random, base: list[Notice]) -> list[Notice]:
    words = [w for n in base for w in f"{n.title} {n.description or ''}".split()]
    words += [w for phrase in LEXICON for w in phrase.split()]
    made = []
    for i in range(count):
        model = rng.choice(base)
        filler = " ".join(rng.choices(words, k=rng.randint(20, 70)))
        made.append(
            Notice(
                source="bench",
                source_id=f"b-{i}",
                title=f"{model.title} {rng.choice(words)}",
                description=f"{model.description or ''} {filler}",
                organisation=rng.choice(ORGANISATIONS),
                notice_type=model.notice_type,
                language=model.language,
                cpv_codes=list(model.cpv_codes) or [f"{rng.randint(30, 50)}{rng.randint(0, 999999):06d}"],
                estimated_value=rng.choice([None, rng.uniform(1e4, 2e7)]),
                technology_areas=list(model.technology_areas),
            )
        )
    return made


def make_profiles(count: int, rng: random.Random, companies: list[dict[str, object]]) -> list[ProfileSpec]:
    keywords = [k for c in companies for k in c.get("keywords", []) if not k.startswith("-")]  # type: ignore[union-attr]
    keywords += [f'"{phrase}"' for phrase in LEXICON]
    profiles = []
    for i in range(count):
        model = rng.choice(companies)
        chosen = rng.sample(keywords, rng.randint(3, 8))
        if rng.random() < 0.3:
            chosen.append(f"{rng.choice(keywords)} OR {rng.choice(keywords)}")
        if rng.random() < 0.3:
            chosen.append(f"-{rng.choice(keywords)}")
        profiles.append(
            ProfileSpec(
                key=i,
                company=f"{model['id']}-{i}",
                areas=rng.sample(AREA_IDS, rng.randint(0, 2)) + list(model.get("areas", [])),  # type: ignore[call-overload]
                cpv_prefixes=[f"{rng.randint(30, 50)}{rng.randint(0, 99)}"] if rng.random() < 0.5 else [],
                keywords=chosen,
                organisations=rng.sample(ORGANISATIONS, 3) if rng.random() < 0.2 else (),
                min_value=50000.0 if rng.random() < 0.2 else None,
            )
        )
    return profiles


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notices", type=int, default=10000)
    parser.add_argument("--profiles", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    base, companies = load()
    notices = make_notices(args.notices, rng, base)
    profiles = make_profiles(args.profiles, rng, companies)
    started = time.perf_counter()
    matcher = compile_profiles(profiles)
    compiled = time.perf_counter() - started
    half = len(notices) // 2
    matched = 0
    started = time.perf_counter()
    for notice in notices[:half]:
        matched += len(matcher.match(notice))
    at_half = time.perf_counter() - started
    for notice in notices[half:]:
        matched += len(matcher.match(notice))
    total = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux
    pairs = len(notices) * len(profiles)
    print(f"{len(profiles)} profiles compiled in {compiled:.3f} s")
    print(
        f"{half} notices matched in {at_half:.2f} s; {len(notices)} notices in {total:.2f} s "
        f"(ratio {total / at_half:.2f}, linear = 2.00)"
    )
    print(
        f"{pairs:,} notice×profile pairs: {pairs / total:,.0f} pairs/s, {len(notices) / total:,.0f} notices/s; "
        f"{matched:,} matches"
    )
    print(f"peak memory of the whole process (max RSS, data included): {peak / 1e6:.1f} MB")
    ok = total <= 20 and peak <= 500e6
    print("targets (<= 20 s, <= 500 MB):", "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
