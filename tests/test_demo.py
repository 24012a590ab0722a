"""`taugepa demo`: the whole loop offline, run as a user would run it (the --quick size)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

from taugepa.testing.scripted_optimizer import rule_sentence
from taugepa.world.engine import write_tool_names

SENTINEL_KEY = "sk-a-real-key-the-demo-must-never-send"


def demo(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    env["OPENAI_API_KEY"] = SENTINEL_KEY
    command = [sys.executable, "-m", "taugepa.cli", "demo", *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False)


def test_demo_runs_the_loop_offline_and_says_where_everything_is(tmp_path):
    run = demo(tmp_path, "--out", "demo", "--quick")
    out = run.stdout
    assert run.returncode == 0, out[-3000:] + run.stderr[-3000:]
    assert "Traceback" not in out + run.stderr

    # the steps, in order, each with the real command it stands for
    titles = re.findall(r"^\[(\d)\] (.*)$", out, flags=re.MULTILINE)
    assert [number for number, _ in titles] == [str(n) for n in range(1, 8)]
    served = re.search(r"^\[1\] scripted server: (http://127\.0\.0\.1:\d+/v1) \(models: (.*)\)$", out, re.M)
    assert served, out[:2000]
    assert set(served.group(2).split(", ")) >= {"scripted-wiki-agent", "scripted-user", "scripted-reflector"}
    assert "python -m taugepa.testing.scripted_server --tasks taugepa-airline" in out
    assert out.count("pass rate ") >= 3 and "exact McNemar p = " in out
    # compliance at every step, and what the scripted agent's compliance means
    assert "asks the\n    customer for a yes first" in out
    assert (
        len(re.findall(r"^    compliance \d+\.\d% \(\d+ of 20 scored episodes", out, re.M)) == 2
    )  # both benchmarks
    assert "seed wiki: validation score" in out and re.search(
        r"accepted as #\d \(validation [\d.]+, pass rate", out
    )
    assert re.search(r"^      #0 .* seed$", out, re.M)  # the candidates table
    assert "gate passed: --baseline " in out and "--max-compliance-regression 15.0%" in out
    assert re.search(
        r"^    verdict: pass rate \+\d+\.\d points .*, compliance .*: better \(alpha 0\.05\)$", out, re.M
    )
    assert (
        out.strip()
        .splitlines()[-1]
        .startswith("demo outcome: PASS (exit status 0): the optimized wiki is better")
    )
    assert "best validation score" in out and "outputs in demo/optimize" in out
    assert "taugepa optimize --tasks taugepa-airline --test-tasks tau2-airline" in out  # what to run next

    demo_dir = tmp_path / "demo"
    pages = ("report.html", "seed-pytest.html", "best-pytest.html")
    for name in (*pages, "seed-scores.json", "best-scores.json"):
        assert (demo_dir / name).is_file() and f"demo/{name.split('-')[0]}" in out
    best_wiki = (demo_dir / "optimize" / "best_wiki.md").read_text()
    assert any(rule_sentence(tool) in best_wiki for tool in write_tool_names())  # GEPA taught it a write
    report = (demo_dir / "report.html").read_text()
    assert "taugepa demo: seed vs optimized wiki" in report and "optimized" in report

    # the server is gone, and the user's key went nowhere
    port = int(served.group(1).rsplit(":", 1)[1].split("/")[0])
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0
    written = "".join(p.read_text(errors="replace") for p in demo_dir.rglob("*") if p.is_file())
    assert SENTINEL_KEY not in written + out + run.stderr

    again = demo(tmp_path, "--out", "demo", "--quick")  # never overwrites
    assert again.returncode == 2 and again.stderr.count("\n") == 1
    assert again.stderr.startswith("taugepa: error: demo exists and is not an empty folder: pass --out NEW")


def test_a_scripted_server_that_does_not_start_is_one_line_and_exit_status_1(tmp_path, monkeypatch, capsys):
    """A failure of the world around the run (here the demo's server) is not a usage error nor a traceback."""
    from taugepa.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "executable", "/bin/false")  # the server's interpreter exits at once
    code = main(["demo", "--out", "demo", "--quick"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1, err
    assert err.startswith("taugepa: error: the scripted server did not start (see ")


def test_the_hasty_demo_shows_the_trade_and_fails(tmp_path):
    """An agent that writes without asking, optimized on the pass rate alone: more passes, more violations."""
    run = demo(tmp_path, "--out", "demo", "--quick", "--hasty-agent")
    out = run.stdout
    assert run.returncode == 1, out[-3000:] + run.stderr[-3000:]
    assert "--hasty-agent: the scripted agent makes its writes without asking" in out
    assert "--violation-penalty 0 --selection pass-rate" in out
    assert "gate failed: compliance " in out and "--max-compliance-regression allows 15.0%" in out
    verdict = re.search(
        r"^    verdict: pass rate \+(\d+\.\d) points .*, "
        r"compliance \N{MINUS SIGN}(\d+\.\d) points .*: (.+) \(",
        out,
        re.M,
    )
    assert verdict and verdict.group(3) == "not better" and float(verdict.group(2)) > 20
    assert (
        out.strip()
        .splitlines()[-1]
        .startswith(
            "demo outcome: FAIL (exit status 1): the comparison failed: --require-better: "
            "the candidate is not better"
        )
    )
