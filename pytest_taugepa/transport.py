"""Episode entries from pytest-xdist workers to the controller, as the scores file's text.

A worker attaches each episode's scores-file entry to its test report, and xdist ships
reports through execnet, whose serializer walks a nested dict object by object in Python.
The entry travels instead as the text the scores file will hold (`encode_episode`, done on
the worker, in parallel with the other workers); the controller parses it back in C for
its summary and keeps the text, so it never encodes the episodes itself.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from taugepa.results.scores import encode_episode

ENTRY = "taugepa_episode"  # the report attribute holding the entry (a dict)
ENTRY_TEXT = "taugepa_episode_json"  # the same entry, encoded for the scores file


class EntryTransport:
    """Registered in every process of a benchmark session (see `plugin.start_benchmark`)."""

    @pytest.hookimpl(wrapper=True)
    def pytest_report_to_serializable(self, config: pytest.Config, report: Any) -> Any:
        data = yield
        if isinstance(data, dict) and isinstance(data.get(ENTRY), dict):
            data[ENTRY_TEXT] = encode_episode(data.pop(ENTRY))
        return data

    @pytest.hookimpl(wrapper=True)
    def pytest_report_from_serializable(self, config: pytest.Config, data: Any) -> Any:
        report = yield
        text = getattr(report, ENTRY_TEXT, None)
        if isinstance(text, str) and getattr(report, ENTRY, None) is None:
            setattr(report, ENTRY, json.loads(text))
        return report


def entry_text(report: Any, entry: dict[str, Any]) -> str:
    """The entry's scores-file text: as shipped by the worker, else encoded here."""
    text = getattr(report, ENTRY_TEXT, None)
    return text if isinstance(text, str) else encode_episode(entry)
