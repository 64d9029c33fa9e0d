"""Trend charts of the report: pass rate and p95 latency over the last runs, one small panel per iFlow.

One line per iFlow in a shared chart hid iFlows behind each other (five flows at 100% are one line); small
multiples give each iFlow its own panel with the same scale and the same runs, so nothing overlaps.
Panels of iFlows failing in the last run come first, and a run in which an iFlow had failures is a red
point. The x axis is labelled at no more than three runs per panel, on two lines (date, time), with
seconds added only when two labels would otherwise read the same.

Drawn with matplotlib (maintained, no browser or JavaScript needed) into SVG text that is embedded in
the self-contained HTML: text kept as text (`svg.fonttype = none`) keeps a chart small, and it renders
before any of pytest-html's JavaScript runs. The SVG is deterministic (fixed hash salt, no date) so
reports diff well.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Final

from iflowtest.reporting.history import TrendPoint

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# Panels per chart: more would be too small to read; the chart's title says how many iFlows were left out.
MAX_PANELS: Final = 20
COLUMNS: Final = 5
LINE: Final = "#1f5fa8"
FAILED: Final = "#b3261e"


def panel_order(series: Mapping[str, Sequence[TrendPoint]]) -> list[str]:
    """iFlows failing in the last run first (lowest pass rate first), then the others by name."""

    def key(name: str) -> tuple[float, str]:
        last = series[name][-1].pass_rate if series[name] else None
        return (last if last is not None and last < 100 else 101.0, name)

    return sorted(series, key=key)


def trend_figure(
    series: Mapping[str, Sequence[TrendPoint]],
    value: Callable[[TrendPoint], float | None],
    *,
    title: str,
    unit: str,
) -> Figure | None:
    """One panel per iFlow over the runs in `series`; None when there is nothing to draw."""
    if not series or not any(value(p) is not None for points in series.values() for p in points):
        return None
    import matplotlib  # imported here: only the controller draws, once per run

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    names = panel_order(series)[:MAX_PANELS]
    runs = [p.run_id for p in next(iter(series.values()))]
    columns = min(COLUMNS, len(names))
    rows = math.ceil(len(names) / columns)
    percent = unit.startswith("%")
    figure = Figure(figsize=(10.5, 0.55 + 1.5 * rows), layout="constrained")
    grid = figure.subplots(rows, columns, sharex=True, sharey=percent, squeeze=False)
    ticks = tick_positions(len(runs))
    labels = run_labels([runs[i] for i in ticks])
    xs = list(range(len(runs)))
    for index, axes in enumerate(grid.flat):
        if index >= len(names):
            axes.remove()
            grid.flat[index - columns].tick_params(axis="x", labelbottom=True)
            continue
        name = names[index]
        points = series[name]
        ys = [value(p) for p in points]
        axes.plot(xs, [math.nan if y is None else y for y in ys], color=LINE, linewidth=1.2, marker="o", markersize=2.5)
        bad = [(x, y) for x, y, p in zip(xs, ys, points, strict=True) if y is not None and _failed(p)]
        if bad:
            axes.plot(
                [x for x, _ in bad], [y for _, y in bad], linestyle="none", marker="o", markersize=4, color=FAILED
            )
        failing_now = _failed(points[-1])
        axes.set_title(name, fontsize=8, loc="left", color=FAILED if failing_now else "#1f1f1f", pad=3)
        axes.set_xticks(ticks, labels, fontsize=6.5)
        axes.tick_params(axis="y", labelsize=6.5)
        if percent:
            axes.set_ylim(-5, 105)
            axes.set_yticks([0, 50, 100])
        else:
            axes.yaxis.set_major_locator(MaxNLocator(nbins=3, min_n_ticks=2))
            axes.set_ylim(bottom=0)
        axes.set_xlim(-0.5, len(runs) - 0.5)
        axes.grid(axis="y", alpha=0.3)
        for spine in ("top", "right"):
            axes.spines[spine].set_visible(False)
    left_out = len(series) - len(names)
    figure.suptitle(
        f"{title} ({unit})" + (f": {left_out} more iFlows not drawn" if left_out else ""),
        fontsize=10,
        x=0.01,
        ha="left",
    )
    return figure


def trend_chart_svg(
    series: Mapping[str, Sequence[TrendPoint]],
    value: Callable[[TrendPoint], float | None],
    *,
    title: str,
    unit: str,
) -> str:
    """The chart of `trend_figure` as inline SVG; an empty string when there is nothing to draw."""
    figure = trend_figure(series, value, title=title, unit=unit)
    if figure is None:
        return ""
    import matplotlib

    buffer = io.StringIO()
    # A short font list: the SVG repeats it on every label.
    with matplotlib.rc_context(
        {
            "svg.fonttype": "none",
            "svg.hashsalt": "iflowtest",
            "font.family": "sans-serif",
            "font.sans-serif": ["Helvetica", "Arial", "DejaVu Sans"],
        }
    ):
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # drop the XML prolog and doctype: the SVG goes inside HTML


def pass_rate_chart(series: Mapping[str, Sequence[TrendPoint]]) -> str:
    """Pass rate (%) per iFlow per run."""
    return trend_chart_svg(series, lambda p: p.pass_rate, title="Pass rate per iFlow", unit="% passed")


def latency_chart(series: Mapping[str, Sequence[TrendPoint]]) -> str:
    """p95 latency (ms) per iFlow per run."""
    return trend_chart_svg(series, lambda p: p.p95_ms, title="p95 latency per iFlow", unit="ms")


def tick_positions(count: int) -> list[int]:
    """The runs labelled on the x axis: the first, the middle and the last (fewer when there are fewer runs)."""
    return sorted({0, (count - 1) // 2, count - 1}) if count > 0 else []


def run_labels(run_ids: Sequence[str]) -> list[str]:
    """`20261124T073512Z` as `11-24` over `07:35`, with seconds when minutes alone would repeat a label."""
    short = [_label(run_id, seconds=False) for run_id in run_ids]
    if len(set(short)) == len(short):
        return short
    return [_label(run_id, seconds=True) for run_id in run_ids]


def _label(run_id: str, *, seconds: bool) -> str:
    if len(run_id) >= 15 and run_id[8:9] == "T" and run_id[:8].isdigit():
        time = f"{run_id[9:11]}:{run_id[11:13]}" + (f":{run_id[13:15]}" if seconds else "")
        return f"{run_id[4:6]}-{run_id[6:8]}\n{time}"
    return run_id[:12]


def _failed(point: TrendPoint) -> bool:
    return point.pass_rate is not None and point.pass_rate < 100
