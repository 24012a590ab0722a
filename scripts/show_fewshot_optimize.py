"""Show an optimize run whose `fewshot` component changes, on scripted models (run by hand).

Runs a baseline `pytest benchmarks` over 40 built-in tasks against the scripted server, then
`taugepa optimize --components wiki+fewshot --fewshot-from BASELINE`, and prints the seed's and
the best candidate's demonstrations with the split each source task belongs to (checked against
the run's `split.json`), the candidates table, and the run of `pytest --fewshot` with the best.

    python scripts/show_fewshot_optimize.py OUT_DIR
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from taugepa.cli import main
from taugepa.tasks.loading import load_tasks
from taugepa.testing.scripted_fewshot import FEWSHOT_AGENT_MODEL, FEWSHOT_MODELS, FEWSHOT_REFLECTION_MODEL
from taugepa.testing.scripted_models import USER_MODEL
from taugepa.testing.scripted_optimizer import EXTRA_MODELS
from taugepa.testing.scripted_server import ScriptedServer

REPO = Path(__file__).resolve().parent.parent
KEY_ENV = "TAUGEPA_SHOW_FEWSHOT_KEY"


def split_of(task_id: str, split: dict) -> str:
    return next((name for name in ("train", "val") if task_id in split.get(name, [])), "NEITHER")


def run(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    os.environ[KEY_ENV] = "scripted"
    tasks = load_tasks(["taugepa-airline"]).tasks
    models = ["--agent-model", FEWSHOT_AGENT_MODEL, "--user-model", USER_MODEL, "--api-key-env", KEY_ENV]
    with ScriptedServer(tasks, extra_models={**EXTRA_MODELS, **FEWSHOT_MODELS}) as server:
        models += ["--base-url", server.base_url]
        pytest = [sys.executable, "-m", "pytest", str(REPO / "benchmarks"), "-p", "no:cacheprovider", "-q"]
        pytest += ["--tasks", "taugepa-airline", "-k", " or ".join(f"gen-{n:03d}" for n in range(40))]
        baseline = out / "baseline.json"
        print("$ pytest benchmarks ... --scores-out baseline.json  (40 tasks, scripted)")
        subprocess.run([*pytest, *models, "--scores-out", str(baseline)], cwd=out, check=False)
        run_dir = out / "run"
        arguments = ["optimize", "--tasks", "taugepa-airline", *models]
        arguments += ["--reflection-model", FEWSHOT_REFLECTION_MODEL, "--components", "wiki+fewshot"]
        arguments += ["--fewshot-from", str(baseline), "--budget", "60", "--val-size", "8"]
        arguments += ["--train-size", "16", "--minibatch-size", "3", "--run-dir", str(run_dir)]
        print("\n$ taugepa " + " ".join(a for a in arguments if not a.startswith("http")))
        status = main(arguments)
        print(f"exit status {status}")
        split = json.loads((run_dir / "split.json").read_text())
        for name in ("seed_fewshot.json", "best_fewshot.json"):
            document = json.loads((run_dir / name).read_text())
            print(f"\n{name}: {len(document['demonstrations'])} demonstration(s)")
            for demo in document["demonstrations"]:
                first = demo["text"].splitlines()[0][:70]
                print(f"  {demo['source']:9} in {split_of(demo['source'], split):8} {first}")
        candidates = json.loads((run_dir / "candidates.json").read_text())
        print(f"\ncandidates.json: seed score {candidates['seed_score']}, best {candidates['best_score']}")
        for row in candidates.get("candidates", []):
            shown = {k: v for k, v in row.items() if not isinstance(v, (dict, list)) or k == "changed"}
            print("  " + json.dumps(shown)[:160])
        scores = out / "best.json"
        best_run = [*pytest, *models, "--fewshot", str(run_dir / "best_fewshot.json")]
        best_run += ["--wiki", str(run_dir / "best_wiki.md"), "--scores-out", str(scores)]
        print("\n$ pytest benchmarks ... --fewshot run/best_fewshot.json --wiki run/best_wiki.md")
        subprocess.run(best_run, cwd=out, check=False)
    recorded = json.loads(scores.read_text())["run"]["fewshot"]
    print("scores file run.fewshot:", json.dumps({k: recorded[k] for k in ("path", "sources")}))


if __name__ == "__main__":
    run(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("fewshot-demo"))
