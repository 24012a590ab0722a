"""Names a package offers without importing their module up front.

The packages re-export their main names (`taugepa.episode.run_episode`,
`taugepa.results.to_evaluation_batch`, ...) so callers need not know the module layout.
Importing all of that eagerly would make every `import taugepa.x.y` pay for tau2,
gepa or matplotlib at start-up, so each name imports its module on first use (PEP 562).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any

ModuleHooks = tuple[Callable[[str], Any], Callable[[], list[str]]]


def lazy_exports(package: str, exports: dict[str, str]) -> ModuleHooks:
    """`__getattr__` and `__dir__` for `package`, resolving each name of `exports` from its module."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return __getattr__, __dir__
