"""`taugepa generate`: seeded, reproducible, policy-compliant airline tasks in tau-bench v1 format."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from taugepa.episode.options import HARNESS_OPTIONS
from taugepa.options import add_arguments, pick


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "generate",
        help="generate policy-compliant airline tasks from the engine's database (seeded, reproducible)",
        description="Generate tasks in tau-bench v1 format: bookings, flight and cabin changes, bags, "
        "passenger updates, cancellations, compensation and refusals. Every task's gold replays and "
        "passes the audit with no finding but info; the same --n, --seed and policy give the same file.",
    )
    parser.add_argument("--n", type=int, required=True, help="how many tasks")
    parser.add_argument("--seed", type=int, required=True, help="random seed (same seed, same tasks)")
    parser.add_argument("--out", required=True, metavar="TASKS.json", help="where to write the tasks")
    (wiki,) = pick(HARNESS_OPTIONS, "wiki")
    add_arguments(parser, [wiki.variant(help="the policy the gold follows (default: tau2's airline policy)")])
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from taugepa.files import write_text_atomically
    from taugepa.generate.generator import dumps, generate_tasks
    from taugepa.guards.limits import GENERATE_N, SEED, check_range
    from taugepa.guards.output_paths import check_output_file
    from taugepa.rules.audit import audit_tasks
    from taugepa.rules.audit_report import terminal_lines
    from taugepa.tasks.loading import parse_v1_tasks
    from taugepa.world.policy import load_policy

    check_range("--n", args.n, 1, GENERATE_N)
    check_range("--seed", args.seed, -SEED[0] - 1, SEED)
    check_output_file(Path(args.out), "--out")
    policy = load_policy(args.wiki)
    generated = generate_tasks(args.n, args.seed, policy)
    text = dumps(generated.tasks)
    out = Path(args.out)
    write_text_atomically(out, text)
    stats = generated.statistics()
    print(f"taugepa generate: {stats['tasks']} tasks (seed {args.seed}, policy {policy.label}) -> {out}")
    print("scenarios: " + ", ".join(f"{name} {count}" for name, count in stats["scenarios"].items()))
    print("difficulty: " + ", ".join(f"{name} {count}" for name, count in stats["difficulty"].items()))
    print(
        f"refusals: {stats['refusals']} ({stats['refusal_share']:.0%}) · with required outputs: "
        f"{stats['with_outputs']} · writes per task: "
        + ", ".join(f"{k}: {v}" for k, v in stats["writes"].items())
    )
    if stats["rejected_drafts"]:
        print("drafts rejected by the self-check (and replaced): " + json.dumps(stats["rejected_drafts"]))
    report = audit_tasks(parse_v1_tasks(text, str(out)), policy)
    for line in terminal_lines(report, examples=0):
        print(line)
    return 0
