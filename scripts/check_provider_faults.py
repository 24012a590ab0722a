"""Faults real providers and machines produce, each tried as a user would: the rows of issue 21.

Each case runs `pytest benchmarks` (or a `taugepa` command) from a source tree against the
scripted server behind `taugepa.testing.provider_proxy`, on 8 tau-bench v1 test tasks, and
prints one row: the exit status, the outcomes in the scores file, the line the user sees,
the requests made, and whether a rerun completes from the cache (its exit status and the
requests it made). Run it on an older tree for the "before" figures:

    python scripts/check_provider_faults.py                    # this tree
    python scripts/check_provider_faults.py --tree /tmp/base   # another tree (its benchmarks and code)
    python scripts/check_provider_faults.py --only refusal html_endpoint

The servers come from this tree; the code under test from `--tree`. A case that runs longer
than `--timeout` seconds is stopped and reported as such.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from taugepa.tasks.loading import load_tasks  # noqa: E402
from taugepa.testing.full_disk import file_size_limit  # noqa: E402
from taugepa.testing.provider_proxy import ProviderFaults, ProviderProxy, closed_url  # noqa: E402
from taugepa.testing.scripted_models import AGENT_MODEL, USER_MODEL  # noqa: E402
from taugepa.testing.scripted_server import ScriptedServer  # noqa: E402

KEY_ENV = "TAUGEPA_FAULTS_KEY"
KEY = "sk-check-provider-faults-4e7a1c9b"
TASK_COUNT = 8
ENDPOINT_TASK_COUNT = 50  # a wrong or dead endpoint: every test task, as a user's run has them


@dataclass
class Row:
    case: str
    exit: int | str
    outcomes: str
    line: str
    requests: int | str = ""
    seconds: float = 0.0
    rerun: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    counts: str = ""  # pytest's own last line (what it counted: passed, skipped, errors)


@dataclass
class Setup:
    tree: Path
    data: Path
    work: Path
    timeout: float
    tasks: list[Any]
    all_tasks: list[Any] = field(default_factory=list)

    @property
    def tasks_file(self) -> Path:
        return self.data / "tau-bench-v1" / "airline_test_tasks.json"

    @property
    def wiki(self) -> Path:
        return self.data / "tau-bench-v1" / "wiki.md"


def benchmark_command(setup: Setup, base_url: str, folder: Path, *extra: str) -> list[str]:
    command = [sys.executable, "-m", "pytest", str(setup.tree / "benchmarks"), "-p", "no:cacheprovider", "-q"]
    command += ["-p", "no:randomly", "--tasks", str(setup.tasks_file), "--wiki", str(setup.wiki)]
    command += ["-k", " or ".join(t.id for t in setup.tasks)]
    command += ["--agent-model", AGENT_MODEL, "--user-model", USER_MODEL, "--api-key-env", KEY_ENV]
    command += ["--base-url", base_url, "--scores-out", str(folder / "scores.json")]
    return [*command, *extra]


def run(
    setup: Setup, command: list[str], folder: Path, limit: int | None = None
) -> tuple[int | str, str, float]:
    env = {**os.environ, KEY_ENV: KEY, "PYTHONPATH": str(setup.tree), "TAUGEPA_CACHE_DIR": str(folder / "tc")}
    env.pop("PYTEST_ADDOPTS", None)
    started = time.monotonic()
    try:
        done = subprocess.run(
            command,
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            timeout=setup.timeout,
            preexec_fn=file_size_limit(limit) if limit else None,
            check=False,
        )
        status: int | str = done.returncode
        output = done.stdout + done.stderr
    except subprocess.TimeoutExpired as exc:
        status = f"still running after {setup.timeout:.0f} s (stopped)"
        output = _text(exc.stdout) + _text(exc.stderr)
    return status, output, time.monotonic() - started


def _text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else (value or "")


def outcomes(folder: Path, name: str = "scores.json") -> str:
    path = folder / name
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        return (
            "no scores file" if isinstance(exc, FileNotFoundError) else f"scores file unreadable ({exc})"[:80]
        )
    counts = document.get("summary", {}).get("counts", {})
    text = ", ".join(f"{counts[k]} {k}" for k in ("passed", "failed", "invalid", "error") if counts.get(k))
    ended = document.get("summary", {}).get("ended")
    if ended:
        text += " (ended: " + ", ".join(f"{v} {k}" for k, v in ended.items()) + ")"
    for mark in ("interrupted", "stopped"):
        if document.get(mark):
            text += f"; marked {mark}"
    return text or "no episode"


def the_line(output: str, *markers: str) -> str:
    """The line the user sees: the first line holding a marker, else the last line of the output."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for marker in markers:
        for line in lines:
            if marker in line:
                return line[:300]
    return (lines[-1] if lines else "(no output)")[:300]


