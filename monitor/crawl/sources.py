"""The source configuration: `monitor/sources.yaml`, loaded once and validated.

Each crawled source (one spider) has an entry with its politeness (delay, concurrency,
conditional requests), its incremental window (overlap, first backfill), what to select (query
parts) and the names of the environment variables holding its credentials. The file's header
documents every key. Every mistake raises `ConfigurationError` naming the file and the key
(`monitor/sources.yaml: tenderned.delay: must be a number >= 0`), at load time, before a crawl.

Spiders read their entry through `BaseSpider.source` (`source_config(name)`); a spider with no
entry gets the defaults.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import yaml

from monitor.errors import ConfigurationError
from monitor.yamlload import safe_load

SOURCES_PATH: Final = Path(__file__).resolve().parent.parent / "sources.yaml"

# Used when the taxonomy cannot be read (a broken taxonomy file must not stop crawling):
# instruments, electrical and electronic equipment, machinery, IT, engineering and R&D services.
FALLBACK_CPV_DIVISIONS: Final = (
    "31", "32", "33", "35", "38", "42", "43", "44", "48", "50", "51", "71", "72", "73",
)  # fmt: skip

_SOURCE_KEYS: Final = frozenset(
    {
        "enabled",
        "delay",
        "concurrency",
        "conditional_requests",
        "window_overlap_days",
        "default_backfill_days",
        "query",
        "credentials",
    }
)
_QUERY_KEYS: Final = frozenset({"organisations", "cpv_divisions", "extra_clause"})
_CREDENTIAL_KEYS: Final = frozenset({"user_env", "password_env"})


@dataclass(frozen=True, slots=True)
class SourceConfig:
    """One source's entry of `sources.yaml`, with the defaults filled in."""

    name: str
    enabled: bool = True
    delay: float = 2.0
    concurrency: int = 1
    conditional_requests: bool = False
    window_overlap_days: int = 1
    default_backfill_days: int = 7
    # None: every organisation of the registry.
    organisations: tuple[str, ...] | None = None
    # None: derived from the taxonomy (see `technology_cpv_divisions`).
    cpv_divisions: tuple[str, ...] | None = None
    extra_clause: str | None = None
    user_env: str | None = None
    password_env: str | None = None

    def divisions(self) -> tuple[str, ...]:
        """The CPV divisions to select: configured, else those of the taxonomy."""
        return self.cpv_divisions if self.cpv_divisions is not None else technology_cpv_divisions()

    def credentials(self) -> tuple[str, str] | None:
        """(user, password) from the environment variables named in the file; None when unset."""
        if not self.user_env or not self.password_env:
            return None
        user, password = os.environ.get(self.user_env, ""), os.environ.get(self.password_env, "")
        return (user, password) if user and password else None


def technology_cpv_divisions() -> tuple[str, ...]:
    """2-digit CPV divisions of the strong `cpv` prefixes of the taxonomy's technology areas.

    `general_other` is left out: its prefixes (food, furniture, cleaning...) are what the
    classifier files away, not what a search should select. Falls back to
    `FALLBACK_CPV_DIVISIONS` when the taxonomy module or file is not usable.
    """
    try:
        from monitor.classifier.taxonomy import GENERAL, default_taxonomy

        taxonomy = default_taxonomy()
    except (ImportError, ConfigurationError, OSError):
        return FALLBACK_CPV_DIVISIONS
    divisions = sorted({code[:2] for area in taxonomy.areas if area.id != GENERAL for code in area.cpv})
    return tuple(divisions) or FALLBACK_CPV_DIVISIONS


def _fail(path: Path, where: str, reason: str) -> ConfigurationError:
    return ConfigurationError(f"{path}: {where}: {reason}")


def _number(path: Path, where: str, value: Any, *, integer: bool, minimum: float) -> Any:
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind) or value < minimum:
        what = "a whole number" if integer else "a number"
        raise _fail(path, where, f"must be {what} >= {minimum:g}, not {value!r}")
    return value


