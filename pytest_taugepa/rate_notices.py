"""The line a run prints when an LLM endpoint starts limiting it, and the note on shared caps.

Episodes run in threads (and, with -n, in worker processes) whose output pytest captures, so
the endpoint's gate (`taugepa.llm.rate_limits`) cannot print on the terminal itself. Each
call it limited carries the in-flight limit in the episode's usage; the reporting process
prints the line once per endpoint as the first such episode arrives:

    taugepa: rate limited by the agent endpoint https://api.openai.com/v1: running 3 in flight
    instead of 16 (requests wait their turn; 429 answers are waited out, not errors)
"""

from __future__ import annotations

import pytest

from taugepa.llm.config import LLMConfig, public_url
from taugepa.llm.rate_limits import limiting_line

SIDES = ("agent", "user")


class RateLimitNotices:
    """Registered in the reporting process; prints the line once per endpoint."""

    def __init__(self, config: pytest.Config, llm: LLMConfig | None, concurrency: int):
        self.config = config
        self.urls: dict[str, str] = {}
        if llm is not None:
            self.urls["agent"] = public_url(llm.agent_base_url)
            self.urls["user"] = public_url(llm.user_base_url_resolved)
        self.concurrency = concurrency
        self.announced: set[str] = set()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        entry = getattr(report, "taugepa_episode", None)
        usage = (entry or {}).get("usage") or {}
        limited = {side: (usage.get(side) or {}).get("in_flight_limit") for side in SIDES}
        for side, limit in limited.items():
            url = self.urls.get(side)
            if limit is None or url is None or url in self.announced:
                continue
            self.announced.add(url)
            sides = " and ".join(other for other in SIDES if self.urls.get(other) == url)
            terminal = self.config.pluginmanager.get_plugin("terminalreporter")
            if terminal is not None:
                line = limiting_line(sides, url, limit, self.concurrency)
                terminal.ensure_newline()
                terminal.write_line(f"taugepa: {line}", yellow=True)


def shared_caps_note(llm: LLMConfig | None, workers: int) -> str | None:
    """What --rpm/--tpm mean with several workers: each keeps to its share, the total to the cap."""
    if llm is None or workers <= 1 or (llm.rpm is None and llm.tpm is None):
        return None
    shares = []
    if llm.rpm is not None:
        shares.append(f"--rpm {llm.rpm:g}: {llm.rpm / workers:g} requests")
    if llm.tpm is not None:
        shares.append(f"--tpm {llm.tpm:g}: {llm.tpm / workers:g} tokens")
    return (
        f"{workers} workers share the rate caps: each sends at most {' and '.join(shares)} a minute "
        "to each endpoint, so together they keep to the caps"
    )