def pytest_counts(output: str) -> str:
    """pytest's summary line (`1 skipped in 3.2s`), if there is one."""
    found = re.findall(
        r"^=*\s*(\d+ (?:passed|failed|skipped|errors?|deselected).*? in [\d.]+s.*?)=*$", output, re.M
    )
    return found[-1].strip() if found else ""


def benchmark_case(
    setup: Setup,
    name: str,
    faults: ProviderFaults | None,
    *extra: str,
    markers: tuple[str, ...] = (),
    rerun: bool = True,
    url: str | None = None,
    limit: int | None = None,
) -> Row:
    folder = setup.work / name
    folder.mkdir()
    cache = ["--llm-cache", str(folder / "cache")]
    with ScriptedServer(setup.tasks, api_key=KEY) as server:
        proxy = ProviderProxy(server.base_url, faults or ProviderFaults()).start()
        try:
            base_url = url or proxy.base_url
            status, output, seconds = run(
                setup, benchmark_command(setup, base_url, folder, *cache, *extra), folder, limit
            )
            requests = server.stats()["requests"]
            row = Row(name, status, outcomes(folder), the_line(output, *markers), requests, round(seconds, 1))
            row.counts = pytest_counts(output)
            if rerun:  # the same endpoint URL (it is part of the cache key)
                before = server.stats()["requests"]
                again = benchmark_command(setup, base_url, folder, *cache, *extra)
                again[again.index("--scores-out") + 1] = str(folder / "rerun.json")
                status2, _, _ = run(setup, again, folder, limit)
                made = server.stats()["requests"] - before
                row.rerun = f"exit {status2}, {made} requests, {outcomes(folder, 'rerun.json')}"
        finally:
            proxy.stop()
    return row


def case_clean(setup: Setup) -> Row:
    with ScriptedServer(setup.tasks, api_key=KEY) as server, ProviderProxy(server.base_url) as proxy:
        folder = setup.work / "clean"
        folder.mkdir()
        status, output, seconds = run(
            setup, benchmark_command(setup, proxy.base_url, folder, "--no-llm-cache"), folder
        )
        setup.largest = proxy.largest_request  # type: ignore[attr-defined]
    return Row("clean", status, outcomes(folder), the_line(output), "", round(seconds, 1))


def case_context_overflow(setup: Setup) -> Row:
    limit = getattr(setup, "largest", 6000) * 9 // 10
    return benchmark_case(
        setup, "context_overflow", ProviderFaults(context_tokens=limit), markers=("context", "FAIL", "PASS")
    )


def case_answer_cut(setup: Setup) -> Row:
    return benchmark_case(setup, "answer_cut", ProviderFaults(finish={1: "length"}), markers=("pass rate",))


def case_content_filter(setup: Setup) -> Row:
    return benchmark_case(
        setup, "content_filter", ProviderFaults(finish={1: "content_filter"}), markers=("pass rate",)
    )


def case_refusal(setup: Setup) -> Row:
    return benchmark_case(setup, "refusal", ProviderFaults(finish={1: "refusal"}), markers=("pass rate",))


