"""Ctrl-C in a benchmark run: real SIGINTs to real pytest processes, mid-run against the scripted server.

The run must end with one line and no traceback, and its scores file must hold the finished
episodes marked `interrupted` (done and planned) instead of passing a partial pass rate off
as the result. Each case waits for a condition (a case has reported), never a fixed time.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from taugepa.tasks.loading import load_tasks
from taugepa.testing.scripted_models import AGENT_MODEL, USER_MODEL
from taugepa.testing.scripted_server import ScriptedServer

REPO = Path(__file__).resolve().parent.parent
KEY_ENV, KEY = "TAUGEPA_INTERRUPT_TEST_KEY", "sk-interrupt-test-key"
SELECTED = "gen-0"  # gen-000 ... gen-099: far more than can finish before the interrupt
PLANNED = 100
DEADLINE_S = 180


@pytest.fixture(scope="module")
def server():
    with ScriptedServer(load_tasks(["taugepa-airline"]).tasks, latency=0.3, api_key=KEY) as running:
        yield running


class Output:
    """A subprocess's combined output, read on a thread so the test can wait for a line."""

    def __init__(self, process: subprocess.Popen):
        self.text = ""
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._thread.start()

    def _read(self, process: subprocess.Popen) -> None:
        for line in process.stdout:
            with self._lock:
                self.text += line

    def wait_for(self, needle: str, process: subprocess.Popen) -> None:
        deadline = time.monotonic() + DEADLINE_S
        while needle not in self.text:
            assert process.poll() is None, f"the run ended before {needle!r}:\n{self.text[-3000:]}"
            assert time.monotonic() < deadline, f"no {needle!r} in {DEADLINE_S} s:\n{self.text[-3000:]}"
            time.sleep(0.05)

    def finish(self) -> str:
        self._thread.join(timeout=DEADLINE_S)
        return self.text


def start_run(server, tmp_path: Path, *extra: str) -> tuple[subprocess.Popen, Output]:
    command = [sys.executable, "-m", "pytest", str(REPO / "benchmarks"), "-p", "no:cacheprovider", "-v"]
    command += ["--tasks", "taugepa-airline", "-k", SELECTED, "--scores-out", str(tmp_path / "scores.json")]
    command += ["--agent-model", AGENT_MODEL, "--user-model", USER_MODEL, "--base-url", server.base_url]
    command += ["--api-key-env", KEY_ENV, "--no-llm-cache", "--concurrency", "4", *extra]
    env = {**os.environ, KEY_ENV: KEY}
    process = subprocess.Popen(
        command,
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: "the terminal" below is that group
    )
    return process, Output(process)


def interrupt(process: subprocess.Popen, whole_group: bool) -> None:
    if whole_group:  # Ctrl-C in a terminal: every process of the foreground group
        os.killpg(process.pid, signal.SIGINT)
    else:  # kill -INT <pid>, a CI runner cancelling a job: the controller alone
        process.send_signal(signal.SIGINT)


@pytest.mark.parametrize(
    ("workers", "whole_group"),
    [([], True), (["-n", "2"], True), (["-n", "2"], False)],
    ids=["serial", "xdist-ctrl-c", "xdist-controller-only"],
)
def test_ctrl_c_ends_with_one_line_and_an_interrupted_scores_file(server, tmp_path, workers, whole_group):
    process, output = start_run(server, tmp_path, *workers)
    output.wait_for("PASSED", process)  # mid-run: at least one case has reported
    interrupt(process, whole_group)
    code = process.wait(timeout=DEADLINE_S)
    text = output.finish()
    assert code == pytest.ExitCode.INTERRUPTED, text[-3000:]
    assert "Traceback" not in text and "Error" not in text.split("taugepa verdict")[-1], text[-3000:]
    last = text.strip().splitlines()[-1]
    assert last.startswith("taugepa: INTERRUPTED after ") and f" of {PLANNED} episodes: no verdict" in last
    assert "is marked interrupted" in last

    scores = json.loads((tmp_path / "scores.json").read_text())
    done = len(scores["episodes"])
    assert scores["interrupted"] == {
        "reason": "interrupted by the user (Ctrl-C)",
        "episodes_done": done,
        "episodes_planned": PLANNED,
    }
    assert 1 <= done < PLANNED and f"INTERRUPTED after {done} of {PLANNED}" in last
    assert "taugepa summary (INTERRUPTED: partial" in text and "partial pass rate (interrupted run)" in text


def test_a_second_ctrl_c_stops_at_once_with_one_line(server, tmp_path):
    """The old failure: a second Ctrl-C while xdist waited for its workers printed ~80 lines of traceback."""
    process, output = start_run(server, tmp_path, "-n", "2")
    output.wait_for("PASSED", process)
    interrupt(process, whole_group=False)
    deadline = time.monotonic() + DEADLINE_S
    while not (tmp_path / "scores.json").exists() and process.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    if process.poll() is None:  # usually: the controller is still waiting for its workers
        interrupt(process, whole_group=False)
    code = process.wait(timeout=DEADLINE_S)
    text = output.finish()
    assert code == pytest.ExitCode.INTERRUPTED, text[-3000:]
    assert "Traceback" not in text and "Warning" not in text, text[-3000:]
    last = text.strip().splitlines()[-1]
    assert last.startswith(("taugepa: interrupted again: stopped at once; ", "taugepa: INTERRUPTED after "))
    assert "interrupted" in json.loads((tmp_path / "scores.json").read_text())


def test_ctrl_c_in_compare_running_wikis_keeps_the_finished_episodes(server, tmp_path):
    seed = tmp_path / "seed.md"
    seed.write_text("Help the customer with their airline reservation.\n")
    command = [sys.executable, "-m", "taugepa.cli", "compare", "--wiki", str(seed), "--wiki", str(seed)]
    command += ["--tasks", "taugepa-airline", "--agent-model", AGENT_MODEL, "--user-model", USER_MODEL]
    command += ["--base-url", server.base_url, "--api-key-env", KEY_ENV, "--no-llm-cache"]
    command += ["--concurrency", "4", "--out-dir", str(tmp_path / "runs")]
    before = server.stats()["completions"]
    process = subprocess.Popen(
        command,
        env={**os.environ, KEY_ENV: KEY},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # as from a terminal, even when these tests run as a background job (which ignores SIGINT)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + DEADLINE_S
    while server.stats()["completions"] < before + 40:  # mid-way through the baseline's 300 tasks
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=DEADLINE_S)
    assert process.returncode == 130, out[-2000:] + err[-2000:]
    assert "Traceback" not in out + err and err.strip().count("\n") == 0, err
    baseline = tmp_path / "runs" / "baseline.json"
    scores = json.loads(baseline.read_text())
    done = scores["interrupted"]["episodes_done"]
    assert done == len(scores["episodes"]) < scores["interrupted"]["episodes_planned"] == 300
    assert err.strip() == (
        f"taugepa: interrupted: while running the baseline ({done} of 300 episodes finished; "
        f"{baseline} holds them, marked interrupted); nothing was compared"
    )
    assert not (tmp_path / "runs" / "candidate.json").exists()