def _boolean(path: Path, where: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _fail(path, where, f"must be true or false, not {value!r}")
    return value


def _source(path: Path, name: str, raw: Any) -> SourceConfig:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise _fail(path, name, "must be a mapping of settings")
    if "schedule" in raw:
        # A cadence here would be silently ignored: say where cadences live instead.
        raise _fail(path, f"{name}.schedule", "crawl cadences live in monitor/schedule.yaml (crawls.<name>)")
    unknown = set(raw) - _SOURCE_KEYS
    if unknown:
        raise _fail(path, f"{name}.{sorted(unknown)[0]}", "is not a source setting (see the file's header)")
    values: dict[str, Any] = {"name": name}
    for key in ("enabled", "conditional_requests"):
        if key in raw:
            values[key] = _boolean(path, f"{name}.{key}", raw[key])
    if "delay" in raw:
        values["delay"] = float(_number(path, f"{name}.delay", raw["delay"], integer=False, minimum=0))
    for key, minimum in (("concurrency", 1), ("window_overlap_days", 0), ("default_backfill_days", 1)):
        if key in raw:
            values[key] = _number(path, f"{name}.{key}", raw[key], integer=True, minimum=minimum)
    query = raw.get("query") or {}
    if not isinstance(query, dict):
        raise _fail(path, f"{name}.query", "must be a mapping")
    unknown = set(query) - _QUERY_KEYS
    if unknown:
        raise _fail(path, f"{name}.query.{sorted(unknown)[0]}", "is not a query part")
    organisations = query.get("organisations", "all")
    if organisations != "all":
        if not isinstance(organisations, list) or not all(isinstance(o, str) and o for o in organisations):
            raise _fail(path, f"{name}.query.organisations", "must be `all` or a list of registry ids")
        from monitor.organisations import all_organisations

        known = {org.id for org in all_organisations()}
        strangers = [o for o in organisations if o not in known]
        if strangers:
            raise _fail(path, f"{name}.query.organisations", f"{strangers[0]!r} is not in the organisation registry")
        values["organisations"] = tuple(organisations)
    divisions = query.get("cpv_divisions", "taxonomy")
    if divisions != "taxonomy":
        if not isinstance(divisions, list) or not all(
            isinstance(d, str) and len(d) == 2 and d.isdigit() for d in divisions
        ):
            raise _fail(path, f"{name}.query.cpv_divisions", "must be `taxonomy` or a list of 2-digit strings")
        values["cpv_divisions"] = tuple(divisions)
    clause = query.get("extra_clause")
    if clause is not None:
        if not isinstance(clause, str):
            raise _fail(path, f"{name}.query.extra_clause", "must be a text")
        values["extra_clause"] = clause.strip() or None
    credentials = raw.get("credentials") or {}
    if not isinstance(credentials, dict) or set(credentials) - _CREDENTIAL_KEYS:
        raise _fail(path, f"{name}.credentials", "must be a mapping with user_env and password_env")
    for key in ("user_env", "password_env"):
        value = credentials.get(key)
        if value is not None and (not isinstance(value, str) or not value.isidentifier()):
            raise _fail(path, f"{name}.credentials.{key}", "must name an environment variable")
        values[key] = value
    if bool(values["user_env"]) != bool(values["password_env"]):
        raise _fail(path, f"{name}.credentials", "needs both user_env and password_env")
    return SourceConfig(**values)


def parse_sources(text: str, path: Path) -> dict[str, SourceConfig]:
    """Validate the YAML `text` read from `path`; {source name: configuration}."""
    try:
        data = safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigurationError(f"{path}: not valid YAML: {error}") from error
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise _fail(path, "(top)", "must map source names to their settings")
    sources: dict[str, SourceConfig] = {}
    for name, raw in data.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise _fail(path, str(name), "a source name must be a spider name (letters, digits, _)")
        sources[name] = _source(path, name, raw)
    return sources


def load_sources(path: Path | None = None) -> dict[str, SourceConfig]:
    """The sources of `path` (default `monitor/sources.yaml`); cached for the default file."""
    if path is None:
        return dict(_default_sources())
    return parse_sources(path.read_text(encoding="utf-8"), path)


@lru_cache(maxsize=1)
def _default_sources() -> dict[str, SourceConfig]:
    return parse_sources(SOURCES_PATH.read_text(encoding="utf-8"), SOURCES_PATH)


def source_config(name: str) -> SourceConfig:
    """The configuration of source `name`; the defaults when the file has no entry for it."""
    return _default_sources().get(name) or SourceConfig(name=name)