def case_html_endpoint(setup: Setup) -> Row:
    return benchmark_case(
        every_task(setup),
        "html_endpoint",
        ProviderFaults(html=True),
        markers=("stopped", "taugepa:"),
        rerun=False,
    )


def every_task(setup: Setup) -> Setup:
    return Setup(setup.tree, setup.data, setup.work, setup.timeout, setup.all_tasks[:ENDPOINT_TASK_COUNT])


def case_dies_mid_run(setup: Setup) -> Row:
    return benchmark_case(
        every_task(setup),
        "dies_mid_run",
        ProviderFaults(die_after=150),
        markers=("stopped", "taugepa:"),
        rerun=False,
    )


def case_unreachable(setup: Setup) -> Row:
    return benchmark_case(
        setup, "unreachable", None, url=closed_url(), markers=("cannot reach", "skipped"), rerun=False
    )


def case_unreachable_n2(setup: Setup) -> Row:
    return benchmark_case(
        setup,
        "unreachable_n2",
        None,
        "-n",
        "2",
        url=closed_url(),
        markers=("cannot reach", "skipped"),
        rerun=False,
    )


def case_cost_cached(setup: Setup) -> Row:
    row = benchmark_case(setup, "cost_cached", None, markers=("cost",))
    folder = setup.work / "cost_cached"
    fresh, cached = (_cost(folder / name) for name in ("scores.json", "rerun.json"))
    row.line = f"fresh: {fresh} · cached: {cached}"
    return row


def _cost(path: Path) -> str:
    try:
        usage = json.loads(path.read_text())["summary"]["usage"]
    except (OSError, ValueError, KeyError):
        return "no scores file"
    return f"cost_usd={usage.get('cost_usd')!r}"


def case_scores_full_disk(setup: Setup) -> Row:
    return benchmark_case(
        setup, "scores_full_disk", None, markers=("scores file", "Error", "PASS", "FAIL"), limit=65536
    )


def case_html_full_disk(setup: Setup) -> Row:
    folder = setup.work / "html_full_disk"
    row = benchmark_case(
        setup,
        "html_full_disk",
        None,
        "--html",
        str(folder / "report.html"),
        markers=("taugepa: error: the HTML", "Error", "PASS", "FAIL"),
        limit=65536,
    )
    page = folder / "report.html"
    row.extra["report.html"] = f"{page.stat().st_size} bytes" if page.exists() else "absent"
    return row


# ---- taugepa optimize: the reflection model, and a candidate that grows -------------------------


def optimize_case(setup: Setup, name: str, faults: ProviderFaults, *extra: str, resume: bool = False) -> Row:
    """`taugepa optimize` on the built-in tasks with the scripted optimizer models behind the proxy."""
    from taugepa.testing.scripted_optimizer import EXTRA_MODELS, REFLECTION_MODEL, WIKI_AGENT_MODEL

    folder = setup.work / name
    folder.mkdir()
    tasks = load_tasks(["taugepa-airline"]).tasks
    run_dir = folder / "run"
    with ScriptedServer(tasks, api_key=KEY, extra_models=EXTRA_MODELS) as server:
        with ProviderProxy(server.base_url, faults) as proxy:
            command = [sys.executable, "-c", "import sys; from taugepa.cli import main; sys.exit(main())"]
            command += ["optimize", "--tasks", "taugepa-airline", "--agent-model", WIKI_AGENT_MODEL]
            command += ["--user-model", USER_MODEL, "--reflection-model", REFLECTION_MODEL]
            command += ["--base-url", proxy.base_url, "--api-key-env", KEY_ENV, "--budget", "120"]
            command += ["--val-size", "10", "--minibatch-size", "3", "--train-size", "24"]
            command += ["--run-dir", str(run_dir), "--concurrency", "8", "--llm-cache", str(folder / "cache")]
            status, output, seconds = run(setup, [*command, *extra], folder)
            markers = ("error:", "warning: the", "best validation score")
            row = Row(name, status, _candidates(run_dir), the_line(output, *markers))
            row.requests, row.seconds = server.stats()["requests"], round(seconds, 1)
            if proxy.answered:
                row.extra["the proxy answered"] = dict(proxy.answered)
            if resume:  # the reflection model answers again, at the same address
                proxy.faults = ProviderFaults()
                status2, output2, _ = run(setup, [*command, *extra], folder)
                resumed = "resuming" if "resuming the run" in output2 else "started afresh"
                row.rerun = f"exit {status2}, {resumed}, {_candidates(run_dir)}"
    return row


