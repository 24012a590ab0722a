"""The `taugepa` command. Each subcommand lives in `taugepa.commands.<name>`.

Bad input is reported as one line on stderr with exit status 2, a failure of the world
around the run (an endpoint after all retries, a server that did not start) with exit
status 1, an output file that could not be written (a full or read-only disk) with exit
status 73; tracebacks are kept for bugs. Ctrl-C ends any command with one line (status 130).
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
from collections.abc import Sequence

from taugepa import __version__
from taugepa.commands import COMMANDS
from taugepa.errors import (
    INTERRUPTED_EXIT_STATUS,
    OUTPUT_NOT_WRITTEN_EXIT_STATUS,
    InfrastructureError,
    OutputNotWritten,
    TaugepaError,
)

RUN_FAILED = 1
USAGE_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="taugepa",
        description="Benchmark and optimize the policy wiki of a tool-calling airline agent. "
        "The benchmark itself runs under pytest: pytest --pyargs taugepa.benchmarks --help "
        "(pytest benchmarks --help from a clone)",
    )
    parser.add_argument("--version", action="version", version=f"taugepa {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"taugepa.commands.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return USAGE_ERROR
    try:
        return int(handler(args))
    except TaugepaError as exc:
        print(f"taugepa: error: {exc}", file=sys.stderr)
        return USAGE_ERROR
    except OutputNotWritten as exc:  # a full or read-only disk: what was not written, and why
        print(f"taugepa: error: {exc}", file=sys.stderr)
        return OUTPUT_NOT_WRITTEN_EXIT_STATUS
    except InfrastructureError as exc:
        print(f"taugepa: error: {exc}", file=sys.stderr)
        return RUN_FAILED
    except KeyboardInterrupt as exc:  # Ctrl-C: one line, no traceback (taugepa.errors.Interrupted says more)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut this line short
        detail = f": {exc}" if str(exc) else ""
        print(f"\ntaugepa: interrupted{detail}", file=sys.stderr)
        return INTERRUPTED_EXIT_STATUS
    except BrokenPipeError:  # output piped into `head` and the like: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
