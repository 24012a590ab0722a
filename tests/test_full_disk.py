"""Every writer on a full disk: one line naming the path and the cause, the verdict still printed,
nothing partial left in place of a good file, and an exit status saying the output was not written.

The full disk is `taugepa.testing.full_disk`: a limit on the size of any file the child process
writes (RLIMIT_FSIZE), which fails a write past it as a full disk does, without root.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from taugepa.errors import OUTPUT_NOT_WRITTEN_EXIT_STATUS, OutputNotWritten
from taugepa.files import write_text_atomically
from taugepa.tasks.loading import load_tasks
from taugepa.testing.full_disk import run_on_full_disk
from taugepa.testing.scripted_models import AGENT_MODEL, USER_MODEL
from taugepa.testing.scripted_server import ScriptedServer

REPO = Path(__file__).resolve().parent.parent
LIMIT = 64 * 1024


def test_a_write_that_does_not_fit_leaves_the_old_file_and_no_temporary_file(tmp_path):
    target = tmp_path / "scores.json"
    target.write_text("the good old file")
    script = (
        "import sys\nfrom taugepa.files import write_text_atomically\n"
        "from taugepa.errors import OutputNotWritten\n"
        "try:\n    write_text_atomically(sys.argv[1], 'x' * 200_000)\n"
        "except OutputNotWritten as exc:\n    print(exc)\n"
    )
    done = run_on_full_disk(
        [sys.executable, "-c", script, str(target)], LIMIT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        f"{target} was not written (File too large): free some space or write it elsewhere "
        "(nothing partial was left in its place)"
    )
    assert target.read_text() == "the good old file" and os.listdir(tmp_path) == ["scores.json"]


def test_a_folder_that_cannot_be_made_is_the_same_one_line(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(OutputNotWritten, match=r"/file/out.json was not written \(File exists\): "):
        write_text_atomically(tmp_path / "file" / "out.json", "{}")


def test_a_command_on_a_full_disk_exits_73_with_one_line(tmp_path):
    out = tmp_path / "tasks.json"
    taugepa = [sys.executable, "-c", "import sys; from taugepa.cli import main; sys.exit(main())"]
    command = [*taugepa, "generate", "--n", "200", "--seed", "1", "--out", str(out)]
    done = run_on_full_disk(command, LIMIT, capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == OUTPUT_NOT_WRITTEN_EXIT_STATUS == 73, done.stderr[-2000:]
    assert done.stderr.strip().splitlines() == [
        f"taugepa: error: {out} was not written (File too large): free some space or write it elsewhere "
        "(nothing partial was left in its place)"
    ]
    assert not out.exists()


def test_a_benchmark_on_a_full_disk_prints_its_verdict_and_exits_73(tmp_path):
    scores, page = tmp_path / "scores.json", tmp_path / "report.html"
    command = [sys.executable, "-m", "pytest", str(REPO / "benchmarks"), "-p", "no:cacheprovider", "-q"]
    command += [
        "--agent",
        "oracle",
        "--tasks",
        "tau2-airline",
        "--scores-out",
        str(scores),
        "--html",
        str(page),
    ]
    env = {**os.environ, "TAUGEPA_CACHE_DIR": str(tmp_path / "cache")}
    done = run_on_full_disk(command, LIMIT, capture_output=True, text=True, cwd=tmp_path, env=env)
    output = done.stdout + done.stderr
    assert done.returncode == 73, output[-3000:]
    assert "Traceback" not in output and "pass rate 100.0%" in output  # the verdict is still printed
    errors = [line for line in output.splitlines() if line.startswith("taugepa: error: ")]
    assert errors == [
        f"taugepa: error: the scores file {scores} was not written (File too large): free some space "
        "or write it elsewhere (nothing partial was left in its place)",
        f"taugepa: error: the HTML page {page} was not written (File too large): free some space "
        "or write it elsewhere (nothing partial was left in its place)",
    ]
    assert (
        output.rstrip().splitlines()[-1].startswith("FAIL (exit status 73): 2 output(s) could not be written")
    )
    assert not scores.exists() and not page.exists()  # nothing cut mid-way


def test_a_cache_that_cannot_be_written_is_said_once_above_the_verdict(tmp_path, v1_tasks_file):
    tasks = load_tasks([str(v1_tasks_file)]).tasks[:2]
    command = [sys.executable, "-m", "pytest", str(REPO / "benchmarks"), "-p", "no:cacheprovider", "-q"]
    command += ["--tasks", str(v1_tasks_file), "-k", " or ".join(t.id for t in tasks)]
    command += ["--agent-model", AGENT_MODEL, "--user-model", USER_MODEL, "--api-key-env", "FULL_DISK_KEY"]
    command += ["--llm-cache", str(tmp_path / "llm"), "--scores-out", str(tmp_path / "scores.json")]
    env = {**os.environ, "TAUGEPA_CACHE_DIR": str(tmp_path / "cache"), "FULL_DISK_KEY": "none"}
    with ScriptedServer(tasks) as server:
        # 1 byte: an empty probe file can be made (the folder looks fine at the start), nothing can be written
        done = run_on_full_disk(
            [*command, "--base-url", server.base_url], 1, capture_output=True, text=True, env=env
        )
    output = done.stdout + done.stderr
    warnings = [line for line in output.splitlines() if "LLM response cache" in line]
    assert len(warnings) == 1, output[-3000:]
    assert warnings[0].startswith(
        f"taugepa: warning: the LLM response cache at {tmp_path / 'llm'} cannot be written"
    )
    assert "a rerun asks the endpoint (and pays) again" in warnings[0]
    assert done.returncode == 73 and "pass rate 100.0%" in output
