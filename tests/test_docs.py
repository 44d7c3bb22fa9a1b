"""The README says what the code does: every command and every environment setting is documented."""

from __future__ import annotations

import re
from pathlib import Path

import click

from monitor.cli import main
from monitor.settings import PROJECT_ROOT

README = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
SOURCES = [p for folder in ("monitor", "alerts") for p in (PROJECT_ROOT / folder).rglob("*.py")]
SCRAPY_SETTINGS = (PROJECT_ROOT / "monitor" / "crawl" / "settings.py").read_text(encoding="utf-8")


def command_paths(group: click.Group, prefix: str = "") -> list[str]:
    paths = []
    for name, command in sorted(group.commands.items()):
        path = f"{prefix}{name}"
        if isinstance(command, click.Group):
            paths += command_paths(command, path + " ")
        else:
            paths.append(path)
    return paths


def test_every_command_is_in_the_readme() -> None:
    missing = [path for path in command_paths(main) if f"ilo-monitor {path}" not in README]
    assert not missing, f"commands missing from README.md: {missing}"


def environment_settings() -> set[str]:
    names: set[str] = set()
    for path in SOURCES:
        text = path.read_text(encoding="utf-8")
        names.update(f"ILO_MONITOR_{name}" for name in re.findall(r'\benv\("([A-Z_]+)"', text))
        names.update(re.findall(r'"(ILO_MONITOR_[A-Z_]+)"', text))
    return names


def test_every_environment_setting_is_documented() -> None:
    # Scrapy settings named ILO_MONITOR_* are documented (with defaults) in monitor/crawl/settings.py.
    undocumented = [
        name
        for name in sorted(environment_settings())
        if name not in README and not re.search(rf"^{name}\b", SCRAPY_SETTINGS, re.M)
    ]
    # The README names SMTP settings as `_SMTP_PORT` after `ILO_MONITOR_SMTP_HOST`.
    undocumented = [n for n in undocumented if f"`_{n.removeprefix('ILO_MONITOR_')}`" not in README]
    assert not undocumented, f"settings missing from README.md: {undocumented}"


def test_the_two_readme_commands_are_what_ci_runs() -> None:
    assert "make demo" in README and "make test" in README
    assert "make test" in Path(PROJECT_ROOT / ".ci" / "run").read_text(encoding="utf-8")
