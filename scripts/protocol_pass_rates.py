"""Pass rates of the oracle and the scripted models under both conversation protocols.

The built-in `oracle` agent (with its scripted user) and the scripted models over HTTP
(`scripted-agent` and `scripted-user`, `taugepa.testing.scripted_server`) on the built-in task
sets and the shared synthetic sets, once with `--protocol tau2` and once with `--protocol
taugepa`, with tau2's airline policy as the wiki (v1's wiki for the synthetic sets, as CI runs
them). These agents ignore prompts: the figures check the plumbing of each protocol (its
greeting, stop rules, limits, tools and reward rule), not how a real model fares under it.

    python scripts/protocol_pass_rates.py                  # tau2-airline and taugepa-airline
    python scripts/protocol_pass_rates.py --synthetic      # and the 456 synthetic tasks
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from pathlib import Path

from taugepa.episode.runner import run_tasks
from taugepa.episode.settings import PROTOCOLS, HarnessSettings
from taugepa.tasks.loading import load_tasks
from taugepa.testing.scripted_models import scripted_llm_config
from taugepa.testing.scripted_server import ScriptedServer
from taugepa.world.engine import DEFAULT_POLICY_PATH

KEY_ENV = "TAUGEPA_RATES_KEY"


def main(argv: list[str] | None = None) -> int:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--synthetic", action="store_true", help="also the shared synthetic sets (456 tasks)")
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args(argv)
    os.environ.setdefault(KEY_ENV, "rates")
    policy = DEFAULT_POLICY_PATH.read_text()
    sets = [("tau2-airline", ["tau2-airline"], policy), ("taugepa-airline", ["taugepa-airline"], policy)]
    if args.synthetic:
        data = Path(os.environ.get("TAUGEPA_SHARED_DATA", "../shared/data"))
        found = (data / "synthetic").glob("validated_tasks_*_with_instructions.json")
        files = [str(path) for path in sorted(found)]
        sets.append(("synthetic (456)", files, (data / "tau-bench-v1" / "wiki.md").read_text()))
    print("| agent | tasks | protocol | passed | failed | invalid | error | pass rate | terminations |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for label, specs, wiki in sets:
        tasks = load_tasks(specs).tasks
        with ScriptedServer(tasks, api_key="rates") as server:
            llm = scripted_llm_config(server.base_url, KEY_ENV, cache=False)
            for agent, name in (("oracle", "oracle"), ("llm", "scripted models")):
                for protocol in PROTOCOLS:
                    settings = HarnessSettings(
                        agent=agent, protocol=protocol, llm=llm if agent == "llm" else None,
                        concurrency=args.concurrency,
                    )  # fmt: skip
                    results = [result for _, result in run_tasks(tasks, wiki, settings).episodes]
                    counts = Counter(r.outcome for r in results)
                    scored = counts["passed"] + counts["failed"]
                    rate = f"{counts['passed'] / scored:.1%}" if scored else "n/a"
                    endings = Counter(r.termination for r in results)
                    print(
                        f"| {name} | {label} | {protocol} | {counts['passed']} | {counts['failed']} | "
                        f"{counts['invalid']} | {counts['error']} | {rate} | "
                        + ", ".join(f"{k} {v}" for k, v in endings.most_common())
                        + " |",
                        flush=True,
                    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
