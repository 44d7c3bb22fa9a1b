"""Scale: N notices imported, classified and matched against M profiles, on SQLite and PostgreSQL side by side.

Usage: python bench/scale.py [--notices 100000] [--profiles 2000] [--day 3000] [--postgres URL] [--seed 7]

`--postgres` is a server URL (`postgresql+psycopg://postgres@127.0.0.1:55432/postgres`, see
.ci/postgres.sh); a database `ilo_bench_<pid>` is created there and dropped afterwards. Without
it only SQLite runs. Each backend runs in its own child process, so that its peak memory (max
RSS) is its own.

Stages, each through the real code (`NoticeStore`, the classifier, `match_notices`) on a fresh,
migrated database:

1. `profiles`: M companies with one profile each (generated as in bench/match_throughput.py);
2. `import`: N notices stored in batches of 1,000 without classification or matching;
3. `classify`: every stored notice classified (`NoticeStore.reclassify`), committed per batch;
4. `match`: every stored notice matched against every active profile (`match_notices`);
   profiles are those of bench/match_throughput.py narrowed to an area for one in ten, a CPV
   prefix of five digits and one or two of the keyword lexicon's phrases, so that a notice
   matches a few percent of them (that generator's profiles match a third of all notices);
   the matcher's own speed is bench/match_throughput.py's business, storing matches is this
   one's. The figures print how many matches were stored;

   stages 2-4 are also timed per half of the stock: the second half takes as long as the first
   (ratio 1.00) when the cost per notice does not grow with the database, i.e. growth is linear;
5. `new day`: `--day` new notices stored the way a crawl does it: classified and matched as
   they are stored. Target (issue): 3,000 × 2,000 in under 30 s.

Prints seconds per stage (and per half) and peak memory per backend, and the two side by side.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from match_throughput import ORGANISATIONS, load, make_profiles  # noqa: E402
from sqlalchemy import create_engine, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402
from sqlalchemy.pool import NullPool  # noqa: E402

from monitor.contract import Notice  # noqa: E402
from monitor.db import open_database, session_factory  # noqa: E402
from monitor.matching import service as matching  # noqa: E402
from monitor.matching.lexicon import LEXICON  # noqa: E402
from monitor.matching.matcher import ProfileSpec  # noqa: E402
from monitor.matching.models import Company, Profile  # noqa: E402
from monitor.models import NoticeRow  # noqa: E402
from monitor.store import NoticeStore  # noqa: E402

BATCH = 1000
# Profile keywords: the lexicon's phrases of two words or more (single words match too much).
PHRASES = [f'"{phrase}"' for phrase in LEXICON if " " in phrase]
NOW = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
# Stages timed per half of the stock: equal halves mean the cost per notice does not grow with
# the database (linear growth overall).
HALVED = ("import", "classify", "match")


def batches(items: Sequence[Any], size: int = BATCH) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def make_notices(count: int, rng: random.Random, base: list[Notice]) -> list[Notice]:
    """Notices like bench/match_throughput.py's, but with filler from the development notices only.

    That generator pads text with the keyword lexicon, which makes every notice match a tenth of
    all profiles; here a notice matches about as often as a real one. Areas are left to the
    store's classifier.
    """
    words = [w for n in base for w in f"{n.title} {n.description or ''}".split()]
    made = []
    for number in range(count):
        model = rng.choice(base)
        made.append(
            Notice(
                source="bench",
                source_id=f"n-{number}",
                title=f"{model.title} {rng.choice(words)}",
                description=f"{model.description or ''} {' '.join(rng.choices(words, k=rng.randint(20, 70)))}",
                organisation=rng.choice(ORGANISATIONS),
                notice_type=model.notice_type,
                language=model.language,
                cpv_codes=list(model.cpv_codes) or [f"{rng.randint(30, 50)}{rng.randint(0, 999999):06d}"],
                estimated_value=rng.choice([None, rng.uniform(1e4, 2e7)]),
            )
        )
    return made


def narrow(spec: ProfileSpec, rng: random.Random) -> ProfileSpec:
    """A profile as specific as a real company's (see the module docstring)."""
    return replace(
        spec,
        areas=list(spec.areas)[:1] if rng.random() < 0.1 else [],
        cpv_prefixes=[p.ljust(5, "0")[:5] for p in spec.cpv_prefixes][:1],
        keywords=rng.sample(PHRASES, rng.randint(1, 2)),
    )


def over_stock(
    sessions: Callable[[], Session],
    stage: str,
    half: int,
    times: dict[str, float],
    work: Callable[[Session, Sequence[NoticeRow]], None],
) -> None:
    """`work` on every stored notice in id order, a batch per transaction; times the stage and its halves."""
    started = time.perf_counter()
    last = done = 0
    while True:
        if done == half:
            times[f"{stage} first half"] = time.perf_counter() - started
        with sessions() as session:
            rows = session.scalars(
                select(NoticeRow).where(NoticeRow.id > last).order_by(NoticeRow.id).limit(BATCH)
            ).all()
            if not rows:
                break
            done += len(rows)
            work(session, rows)
            last = rows[-1].id
            session.commit()
    times[stage] = time.perf_counter() - started
    times[f"{stage} second half"] = times[stage] - times.get(f"{stage} first half", 0.0)


