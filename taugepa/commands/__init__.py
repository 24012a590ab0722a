"""Subcommands of the `taugepa` command, one module each.

A module here defines `register(subparsers)`, which adds its parser and sets `handler`
(a function `(args) -> exit code`). `taugepa.cli` registers the modules listed in COMMANDS.
"""

COMMANDS = [
    "tasks",
    "compare",
    "optimize",
    "rescore",
    "report",
    "merge",
    "gate",
    "audit",
    "generate",
    "llm_check",
    "demo",
    "export",
]
