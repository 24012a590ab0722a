"""A standalone HTML report of one or more scores files: one file, nothing fetched from a network.

Sections: a summary table (one column per scores file; with the efficiency figures and the
agent's policy compliance), the failure causes of each file (`report_causes`), charts of
the pass rate by group (difficulty or set) and by gold action and of pass^k against k,
drawn with matplotlib and embedded as PNG data, a per-task comparison when there are
several files, and for each file a table of tasks with outcome, feedback and a collapsible
transcript.

Every string that came from a model, a user, a task file or a scores file is HTML-escaped,
and the page's Content-Security-Policy forbids loading anything from anywhere, so a hostile
transcript can neither run script nor reach the network.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

from taugepa import __version__
from taugepa.episode.efficiency import METRICS, WALL, format_figure, run_wall_time
from taugepa.errors import ConfigError
from taugepa.files import write_text_atomically
from taugepa.protocol import ERROR, FAILED, INVALID, PASSED
from taugepa.results.report_causes import causes_section
from taugepa.results.report_charts import charts
from taugepa.results.report_tasks import comparison_table, task_table
from taugepa.results.scores import Scores, load_scores, summarize
from taugepa.results.transcript import TRANSCRIPT_CSS
from taugepa.rules.compliance import DEFINITE

PAGE_CSS = """
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1400px}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd}
table.tg{border-collapse:collapse;font-size:13px;margin:8px 0}
table.tg th,table.tg td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
table.tg th{background:#f4f4f4}
.tg-num{text-align:right}
.o-passed{color:#1a7f37}.o-failed{color:#c62828}.o-invalid{color:#777}.o-error{color:#b26a00}
.tg-badge{font-weight:bold;margin-right:3px}
.tg-charts img{max-width:100%;border:1px solid #eee;margin:6px 0}
details.tg-transcript{max-width:900px;overflow-wrap:anywhere}
details.tg-transcript summary{cursor:pointer;white-space:pre-wrap}
details.tg-transcript[open]{background:#fafafa}
.tg-filter{margin:8px 0;font-size:13px}
.tg-changed{background:#fff6e0}
.tg-muted{color:#777;font-size:12px}
.tg-policy-mark{white-space:nowrap}
.tg-id{white-space:nowrap}
.tg-partial{color:#b00020;font-weight:bold}
.tg-headline{font-size:15px;margin:4px 0}
"""

FILTER_SCRIPT = """
document.querySelectorAll('.tg-filter').forEach(function (bar) {
  var table = document.getElementById(bar.dataset.table);
  var text = bar.querySelector('input');
  var outcome = bar.querySelector('select');
  function apply() {
    var needle = text.value.toLowerCase();
    table.querySelectorAll('tbody tr').forEach(function (row) {
      var matchesText = !needle || row.textContent.toLowerCase().indexOf(needle) >= 0;
      var matchesOutcome = !outcome.value || row.dataset.outcomes.split(' ').indexOf(outcome.value) >= 0;
      row.hidden = !(matchesText && matchesOutcome);
    });
  }
  text.addEventListener('input', apply);
  outcome.addEventListener('change', apply);
});
"""


def content_security_policy() -> str:
    """Nothing may be fetched; the only script allowed to run is the page's own filter script.

    Allowing the script by its hash (not 'unsafe-inline') means that even markup slipping
    through escaping could not run code: injected <script> and onerror= are both refused.
    """
    digest = base64.b64encode(hashlib.sha256(FILTER_SCRIPT.encode()).digest()).decode()
    return f"default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'sha256-{digest}'"


@dataclass
class ReportRun:
    """One scores file in the report, with its label and a freshly computed summary."""

    label: str
    scores: Scores
    summary: dict[str, Any]


def load_runs(specs: Sequence[str]) -> list[ReportRun]:
    """Load `PATH` or `LABEL=PATH` specs; labels default to the file name and must be unique."""
    if not specs:
        raise ConfigError("no scores file given: pass one or more SCORES.json files")
    runs: list[ReportRun] = []
    for spec in specs:
        label, sep, path = spec.partition("=")
        if not sep or Path(spec).is_file():
            label, path = Path(spec).stem, spec
        scores = load_scores(path)
        runs.append(ReportRun(label=label, scores=scores, summary=summarize(scores.episodes)))
    labels = [run.label for run in runs]
    if len(set(labels)) != len(labels):
        for number, run in enumerate(runs, start=1):
            run.label = f"{number}: {run.label}"
    return runs


def write_report(specs: Sequence[str], out: Path, title: str | None = None) -> list[ReportRun]:
    """Build the report for the scores files and write it to `out` (replaced whole, never half)."""
    runs = load_runs(specs)
    html = build_report(runs, title or "taugepa report")
    write_text_atomically(out, html)
    return runs


def build_report(runs: Sequence[ReportRun], title: str) -> str:
    generated = datetime.now(tz=UTC).isoformat(timespec="seconds")
    sections = [
        f"<h1>{escape(title)}</h1>",
        f'<p class="tg-muted">taugepa {escape(__version__)} · generated {escape(generated)} · '
        f"{len(runs)} scores file(s)</p>",
        "<h2>Summary</h2>",
        *[
            f'<p class="tg-headline" id="headline-{n}">{escape(headline(run))}</p>'
            for n, run in enumerate(runs)
        ],
        *[
            f'<p class="tg-partial">{escape(run.label)}: {escape(run.scores.partial)}</p>'
            for run in runs
            if run.scores.partial
        ],
        *protocol_notes(runs),
        summary_table(runs),
        "<h2>Charts</h2>",
        charts([run.label for run in runs], [run.summary for run in runs]),
    ]
    if len(runs) > 1:
        sections += ["<h2>Per-task comparison</h2>", comparison_table(runs)]
    for number, run in enumerate(runs):
        if run.summary.get("failures"):
            sections += [
                f"<h2>Failure causes: {escape(run.label)}</h2>",
                causes_section(run.scores.episodes, f"tasks-{number}"),
            ]
        sections += [f"<h2>Tasks: {escape(run.label)}</h2>", task_table(run, number)]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{content_security_policy()}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'
        f"<title>{escape(title)}</title><style>{PAGE_CSS}{TRANSCRIPT_CSS}</style></head><body>\n"
        + "\n".join(sections)
        + f"\n<script>{FILTER_SCRIPT}</script></body></html>\n"
    )


# ---------------------------------------------------------------- summary


def headline(run: ReportRun) -> str:
    """One line per run for the top of the page and the terminal: pass rate and compliance together."""
    counts = run.summary["counts"]
    scored = counts[PASSED] + counts[FAILED]
    line = f"{run.label}: pass rate {_percent(run.summary.get('pass_rate'))} ({counts[PASSED]}/{scored})"
    block = run.summary.get("compliance")
    if block and block.get("episodes"):
        line += (
            f" · compliance {_percent(block['rate'])} ({block['compliant']}/{block['episodes']} scored "
            "episodes with no definite policy violation)"
        )
    else:
        line += " · compliance not recorded"
    return line


def protocol_notes(runs: Sequence[ReportRun]) -> list[str]:
    """A warning above the tables when the runs' conversation protocols (or tau2 versions) differ."""
    from taugepa.results.protocols import protocol_difference, version_note

    labelled = [(run.label, run.scores.run) for run in runs]
    notes = []
    difference = protocol_difference(labelled)
    if difference:
        notes.append(f"{difference}: their pass rates are not comparable")
    note = version_note(labelled)
    if note:
        notes.append(f"{note}: the prompts may differ")
    return [f'<p class="tg-partial" id="protocols">Note: {escape(text)}.</p>' for text in notes]


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def summary_table(runs: Sequence[ReportRun]) -> str:
    trials = max(run.summary["pass_k"]["trials"] for run in runs)
    rows: list[tuple[str, list[str]]] = [
        ("agent", [_agent(run.scores.run) for run in runs]),
        ("protocol", [_protocol(run.scores.run) for run in runs]),
        ("wiki", [_wiki(run.scores.run) for run in runs]),
        ("tasks", [_sources(run.scores.run) for run in runs]),
        ("trials", [str(run.summary["pass_k"]["trials"]) for run in runs]),
        ("episodes / tasks", [f"{run.summary['episodes']} / {run.summary['tasks']}" for run in runs]),
    ]
    for outcome in (PASSED, FAILED, INVALID, ERROR):
        rows.append((outcome, [str(run.summary["counts"][outcome]) for run in runs]))
    rows.append(("pass rate (passed / scored)", [_pass_rate(run.summary) for run in runs]))
    if any(run.summary.get("compliance") for run in runs):
        compliance = [_compliance_cell(run.summary.get("compliance")) for run in runs]
        rows.append(("compliance (scored episodes with no definite violation)", compliance))
    for k in range(1, trials + 1):
        rows.append((f"pass^{k}", [_pass_k_cell(run.summary["pass_k"], k) for run in runs]))
    rescored = [run for run in runs if any("recorded" in e for e in run.scores.episodes)]
    if rescored:
        rows.append(("agreement with recorded rewards", [_agreement(run) for run in runs]))
    rows.extend(efficiency_rows(runs))
    rows.extend(compliance_rows(runs))
    header = "".join(f"<th>{escape(run.label)}</th>" for run in runs)
    body = "".join(
        f"<tr><th>{escape(name)}</th>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>"
        for name, cells in rows
    )
    return (
        f'<table class="tg" id="summary"><thead><tr><th></th>{header}</tr></thead>'
        f"<tbody>{body}</tbody></table>"
        '<p class="tg-muted">Pass rates count passed / (passed + failed): invalid tasks and '
        "infrastructure errors are never counted against the agent. pass^k is the mean over tasks "
        "of C(passes, k) / C(scored trials, k) (tau-bench); the interval is Wilson's, over tasks. "
        "Efficiency figures are per episode, median / mean over the scored episodes and over the "
        "passed ones. An episode is compliant when the agent's actions and conversation break no "
        "policy rule for certain (no definite finding; the built-in agents are judged by the action "
        "rules only).</p>"
    )


def _stats_cell(stats: dict[str, float] | None, name: str) -> str:
    return (
        "—" if not stats else f"{format_figure(stats['median'], name)} / {format_figure(stats['mean'], name)}"
    )


def _both_cell(block: dict[str, Any] | None, name: str) -> str:
    if not block or not block["all"].get(name):
        return "—"
    every, passed = _stats_cell(block["all"].get(name), name), _stats_cell(block["passed"].get(name), name)
    return f'{escape(every)} <span class="tg-muted">| passed {escape(passed)}</span>'


def efficiency_rows(runs: Sequence[ReportRun]) -> list[tuple[str, list[str]]]:
    """Median / mean of each efficiency figure per run, over all scored and passed episodes."""
    blocks = [run.summary.get("efficiency") for run in runs]
    if not any(blocks):
        return []
    rows = []
    for name, label in METRICS:
        cells = [_both_cell(block, name) for block in blocks]
        if any(cell != "—" for cell in cells):
            rows.append((f"{label} per episode, median / mean", cells))
    walls = [run_wall_time(run.scores.episodes) for run in runs]
    rows.append((f"{WALL[1]} per episode, median / mean", [_both_cell(wall, WALL[0]) for wall in walls]))
    return rows


def _compliance_cell(tally: dict[str, Any] | None) -> str:
    if not tally or not tally["episodes"]:
        return "—"
    return f"{_percent(tally['rate'])} ({tally['compliant']}/{tally['episodes']})"


def compliance_rows(runs: Sequence[ReportRun]) -> list[tuple[str, list[str]]]:
    """The share of episodes with no definite violation, overall, among passes, by kind of rule."""
    blocks = [run.summary.get("compliance") for run in runs]
    if not any(blocks):
        return []

    def cells(pick: Any) -> list[str]:
        return [_compliance_cell(pick(block)) if block else "—" for block in blocks]

    def by_rule(block: dict[str, Any] | None) -> str:
        if not block:
            return "—"
        counts = [(rule, c[DEFINITE]) for rule, c in block["episodes_by_rule"].items() if c[DEFINITE]]
        return escape(", ".join(f"{rule} {count}" for rule, count in counts)) or "none"

    return [
        ("compliant episodes (no definite violation)", cells(lambda b: b)),
        ("compliant among passed episodes", cells(lambda b: b["passed"])),
        ("compliant with the action rules", cells(lambda b: b["action_rules"])),
        ("compliant with the conversation rules", cells(lambda b: b["conversation_rules"])),
        ("episodes with a definite violation, by rule", [by_rule(block) for block in blocks]),
    ]


def _agent(run: dict[str, Any]) -> str:
    models = {k: v for k, v in (run.get("models") or {}).items() if v}
    text = escape(str(run.get("agent", "?")))
    if models:
        text += " (" + escape(", ".join(f"{k}: {v}" for k, v in models.items())) + ")"
    return text


def _protocol(run: dict[str, Any]) -> str:
    from taugepa.results.protocols import protocol_label, run_protocol

    return escape(protocol_label(run_protocol(run)))


def _wiki(run: dict[str, Any]) -> str:
    wiki = run.get("wiki") or {}
    name = Path(str(wiki.get("path", "?"))).name
    return f'{escape(name)} <span class="tg-muted">sha256 {escape(str(wiki.get("sha256", ""))[:12])}</span>'


def _sources(run: dict[str, Any]) -> str:
    sources = run.get("task_sources") or []
    return escape(", ".join(f"{Path(str(s.get('path', '?'))).name} ({s.get('count', '?')})" for s in sources))


def _pass_rate(summary: dict[str, Any]) -> str:
    counts = summary["counts"]
    return f"{_percent(summary['pass_rate'])} ({counts[PASSED]}/{counts[PASSED] + counts[FAILED]})"


def _pass_k_cell(table: dict[str, Any], k: int) -> str:
    value = table["values"].get(str(k))
    if value is None and str(k) not in table["values"]:
        return "—"
    text = _percent(value)
    ci = table.get("pass_1_ci")
    if k == 1 and ci:
        text += f' <span class="tg-muted">[{_percent(ci["low"])}–{_percent(ci["high"])}]</span>'
    at_k = table["tasks_at_k"].get(str(k))
    if at_k is not None and at_k != table["tasks"]:
        text += f' <span class="tg-muted">on {at_k} tasks</span>'
    return text


def _agreement(run: ReportRun) -> str:
    recorded = [e["recorded"] for e in run.scores.episodes if "recorded" in e]
    if not recorded:
        return "—"
    agreeing = sum(1 for r in recorded if r.get("agrees"))
    return f"{agreeing}/{len(recorded)}"
