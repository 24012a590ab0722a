"""Measure the whole `pytest benchmarks` command as a user runs it (run by hand; prints everything).

    python scripts/bench_command.py [--only llm,scaling] [--repeat N] [--python OTHER/.venv/bin/python]

Episodes are cheap; users pay for the whole command. This script times the `pytest` command
of a virtual environment from the moment it is started to the moment its process exits,
twice for each workload: with cold caches (an empty `TAUGEPA_CACHE_DIR`: gold, audit and
world caches, and the bytecode cache when PYTHONDONTWRITEBYTECODE is set) and then warm
(the same folder again). The OS file cache is not dropped. It reports:

- LLM workloads through `pytest benchmarks --concurrency 16 --no-llm-cache` against
  `taugepa.testing.scripted_server` in its own process, answering after a fixed latency:
  `medium-120` (120 valid synthetic medium tasks, the scripted agent plays each task's gold)
  and `tau2-50` (tau2's 50 airline tasks, the scripted agent makes one read call per task:
  4 requests per episode, 200 in all, an ideal run of 200 x 0.3 s / 16 = 3.75 s). Figures:
  time to the first request (command start to the server receiving it), time from the last
  answer to process exit, wall, requests, whole-command efficiency = requests x latency /
  slots / wall, and the best efficiency possible for these episodes started in order.
- scaling: `pytest benchmarks --agent oracle` on the 300 built-in tasks, serially, with
  `-n 2` and with `-n 10`: wall, time from the last test report to exit, the `-n 10` / `-n 2`
  ratio, and whether the scores files are identical apart from timing.
- which heavy libraries each run imported, how many taugepa modules pytest's assertion
  rewriter loaded, and the CPU seconds each pytest process spent, before its first test and in
  all (through `scripts/bench_probe.py`, a tiny plugin loaded with PYTEST_PLUGINS): CPU time
  says more than wall time on a loaded machine.
- floor: 300 empty tests with `-n 2` and `-n 10`, what pytest-xdist costs by itself here.

`--python` measures another checkout's environment (e.g. the main branch before a change:
`git worktree add /tmp/before main && python3 -m venv /tmp/before/.venv &&
/tmp/before/.venv/bin/pip install -e /tmp/before`); the scripted server and the task
files always come from this checkout. Timings on a loaded machine are noisy: the load
average is printed before every run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent
REPO = SCRIPTS.parent
DEFAULT_DATA = Path(os.environ.get("TAUGEPA_SHARED_DATA") or REPO.parent / "shared" / "data")
KEY_ENV = "TAUGEPA_BENCH_KEY"
# pytest plugins that only the `test` extra brings (pip install -e '.[test]'): a user's install
# (pip install -e .) has none of them, so they are turned off to measure what a user waits for.
# hypothesis's alone imports all of hypothesis in its terminal summary: over a second per run.
TEST_ONLY_PLUGINS = {"hypothesispytest": "hypothesis"}
sys.path.insert(0, str(SCRIPTS))

from bench_llm import in_order_bound, server_stats  # noqa: E402


def load() -> str:
    return "load average " + " ".join(f"{value:.2f}" for value in os.getloadavg())


class Command:
    """The `pytest` of one virtual environment, run as a user runs it, with the probe plugin."""

    def __init__(self, python: Path, test_plugins: bool = False):
        self.python = python
        self.pytest = python.parent / "pytest"
        where = "import pathlib, pytest_taugepa; print(pathlib.Path(pytest_taugepa.__file__).parent.parent)"
        found = subprocess.run([str(python), "-c", where], capture_output=True, text=True, check=True)
        self.repo = Path(found.stdout.strip())
        plugins = (
            "from importlib.metadata import entry_points\n"
            "print(' '.join(sorted(ep.name for ep in entry_points(group='pytest11'))))"
        )
        listed = subprocess.run([str(python), "-c", plugins], capture_output=True, text=True, check=True)
        found_plugins = set(listed.stdout.split()) & set(TEST_ONLY_PLUGINS)
        self.test_only_plugins = [] if test_plugins else sorted(found_plugins)
        commit = subprocess.run(
            ["git", "-C", str(self.repo), "log", "-1", "--format=%h %s"], capture_output=True, text=True
        )
        self.commit = commit.stdout.strip() or "unknown commit"

    def run(self, args: list[str], cache_dir: Path, work: Path) -> dict:
        probe = Path(tempfile.mkdtemp(prefix="probe-", dir=work))
        env = {
            **os.environ,
            "TAUGEPA_CACHE_DIR": str(cache_dir),
            "TAUGEPA_BENCH_PROBE": str(probe),
            "PYTEST_PLUGINS": "bench_probe",
            "PYTEST_ADDOPTS": " ".join(f"-p no:{name}" for name in self.test_only_plugins),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(SCRIPTS), os.environ.get("PYTHONPATH")])),
        }
        before = load()
        cpu_before = _children_cpu()
        started = time.time()
        run = subprocess.run(
            [str(self.pytest), str(self.repo / "benchmarks"), *args],
            capture_output=True,
            text=True,
            cwd=work,
            env=env,
        )
        exited = time.time()
        if run.returncode not in (0, 1):
            sys.exit(f"pytest failed ({run.returncode}):\n{run.stdout[-3000:]}\n{run.stderr[-2000:]}")
        records = {path.stem: json.loads(path.read_text()) for path in probe.glob("*.json")}
        controller = records.get("controller", {})
        steps = dict(controller.get("tail", {}))
        cpu_at_end = steps.pop("cpu_at_sessionfinish", None)
        atexit_file, last_file = probe / "controller.atexit", probe / "controller.atexit_last"
        last = json.loads(last_file.read_text()) if last_file.is_file() else {}
        tail = {
            "last verdict": controller.get("last_report_at"),
            **steps,
            "atexit": float(atexit_file.read_text()) if atexit_file.is_file() else None,
            "atexit_last": last.get("at"),
            "exit": exited,
        }
        cpu_total = _children_cpu() - cpu_before
        tail_cpu = {
            "after_last_verdict": cpu_total - cpu_at_end if cpu_at_end is not None else None,
            "teardown": cpu_total - last["cpu"] if "cpu" in last else None,
            "modules": last.get("modules"),
        }
        return {
            "started": started,
            "exited": exited,
            "wall": exited - started,
            "last_report_to_exit": exited - controller["last_report_at"]
            if controller.get("last_report_at")
            else None,
            "first_test": (controller["first_setup_at"] - started)
            if controller.get("first_setup_at")
            else None,
            "heavy": {name: record["heavy_imported"] for name, record in sorted(records.items())},
            "rewritten": max((r["taugepa_modules_rewritten"] for r in records.values()), default=0),
            "cpu_before_first_test": {name: r.get("cpu_before_first_setup") for name, r in records.items()},
            "cpu_total": {name: r.get("cpu_total") for name, r in sorted(records.items())},
            "load": before,
            "tail": run.stdout.strip().splitlines()[-1] if run.stdout.strip() else "",
            "tail_steps": {step: at for step, at in tail.items() if at is not None},
            "tail_cpu": tail_cpu,
        }


def heavy_line(result: dict) -> str:
    controller = result["heavy"].get("controller", [])
    workers = sorted(
        {name for key, names in result["heavy"].items() if key != "controller" for name in names}
    )
    line = f"    imported: {', '.join(controller) or 'none of the heavy libraries'}"
    if workers:
        line += f"; in workers: {', '.join(workers)}"
    line += f"; taugepa modules rewritten by pytest: {result['rewritten']}"
    before = {name: cpu for name, cpu in result["cpu_before_first_test"].items() if cpu is not None}
    if before:
        shown = ", ".join(f"{name} {cpu:.2f}" for name, cpu in before.items())
        line += f"\n    CPU seconds before the first test starts: {shown}"
    total = sum(cpu for cpu in result["cpu_total"].values() if cpu is not None)
    return line + f"; CPU seconds in all pytest processes: {total:.2f}"


def _children_cpu() -> float:
    """CPU seconds of the child processes this script has waited for (the pytest commands)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def tail_line(steps: dict[str, float], last_answer_at: float, cpu: dict) -> str:
    """Where the time from the server's last answer to the process's exit goes, step by step.

    The steps are the controller's (`bench_probe`): its last test report (the last verdict),
    pytest's sessionfinish (every case reported; the scores file and gates), the terminal
    summary, unconfigure, the atexit handlers (after pytest returned and threads were joined),
    and the exit as this script sees it (interpreter teardown, process reaped).
    """
    parts, previous = [], last_answer_at
    for step, at in sorted(steps.items(), key=lambda item: item[1]):
        parts.append(f"{step} +{at - previous:.3f}")
        previous = at
    line = f"    after the last answer: {' · '.join(parts)} = {previous - last_answer_at:.3f} s"
    if cpu.get("after_last_verdict") is not None and cpu.get("teardown") is not None:
        line += (
            f"; CPU seconds from sessionfinish to exit {cpu['after_last_verdict']:.3f}, "
            f"of which the interpreter's teardown {cpu['teardown']:.3f} ({cpu['modules']} modules)"
        )
    return line


