"""The descriptions of the airline tools the agent sees, and files that replace them.

Why: a tool's description is part of what the agent is told, as much as the wiki is;
`taugepa optimize --components ...+tools` evolves them and writes the best ones as JSON
(`{"tool name": "description"}`), and `pytest benchmarks --tool-descriptions FILE` runs an
agent with exactly those, so CI measures what the optimizer found. Tools a file leaves
out keep tau2's description; the parameters never change.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from taugepa.errors import ConfigError
from taugepa.world.engine import THINK_TOOL, get_world, tool_names

MAX_DESCRIPTION_CHARS = 20_000

# A frozen, hashable form (HarnessSettings is a frozen dataclass): sorted (tool, description) pairs.
DescriptionPairs = tuple[tuple[str, str], ...]


def default_tool_descriptions() -> dict[str, str]:
    """tau2's description of every airline tool (the `think` tool is not an airline tool)."""
    return {
        name: str(spec.schema["function"].get("description") or "")
        for name, spec in get_world().tools.items()
        if name != THINK_TOOL
    }


def check_tool_descriptions(descriptions: Any, where: str) -> dict[str, str]:
    """The mapping if every key is an airline tool and every value a non-empty text; else ConfigError."""
    if not isinstance(descriptions, dict):
        raise ConfigError(f'{where} must hold a JSON object {{"tool name": "description"}}')
    known = sorted(tool_names() - {THINK_TOOL})
    for name, text in descriptions.items():
        if name not in known:
            raise ConfigError(
                f"{where} describes an unknown tool {name!r}: airline tools are {', '.join(known)}"
            )
        if not isinstance(text, str) or not text.strip():
            raise ConfigError(f"{where}: the description of {name} must be a non-empty text")
        if len(text) > MAX_DESCRIPTION_CHARS:
            raise ConfigError(
                f"{where}: the description of {name} has {len(text)} characters "
                f"(at most {MAX_DESCRIPTION_CHARS})"
            )
    return dict(descriptions)


def load_tool_descriptions(path: Path | str) -> dict[str, str]:
    """Read a tool-descriptions file; one-line ConfigError when it cannot be used."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"tool descriptions file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read tool descriptions file {path}: {exc}") from None
    except ValueError as exc:
        raise ConfigError(f"tool descriptions file {path} is not valid JSON ({exc})") from None
    return check_tool_descriptions(data, f"tool descriptions file {path}")


def as_pairs(descriptions: Mapping[str, str] | None) -> DescriptionPairs | None:
    return tuple(sorted(descriptions.items())) if descriptions else None


def descriptions_sha256(descriptions: Mapping[str, str]) -> str:
    canonical = json.dumps(dict(sorted(descriptions.items())), ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def describe_tool_descriptions(descriptions: Mapping[str, str], path: str | None = None) -> dict[str, Any]:
    """What a scores file records: the file, the whole mapping's hash and each description's."""
    return {
        "path": path,
        "sha256": descriptions_sha256(descriptions),
        "tools": {
            name: hashlib.sha256(text.encode()).hexdigest() for name, text in sorted(descriptions.items())
        },
    }