def _candidates(run_dir: Path) -> str:
    try:
        document = json.loads((run_dir / "candidates.json").read_text())
    except (OSError, ValueError):
        return "no candidates.json"
    longest = max(len(c["wiki"]) for c in document["candidates"])
    failed = document.get("failed_proposals")
    count, best_score = len(document["candidates"]), document["best_score"]
    text = f"{count} candidates, best {best_score:.2f}, longest wiki {longest:,} chars"
    best = run_dir / "best_wiki.md"
    if best.exists():
        text += f", best_wiki.md {best.stat().st_size:,} bytes"
    return text + (f", {len(failed)} failed proposals" if failed is not None else "")


def case_reflection_empty_once(setup: Setup) -> Row:
    from taugepa.testing.scripted_optimizer import REFLECTION_MODEL

    faults = ProviderFaults(replace={REFLECTION_MODEL: "```\n```"}, replace_count=1)
    return optimize_case(setup, "reflection_empty_once", faults)


def case_reflection_empty_always(setup: Setup) -> Row:
    from taugepa.testing.scripted_optimizer import REFLECTION_MODEL

    return optimize_case(
        setup, "reflection_empty_always", ProviderFaults(replace={REFLECTION_MODEL: ""}), resume=True
    )


def case_reflection_huge(setup: Setup) -> Row:
    from taugepa.testing.scripted_optimizer import REFLECTION_MODEL, rule_sentence
    from taugepa.world.engine import DEFAULT_POLICY_PATH, write_tool_names

    # the policy, every rule the scripted agent needs (so GEPA accepts it) and 200 KB more
    rules = "\n".join(rule_sentence(tool) for tool in sorted(write_tool_names()))
    padding = "Always be courteous and precise with every customer. " * 3800
    huge = "```\n" + DEFAULT_POLICY_PATH.read_text() + "\n" + rules + "\n" + padding + "\n```"
    return optimize_case(
        setup, "reflection_huge", ProviderFaults(replace={REFLECTION_MODEL: huge}, replace_count=2)
    )


def case_optimize_overflow(setup: Setup) -> Row:
    from taugepa.testing.scripted_optimizer import REFLECTION_MODEL
    from taugepa.world.engine import DEFAULT_POLICY_PATH

    policy = DEFAULT_POLICY_PATH.read_text()
    grown = "```\n" + policy + "\n" + "Be careful. " * 1500 + "\n```"
    faults = ProviderFaults(
        replace={REFLECTION_MODEL: grown}, replace_count=1, context_tokens=(len(policy) + 20_000) // 4
    )
    return optimize_case(setup, "optimize_overflow", faults)


# ---- loaders ------------------------------------------------------------------------------------


def command_case(setup: Setup, name: str, make: Callable[[Path], list[str]]) -> Row:
    folder = setup.work / name
    folder.mkdir()
    command = [
        sys.executable,
        "-c",
        "import sys; from taugepa.cli import main; sys.exit(main())",
        *make(folder),
    ]
    status, output, seconds = run(setup, command, folder)
    last = [line for line in output.splitlines() if line.strip()]
    line = next((x for x in last if x.startswith(("taugepa: error", "TypeError", "Traceback"))), "")
    errors = [x for x in last if "Error" in x and not x.startswith(" ")]
    return Row(
        name,
        status,
        f"{len(output.splitlines())} lines of output",
        errors[-1] if errors else line or the_line(output),
        seconds=round(seconds, 1),
    )