def comparable(scores_path: Path) -> dict:
    """A scores file without what may differ between identical runs (timing, durations)."""
    scores = json.loads(scores_path.read_text())
    scores.pop("timing", None)
    scores["run"].pop("concurrency", None)
    for entry in scores["episodes"]:
        entry.pop("duration_s", None)
    return scores


# --- LLM workloads --------------------------------------------------------------------------


def llm_workloads(data: Path, work: Path) -> dict[str, dict]:
    """The task files (and plays) of the two LLM workloads, written to `work`."""
    from taugepa.tasks.gold import GoldCache
    from taugepa.tasks.loading import load_tasks

    gold = GoldCache(work / "gold-for-selection")
    medium = load_tasks([str(data / "synthetic" / "validated_tasks_medium_with_instructions.json")]).tasks
    valid = [task for task in medium if gold.get(task).valid][:120]
    medium_file = work / "medium_tasks.json"
    medium_file.write_text(json.dumps([task.to_v1_dict() for task in valid]))
    tau2 = load_tasks(["tau2-airline"]).tasks
    plays = {task.id: [{"name": "get_user_details", "kwargs": {"user_id": task.user_id}}] for task in tau2}
    plays_file = work / "tau2_plays.json"
    plays_file.write_text(json.dumps(plays))
    return {
        "medium-120": {
            "tasks": str(medium_file),
            "plays": None,
            "wiki": str(data / "tau-bench-v1" / "wiki.md"),
        },
        "tau2-50": {"tasks": "tau2-airline", "plays": str(plays_file), "wiki": None},
    }


