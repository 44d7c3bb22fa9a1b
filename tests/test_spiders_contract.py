"""Rules every spider follows, checked over every spider the project's spider loader finds.

- its docstring carries the metadata (Domain, Caveats, Spider arguments) and documents every
  argument its `__init__` accepts;
- it starts: `start()` yields valid http(s) requests with a callback;
- its module imports only the notice contract, the parsers, the organisation registry, the
  `monitor.crawl` bases, Scrapy and the standard library (imports under `TYPE_CHECKING` are
  annotations only and not counted).
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import sys
from pathlib import Path
from typing import Any

import pytest
from scrapy import Request, Spider
from scrapy.settings import Settings
from scrapy.spiderloader import SpiderLoader
from scrapy.utils.test import get_crawler

from monitor.crawl.base import BaseSpider

SPIDERS_DIR = Path(__file__).resolve().parent.parent / "spiders"
REQUIRED_SECTIONS = ("Domain", "Caveats", "Spider arguments")
ALLOWED_MONITOR = ("monitor.contract", "monitor.parsers", "monitor.organisations", "monitor.crawl")
# Arguments a spider may need to start without the network or the registry being asked.
START_ARGUMENTS = {"since": "2026-11-16", "until": "2026-11-23"}


def project_settings() -> Settings:
    settings = Settings()
    settings.setmodule("monitor.crawl.settings", priority="project")
    return settings


LOADER = SpiderLoader.from_settings(project_settings())
SPIDER_NAMES = sorted(LOADER.list())


def test_the_loader_finds_the_spiders() -> None:
    assert "ted" in SPIDER_NAMES
    assert sorted(p.stem for p in SPIDERS_DIR.glob("*.py") if p.stem != "__init__") == SPIDER_NAMES


def sections(docstring: str) -> dict[str, str]:
    """Metadata sections of a spider docstring: unindented heading lines and their indented text."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in inspect.cleandoc(docstring).splitlines():
        if line and not line[0].isspace():
            current = found.setdefault(line.strip(), [])
        elif current is not None:
            current.append(line)
    return {name: "\n".join(text) for name, text in found.items()}


def init_arguments(spidercls: type[Spider]) -> set[str]:
    """Keyword arguments accepted by the spider's own `__init__` and its bases' up to Scrapy's."""
    names: set[str] = set()
    for cls in spidercls.__mro__:
        if cls is Spider or not issubclass(cls, Spider) or "__init__" not in vars(cls):
            continue
        for parameter in inspect.signature(vars(cls)["__init__"]).parameters.values():
            if parameter.kind is parameter.KEYWORD_ONLY or (
                parameter.kind is parameter.POSITIONAL_OR_KEYWORD and parameter.name != "self"
            ):
                names.add(parameter.name)
    return names


@pytest.mark.parametrize("name", SPIDER_NAMES)
def test_spider_metadata(name: str) -> None:
    spidercls = LOADER.load(name)
    assert issubclass(spidercls, BaseSpider), f"{name} must use a base from monitor.crawl"
    assert spidercls.__module__ == f"spiders.{name}", "module name = spider name"
    found = sections(spidercls.__doc__ or "")
    missing = [s for s in REQUIRED_SECTIONS if not found.get(s, "").strip()]
    assert missing == [], f"{name}: docstring lacks {missing}"
    # Argument names are the lines indented one level under "Spider arguments".
    lines = found["Spider arguments"].splitlines()
    documented = {line.strip() for line in lines if line.startswith("  ") and not line.startswith("    ")}
    assert init_arguments(spidercls) - documented == set(), f"{name}: undocumented spider arguments"


@pytest.mark.parametrize("name", SPIDER_NAMES)
def test_spider_starts_with_valid_requests(name: str) -> None:
    spidercls = LOADER.load(name)
    crawler = get_crawler(spidercls)
    spider = spidercls.from_crawler(crawler, **START_ARGUMENTS)

    async def collect() -> list[Any]:
        return [request async for request in spider.start()]

    requests = asyncio.run(collect())
    assert requests, f"{name} yields nothing from start()"
    for request in requests:
        assert isinstance(request, Request)
        assert request.url.startswith(("https://", "http://"))
        assert callable(request.callback)


def imported_modules(path: Path) -> list[str]:
    """Modules a spider imports at run time (not those under `if TYPE_CHECKING:`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    modules: list[str] = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            modules += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}: relative import"
            modules.append(node.module or "")
    return modules


def allowed(module: str) -> bool:
    top = module.split(".")[0]
    if top in sys.stdlib_module_names or top == "scrapy":
        return True
    return any(module == prefix or module.startswith(prefix + ".") for prefix in ALLOWED_MONITOR)


@pytest.mark.parametrize("path", sorted(SPIDERS_DIR.glob("*.py")), ids=lambda p: p.name)
def test_spider_imports_follow_the_rules(path: Path) -> None:
    forbidden = [m for m in imported_modules(path) if not allowed(m)]
    assert forbidden == [], f"{path.name} imports {forbidden}"


def test_the_import_rule_catches_offenders(tmp_path: Path) -> None:
    offender = tmp_path / "bad.py"
    offender.write_text(
        "from typing import TYPE_CHECKING\nimport requests\nfrom monitor.store import NoticeStore\n"
        "from monitor.crawl.base import BaseSpider\nif TYPE_CHECKING:\n    from twisted.python.failure import Failure\n"
    )
    assert [m for m in imported_modules(offender) if not allowed(m)] == ["requests", "monitor.store"]
