"""Trend charts of the report: pass rate and p95 latency per iFlow over the last runs, as inline SVG.

Drawn with matplotlib (maintained, no browser or JavaScript needed) into SVG text that is embedded in
the self-contained HTML: with text kept as text (`svg.fonttype = none`) a chart of 10 iFlows over 30 runs
is about 50 KB, so the two charts stay far inside the 5 MB report budget, and they render before any of
pytest-html's JavaScript runs. The SVG is deterministic (fixed hash salt, no date) so reports diff well.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping, Sequence
from typing import Final

from iflowtest.reporting.history import TrendPoint

# More lines than this make one chart unreadable; the chart's title says how many iFlows were left out.
MAX_LINES: Final = 12


def trend_chart_svg(
    series: Mapping[str, Sequence[TrendPoint]],
    value: Callable[[TrendPoint], float | None],
    *,
    title: str,
    unit: str,
) -> str:
    """One line per iFlow over the runs in `series`; an empty string when there is nothing to draw."""
    if not series or not any(value(p) is not None for points in series.values() for p in points):
        return ""
    import matplotlib  # imported here: only the controller draws, once per run

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    names = list(series)[:MAX_LINES]
    runs = [p.run_id for p in next(iter(series.values()))]
    figure = Figure(figsize=(8.0, 2.8), layout="constrained")
    axes = figure.add_subplot()
    for name in names:
        ys = [value(p) for p in series[name]]
        axes.plot(
            range(len(runs)), [float("nan") if y is None else y for y in ys], marker="o", markersize=3, label=name
        )
    left_out = len(series) - len(names)
    axes.set_title(title + (f" ({left_out} more iFlows not drawn)" if left_out else ""), fontsize=10, loc="left")
    axes.set_ylabel(unit, fontsize=8)
    step = max(1, len(runs) // 8)
    axes.set_xticks(range(0, len(runs), step), [_label(runs[i]) for i in range(0, len(runs), step)], fontsize=7)
    if unit.startswith("%"):
        axes.set_ylim(-5, 105)
    axes.tick_params(axis="y", labelsize=7)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "iflowtest"}):
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # drop the XML prolog and doctype: the SVG goes inside HTML


def pass_rate_chart(series: Mapping[str, Sequence[TrendPoint]]) -> str:
    """Pass rate (%) per iFlow per run."""
    return trend_chart_svg(series, lambda p: p.pass_rate, title="Pass rate per iFlow", unit="% passed")


def latency_chart(series: Mapping[str, Sequence[TrendPoint]]) -> str:
    """p95 latency (ms) per iFlow per run."""
    return trend_chart_svg(series, lambda p: p.p95_ms, title="p95 latency per iFlow", unit="ms")


def _label(run_id: str) -> str:
    """`20261124T073512Z` as `11-24 07:35`; other run ids as they are."""
    if len(run_id) >= 13 and run_id[8:9] == "T" and run_id[:8].isdigit():
        return f"{run_id[4:6]}-{run_id[6:8]} {run_id[9:11]}:{run_id[11:13]}"
    return run_id[:16]
