"""How taugepa's own modules, and the big libraries it loads late, are imported at start-up.

Two costs that pytest adds to every start of a benchmark process (and of each pytest-xdist
worker), and one finder at the head of `sys.meta_path` that removes them:

- With PYTHONDONTWRITEBYTECODE set (as on these machines and many CI images), Python writes
  no `__pycache__`, so every process compiles each taugepa module it imports from source.
  Worse, when pytest counts taugepa as a plugin's distribution (a regular install lists all
  its modules; an editable one does when `python -m pytest` runs from the checkout), its
  assertion rewriter claims every taugepa module, re-parses and rewrites it at each start,
  and cannot cache the result either. So, when bytecode writing is off, the finder loads
  taugepa's modules itself (`CachedSourceLoader`) and keeps their compiled code in
  `<cache dir>/bytecode/`, keyed by the bytecode version, the optimization level, the
  module's path and a hash of its source: an edited module is compiled afresh, the cache is
  never stale. The library holds no test assertions, so it loses nothing by not being
  rewritten. TAUGEPA_BYTECODE_CACHE=0 turns the cache off.
- pytest's assertion rewriter is asked about every module imported in a pytest process, and
  answering costs a path search of its own: it makes importing the openai SDK (some 800
  modules) about a third slower. The libraries in `LATE_LIBRARIES`, which pytest never
  rewrites, are found by the other finders in order, skipping only the rewriter (any other
  import hook, such as an instrumentation's, still sees them).

This module and `taugepa.files`, which it uses, load before the finder exists.
"""

from __future__ import annotations

import hashlib
import importlib.util
import marshal
import os
import sys
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec, PathFinder, SourceFileLoader
from typing import Any

from taugepa.files import default_cache_dir, write_bytes_atomically

PACKAGES = frozenset({"taugepa", "pytest_taugepa"})
# Imported by taugepa after pytest has started (the LLM client, tau2's airline domain and
# what they pull in); never test code, never pytest plugins.
LATE_LIBRARIES = frozenset(
    {"openai", "httpx2", "httpcore2", "aiohttp", "tau2", "pydantic", "pydantic_core", "jsonschema"}
)
_REWRITER_MODULE = "_pytest.assertion.rewrite"


class CachedSourceLoader(SourceFileLoader):
    """Loads a module from source, with its compiled code kept in taugepa's cache folder."""

    def get_code(self, fullname: str) -> Any:
        path = self.get_filename(fullname)
        source = self.get_data(path)
        key = hashlib.sha256(
            b"%b\0%d\0%b\0%b" % (importlib.util.MAGIC_NUMBER, sys.flags.optimize, os.fsencode(path), source)
        ).hexdigest()
        try:
            cached = default_cache_dir() / "bytecode" / key[:2] / f"{key[2:40]}.bin"
            return marshal.loads(cached.read_bytes())
        except (OSError, ValueError, EOFError, TypeError):
            pass  # not cached yet, or damaged: compile below
        code = self.source_to_code(source, path)
        try:
            write_bytes_atomically(cached, marshal.dumps(code))
        except OSError:
            pass  # an unwritable cache costs speed, never correctness
        return code


class StartupFinder(MetaPathFinder):
    """Loads taugepa's modules with cached bytecode; finds late libraries past pytest's rewriter."""

    def __init__(self, cache_bytecode: bool):
        self.cache_bytecode = cache_bytecode

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> ModuleSpec | None:
        top = fullname.partition(".")[0]
        if top in PACKAGES and self.cache_bytecode:
            spec = PathFinder.find_spec(fullname, path)
            if spec is None or type(spec.loader) is not SourceFileLoader or spec.origin is None:
                return None  # not found on a path (e.g. an editable install's top package): let others try
            spec.loader = CachedSourceLoader(fullname, spec.origin)
            return spec
        if top in LATE_LIBRARIES:
            for finder in list(sys.meta_path):
                if finder is self or type(finder).__module__ == _REWRITER_MODULE:
                    continue
                find = getattr(finder, "find_spec", None)
                spec = find(fullname, path, target) if find is not None else None
                if spec is not None:
                    return spec
        return None


def install() -> None:
    """Put the finder at the head of `sys.meta_path` (idempotent; a second call moves it back
    there: the pytest plugin calls it again, after pytest has put its rewriter first)."""
    cache_bytecode = sys.dont_write_bytecode and os.environ.get("TAUGEPA_BYTECODE_CACHE", "1") != "0"
    for finder in [f for f in sys.meta_path if isinstance(f, StartupFinder)]:
        sys.meta_path.remove(finder)
    sys.meta_path.insert(0, StartupFinder(cache_bytecode))
