"""Trend charts: one panel per iFlow (lines never hide each other), x labels that never run together."""

from __future__ import annotations

import itertools

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from iflowtest.reporting.charts import (
    MAX_PANELS,
    latency_chart,
    panel_order,
    pass_rate_chart,
    run_labels,
    tick_positions,
    trend_figure,
)
from iflowtest.reporting.history import TrendPoint


def series(iflows: int, runs: int, *, same_minute: bool = False) -> dict[str, list[TrendPoint]]:
    """`iflows` iFlows over `runs` nightly runs (or runs seconds apart); Flow01 fails in the last run."""
    run_ids = [
        f"202611{1 + n // 24:02}T{n % 24:02}0000Z" if not same_minute else f"20261101T0100{n:02}Z" for n in range(runs)
    ]
    return {
        f"Flow{i:02}": [
            TrendPoint(run_id, 50.0 if (i == 1 and n == runs - 1) else 100.0, 10.0 + i + n)
            for n, run_id in enumerate(run_ids)
        ]
        for i in range(iflows)
    }


@pytest.mark.parametrize(("iflows", "runs"), [(1, 2), (5, 5), (12, 30), (25, 30)])
def test_one_panel_per_iflow_and_labels_that_do_not_overlap(iflows: int, runs: int) -> None:
    figure = trend_figure(series(iflows, runs), lambda p: p.pass_rate, title="Pass rate", unit="% passed")

    assert figure is not None
    axes = figure.get_axes()
    assert len(axes) == min(iflows, MAX_PANELS)
    assert all(len(a.get_lines()) >= 1 for a in axes)
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    renderer = canvas.get_renderer()
    labels = [
        label.get_window_extent(renderer)
        for a in axes
        for label in a.get_xticklabels() + a.get_yticklabels() + [a.title]
        if label.get_visible() and label.get_text()
    ]
    assert labels
    overlapping = [(a, b) for a, b in itertools.combinations(labels, 2) if a.overlaps(b)]
    assert not overlapping
    # Every panel's x axis can be read: the bottom panel of each column shows its labels.
    assert sum(1 for a in axes if any(t.get_visible() and t.get_text() for t in a.get_xticklabels())) == min(iflows, 5)


def test_at_most_three_labelled_runs_and_seconds_only_when_needed() -> None:
    assert tick_positions(30) == [0, 14, 29]
    assert tick_positions(2) == [0, 1]
    assert tick_positions(1) == [0]
    assert run_labels(["20261124T073512Z", "20261125T073512Z"]) == ["11-24\n07:35", "11-25\n07:35"]
    assert run_labels(["20261124T073512Z", "20261124T073540Z"]) == ["11-24\n07:35:12", "11-24\n07:35:40"]


def test_failing_iflows_come_first_and_too_many_are_counted() -> None:
    data = series(25, 3)

    assert panel_order(data)[:2] == ["Flow01", "Flow00"]
    chart = pass_rate_chart(data)
    assert chart.startswith("<svg") and "5 more iFlows not drawn" in chart
    assert "Flow01" in chart and "Flow24" not in chart


def test_charts_stay_small() -> None:
    data = series(12, 30)

    assert len(pass_rate_chart(data)) + len(latency_chart(data)) < 400_000
    assert pass_rate_chart(data) == pass_rate_chart(data)  # deterministic: reports diff well


def test_nothing_to_draw() -> None:
    assert pass_rate_chart({}) == ""
    assert latency_chart({"Flow": [TrendPoint("r1", None, None)]}) == ""
