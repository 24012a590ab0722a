"""Price files (`--prices FILE`): read within limits and checked field by field.

Apart from `taugepa.llm.prices` so that pydantic, which checks the file, is imported only by
a run that has a price file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from taugepa.errors import ConfigError
from taugepa.guards.limits import MAX_PRICE_FILE_BYTES
from taugepa.guards.safe_json import read_json_file
from taugepa.guards.validation import first_error
from taugepa.llm.prices import MAX_PRICE_USD, Price


class _PriceEntry(BaseModel):
    """One model's entry in a price file: US dollars per million tokens, numbers only."""

    model_config = ConfigDict(strict=True, extra="forbid")
    input: Annotated[float, Field(ge=0, le=MAX_PRICE_USD)]
    output: Annotated[float, Field(ge=0, le=MAX_PRICE_USD)]
    cached_input: Annotated[float, Field(ge=0, le=MAX_PRICE_USD)] | None = None


_PriceFile = TypeAdapter(dict[Annotated[str, Field(min_length=1, max_length=200)], _PriceEntry])


def parse_prices(document: Any, where: str) -> dict[str, Price]:
    """`{"model": {"input": x, "output": y, "cached_input": z}}` (USD per 1M tokens; `cached_input` optional)
    into prices; ConfigError if malformed."""
    if not isinstance(document, dict):
        raise ConfigError(f'{where}: expected a JSON object {{"model": {{"input": 2.5, "output": 10}}}}')
    try:
        entries = _PriceFile.validate_python(document)
    except ValidationError as exc:
        error = first_error(exc)
        model = str(error.location[0])[:60] if error.location else "?"
        field = f": '{error.field(1)}'" if len(error.location) > 1 else ""
        raise ConfigError(
            f"{where}: the price of {model!r}{field} {error.problem} "
            '(write {"input": <USD per 1M tokens>, "output": <USD per 1M tokens>}, '
            'optionally "cached_input": <USD per 1M cached input tokens>)'
        ) from None
    return {model: Price(entry.input, entry.output, entry.cached_input) for model, entry in entries.items()}


def load_prices(path: str | Path) -> dict[str, Price]:
    """Read a price file (see `parse_prices`); a missing or malformed file is a ConfigError."""
    document = read_json_file(path, what="price file", max_bytes=MAX_PRICE_FILE_BYTES)
    return parse_prices(document, str(path))