def run_backend(url: str, n_notices: int, n_profiles: int, day: int, seed: int) -> dict[str, Any]:
    """Every stage on the database at `url` (fresh, migrated here); seconds per stage."""
    rng = random.Random(seed)
    base, companies = load()
    notices = make_notices(n_notices + day, rng, base)
    specs = [narrow(spec, rng) for spec in make_profiles(n_profiles, rng, companies)]
    # The benchmark's own inputs (100,000 notices held in memory) are not the system's: frozen,
    # Python's cyclic garbage collector no longer scans them at each full collection, time that
    # belongs to the benchmark and not to the stages it measures.
    gc.freeze()
    engine = open_database(url)
    sessions = session_factory(engine)
    times: dict[str, float] = {}

    started = time.perf_counter()
    with sessions() as session:
        for spec in specs:
            company_id = f"c{spec.key}"
            session.add(Company(id=company_id, name=spec.company, created_at=NOW, updated_at=NOW))
            session.add(
                Profile(
                    company_id=company_id,
                    areas=list(spec.areas),
                    cpv_prefixes=list(spec.cpv_prefixes),
                    keywords=list(spec.keywords),
                    organisations=list(spec.organisations),
                    min_value=spec.min_value,
                    created_at=NOW,
                    updated_at=NOW,
                )
            )
        session.commit()
    times["profiles"] = time.perf_counter() - started

    stock, new_day = notices[:n_notices], notices[n_notices:]
    half = (len(stock) // 2 // BATCH) * BATCH or len(stock) // 2
    started = time.perf_counter()
    for number, chunk in enumerate(batches(stock)):
        if number * BATCH == half:
            times["import first half"] = time.perf_counter() - started
        with sessions() as session:
            NoticeStore(session, NOW, classify=None, match=False).save_many(list(chunk))
            session.commit()
    times["import"] = time.perf_counter() - started
    times["import second half"] = times["import"] - times.get("import first half", 0.0)

    def classify(session: Session, rows: Sequence[NoticeRow]) -> None:
        store = NoticeStore(session, NOW, match=False)
        for row in rows:
            store.reclassify(row)

    over_stock(sessions, "classify", half, times, classify)

    matches = 0
    with sessions() as session:
        matcher = matching.active_matcher(session)

    def match(session: Session, rows: Sequence[NoticeRow]) -> None:
        nonlocal matches
        matches += matching.match_notices(session, rows, NOW, matcher=matcher).created

    over_stock(sessions, "match", half, times, match)

    started = time.perf_counter()
    later = NOW + timedelta(days=1)
    with sessions() as session:
        matcher = matching.active_matcher(session)
    for chunk in batches(new_day):
        with sessions() as session:
            NoticeStore(session, later, matcher=matcher).save_many(list(chunk))
            session.commit()
    times["new day"] = time.perf_counter() - started
    engine.dispose()
    return {
        "times": times,
        "matches": matches,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # KiB on Linux
        "notices": n_notices,
        "profiles": n_profiles,
        "day": day,
    }


def child(url: str, args: argparse.Namespace) -> dict[str, Any]:
    """`run_backend` in a child process (its own peak memory); its JSON result."""
    command = [sys.executable, __file__, "--backend", url, "--notices", str(args.notices)]
    command += ["--profiles", str(args.profiles), "--day", str(args.day), "--seed", str(args.seed)]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise SystemExit(f"{url}: the benchmark failed:\n{completed.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def report(results: dict[str, dict[str, Any]], args: argparse.Namespace) -> bool:
    names = list(results)
    stages = ["profiles"]
    for stage in HALVED:
        stages += [stage, f"{stage} first half", f"{stage} second half"]
    stages.append("new day")
    print(f"{args.notices:,} notices, {args.profiles:,} profiles, a new day of {args.day:,} notices")
    print(f"{'stage':<20}" + "".join(f"{name:>16}" for name in names))
    for stage in stages:
        print(f"{stage:<20}" + "".join(f"{results[name]['times'].get(stage, 0.0):>14.1f} s" for name in names))
    print(f"{'peak memory':<20}" + "".join(f"{results[name]['peak_mb']:>13.0f} MB" for name in names))
    print(f"{'matches':<20}" + "".join(f"{results[name]['matches']:>16,}" for name in names))
    ok = True
    for name in names:
        times = results[name]["times"]
        for stage in HALVED:
            if times.get(f"{stage} first half"):
                ratio = times[f"{stage} second half"] / times[f"{stage} first half"]
                print(f"{name}: {stage} second half / first half = {ratio:.2f} (linear growth = 1.00)")
        pairs = args.day * args.profiles
        print(f"{name}: new day {args.day:,} × {args.profiles:,} = {pairs:,} pairs in {times['new day']:.1f} s")
        ok = ok and times["new day"] < 30
    print("target (new day under 30 s):", "met" if ok else "NOT met")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notices", type=int, default=100_000)
    parser.add_argument("--profiles", type=int, default=2000)
    parser.add_argument("--day", type=int, default=3000, help="notices of the new day (default 3000)")
    parser.add_argument("--postgres", metavar="URL", help="PostgreSQL server URL (a bench database is created there)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--backend", help=argparse.SUPPRESS)  # the child: run one database URL
    args = parser.parse_args()
    if args.backend:
        print(json.dumps(run_backend(args.backend, args.notices, args.profiles, args.day, args.seed)))
        return 0
    results: dict[str, dict[str, Any]] = {}
    with TemporaryDirectory(prefix="ilo-bench-") as tmp:
        results["SQLite"] = child(f"sqlite:///{Path(tmp) / 'bench.sqlite'}", args)
    if args.postgres:
        name = f"ilo_bench_{os.getpid()}"
        admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            url = make_url(args.postgres).set(database=name).render_as_string(hide_password=False)
            results["PostgreSQL"] = child(url, args)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    return 0 if report(results, args) else 1


if __name__ == "__main__":
    raise SystemExit(main())
