"""Importing the `openai` SDK without the aiohttp transport taugepa never uses.

The SDK imports its optional aiohttp transport (`openai._vendor.httpx_aiohttp`, for
`DefaultAioHttpClient`) whenever aiohttp is installed, and it is: tau2 depends on litellm,
which depends on aiohttp. That import alone is about a fifth of the SDK's (0.17 s of CPU
of about 0.95 s here), and it sits between the start of a benchmark and its first request.
taugepa's client is synchronous and brings its own transport (`taugepa.llm.deadline`), so
the SDK is imported as if aiohttp were absent, which is a path the SDK supports: only
`openai.DefaultAioHttpClient` is affected, and it raises if used. This applies only when
taugepa is the first to import the SDK in the process; later imports of aiohttp itself are
untouched.
"""

from __future__ import annotations

import sys
from importlib.abc import MetaPathFinder
from types import ModuleType
from typing import Any

UNUSED_TRANSPORT = "openai._vendor.httpx_aiohttp"


class _WithoutModule(MetaPathFinder):
    """Makes one module look not installed while it is on `sys.meta_path`."""

    def __init__(self, name: str):
        self.name = name

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:
        if fullname == self.name:
            raise ImportError(f"{fullname} is not used by taugepa", name=fullname)
        return None


def import_openai() -> ModuleType:
    """The `openai` module, imported without its aiohttp transport if nothing imported it yet."""
    if "openai" in sys.modules:
        return sys.modules["openai"]
    finder = _WithoutModule(UNUSED_TRANSPORT)
    sys.meta_path.insert(0, finder)
    try:
        import openai
    finally:
        sys.meta_path.remove(finder)
    return openai
