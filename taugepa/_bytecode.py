"""A bytecode cache for taugepa's own modules that works under PYTHONDONTWRITEBYTECODE.

With PYTHONDONTWRITEBYTECODE set (as on these machines and many CI images), Python writes
no `__pycache__`, so every process compiles each taugepa module it imports from source,
and each pytest-xdist worker pays that again. Worse, when pytest counts taugepa as a
plugin's distribution (a regular install lists all its modules; an editable one does when
`python -m pytest` runs from the checkout), its assertion rewriter claims every taugepa
module, re-parses and rewrites it at each start, and cannot cache the result either.

When bytecode writing is off, `install()` puts a finder ahead of all others for the
`taugepa` and `pytest_taugepa` packages. It finds their modules as Python would and loads
them from source as usual, but keeps the compiled code in `<cache dir>/bytecode/`, keyed by
the bytecode version, the optimization level, the module's path and a hash of its source,
so an edited module is compiled afresh and the cache is never stale. The library holds no
test assertions, so it loses nothing by not being rewritten. TAUGEPA_BYTECODE_CACHE=0 turns
the cache off. (This module and `taugepa.files`, which it uses, load before the finder.)
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


class CachedSourceLoader(SourceFileLoader):
    """Loads a module from source, with its compiled code kept in taugepa's cache folder."""

    def get_code(self, fullname: str) -> Any:
        path = self.get_filename(fullname)
        source = self.get_data(path)
        key = hashlib.sha256(
            b"%b\0%d\0%b\0%b" % (importlib.util.MAGIC_NUMBER, sys.flags.optimize, os.fsencode(path), source)
        ).hexdigest()
        cached = default_cache_dir() / "bytecode" / key[:2] / f"{key[2:40]}.bin"
        try:
            return marshal.loads(cached.read_bytes())
        except (OSError, ValueError, EOFError, TypeError):
            pass  # not cached yet, or damaged: compile below
        code = self.source_to_code(source, path)
        try:
            write_bytes_atomically(cached, marshal.dumps(code))
        except OSError:
            pass  # an unwritable cache costs speed, never correctness
        return code


class CachingFinder(MetaPathFinder):
    """Finds taugepa's modules like Python's path finder, and loads them with `CachedSourceLoader`."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> ModuleSpec | None:
        if fullname.partition(".")[0] not in PACKAGES:
            return None
        spec = PathFinder.find_spec(fullname, path)
        if spec is None or type(spec.loader) is not SourceFileLoader or spec.origin is None:
            return None  # not found on a path (e.g. an editable install's top package): let others try
        spec.loader = CachedSourceLoader(fullname, spec.origin)
        return spec


def install() -> None:
    """Use the cache for taugepa's modules when Python writes no bytecode of its own.

    Idempotent; a second call moves the finder back to the head of `sys.meta_path` (the
    pytest plugin calls it again, after pytest has put its assertion rewriter there).
    """
    if not sys.dont_write_bytecode or os.environ.get("TAUGEPA_BYTECODE_CACHE", "1") == "0":
        return
    for finder in [f for f in sys.meta_path if isinstance(f, CachingFinder)]:
        sys.meta_path.remove(finder)
    sys.meta_path.insert(0, CachingFinder())
