"""`taugepa demo [--out DIR]`: the whole loop offline, in a few minutes, with no key and no model.

It starts the bundled scripted server (`python -m taugepa.testing.scripted_server`, an
OpenAI-compatible HTTP server on 127.0.0.1) and runs, through the real commands and APIs:

1. `pytest benchmarks` with the seed wiki (tau2's policy) on tau2's held-out tasks, over HTTP;
2. `taugepa optimize` on the generated tasks, with the scripted wiki-dependent agent and
   reflection model (they show the plumbing, not intelligence: see the README);
3. `pytest benchmarks` again with the optimized wiki, gated against the seed's run (a pass
   rate no lower, compliance at most 15 points lower);
4. `taugepa compare` of the two runs, and `taugepa report` of both;

then prints where each artifact is and the commands to run next with a real model.

Every step shows policy compliance beside the pass rate, and the demo's exit status is its
outcome's: 1 when the optimized wiki's benchmark or the comparison (`--require-better`:
better means passing more without breaking the policy more) fails. `--hasty-agent` plays an
agent that writes without asking the customer for a yes, and optimizes as earlier versions
did (the pass rate alone), to show the trade that compare catches.
"""

from __future__ import annotations

import argparse
import os
import queue
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from taugepa.testing.scripted_models import USER_MODEL
from taugepa.testing.scripted_optimizer import HASTY_AGENT_MODEL, REFLECTION_MODEL, WIKI_AGENT_MODEL

DEFAULT_OUT = "taugepa-demo"
KEY_ENV = "TAUGEPA_DEMO_KEY"  # the scripted server takes any key; a real key is never used or sent
HELD_OUT = "tau2-airline"  # the benchmark's tasks: never seen by the optimizer
TRAIN = "taugepa-airline"  # the optimizer's tasks
SERVER_START_S = 120


@dataclass(frozen=True)
class DemoSize:
    """How much the demo runs: `full` (under a minute on 2 cores) or `quick` (a first look; the tests)."""

    held_out: int | None  # tau2 tasks benchmarked (None: all 50)
    budget: int
    val_size: int
    train_size: int


