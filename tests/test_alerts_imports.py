"""`alerts` never imports Scrapy, Twisted or the spiders: checked on the source and in a fresh process."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODULES = sorted((ROOT / "alerts").rglob("*.py"))
FORBIDDEN = ("scrapy", "twisted", "spiders", "itemadapter", "parsel")
# The crawl package is Scrapy plumbing; only its crawl-runs table (plain SQLAlchemy) may be read.
ALLOWED_CRAWL = {"monitor.crawl.runs"}


def imported_names(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def test_alerts_modules_import_no_scrapy_and_no_spiders() -> None:
    assert len(MODULES) >= 8
    offending = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in MODULES
        for name in imported_names(path)
        if name.split(".")[0] in FORBIDDEN or (name.startswith("monitor.crawl") and name not in ALLOWED_CRAWL)
    ]
    assert offending == []


def test_importing_every_alerts_module_loads_no_scrapy() -> None:
    modules = [".".join(p.relative_to(ROOT).with_suffix("").parts) for p in MODULES]
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "import alerts.ilo as ilo; ilo.source_health  # noqa\n"
        "from monitor.crawl import runs  # what the health section reads\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('scrapy', 'twisted', 'spiders')))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