def start_server(workload: dict, latency: float) -> tuple[subprocess.Popen, str]:
    command = [sys.executable, "-m", "taugepa.testing.scripted_server", "--tasks", workload["tasks"]]
    command += ["--latency", str(latency)] + (["--plays", workload["plays"]] if workload["plays"] else [])
    env = {**os.environ, "PYTHONPATH": str(REPO)}  # this checkout's server, whatever --python measures
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


def measure_llm(
    command: Command, name: str, workload: dict, args: argparse.Namespace, work: Path
) -> list[dict]:
    results = []
    cache_dir = Path(tempfile.mkdtemp(prefix="cache-", dir=work))
    process, base_url = start_server(workload, args.latency)
    try:
        for temperature in ("cold", "warm"):
            for repeat in range(args.repeat if temperature == "warm" else 1):
                before = server_stats(base_url)["requests"]
                scores = work / f"{name}-{temperature}-{repeat}.json"
                pytest_args = [
                    "-q", "--tasks", workload["tasks"], "--agent", "llm", "--agent-model", "scripted-agent",
                    "--user-model", "scripted-user", "--base-url", base_url, "--api-key-env", KEY_ENV,
                    "--concurrency", str(args.concurrency), "--no-llm-cache", "--scores-out", str(scores),
                    *(["--wiki", workload["wiki"]] if workload["wiki"] else []),
                ]  # fmt: skip
                result = command.run(pytest_args, cache_dir, work)
                stats = server_stats(base_url)
                requests = stats["requests"] - before
                episodes = json.loads(scores.read_text())["episodes"]
                per_episode = [
                    sum((e.get("usage", {}).get(side) or {}).get("requests", 0) for side in ("agent", "user"))
                    for e in episodes
                ]
                ideal = requests * args.latency / args.concurrency
                result.update(
                    temperature=temperature,
                    requests=requests,
                    ideal=ideal,
                    efficiency=ideal / result["wall"],
                    bound=in_order_bound([n for n in per_episode if n], args.concurrency),
                    first_request=stats["first_request_at"] - result["started"],
                    after_last_answer=result["exited"] - stats["last_answer_at"],
                    # the server's own view: its last answer to the client's connections closing
                    server_tail=(stats.get("last_disconnect_at") or float("nan")) - stats["last_answer_at"],
                    verdicts=dict(Counter(e["outcome"] for e in episodes)),
                )
                results.append(result)
                print(
                    f"  {name} {temperature}: wall {result['wall']:.2f} s, {requests} requests, "
                    f"ideal {ideal:.2f} s, efficiency {result['efficiency']:.3f} (best possible in order "
                    f"{result['bound']:.3f}); first request {result['first_request']:.2f} s after start "
                    f"(first test {result['first_test']:.2f} s); "
                    f"exit {result['after_last_answer']:.2f} s after the last answer "
                    f"(the server saw the connections close {result['server_tail']:.2f} s after it); "
                    f"verdicts {result['verdicts']} [{result['load']} before]",
                    flush=True,
                )
                print(
                    tail_line(result["tail_steps"], stats["last_answer_at"], result["tail_cpu"]), flush=True
                )
                print(heavy_line(result), flush=True)
                # the next run's first request must not be confused with this one's
                process.terminate()
                process.wait()
                process, base_url = start_server(workload, args.latency)
    finally:
        process.terminate()
        process.wait()
    return results