SIZES = {
    "full": DemoSize(held_out=None, budget=100, val_size=12, train_size=30),
    "quick": DemoSize(held_out=20, budget=36, val_size=6, train_size=12),
}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="the whole loop offline (benchmark, optimize, compare, report) against scripted models",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--out",
        default=DEFAULT_OUT,
        metavar="DIR",
        help=f"a new or empty folder for everything the demo writes (default ./{DEFAULT_OUT})",
    )
    from taugepa.episode.options import HARNESS_OPTIONS
    from taugepa.options import add_arguments, pick

    add_arguments(parser, pick(HARNESS_OPTIONS, "protocol"))
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smaller run: 20 held-out tasks and an optimization budget of 36 episodes",
    )
    parser.add_argument(
        "--hasty-agent",
        action="store_true",
        help="an agent that writes without asking for a yes, optimized on the pass rate alone "
        "(--violation-penalty 0 --selection pass-rate): compare then shows the trade, and the demo fails",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from taugepa.episode.settings import DEFAULT_PROTOCOL
    from taugepa.errors import ConfigError
    from taugepa.optimize.adapter import default_benchmarks_dir

    out = Path(args.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(
            f"{out} exists and is not an empty folder: pass --out NEW_DIR (the demo never overwrites)"
        )
    size = SIZES["quick" if args.quick else "full"]
    suite = default_benchmarks_dir()  # the demo runs the real `pytest benchmarks`
    out.mkdir(parents=True, exist_ok=True)
    os.environ[KEY_ENV] = "demo-key-for-the-scripted-server"
    say = Steps()
    agent = HASTY_AGENT_MODEL if args.hasty_agent else WIKI_AGENT_MODEL
    protocol = args.protocol or DEFAULT_PROTOCOL
    with ScriptedServerProcess(out / "scripted-server.log") as server:
        say.step(f"scripted server: {server.base_url} (models: {', '.join(server.models)})")
        say.line(f"started as: {' '.join(server.command_for_humans)}")
        for line in SCRIPTED_CONDUCT["hasty" if args.hasty_agent else "careful"]:
            say.line(line)
        llm = ["--agent-model", agent, "--user-model", USER_MODEL, "--base-url", server.base_url]
        llm += ["--api-key-env", KEY_ENV, "--llm-cache", str(out / "llm-cache")]
        llm += ["--protocol", protocol]
        seed, _ = benchmark(say, "benchmark the seed wiki (tau2's policy)", suite, out, "seed", size, llm)
        best_wiki = optimize(say, out / "optimize", size, server.base_url, agent, args.hasty_agent, protocol)
        title = "benchmark the optimized wiki"
        gates = ["--baseline", str(seed), "--max-regression", "0", "--max-compliance-regression", "15%"]
        best, best_status = benchmark(say, title, suite, out, "best", size, llm, wiki=best_wiki, gates=gates)
        compared = compare(say, seed, best, out / "compare.json")
        report = out / "report.html"
        write_report_of(seed, best, report)
    say.step("where everything is")
    for line in artifact_lines(out, report, best_wiki):
        say.line(line)
    say.step("next, with a real model (export OPENAI_API_KEY=sk-... first; README: 'Optimize your wiki')")
    for line in next_commands():
        say.line(line)
    code, outcome = demo_outcome(best_status, compared)
    print(f"\ndemo outcome: {'PASS' if code == 0 else 'FAIL'} (exit status {code}): {outcome}")
    return code


# What the user should know about the scripted models' policy compliance (step 1).
SCRIPTED_CONDUCT = {
    "careful": [
        "the scripted agent makes a write only when its wiki has the sentence for it, and asks the",
        "customer for a yes first, as the sentence and the policy say; so it stays compliant, except",
        "where a task's own gold breaks a rule (tau2 has a few: the audit flags them, and an agent",
        "that performs them breaks the rule too). --hasty-agent shows an agent that does not ask.",
    ],
    "hasty": [
        "--hasty-agent: the scripted agent makes its writes without asking the customer for a yes,",
        "which breaks the policy's confirmation rule (confirm.write) on every write; the optimizer",
        "climbs the pass rate alone (--violation-penalty 0 --selection pass-rate, as earlier",
        "versions did), so it buys pass rate with violations, and compare says so.",
    ],
}


def demo_outcome(best_status: int, compared: tuple[int, str]) -> tuple[int, str]:
    """The demo's exit status: its outcome's, the optimized wiki's benchmark and the comparison."""
    code, reason = compared
    if code != 0:
        return 1, f"the comparison failed: {reason}"
    if best_status != 0:
        return 1, f"the optimized wiki's benchmark failed (exit status {best_status}; see step 4)"
    return 0, (
        "the optimized wiki is better on the held-out tasks: it passes significantly more, and its "
        "compliance is not significantly lower"
    )


class Steps:
    """Numbered steps and indented lines: the demo's output."""

    def __init__(self) -> None:
        self.number = 0

    def step(self, title: str) -> None:
        self.number += 1
        print(f"\n[{self.number}] {title}", flush=True)

    def line(self, text: str) -> None:
        print(f"    {text}", flush=True)


class ScriptedServerProcess:
    """`python -m taugepa.testing.scripted_server` on a free port, for the length of the demo."""

    def __init__(self, log: Path):
        self.log = log
        self.command_for_humans = [
            "python", "-m", "taugepa.testing.scripted_server",
            "--tasks", TRAIN, "--tasks", HELD_OUT, "--optimizer-models",
        ]  # fmt: skip
        self.process: subprocess.Popen[str] | None = None
        self.base_url = ""
        self.models: list[str] = []

    def __enter__(self) -> ScriptedServerProcess:
        from taugepa.errors import InfrastructureError

        command = [sys.executable, *self.command_for_humans[1:]]
        with self.log.open("w") as log:
            self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True)
        first_line: queue.Queue[str] = queue.Queue()
        stdout = self.process.stdout
        assert stdout is not None
        reader = threading.Thread(target=lambda: first_line.put(stdout.readline()), daemon=True)
        reader.start()
        try:
            self.base_url = first_line.get(timeout=SERVER_START_S).strip()
        except queue.Empty:
            self.base_url = ""
        if not self.base_url.startswith("http://127.0.0.1:"):
            self.__exit__()
            raise InfrastructureError(f"the scripted server did not start (see {self.log})")
        self.models = served_models(self.base_url)
        return self

    def __exit__(self, *exc_info: Any) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def served_models(base_url: str) -> list[str]:
    """What the server says it serves (GET /v1/models, as an OpenAI client would ask)."""
    import json
    from urllib.request import urlopen

    with urlopen(f"{base_url}/models", timeout=30) as answer:  # noqa: S310 (our own 127.0.0.1 server)
        return [model["id"] for model in json.load(answer)["data"]]


def benchmark(
    say: Steps,
    title: str,
    suite: Path,
    out: Path,
    label: str,
    size: DemoSize,
    llm: list[str],
    wiki: Path | None = None,
    gates: list[str] | None = None,
) -> tuple[Path, int]:
    """One `pytest benchmarks` run on the held-out tasks; prints its verdict lines (with compliance)."""
    scores, page = out / f"{label}-scores.json", out / f"{label}-pytest.html"
    cases = (
        [str(suite)]
        if size.held_out is None
        else [f"{suite / 'test_airline.py'}::test_task[tau2-{index}]" for index in range(size.held_out)]
    )
    command = [sys.executable, "-m", "pytest", *cases, "-p", "no:cacheprovider", "-q", "--tasks", HELD_OUT]
    command += [*llm, *(["--wiki", str(wiki)] if wiki else []), "--scores-out", str(scores)]
    command += ["--html", str(page), "--self-contained-html", *(gates or [])]
    tasks = "all 50" if size.held_out is None else f"the first {size.held_out}"
    say.step(f"{title} on {tasks} tasks of {HELD_OUT}, held out from optimization")
    shown = [*(["--wiki", str(wiki)] if wiki else []), *(gates or [])]
    say.line(f"pytest benchmarks --tasks {HELD_OUT} {' '.join(shown)} ...".replace("  ", " "))
    if gates:
        say.line("(gated against the seed's run: a pass rate no lower, compliance at most 15 points lower)")
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if not scores.exists():
        from taugepa.errors import InfrastructureError

        raise InfrastructureError(f"the benchmark wrote no scores file:\n{done.stdout[-2000:]}{done.stderr}")
    verdict = done.stdout.split("taugepa verdict", 1)[-1].splitlines()[1:]
    for line in verdict:
        if line.strip() and not line.startswith("each failure above"):
            say.line(line)
    if wiki is None and done.returncode != 0:
        say.line("(expected: the seed wiki lacks the sentences that teach the scripted agent its writes)")
    return scores, done.returncode


def optimize(
    say: Steps, run_dir: Path, size: DemoSize, base_url: str, agent: str, hasty: bool, protocol: str
) -> Path:
    """`taugepa optimize` in this process, through the command's own settings and run."""
    from taugepa.commands.optimize import build_settings
    from taugepa.commands.optimize import register as register_optimize
    from taugepa.llm.client import prepare_clients
    from taugepa.optimize.run import run_optimize

    arguments = [
        "optimize", "--tasks", TRAIN, "--agent-model", agent, "--user-model", USER_MODEL,
        "--reflection-model", REFLECTION_MODEL, "--base-url", base_url, "--api-key-env", KEY_ENV,
        "--budget", str(size.budget), "--val-size", str(size.val_size), "--train-size", str(size.train_size),
        "--minibatch-size", "3", "--run-dir", str(run_dir), "--concurrency", "8",
        "--llm-cache", str(run_dir.parent / "llm-cache"), "--protocol", protocol,
        *(["--violation-penalty", "0", "--selection", "pass-rate"] if hasty else []),
    ]  # fmt: skip
    say.step(f"optimize the wiki with GEPA on {TRAIN} (budget {size.budget} episodes)")
    chosen = " --violation-penalty 0 --selection pass-rate" if hasty else ""
    say.line(f"taugepa {' '.join(arguments[:9])} ... --run-dir {run_dir}{chosen}")
    parser = argparse.ArgumentParser(prog="taugepa")
    register_optimize(parser.add_subparsers())
    settings = build_settings(parser.parse_args(arguments))  # the command's own options and checks
    prepare_clients(settings.harness.llm)
    run_optimize(settings, say=say.line)
    return run_dir / "best_wiki.md"


def compare(say: Steps, seed: Path, best: Path, json_out: Path) -> tuple[int, str]:
    """`taugepa compare --require-better` of the two runs: the demo's outcome."""
    import json

    from taugepa.commands.compare import exit_decision
    from taugepa.files import write_json_atomically
    from taugepa.results.compare import compare_scores
    from taugepa.results.compare_verdict import compliance_lines
    from taugepa.results.scores import load_scores

    say.step("compare the seed and the optimized wiki on the held-out tasks")
    say.line(f"taugepa compare {seed.name} {best.name} --require-better")
    comparison = compare_scores(load_scores(seed), load_scores(best))
    write_json_atomically(json_out, json.loads(json.dumps(comparison.to_dict())))
    c = comparison
    say.line(f"pass rate {c.baseline_rate:.1%} -> {c.candidate_rate:.1%} on {len(c.tasks)} shared tasks")
    say.line(f"difference {c.delta:+.1%}  95% CI [{c.delta_interval.low:+.1%}, {c.delta_interval.high:+.1%}]")
    say.line(f"improved {len(c.improved)}, regressed {len(c.regressed)}")
    for line in compliance_lines(c.compliance, max_listed=6):
        say.line(line)
    say.line(f"verdict: {c.trade} (alpha {c.alpha})")
    code, reason = exit_decision(comparison, require_better=True)
    say.line(f"{'PASS' if code == 0 else 'FAIL'} (exit status {code}): {reason}")
    return code, reason


def write_report_of(seed: Path, best: Path, out: Path) -> None:
    from taugepa.results.report import write_report

    write_report([f"seed={seed}", f"optimized={best}"], out, "taugepa demo: seed vs optimized wiki")


def artifact_lines(out: Path, report: Path, best_wiki: Path) -> list[str]:
    rows = [
        (report, "the report: both runs side by side, every transcript (open it in a browser)"),
        (out / "seed-pytest.html", "pytest-html page of the seed run (best-pytest.html: the optimized run)"),
        (out / "seed-scores.json", "scores file of the seed run (best-scores.json: the optimized run)"),
        (best_wiki, "the optimized wiki; best_vs_seed.diff next to it shows what GEPA added"),
        (
            best_wiki.parent / "candidates.json",
            "every candidate: validation score, pass rate, compliance (val_scores.png)",
        ),
        (out / "compare.json", "the paired comparison"),
        (out / "scripted-server.log", "the scripted server's log"),
    ]
    width = max(len(str(path)) for path, _ in rows)
    return [f"{str(path):<{width}}  {what}" for path, what in rows]


def next_commands() -> list[str]:
    """What to run with a real model: the README's optimize recipe (one command and its page)."""
    return [
        "taugepa optimize --tasks taugepa-airline --test-tasks tau2-airline --test-trials 3 \\",
        "    --agent-model gpt-4o-mini --reflection-model gpt-4o --budget 400 --val-size 40 \\",
        "    --run-dir runs/opt1",
        "then open runs/opt1/transfer_report.html (the seed and the best wiki on tau2's 50 tasks),",
        "and gate CI on the best wiki: pytest --pyargs taugepa.benchmarks --wiki runs/opt1/best_wiki.md \\",
        "    --min-pass-rate X --min-compliance Y",
        "offline again: python -m taugepa.testing.scripted_server --tasks taugepa-airline --optimizer-models",
        "    prints its URL: use --base-url URL --agent-model scripted-wiki-agent --user-model scripted-user",
    ]
