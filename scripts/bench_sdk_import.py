"""What importing the openai SDK costs, plainly and the way taugepa imports it (run by hand).

    python scripts/bench_sdk_import.py [--repeat 12]

Each measurement is a fresh interpreter that imports the SDK and prints the CPU time it took
and whether aiohttp came with it; the two ways alternate, so that a machine whose speed
drifts treats both alike. The medians are what to compare: the import sits between the
start of an LLM benchmark and its first request (see `taugepa.llm.sdk`).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

WAYS = {
    "plain `import openai`": "import openai",
    "taugepa.llm.sdk.import_openai()": "from taugepa.llm.sdk import import_openai; import_openai()",
}
PROBE = (
    "import json, sys, time\n"
    "start = time.process_time()\n"
    "{statement}\n"
    "print(json.dumps([time.process_time() - start, 'aiohttp' in sys.modules]))"
)


def measure(statement: str) -> tuple[float, bool]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(statement=statement)], capture_output=True, text=True, check=True
    )
    seconds, aiohttp = json.loads(done.stdout.strip().splitlines()[-1])
    return seconds, aiohttp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=12)
    args = parser.parse_args()
    times: dict[str, list[float]] = {name: [] for name in WAYS}
    loads_aiohttp: dict[str, bool] = {}
    for _ in range(args.repeat):
        for name, statement in WAYS.items():
            seconds, aiohttp = measure(statement)
            times[name].append(seconds)
            loads_aiohttp[name] = aiohttp
    for name, values in times.items():
        print(
            f"{name:34} median {statistics.median(values):.3f} s CPU "
            f"(min {min(values):.3f}, max {max(values):.3f}, n={len(values)}); "
            f"aiohttp imported: {loads_aiohttp[name]}"
        )


if __name__ == "__main__":
    main()