# --- scaling --------------------------------------------------------------------------------


def measure_scaling(command: Command, args: argparse.Namespace, work: Path) -> dict:
    figures: dict[str, dict[str, list[float]]] = {}
    files = []
    for workers in args.workers:
        label = f"-n {workers}" if workers else "serial"
        cache_dir = Path(tempfile.mkdtemp(prefix="cache-", dir=work))  # cold: an empty cache folder
        for temperature in ("cold", "warm"):
            for repeat in range(args.repeat if temperature == "warm" else 1):
                scores = work / f"oracle-n{workers}-{temperature}-{repeat}.json"
                pytest_args = ["-q", "--agent", "oracle", "--scores-out", str(scores)]
                pytest_args += ["-n", str(workers)] if workers else []
                result = command.run(pytest_args, cache_dir, work)
                files.append(scores)
                figures.setdefault(temperature, {}).setdefault(label, []).append(result["wall"])
                print(
                    f"  oracle {label} {temperature}: wall {result['wall']:.2f} s, exit "
                    f"{result['last_report_to_exit']:.2f} s after the last test report; {result['tail']} "
                    f"[{result['load']} before]",
                    flush=True,
                )
                print(heavy_line(result), flush=True)
    reference = comparable(files[0])
    identical = all(comparable(path) == reference for path in files)
    print(f"  all {len(files)} scores files identical apart from timing: {identical}")
    for temperature, by_label in figures.items():
        if "-n 2" in by_label and "-n 10" in by_label:
            ratio = statistics.median(by_label["-n 10"]) / statistics.median(by_label["-n 2"])
            print(f"  {temperature}: -n 10 / -n 2 wall = {ratio:.2f} (medians)")
    return figures


