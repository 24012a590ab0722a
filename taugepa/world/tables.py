"""The tables of tau2's airline database as the engine holds them: base rows and episode views.

Parsing the 7 MB database into tau2's models costs ~200 ms, and each pytest-xdist worker
pays it; a worker touches a few hundred of its 2,800 rows. So `BaseRows` keeps a table as
parsed JSON and validates a row into tau2's model the first time anyone looks it up (the
same model and validation a whole `FlightDB.model_validate` applies to it: tau2's airline
models have no validator across rows), and `CopyOnWriteTable` gives each episode a view
that copies a row the first time the episode looks it up by key.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import BaseModel


class BaseRows:
    """One table's rows, shared read-only by all episodes; each validated on first use."""

    def __init__(self, raw: dict[str, Any], model: type[BaseModel]):
        self.raw = raw  # row key -> the row as parsed JSON (never changed)
        self.model = model
        self._rows: dict[str, BaseModel] = {}

    def __getitem__(self, key: str) -> BaseModel:
        row = self._rows.get(key)
        if row is None:  # two threads may both validate a row: equal results, either one is kept
            row = self._rows[key] = self.model.model_validate(self.raw[key])
        return row

    def get(self, key: str, default: Any = None) -> Any:
        return self[key] if key in self.raw else default

    def __contains__(self, key: object) -> bool:
        return key in self.raw

    def __iter__(self) -> Iterator[str]:
        return iter(self.raw)

    def __len__(self) -> int:
        return len(self.raw)

    def all(self) -> dict[str, BaseModel]:
        """Every row, validated, in the database's order."""
        return {key: self[key] for key in self.raw}


class CopyOnWriteTable(dict):
    """One table of an episode's database.

    Holds the base table's keys; a row is validated (once per process, by `BaseRows`) and
    deep-copied the first time the episode looks it up by key, so the tools mutate only
    the copy. Iteration over values (used by flight search) returns shared base rows, which
    tau2's tools only read.
    """

    __slots__ = ("touched", "_base")

    def __init__(self, base: BaseRows):
        super().__init__(base.raw)  # the keys (the values stand for base rows until touched)
        self._base = base
        self.touched: set[str] = set()

    def __getitem__(self, key: str) -> BaseModel:
        if key in self.touched:
            return super().__getitem__(key)
        row = self._base[key].model_copy(deep=True)
        super().__setitem__(key, row)
        self.touched.add(key)
        return row

    def __setitem__(self, key: str, row: BaseModel) -> None:
        super().__setitem__(key, row)
        self.touched.add(key)

    def get(self, key: str, default: Any = None) -> Any:
        return self[key] if key in self else default

    def values(self) -> list[BaseModel]:  # type: ignore[override]
        return [self.peek(key) for key in self]

    def items(self) -> list[tuple[str, BaseModel]]:  # type: ignore[override]
        return [(key, self.peek(key)) for key in self]

    def _refuse(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("rows cannot be removed or bulk-updated in a copy-on-write table")

    __delitem__ = pop = popitem = clear = update = setdefault = copy = _refuse  # type: ignore[assignment]

    def peek(self, key: str) -> Any:
        """The row as it stands now, without copying it (None if absent): read only."""
        if key in self.touched:
            return dict.__getitem__(self, key)
        return self._base.get(key)

    def own_row(self, key: str) -> BaseModel:
        """A row this episode has touched, as it stands now."""
        return dict.__getitem__(self, key)