def _task_file(setup: Setup, folder: Path, damage: Callable[[list[dict[str, Any]]], None]) -> Path:
    entries = json.loads(setup.tasks_file.read_text())
    damage(entries)
    path = folder / "tasks.json"
    path.write_text(json.dumps(entries))
    return path


def _wrong_types(entries: list[dict[str, Any]]) -> None:
    for entry in entries:
        for action in entry["actions"]:
            if action["name"] == "book_reservation":
                action["kwargs"]["passengers"] = 3
                return


def case_task_wrong_types(setup: Setup) -> Row:
    return command_case(
        setup,
        "task_wrong_types",
        lambda folder: [
            "audit",
            "--tasks",
            str(_task_file(setup, folder, _wrong_types)),
            "--out",
            str(folder / "a.json"),
        ],
    )


def case_task_null_kwargs(setup: Setup) -> Row:
    def damage(entries: list[dict[str, Any]]) -> None:
        entries[0]["actions"][0]["kwargs"] = None

    return command_case(
        setup,
        "task_null_kwargs",
        lambda folder: [
            "audit",
            "--tasks",
            str(_task_file(setup, folder, damage)),
            "--out",
            str(folder / "a.json"),
        ],
    )


def case_scores_without_run(setup: Setup) -> Row:
    def make(folder: Path) -> list[str]:
        clean = setup.work / "clean" / "scores.json"
        document = (
            json.loads(clean.read_text())
            if clean.exists()
            else {"format": "taugepa-scores", "version": 1, "episodes": []}
        )
        document.pop("run", None)
        (folder / "scores.json").write_text(json.dumps(document))
        return ["report", str(folder / "scores.json"), "--out", str(folder / "report.html")]

    return command_case(setup, "scores_without_run", make)


CASES: dict[str, Callable[[Setup], Row]] = {
    "clean": case_clean,
    "context_overflow": case_context_overflow,
    "answer_cut": case_answer_cut,
    "content_filter": case_content_filter,
    "refusal": case_refusal,
    "html_endpoint": case_html_endpoint,
    "dies_mid_run": case_dies_mid_run,
    "unreachable": case_unreachable,
    "unreachable_n2": case_unreachable_n2,
    "cost_cached": case_cost_cached,
    "scores_full_disk": case_scores_full_disk,
    "html_full_disk": case_html_full_disk,
    "reflection_empty_once": case_reflection_empty_once,
    "reflection_empty_always": case_reflection_empty_always,
    "reflection_huge": case_reflection_huge,
    "optimize_overflow": case_optimize_overflow,
    "task_wrong_types": case_task_wrong_types,
    "task_null_kwargs": case_task_null_kwargs,
    "scores_without_run": case_scores_without_run,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--tree", type=Path, default=REPO, help="the source tree to check (default: this one)"
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(os.environ.get("TAUGEPA_SHARED_DATA", REPO.parent / "shared" / "data")),
    )
    parser.add_argument("--only", nargs="*", choices=sorted(CASES), help="run only these cases")
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds before a case is stopped")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()
    every = load_tasks([str(args.data / "tau-bench-v1" / "airline_test_tasks.json")]).tasks
    rows = []
    with tempfile.TemporaryDirectory(prefix="taugepa-faults-") as work:
        setup = Setup(args.tree.resolve(), args.data, Path(work), args.timeout, every[:TASK_COUNT], every)
        names = args.only or list(CASES)
        if "context_overflow" in names and "clean" not in names:
            names = ["clean", *names]
        for name in names:
            row = CASES[name](setup)
            rows.append(row)
            print(f"{row.case}: exit {row.exit} · {row.outcomes} · {row.requests} requests · {row.seconds} s")
            print(f"    line: {row.line}")
            if row.counts:
                print(f"    pytest: {row.counts}")
            if row.rerun:
                print(f"    rerun: {row.rerun}")
            for key, value in row.extra.items():
                print(f"    {key}: {value}")
            sys.stdout.flush()
    if args.json:
        args.json.write_text(json.dumps([row.__dict__ for row in rows], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
