"""The schedule configuration: `monitor/schedule.yaml`, loaded and validated with line numbers.

`load_schedule(path)` returns a `Schedule`: the timezone, a cadence per enabled source of
`monitor/sources.yaml` (its entry under `crawls`, else `crawl_defaults`), the catch-up, digest,
ILO digest and health jobs, and the operators. Every mistake raises `ConfigurationError` as
`<file>:<line>: <key path>: <reason>`, before the scheduler starts: the YAML is *composed*
(not just loaded) so each value keeps the line it was written on.

`Schedule.jobs()` lists the jobs the scheduler keeps: their ids are derived from this
configuration ("crawl:ted", "digests", ...), so a restart finds its jobs again instead of
creating new ones (see `monitor.scheduling.service`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from monitor.errors import ConfigurationError
from monitor.settings import env

SCHEDULE_PATH: Final = Path(__file__).resolve().parent.parent / "schedule.yaml"
_TOP_KEYS: Final = frozenset(
    {"timezone", "misfire_grace_time", "crawl_defaults", "crawls", "catch_up", "digests", "ilo_digest", "health",
     "operators"}
)  # fmt: skip
_CRAWL_KEYS: Final = frozenset({"cron", "jitter", "timeout"})
_CRON_FIELDS: Final = ("minute", "hour", "day", "month", "day_of_week")
_SECOND: Final = timedelta(seconds=1)

# The defaults, as documented in monitor/schedule.yaml.
DEFAULT_CRAWL: Final = {"cron": "0 6,18 * * *", "jitter": 600, "timeout": 3600}
DEFAULT_CATCH_UP: Final = "45 5 * * *"
DEFAULT_ILO: Final = "0 8 * * mon"
DEFAULT_HEALTH: Final = "30 7 * * *"


@dataclass(frozen=True)
class Cron:
    """A five-field cron expression on the wall clock of `timezone`, with jitter in seconds."""

    expression: str
    timezone: str
    jitter: int = 0

    def trigger(self, *, jitter: bool = True) -> CronTrigger:
        minute, hour, day, month, day_of_week = self.expression.split()
        return CronTrigger(
            minute=minute,
            hour=hour,
            day=day,
            month=month,
            day_of_week=day_of_week,
            timezone=ZoneInfo(self.timezone),
            jitter=(self.jitter or None) if jitter else None,
        )

    def describe(self) -> str:
        jitter = f" (+ up to {self.jitter} s)" if self.jitter else ""
        return f"cron '{self.expression}' {self.timezone}{jitter}"

    def next_after(self, moment: datetime) -> datetime | None:
        """The first fire time strictly after `moment`, without jitter (for `run` and `status`)."""
        fire = self.trigger(jitter=False).get_next_fire_time(None, moment)
        if fire is not None and fire <= moment:  # CronTrigger includes `moment` itself
            fire = self.trigger(jitter=False).get_next_fire_time(None, moment.replace(microsecond=0) + _SECOND)
        return fire


@dataclass(frozen=True)
class CrawlCadence:
    source: str
    cron: Cron
    timeout: int


@dataclass(frozen=True)
class JobSpec:
    """One job the scheduler must have: its id, the function (as text), arguments and trigger.

    `fingerprint` changes when anything the job does or when it fires changes; the scheduler
    keeps it in the job's name to see whether a stored job is still the configured one.
    """

    id: str
    func: str
    kwargs: dict[str, Any]
    cron: Cron | None = None
    every_minutes: int | None = None

    def trigger(self) -> BaseTrigger:
        if self.cron is not None:
            return self.cron.trigger()
        assert self.every_minutes is not None
        return IntervalTrigger(minutes=self.every_minutes, timezone=ZoneInfo("UTC"))

    @property
    def when(self) -> str:
        return self.cron.describe() if self.cron is not None else f"every {self.every_minutes} min"

    @property
    def fingerprint(self) -> str:
        text = json.dumps([self.func, self.kwargs, self.when], sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    @property
    def name(self) -> str:
        return f"{self.id} [{self.when}] #{self.fingerprint}"


@dataclass(frozen=True)
class Schedule:
    """The validated `schedule.yaml` (see the file's header for every key)."""

    path: Path
    timezone: str = "Europe/Amsterdam"
    misfire_grace_time: int = 21600
    crawls: tuple[CrawlCadence, ...] = ()
    catch_up: Cron | None = None
    digests_every_minutes: int = 5
    ilo_digest: Cron | None = None
    health: Cron | None = None
    operator_emails: tuple[str, ...] = ()
    failing_runs: int = 3

    def cadence(self, source: str) -> CrawlCadence | None:
        return next((c for c in self.crawls if c.source == source), None)

    def jobs(self, db_url: str) -> list[JobSpec]:
        """Every job of this configuration, with ids derived from it (stable across restarts)."""
        common = {"db_url": db_url, "config": str(self.path)}
        specs = [
            JobSpec(
                f"crawl:{c.source}",
                "monitor.scheduling.jobs:crawl",
                {**common, "source": c.source, "timeout": c.timeout},
                cron=c.cron,
            )
            for c in self.crawls
        ]
        specs.append(
            JobSpec("digests", "monitor.scheduling.jobs:digests", common, every_minutes=self.digests_every_minutes)
        )
        for job_id, func, cron in (
            ("catch-up", "monitor.scheduling.jobs:catch_up_job", self.catch_up),
            ("ilo-digest", "monitor.scheduling.jobs:ilo_digest", self.ilo_digest),
            ("health", "monitor.scheduling.jobs:health_check", self.health),
        ):
            if cron is not None:
                specs.append(JobSpec(job_id, func, common, cron=cron))
        return specs


# -- reading with line numbers ----------------------------------------------------------------------


class _Doc:
    """The composed YAML of one file: errors name the file and the line of the offending node."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, node: yaml.Node | None, where: str, reason: str) -> ConfigurationError:
        line = f":{node.start_mark.line + 1}" if node is not None else ""
        return ConfigurationError(f"{self.path}{line}: {where}: {reason}")

    def mapping(self, node: yaml.Node, where: str, allowed: frozenset[str]) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        """{key: (key node, value node)} of a mapping node; unknown or repeated keys refused."""
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, where, "must be a mapping of settings")
        entries: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            name = f"{where}.{key}" if where != "(top)" else str(key)
            if not isinstance(key, str) or (allowed and key not in allowed):
                raise self.fail(key_node, name, "is not a setting here (see the file's header)")
            if key in entries:
                raise self.fail(key_node, name, "is given twice")
            entries[key] = (key_node, value_node)
        return entries

    def value(self, node: yaml.Node) -> Any:
        # Construct one scalar or sequence with yaml's own rules (ints, bools, strings).
        return yaml.safe_load(yaml.serialize(node))

    def integer(self, node: yaml.Node, where: str, minimum: int) -> int:
        value = self.value(node)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(node, where, f"must be a whole number >= {minimum}, not {value!r}")
        return value

    def cron(self, node: yaml.Node, where: str, timezone: str, jitter: int = 0) -> Cron:
        value = self.value(node)
        if not isinstance(value, str):
            raise self.fail(node, where, f'must be a cron expression in quotes, like "0 8 * * mon", not {value!r}')
        fields = value.split()
        if len(fields) != len(_CRON_FIELDS):
            raise self.fail(node, where, f"{value!r} must have 5 fields: minute hour day month day_of_week")
        day_of_week = fields[4]
        if any(ch.isdigit() for ch in day_of_week):
            raise self.fail(node, where, f"day of week {day_of_week!r}: write day names (mon, tue-fri), not numbers")
        cron = Cron(" ".join(fields), timezone, jitter)
        try:
            cron.trigger()
        except ValueError as error:
            raise self.fail(node, where, f"{value!r}: {error}") from None
        return cron


def parse_schedule(text: str, path: Path, sources: dict[str, Any] | None = None) -> Schedule:
    """Validate the YAML `text` read from `path` (see the module docstring).

    `sources`: {name: SourceConfig} of `monitor/sources.yaml` (default: that file), so that a
    cadence for an unknown source is refused and disabled sources are not scheduled.
    """
    doc = _Doc(path)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        reason = getattr(error, "problem", None) or str(error)
        raise ConfigurationError(f"{path}{line}: not valid YAML: {reason}") from None
    if sources is None:
        from monitor.crawl.sources import load_sources

        sources = load_sources()
    top = doc.mapping(root, "(top)", _TOP_KEYS) if root is not None else {}

    timezone = "Europe/Amsterdam"
    if "timezone" in top:
        node = top["timezone"][1]
        timezone = str(doc.value(node))
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise doc.fail(node, "timezone", f"{timezone!r} is not an IANA time zone (e.g. Europe/Amsterdam)") from None
    grace = (
        doc.integer(top["misfire_grace_time"][1], "misfire_grace_time", 60) if "misfire_grace_time" in top else 21600
    )

    defaults = dict(DEFAULT_CRAWL)
    defaults_node: yaml.Node | None = None
    if "crawl_defaults" in top:
        defaults_node = top["crawl_defaults"][1]
        defaults.update(_crawl_entry(doc, defaults_node, "crawl_defaults"))

    explicit: dict[str, tuple[yaml.Node | None, dict[str, Any]]] = {}
    if "crawls" in top:
        for name, (key_node, value_node) in doc.mapping(top["crawls"][1], "crawls", frozenset()).items():
            if name not in sources:
                known = ", ".join(sorted(sources)) or "none"
                raise doc.fail(key_node, f"crawls.{name}", f"is not a source of monitor/sources.yaml (known: {known})")
            explicit[name] = (value_node, _crawl_entry(doc, value_node, f"crawls.{name}"))

    crawls: list[CrawlCadence] = []
    for name, source in sources.items():
        if not getattr(source, "enabled", True):
            continue
        entry_node, entry = explicit.get(name, (defaults_node, {}))
        merged = {**defaults, **entry}
        where = f"crawls.{name}" if name in explicit else "crawl_defaults"
        cron = doc.cron(_scalar(entry_node, merged["cron"], "cron"), f"{where}.cron", timezone, int(merged["jitter"]))
        crawls.append(CrawlCadence(name, cron, int(merged["timeout"])))

    def job_cron(key: str, default: str) -> Cron:
        if key not in top:
            return Cron(default, timezone)
        entries = doc.mapping(top[key][1], key, frozenset({"cron"}))
        if "cron" not in entries:
            raise doc.fail(top[key][0], key, "needs a `cron` expression")
        return doc.cron(entries["cron"][1], f"{key}.cron", timezone)

    every = 5
    if "digests" in top:
        entries = doc.mapping(top["digests"][1], "digests", frozenset({"every_minutes"}))
        if "every_minutes" in entries:
            every = doc.integer(entries["every_minutes"][1], "digests.every_minutes", 1)

    emails: tuple[str, ...] = ()
    failing_runs = 3
    if "operators" in top:
        entries = doc.mapping(top["operators"][1], "operators", frozenset({"emails", "failing_runs"}))
        if "emails" in entries:
            node = entries["emails"][1]
            value = doc.value(node) or []
            if not isinstance(value, list) or not all(isinstance(e, str) for e in value):
                raise doc.fail(node, "operators.emails", "must be a list of addresses")
            emails = tuple(_checked_emails(value, lambda reason: doc.fail(node, "operators.emails", reason)))
        if "failing_runs" in entries:
            failing_runs = doc.integer(entries["failing_runs"][1], "operators.failing_runs", 1)
    overridden = env("OPERATOR_EMAILS")
    if overridden:
        addresses = [e.strip() for e in overridden.split(",") if e.strip()]

        def refuse(reason: str) -> ConfigurationError:
            return ConfigurationError(f"ILO_MONITOR_OPERATOR_EMAILS: {reason}")

        emails = tuple(_checked_emails(addresses, refuse))

    return Schedule(
        path=path,
        timezone=timezone,
        misfire_grace_time=grace,
        crawls=tuple(crawls),
        catch_up=job_cron("catch_up", DEFAULT_CATCH_UP),
        digests_every_minutes=every,
        ilo_digest=job_cron("ilo_digest", DEFAULT_ILO),
        health=job_cron("health", DEFAULT_HEALTH),
        operator_emails=emails,
        failing_runs=failing_runs,
    )


def _scalar(node: yaml.Node | None, value: Any, key: str) -> yaml.Node:
    """The node of `key` inside a crawl entry node (for its line), else a synthetic node for a default."""
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if getattr(key_node, "value", None) == key:
                return value_node
    synthetic = yaml.ScalarNode("tag:yaml.org,2002:str", str(value))
    if node is not None:
        synthetic.start_mark = node.start_mark
    else:
        synthetic.start_mark = yaml.Mark("schedule", 0, 0, 0, "", 0)
    return synthetic


def _crawl_entry(doc: _Doc, node: yaml.Node, where: str) -> dict[str, Any]:
    entries = doc.mapping(node, where, _CRAWL_KEYS)
    found: dict[str, Any] = {}
    if "cron" in entries:
        found["cron"] = doc.value(entries["cron"][1])
        doc.cron(entries["cron"][1], f"{where}.cron", "UTC")  # checked here for the line
    if "jitter" in entries:
        found["jitter"] = doc.integer(entries["jitter"][1], f"{where}.jitter", 0)
    if "timeout" in entries:
        found["timeout"] = doc.integer(entries["timeout"][1], f"{where}.timeout", 60)
    return found


def _checked_emails(addresses: list[str], fail: Any) -> list[str]:
    from alerts.outbox import valid_address

    for address in addresses:
        if not valid_address(address):
            raise fail(f"{address!r} is not an email address")
    return list(addresses)


def load_schedule(path: Path | None = None, sources: dict[str, Any] | None = None) -> Schedule:
    """The schedule of `path` (default `monitor/schedule.yaml`, or `ILO_MONITOR_SCHEDULE`)."""
    configured = env("SCHEDULE")
    path = path or (Path(configured) if configured else SCHEDULE_PATH)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigurationError(f"{path}: cannot read the schedule: {error.strerror or error}") from None
    return parse_schedule(text, path, sources)
