"""Throughput of `monitor.classifier.classify` on one core: notices per second.

Uses the TED XML corpus when it is present (env ILO_MONITOR_REAL_DATA or ../shared/data next to
the repository), else the development set repeated.  Run: python bench/classify_throughput.py
"""

from __future__ import annotations

import os
import sys
import tarfile
import time
from pathlib import Path

from monitor.classifier import classify
from monitor.classifier.evaluate import read_gold
from monitor.contract import Notice

ROOT = Path(__file__).resolve().parent.parent


def corpus_notices(limit: int = 2000) -> list[Notice]:
    """Up to `limit` parsed TED notices, or [] when the corpus is absent."""
    data = Path(os.environ.get("ILO_MONITOR_REAL_DATA", ROOT.parent / "shared" / "data"))
    archive = data / "ted-xml-corpus" / "sampling_2014_2022.tar.gz"
    if not archive.exists():
        return []
    from monitor.parsers import parse_document

    documents: list[tuple[str, bytes]] = []
    # Archive order, then sort: random access into a gzip stream re-reads it from the start.
    with tarfile.open(archive) as tar:
        for member in tar:
            if member.isfile() and member.name.endswith(".xml"):
                handle = tar.extractfile(member)
                if handle is not None:
                    documents.append((member.name, handle.read()))
    return [parse_document(data, name) for name, data in sorted(documents)[:limit]]


def main() -> int:
    """Print notices/s and ms/notice of `classify` (model and detector loaded beforehand)."""
    notices = corpus_notices()
    source = "TED XML corpus"
    if not notices:
        dev = [n for n, _ in read_gold(ROOT / "tests" / "data" / "classifier" / "dev.jsonl")]
        notices = (dev * (2000 // len(dev) + 1))[:2000]
        source = "development set, repeated"
    classify(notices[0])  # load taxonomy, model and language detector outside the timing
    start = time.perf_counter()
    for notice in notices:
        classify(notice)
    elapsed = time.perf_counter() - start
    print(
        f"{len(notices)} notices ({source}) in {elapsed:.2f} s: {len(notices) / elapsed:.0f} notices/s, "
        f"{1000 * elapsed / len(notices):.3f} ms/notice"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
