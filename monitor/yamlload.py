"""Safe YAML loading for the project's own configuration files (taxonomy, organisations, sources).

libyaml's C loader, when PyYAML was built with it, reads the 40 kB taxonomy several times faster
than the pure-Python one; both are the *safe* loaders (plain data only, no Python objects).
"""

from __future__ import annotations

from typing import Any, Final

import yaml

SAFE_LOADER: Final[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def safe_load(text: str) -> Any:
    """`yaml.safe_load`, with libyaml when available."""
    return yaml.load(text, Loader=SAFE_LOADER)  # noqa: S506 (SAFE_LOADER is a safe loader)
