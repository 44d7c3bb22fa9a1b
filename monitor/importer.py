"""`ilo-monitor import`: files, folders, TED packages and manual notices into the store.

Inputs, found recursively under each path given:
- notice XML (eForms or TED XML R2.0.8/R2.0.9), one notice a file;
- `.tar.gz`/`.tgz`/`.tar` packages of notice XML, as TED's daily packages, read as a stream;
- TED API JSON that carries the notice XML base64-encoded in `content` (legacy notice records
  and legacy search responses);
- manual notices in the contract format: a `.json` object or list, or `.jsonl` (one a line),
  or `.yaml`/`.yml` (one mapping or a list of them);
- forwarded mails (`.eml`): an opportunity an ILO received by mail, read by `monitor.intake`.

Every input that cannot be read is *rejected* with its origin (file, archive member, JSON line)
and the reason, and the rest of the batch still lands: notices are saved in batches, and a batch
that the database refuses is retried one notice at a time so that only the culprit is rejected.
"""

from __future__ import annotations

import base64
import binascii
import json
import tarfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from monitor import classifier, intake
from monitor.contract import Notice, from_record
from monitor.db import session_factory
from monitor.errors import ContractError, InputError
from monitor.parsers import parse_document
from monitor.store import Classifier, NoticeStore

XML_SUFFIXES = (".xml",)
JSON_SUFFIXES = (".json", ".jsonl", ".ndjson")
YAML_SUFFIXES = (".yaml", ".yml")
MAIL_SUFFIXES = (".eml",)
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar")
MAX_MEMBER_BYTES = 50 * 1024 * 1024  # no notice is this large; a bigger member is refused, not read


@dataclass(frozen=True)
class Rejected:
    origin: str
    reason: str


@dataclass
class ImportSummary:
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    rejected: list[Rejected] = field(default_factory=list)

    @property
    def stored(self) -> int:
        return self.new + self.changed + self.unchanged

    def count(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)


Progress = Callable[[int], None]  # called with the number of input bytes just consumed


def _suffix(path: Path) -> str:
    name = path.name.lower()
    for suffix in ARCHIVE_SUFFIXES:
        if name.endswith(suffix):
            return suffix
    return path.suffix.lower()


def _is_input(path: Path) -> bool:
    return _suffix(path) in XML_SUFFIXES + JSON_SUFFIXES + ARCHIVE_SUFFIXES + YAML_SUFFIXES + MAIL_SUFFIXES


def input_size(paths: Iterable[Path]) -> int:
    """Total bytes of the inputs under `paths` (for a progress bar)."""
    total = 0
    for path in paths:
        if path.is_dir():
            total += sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and _is_input(p))
        elif path.is_file():
            total += path.stat().st_size
    return total


def iter_inputs(
    paths: Iterable[Path], progress: Progress | None = None
) -> Iterator[tuple[str, bytes] | Rejected]:
    """(origin, bytes) for every input document under `paths`, or `Rejected` for unreadable ones."""
    for path in paths:
        if path.is_dir():
            # Sorted so that repeated imports process files in the same order.
            files = sorted(
                p for p in path.rglob("*") if p.is_file() and _is_input(p) and not p.name.startswith(".")
            )
            for file in files:
                yield from _iter_file(file, progress)
        elif path.is_file():
            if not _is_input(path):
                yield Rejected(
                    str(path), "not a notice file (expected .xml, .json, .jsonl, .yaml, .eml, .tar.gz, .tgz or .tar)"
                )
                continue
            yield from _iter_file(path, progress)
        else:
            yield Rejected(str(path), "no such file or folder")


def _iter_file(path: Path, progress: Progress | None) -> Iterator[tuple[str, bytes] | Rejected]:
    if _suffix(path) in ARCHIVE_SUFFIXES:
        yield from _iter_archive(path, progress)
        return
    try:
        data = path.read_bytes()
    except OSError as error:
        yield Rejected(str(path), f"cannot read: {error.strerror or error}")
        return
    if progress:
        progress(len(data))
    yield str(path), data


def _iter_archive(path: Path, progress: Progress | None) -> Iterator[tuple[str, bytes] | Rejected]:
    try:
        with path.open("rb") as raw, tarfile.open(fileobj=raw, mode="r|*") as archive:
            position = 0
            try:
                for member in archive:
                    origin = f"{path}:{member.name}"
                    if not member.isfile() or not _is_input(Path(member.name)):
                        continue
                    if member.size > MAX_MEMBER_BYTES:
                        yield Rejected(origin, f"member of {member.size} bytes is larger than any notice")
                        continue
                    extracted = archive.extractfile(member)
                    if extracted is None:
                        continue
                    data = extracted.read()
                    if progress:
                        progress(raw.tell() - position)
                        position = raw.tell()
                    yield origin, data
            except (tarfile.TarError, EOFError, OSError) as error:
                # A truncated package: keep what was read, reject the rest with the reason.
                yield Rejected(str(path), f"archive is damaged after {position} bytes: {error}")
    except (tarfile.TarError, OSError) as error:
        yield Rejected(str(path), f"not a readable tar archive: {error}")


