"""The whole `pytest benchmarks` command against a rate-limited endpoint (run by hand; prints a table).

    python scripts/bench_rate_limits.py [--code CHECKOUT] [--rps 5] [--only c8,c32,c128,n2,split,rpm]

The workload is `tau2-50` of `scripts/bench_command.py`: tau2's 50 airline tasks, the
scripted agent makes one read call per task (4 requests per episode, 200 in all), answers
after 300 ms. The scripted server (`taugepa.testing.scripted_server --rps`, in its own
process, always from this checkout) allows `--rps` requests a second and answers beyond that
with HTTP 429, `Retry-After`, `retry-after-ms` and the `x-ratelimit-*` headers, exactly as
OpenAI does (`taugepa.testing.rate_limited`). Each run is timed from the start of the `pytest`
process to its exit. Figures per run:

- requests served, 429s, error outcomes, and whether the verdicts equal those of an
  unlimited run (the reference, `--concurrency 8` against a server without a limit);
- the rate floor (requests served / allowed rate: no client can be faster) and the
  whole-command efficiency (floor / wall; the issue asks for at least 0.85), and where the
  wall time went: from the start to the first request the server saw (pytest's start-up),
  from there to the last answer, and from the last answer to the process's exit.

Runs: `c8`, `c32`, `c128` (`--concurrency` N, one process); `n2` (`-n 2 --concurrency 16`,
two processes sharing one key); `split` (agent and user simulator on two servers with their
own limits, `--rps` and half of it: the floor is the slower endpoint's); `rpm` (a server
without a limit, `-n 2 --rpm 60*rps`: each worker gets half of the cap, and the script
checks the total the server saw never passed it).

`--code` runs the `pytest` of another checkout (e.g. main before a change, `git worktree add
/tmp/before main`) through PYTHONPATH, with this environment's packages.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent
REPO = SCRIPTS.parent
KEY_ENV = "TAUGEPA_BENCH_KEY"
RUNS = ("c8", "c32", "c128", "n2", "split", "rpm")


def start_server(plays: Path, latency: float, rps: float | None) -> tuple[subprocess.Popen, str]:
    command = [sys.executable, "-m", "taugepa.testing.scripted_server", "--tasks", "tau2-airline"]
    command += ["--latency", str(latency), "--plays", str(plays)] + (["--rps", str(rps)] if rps else [])
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


def stats(base_url: str) -> dict:
    with urllib.request.urlopen(f"{base_url}/_stats") as response:
        return json.load(response)


def run_pytest(code: Path, args: list[str], work: Path, scores: Path) -> tuple[float, float, str]:
    env = {**os.environ, "PYTHONPATH": str(code), "TAUGEPA_CACHE_DIR": str(work / "cache")}
    command = [sys.executable, "-m", "pytest", str(code / "benchmarks"), "-q", "-p", "no:randomly"]
    command += ["-p", "no:cacheprovider", "--scores-out", str(scores), *args]
    started = time.time()
    run = subprocess.run(command, capture_output=True, text=True, cwd=work, env=env)
    wall = time.time() - started
    if run.returncode not in (0, 1):
        sys.exit(f"pytest failed ({run.returncode}):\n{run.stdout[-3000:]}\n{run.stderr[-2000:]}")
    notes = [line.strip() for line in run.stdout.splitlines() if "rate limit" in line or "--rpm" in line]
    return started, wall, "; ".join(dict.fromkeys(notes))


def verdicts(scores: Path) -> dict[str, str]:
    document = json.loads(scores.read_text())
    return {f"{e['task_id']}#{e['trial']}": e["outcome"] for e in document["episodes"]}


def llm_args(agent_url: str, user_url: str, concurrency: int) -> list[str]:
    return [
        "--tasks", "tau2-airline", "--agent", "llm", "--agent-model", "scripted-agent",
        "--user-model", "scripted-user", "--base-url", agent_url, "--user-base-url", user_url,
        "--api-key-env", KEY_ENV, "--no-llm-cache", "--concurrency", str(concurrency),
    ]  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--code", type=Path, default=REPO, help="the checkout whose pytest is measured")
    parser.add_argument("--rps", type=float, default=5.0, help="requests a second the server allows")
    parser.add_argument("--latency", type=float, default=0.3, help="seconds per model answer")
    parser.add_argument("--only", default=",".join(RUNS), help=f"comma-separated: {', '.join(RUNS)}")
    args = parser.parse_args()
    os.environ[KEY_ENV] = "sk-bench-not-a-real-key"
    sys.path.insert(0, str(REPO))
    from taugepa.tasks.loading import load_tasks

    commit = subprocess.run(["git", "-C", str(args.code), "log", "-1", "--format=%h %s"], capture_output=True)
    print(f"measuring {args.code} ({commit.stdout.decode().strip()[:80]}); load {os.getloadavg()[0]:.2f}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="taugepa-bench-rate-") as folder:
        work = Path(folder)
        tasks = load_tasks(["tau2-airline"]).tasks
        plays = work / "plays.json"
        plays.write_text(
            json.dumps(
                {t.id: [{"name": "get_user_details", "kwargs": {"user_id": t.user_id}}] for t in tasks}
            )
        )
        server, url = start_server(plays, args.latency, None)
        try:
            _, wall, _ = run_pytest(args.code, llm_args(url, url, 8), work, work / "reference.json")
        finally:
            server.terminate()
            server.wait()
        reference = verdicts(work / "reference.json")
        print(
            f"reference (no limit, --concurrency 8): wall {wall:.1f} s, {dict(Counter(reference.values()))}"
        )
        for name in args.only.split(","):
            rows.append(measure(name, args, plays, work, reference))
    print()
    print(
        "| run | requests | 429s | errors | verdicts as unlimited | floor s | wall s | efficiency "
        "| to first request s | first request to last answer s | last answer to exit s |"
    )
    print("| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        print(
            f"| {row['run']} | {row['served']} | {row['refused']} | {row['errors']} | {row['same']} | "
            f"{row['floor']:.1f} | {row['wall']:.1f} | {row['efficiency']:.2f} | {row['start']:.1f} | "
            f"{row['span']:.1f} | {row['exit']:.1f} |"
        )
    return 0


def measure(name: str, args: argparse.Namespace, plays: Path, work: Path, reference: dict) -> dict:
    scores = work / f"{name}.json"
    servers = []
    try:
        if name == "rpm":  # a limit far above the cap: the server counts, the client keeps to --rpm
            servers.append(start_server(plays, args.latency, 1000.0))
        else:
            servers.append(start_server(plays, args.latency, args.rps))
        if name == "split":
            servers.append(start_server(plays, args.latency, args.rps / 2))
        agent_url = servers[0][1]
        user_url = servers[-1][1]
        if name.startswith("c"):
            extra = llm_args(agent_url, user_url, int(name[1:]))
        elif name == "rpm":
            extra = llm_args(agent_url, user_url, 16) + ["-n", "2", "--rpm", f"{args.rps * 60:g}"]
        elif name == "n2":
            extra = llm_args(agent_url, user_url, 16) + ["-n", "2"]
        else:
            extra = llm_args(agent_url, user_url, 16)
        started, wall, notes = run_pytest(args.code, extra, work, scores)
        served_stats = [stats(url) for _, url in servers]
    finally:
        for process, _ in servers:
            process.terminate()
            process.wait()
    served = sum(s["completions"] for s in served_stats)
    refused = sum(s.get("faults", {}).get("rate_limited", 0) for s in served_stats)
    if name == "split":
        floor = max(
            served_stats[0]["completions"] / args.rps, served_stats[1]["completions"] / (args.rps / 2)
        )
    else:
        floor = served / args.rps
    outcome = verdicts(scores)
    first = min(s["first_request_at"] for s in served_stats)
    last = max(s["last_answer_at"] for s in served_stats)
    row = {
        "run": {"n2": "-n 2 --concurrency 16", "split": "agent and user apart", "rpm": "-n 2 --rpm"}.get(
            name, f"--concurrency {name[1:]}"
        ),
        "served": served,
        "refused": refused,
        "errors": sum(1 for v in outcome.values() if v == "error"),
        "same": outcome == reference,
        "floor": floor,
        "wall": wall,
        "efficiency": floor / wall,
        "start": first - started,
        "span": last - first,
        "exit": started + wall - last,
    }
    line = f"{row['run']}: {row} load {os.getloadavg()[0]:.2f}"
    if name == "rpm":
        first, last = served_stats[0]["first_request_at"], served_stats[0]["last_answer_at"]
        rate = served / (last - first) if last and first and last > first else float("nan")
        busiest = served_stats[0]["rate_limit"]["max_per_second"]
        ten = served_stats[0]["rate_limit"]["max_per_10_seconds"]
        line += (
            f"; the server saw {rate:.2f} requests/s on average, at most {ten} in any 10 seconds and "
            f"{busiest} in any second (cap {args.rps:g}/s for both workers together)"
        )
    if notes:
        line += f"\n    the run said: {notes}"
    print(line, flush=True)
    return row


if __name__ == "__main__":
    sys.exit(main())