def measure_floor(command: Command, args: argparse.Namespace, work: Path) -> None:
    """What pytest-xdist costs by itself here: 300 empty tests, `-n 2` against `-n 10`."""
    suite = work / "floor"
    suite.mkdir(exist_ok=True)
    (suite / "test_empty.py").write_text(
        "import pytest\n\n\n@pytest.mark.parametrize('i', range(300))\ndef test_nothing(i):\n    pass\n"
    )
    walls: dict[int, list[float]] = {}
    for workers in (2, 10):
        for _ in range(max(1, args.repeat)):
            env = {
                **os.environ,
                "PYTHONPATH": os.pathsep.join(filter(None, [str(SCRIPTS), os.environ.get("PYTHONPATH")])),
            }
            started = time.time()
            options = ["-q", "-p", "no:cacheprovider", "-p", "no:anyio", "-n", str(workers)]
            options += [option for name in command.test_only_plugins for option in ("-p", f"no:{name}")]
            subprocess.run(
                [str(command.pytest), str(suite), *options], capture_output=True, cwd=suite, env=env
            )
            walls.setdefault(workers, []).append(time.time() - started)
            print(f"  300 empty tests -n {workers}: wall {walls[workers][-1]:.2f} s [{load()}]", flush=True)
    ratio = statistics.median(walls[10]) / statistics.median(walls[2])
    print(f"  pytest-xdist alone: -n 10 / -n 2 wall = {ratio:.2f} (the floor for the oracle's ratio)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--python", type=Path, default=Path(sys.executable), help="the environment to measure"
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--only", default="llm,scaling,floor", help="comma-separated: llm, scaling, floor")
    parser.add_argument("--repeat", type=int, default=1, help="warm runs per measurement")
    parser.add_argument("--latency", type=float, default=0.3, help="seconds per model answer")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=lambda text: [int(n) for n in text.split(",")], default=[2, 10, 0])
    parser.add_argument("--workloads", default="medium-120,tau2-50")
    parser.add_argument(
        "--with-test-plugins",
        action="store_true",
        help="keep the test extra's pytest plugins (hypothesis's), as a developer's environment has them",
    )
    args = parser.parse_args()
    os.environ[KEY_ENV] = "sk-bench-not-a-real-key"
    command = Command(args.python.absolute(), test_plugins=args.with_test_plugins)
    only = set(args.only.split(","))
    print(
        f"measuring {command.repo} ({command.commit}) with {command.pytest}; {os.cpu_count()} CPUs, "
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', '')!r}; {load()}",
        flush=True,
    )
    if command.test_only_plugins:
        names = ", ".join(f"{name} ({TEST_ONLY_PLUGINS[name]})" for name in command.test_only_plugins)
        print(f"turned off, as a user's install (pip install -e .) has none: pytest plugins {names}")
    with tempfile.TemporaryDirectory(prefix="taugepa-bench-command-") as folder:
        work = Path(folder)
        if "llm" in only:
            workloads = llm_workloads(args.data, work)
            print(
                f"LLM workloads: latency {args.latency * 1000:.0f} ms, --concurrency {args.concurrency}, "
                "no response cache"
            )
            for name in args.workloads.split(","):
                measure_llm(command, name, workloads[name], args, work)
        if "scaling" in only:
            print("scaling: pytest benchmarks --agent oracle (300 built-in tasks)")
            measure_scaling(command, args, work)
        if "floor" in only:
            print("reference: pytest and pytest-xdist with nothing to run")
            measure_floor(command, args, work)
    print(f"done; {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
