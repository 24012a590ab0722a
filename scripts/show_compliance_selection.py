"""The compliance-first selection's must-show run: a candidate that buys pass rate with violations.

Against the scripted models (no key, no network): the "tempted" reflection model teaches
cancellations with a hasty sentence (cancel at once, without asking for a yes), and GEPA
climbs the pass rate alone (`--violation-penalty 0`), so it accepts that candidate and scores
it highest. `taugepa optimize` with the default `--selection compliance-floor` leaves it out;
the same finished run rerun with `--selection pass-rate` takes it. Prints both candidate
tables and each run's choice from candidates.json.

    python scripts/show_compliance_selection.py [--run-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

from taugepa.cli import main
from taugepa.tasks.loading import load_tasks
from taugepa.testing.scripted_models import USER_MODEL
from taugepa.testing.scripted_optimizer import EXTRA_MODELS, TEMPTED_REFLECTION_MODEL, WIKI_AGENT_MODEL
from taugepa.testing.scripted_server import ScriptedServer

KEY_ENV = "TAUGEPA_SHOW_SELECTION_KEY"


def optimize(base_url: str, run_dir: Path, *extra: str) -> int:
    arguments = ["optimize", "--tasks", "taugepa-airline", "--agent-model", WIKI_AGENT_MODEL]
    arguments += ["--user-model", USER_MODEL, "--reflection-model", TEMPTED_REFLECTION_MODEL]
    arguments += ["--base-url", base_url, "--api-key-env", KEY_ENV, "--budget", "150", "--val-size", "12"]
    arguments += ["--train-size", "30", "--minibatch-size", "3", "--run-dir", str(run_dir)]
    arguments += ["--concurrency", "8", "--violation-penalty", "0", *extra]
    print(f"$ taugepa {' '.join(arguments[:11])} ... --violation-penalty 0 {' '.join(extra)}".rstrip())
    return main(arguments)


def show_choice(run_dir: Path) -> None:
    saved = json.loads((run_dir / "candidates.json").read_text())
    picks = f"best #{saved['best']}, GEPA's pick #{saved['objective_best']}"
    print(f"candidates.json: selection {saved['selection']}, {picks}")
    for candidate in saved["candidates"]:
        keys = ("index", "val_score", "val_pass_rate", "val_compliance", "eligible")
        print("  " + json.dumps({key: candidate[key] for key in keys}))


def run() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--run-dir", help="a new folder for the run (default: a temporary one)")
    args = parser.parse_args()
    run_dir = Path(args.run_dir or tempfile.mkdtemp(prefix="taugepa-selection-")) / "run"
    os.environ[KEY_ENV] = "scripted"
    with ScriptedServer(
        load_tasks(["taugepa-airline"]).tasks, api_key="scripted", extra_models=EXTRA_MODELS
    ) as server:
        code = optimize(server.base_url, run_dir)
        show_choice(run_dir)
        print()
        code = code or optimize(server.base_url, run_dir, "--selection", "pass-rate")
        show_choice(run_dir)
    return code


if __name__ == "__main__":
    raise SystemExit(run())
