"""The `taugepa` command: subcommand dispatch and one-line errors."""

from __future__ import annotations

import subprocess
import sys


def taugepa(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "taugepa.cli", *args], capture_output=True, text=True, check=False
    )


def test_tasks_lists_ids_and_validity(synthetic_files):
    run = taugepa("tasks", "--tasks", str(synthetic_files[1]))
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert len(lines) == 356
    assert (
        lines[39].startswith("medium-039\tmedium\t")
        and "\tINVALID: gold action 3 (book_reservation)" in lines[39]
    )
    assert lines[17].startswith("medium-017\tmedium\tget_reservation_details,") and lines[17].endswith(
        "\tvalid"
    )


def test_tasks_without_specs_lists_builtin_sets():
    run = taugepa("tasks")
    assert run.returncode == 0 and run.stdout.startswith("tau2-airline\t")


def test_bad_input_is_one_line_and_exit_code_2(tmp_path):
    run = taugepa("tasks", "--tasks", str(tmp_path / "nope.json"))
    assert run.returncode == 2
    assert run.stderr.startswith("taugepa: error: task file not found:") and run.stderr.count("\n") == 1


def test_no_subcommand_shows_help():
    run = taugepa()
    assert run.returncode == 2 and "usage: taugepa" in run.stdout