def read_notices(origin: str, data: bytes) -> Iterator[Notice | Rejected]:
    """The notices in one input document, or why each could not be read."""
    lowered = origin.lower()
    if lowered.endswith(JSON_SUFFIXES):
        yield from _read_json(origin, data)
        return
    if lowered.endswith(YAML_SUFFIXES):
        yield from _read_yaml(origin, data)
        return
    if lowered.endswith(MAIL_SUFFIXES):
        try:
            yield intake.notice_from_email(data, origin)
        except InputError as error:
            yield Rejected(origin, error.reason)
        return
    try:
        yield parse_document(data, origin)
    except InputError as error:
        yield Rejected(origin, error.reason)


def _decode_text(origin: str, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(origin, f"not UTF-8 text (byte {error.start})") from error


def _read_json(origin: str, data: bytes) -> Iterator[Notice | Rejected]:
    try:
        text = _decode_text(origin, data)
    except InputError as error:
        yield Rejected(origin, error.reason)
        return
    if origin.lower().endswith((".jsonl", ".ndjson")):
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as error:
                yield Rejected(f"{origin} line {number}", f"not JSON: {error.msg} (column {error.colno})")
                continue
            yield from _from_json_value(f"{origin} line {number}", value)
        return
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        yield Rejected(origin, f"not JSON: {error.msg} (line {error.lineno}, column {error.colno})")
        return
    yield from _from_json_value(origin, value)


def _read_yaml(origin: str, data: bytes) -> Iterator[Notice | Rejected]:
    try:
        for where, result in intake.notices_from_yaml(_decode_text(origin, data), origin):
            yield Rejected(where, str(result)) if isinstance(result, ContractError) else result
    except InputError as error:
        yield Rejected(origin, error.reason)


def _from_json_value(origin: str, value: Any) -> Iterator[Notice | Rejected]:
    if isinstance(value, list):
        for index, item in enumerate(value):
            yield from _from_json_value(f"{origin} [{index}]", item)
        return
    if not isinstance(value, dict):
        yield Rejected(origin, f"expected a JSON object, found {type(value).__name__}")
        return
    if "results" in value and isinstance(value["results"], list) and "total" in value:
        # Legacy TED search response: each result is a notice record with its XML in `content`.
        for index, item in enumerate(value["results"]):
            yield from _from_json_value(f"{origin} results[{index}]", item)
        return
    if "notices" in value and "totalNoticeCount" in value:
        for index, item in enumerate(value.get("notices") or []):
            yield from _from_ted_v3(f"{origin} notices[{index}]", item)
        return
    if "content" in value and ("ND" in value or "publication-number" in value):
        yield from _from_ted_content(origin, value)
        return
    try:
        yield from_record(value)
    except ContractError as error:
        yield Rejected(origin, str(error))


def _from_ted_content(origin: str, record: dict[str, Any]) -> Iterator[Notice | Rejected]:
    number = record.get("ND") or record.get("publication-number")
    try:
        xml = base64.b64decode(str(record["content"]), validate=True)
    except (binascii.Error, ValueError):
        yield Rejected(origin, f"TED notice {number}: `content` is not base64")
        return
    yield from read_notices(f"{origin} (TED notice {number})", xml)


def _from_ted_v3(origin: str, record: Any) -> Iterator[Notice | Rejected]:
    if isinstance(record, dict) and record.get("content"):
        yield from _from_ted_content(origin, record)
        return
    number = record.get("publication-number") if isinstance(record, dict) else None
    yield Rejected(
        origin,
        f"TED API v3 search result {number} has no notice content, only links: "
        "the `ted` spider fetches its XML (`ilo-monitor crawl ted`)",
    )


def import_paths(
    engine: Engine,
    paths: Iterable[Path],
    *,
    now: datetime,
    classify: Classifier | None = classifier.classify,
    progress: Progress | None = None,
    batch_size: int = 250,
) -> ImportSummary:
    """Import every notice under `paths` into the database behind `engine`.

    Notices are classified as they are stored; `classify=None` stores them unclassified (the
    benchmark uses it to show what classification costs).
    """
    summary = ImportSummary()
    batch: list[tuple[str, Notice]] = []
    make_session = session_factory(engine)

    def flush() -> None:
        if not batch:
            return
        with make_session() as session:
            try:
                outcomes = NoticeStore(session, now, classify).save_many([n for _, n in batch])
                session.commit()
            except SQLAlchemyError:
                session.rollback()
                outcomes = []
        if outcomes:
            for outcome in outcomes:
                summary.count(outcome)
        else:
            # Retry one by one so that one notice the database refuses does not sink the batch.
            for origin, notice in batch:
                with make_session() as session:
                    try:
                        summary.count(NoticeStore(session, now, classify).save(notice))
                        session.commit()
                    except SQLAlchemyError as error:
                        session.rollback()
                        summary.rejected.append(
                            Rejected(origin, f"database refused it: {getattr(error, 'orig', None) or error}")
                        )
        batch.clear()

    for item in iter_inputs(paths, progress):
        if isinstance(item, Rejected):
            summary.rejected.append(item)
            continue
        origin, data = item
        for result in read_notices(origin, data):
            if isinstance(result, Rejected):
                summary.rejected.append(result)
            else:
                batch.append((origin, result))
                if len(batch) >= batch_size:
                    flush()
    flush()
    return summary
