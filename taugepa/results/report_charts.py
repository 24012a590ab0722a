"""The report's charts: pass rate by group and by gold action, and pass^k against k.

Drawn with matplotlib's object API (no pyplot: no global state, no GUI backend), imported
only when a report is built, and embedded in the page as PNG data.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from html import escape
from typing import Any


def charts(labels: Sequence[str], summaries: Sequence[dict[str, Any]]) -> str:
    """The three charts as embedded PNG images (one series per run)."""
    groups = sorted({name for summary in summaries for name in summary["by_group"]})
    actions = sorted({name for summary in summaries for name in summary["by_action"]})
    images = [
        (
            "Pass rate by group",
            _bar_chart(groups, [_tallies(s["by_group"], groups) for s in summaries], labels, False),
        ),
        (
            "Pass rate by gold action",
            _bar_chart(actions, [_tallies(s["by_action"], actions) for s in summaries], labels, True),
        ),
        ("pass^k", _pass_k_chart(labels, summaries)),
    ]
    return (
        '<div class="tg-charts">'
        + "".join(
            f'<figure><img alt="{escape(caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{escape(caption)}</figcaption></figure>"
            for caption, data in images
        )
        + "</div>"
    )


def _tallies(tallies: dict[str, dict[str, Any]], names: Sequence[str]) -> list[dict[str, Any] | None]:
    return [tallies.get(name) for name in names]


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _png(figure: Any) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _bar_chart(
    names: Sequence[str],
    series: Sequence[Sequence[dict[str, Any] | None]],
    labels: Sequence[str],
    horizontal: bool,
) -> str:
    """Grouped bars of pass rates (%), each labelled passed/scored; nothing scored draws no bar."""
    rows = max(len(names), 1) * max(1.0, len(series) * 0.6)
    figure = _figure(9, 1.0 + 0.3 * rows) if horizontal else _figure(9, 3.0)
    axes = figure.add_subplot()
    width = 0.8 / max(len(series), 1)
    for number, (tallies, label) in enumerate(zip(series, labels, strict=True)):
        positions = [i + (number - (len(series) - 1) / 2) * width for i in range(len(names))]
        rates = [t["pass_rate"] if t else None for t in tallies]
        values = [100 * r if r is not None else 0 for r in rates]
        bars = (axes.barh if horizontal else axes.bar)(positions, values, width, label=label)
        texts = [
            f"{t['passed']}/{t['passed'] + t['failed']}" if t and t["pass_rate"] is not None else ""
            for t in tallies
        ]
        axes.bar_label(bars, labels=texts, fontsize=7, padding=2)
    if horizontal:
        axes.set_yticks(range(len(names)), names, fontsize=8)
        axes.invert_yaxis()
        axes.set_xlim(0, 112)
        axes.set_xlabel("pass rate (%)")
    else:
        axes.set_xticks(range(len(names)), names)
        axes.set_ylim(0, 112)
        axes.set_ylabel("pass rate (%)")
    if len(series) > 1:
        figure.legend(fontsize=8, loc="outside upper center", ncols=min(len(series), 4))
    return _png(figure)


def _pass_k_chart(labels: Sequence[str], summaries: Sequence[dict[str, Any]]) -> str:
    figure = _figure(6, 3.4)
    axes = figure.add_subplot()
    largest = 1
    for label, summary in zip(labels, summaries, strict=True):
        values = summary["pass_k"]["values"]
        points = [(int(k), 100 * v) for k, v in values.items() if v is not None]
        if points:
            largest = max(largest, max(k for k, _ in points))
            axes.plot(*zip(*points, strict=True), marker="o", label=label)
    axes.set_xticks(range(1, largest + 1))
    axes.set_xlabel("k (trials that must all pass)")
    axes.set_ylabel("pass^k (%)")
    axes.set_ylim(0, 105)
    axes.grid(alpha=0.3)
    if len(labels) > 1:
        figure.legend(fontsize=8, loc="outside upper center", ncols=min(len(labels), 4))
    return _png(figure)
