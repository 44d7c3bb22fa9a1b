"""Import throughput: the TED XML corpus into a fresh SQLite file, against a bare lxml parse.

Usage: python bench/import_throughput.py [CORPUS.tar.gz] [--limit N]

Unpacks the corpus (default: the 3,759-notice sample in ../shared/data) to a temporary folder,
then times (1) a bare `lxml.etree.fromstring` of every file, (2) the import of the same folder
into a new SQLite database without classification (parse, validate, store with history) and
(3) the full `ilo-monitor import` (the same plus classification), on one core (CPython runs the
import in one thread). Prints notices/s and the ratios to the bare parse.
Targets (issue 2): >= 300 notices/s, and <= 5x the bare parse time.
"""

from __future__ import annotations

import argparse
import sys
import tarfile
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from lxml import etree

from monitor import classifier
from monitor.db import open_database
from monitor.importer import import_paths
from monitor.settings import real_data_dir


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="?", type=Path)
    parser.add_argument("--limit", type=int, default=0, help="use only the first N files")
    args = parser.parse_args()
    corpus = args.corpus
    if corpus is None:
        shared = real_data_dir()
        if shared is None:
            print(
                "no corpus: pass CORPUS.tar.gz or set ILO_MONITOR_REAL_DATA to ../shared/data",
                file=sys.stderr,
            )
            return 2
        corpus = shared / "ted-xml-corpus" / "sampling_2014_2022.tar.gz"
    with tempfile.TemporaryDirectory(prefix="ilo-bench-") as tmp:
        folder = Path(tmp) / "corpus"
        with tarfile.open(corpus) as archive:
            archive.extractall(folder, filter="data")
        files = sorted(p for p in folder.rglob("*.xml"))
        if args.limit:
            keep = set(files[: args.limit])
            for path in files[args.limit :]:
                path.unlink()
            files = sorted(keep)
        # Warm the page cache so both runs read from memory.
        total_bytes = sum(len(p.read_bytes()) for p in files)

        parser_lxml = etree.XMLParser(resolve_entities=False, no_network=True)
        started = time.perf_counter()
        for path in files:
            etree.fromstring(path.read_bytes(), parser=parser_lxml)
        bare = time.perf_counter() - started

        runs = {}
        for label, classify in (("without classification", None), ("full import", classifier.classify)):
            engine = open_database(f"sqlite:///{Path(tmp) / (label.replace(' ', '_') + '.sqlite')}")
            started = time.perf_counter()
            summary = import_paths(engine, [folder], now=datetime.now(UTC), classify=classify)
            runs[label] = (time.perf_counter() - started, summary)

    _, summary = runs["full import"]
    notices = summary.new + summary.changed + summary.unchanged
    print(f"corpus:            {corpus}")
    print(f"files:             {len(files)} ({total_bytes / 1e6:.1f} MB)")
    print(
        f"stored:            {summary.new} new, {summary.changed} changed, {summary.unchanged} unchanged "
        f"(the corpus repeats some notices), {len(summary.rejected)} rejected"
    )
    for rejected in summary.rejected[:10]:
        print(f"  rejected {rejected.origin}: {rejected.reason}")
    print(f"bare lxml parse:   {bare:.2f} s  ({len(files) / bare:,.0f} files/s)")
    for label, (seconds, _) in runs.items():
        print(
            f"{label + ':':<24} {seconds:.2f} s  {notices / seconds:,.0f} notices/s  {seconds / bare:.1f}x bare parse"
        )
    full = runs["full import"][0]
    print(f"targets (full import): >= 300 notices/s: {notices / full:,.0f}; <= 5x the bare parse: {full / bare:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
