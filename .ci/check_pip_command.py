"""Run the README's pip command as a user would, with a wheel of this checkout in place of PyPI.

The block after `<!-- pip-command -->` in the README starts from `pip install taugepa` in a fresh
venv. This script builds a wheel from the checkout, checks that the wheel carries what the
command needs (the benchmark suite, the built-in tasks, `py.typed`), then runs the README's line
in a new empty folder outside the repository, with `pip install taugepa` replaced by
`pip install <the wheel>` (the dependencies still come from the configured index), and with no
trace of the checkout in the environment (no PYTHONPATH, no active venv). The taugepa cache is
the caller's `TAUGEPA_CACHE_DIR` when set (CI's, warm from the README's main command: gold
outcomes and audits are keyed by content, so a warm entry is exactly what a cold run computes),
else, or with `--cold`, a new empty one as on a new machine.
It prints the wheel build time, the command's time and the end of its output, and fails unless
the command exits 0 and the oracle passes all 300 built-in tasks.

    python .ci/check_pip_command.py [--cold] [--keep]   # --keep: leave the folder for a look
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MARKER = "<!-- pip-command -->"
INSTALL = "pip install taugepa "
EXPECTED = re.compile(r"\b300 passed\b")
WHEEL_MUST_HOLD = (
    "taugepa/benchmarks/__init__.py",
    "taugepa/benchmarks/conftest.py",
    "taugepa/benchmarks/test_airline.py",
    "taugepa/data/taugepa_airline.json",
    "taugepa/py.typed",
    "pytest_taugepa/py.typed",
    "taugepa/episode/__init__.pyi",
    "pytest_taugepa/plugin.py",
)


def readme_command(readme: Path) -> str:
    """The one shell line in the fenced block after the marker."""
    lines = readme.read_text().splitlines()
    if MARKER not in lines:
        sys.exit(f"check_pip_command: {MARKER} not found in {readme}")
    block = lines[lines.index(MARKER) + 1 :]
    if not block or not block[0].startswith("```") or len(block) < 3 or not block[2].startswith("```"):
        sys.exit(f"check_pip_command: the block after {MARKER} must be one fenced line")
    return block[1]


# Built from a copy without these: setuptools builds in the tree, and a stale `build/` would
# carry modules the checkout no longer has into the wheel.
NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "site", "*.egg-info", "__pycache__", ".*cache", ".ci-*"
)


def build_wheel(out: Path) -> Path:
    source = out.parent / "source"
    shutil.copytree(REPO, source, ignore=NOT_SOURCE)
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(source)]
    subprocess.run(command, check=True)
    wheels = sorted(out.glob("taugepa-*.whl"))
    if len(wheels) != 1:
        sys.exit(f"check_pip_command: expected one taugepa wheel in {out}, found {wheels}")
    names = set(zipfile.ZipFile(wheels[0]).namelist())
    missing = [name for name in WHEEL_MUST_HOLD if name not in names]
    if missing:
        sys.exit(f"check_pip_command: the wheel lacks {', '.join(missing)}: check the package data")
    return wheels[0]


def user_environment(folder: Path, cold: bool) -> dict[str, str]:
    """The caller's environment minus anything that points at the checkout or its venv."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"}}
    venv_bin = os.environ.get("VIRTUAL_ENV")
    if venv_bin:
        bin_dir = str(Path(venv_bin) / "bin")
        env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != bin_dir)
    if cold or not env.get("TAUGEPA_CACHE_DIR"):
        env["TAUGEPA_CACHE_DIR"] = str(folder.parent / "cache")  # empty, as on a new machine
    return env


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--cold", action="store_true", help="an empty taugepa cache even if one is set")
    args = parser.parse_args()
    line = readme_command(REPO / "README.md")
    if not line.startswith("python3 -m venv .venv && . .venv/bin/activate && ") or INSTALL not in line:
        sys.exit("check_pip_command: the pip command must start from a fresh venv and `pip install taugepa`")
    root = Path(tempfile.mkdtemp(prefix="taugepa-pip-check-"))
    try:
        started = time.monotonic()
        wheel = build_wheel(root / "dist")
        built = time.monotonic() - started
        print(f"check_pip_command: built {wheel.name} ({wheel.stat().st_size // 1024} KiB) in {built:.1f} s")
        folder = root / "project"
        folder.mkdir()
        command = line.replace(INSTALL, f"pip install {wheel} ", 1)
        print(f"check_pip_command: in the empty folder {folder}:\n  {command}", flush=True)
        started = time.monotonic()
        run = subprocess.run(
            ["bash", "-c", command],
            cwd=folder,
            env=user_environment(folder, args.cold),
            capture_output=True,
            text=True,
            check=False,
        )
        took = time.monotonic() - started
        print("check_pip_command: the end of the command's output:")
        print("\n".join(f"  | {text}" for text in run.stdout.strip().splitlines()[-6:]))
        if run.returncode != 0:
            print("\n".join(f"  ! {text}" for text in run.stderr.strip().splitlines()[-10:]))
        print(f"check_pip_command: exit status {run.returncode} after {took:.1f} s (install included)")
        if run.returncode != 0 or not EXPECTED.search(run.stdout):
            print("check_pip_command: FAILED: the README's pip command did not pass the 300 built-in tasks")
            return 1
        print("check_pip_command: OK")
        return 0
    finally:
        if args.keep:
            print(f"check_pip_command: kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
