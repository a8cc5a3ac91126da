"""The experiment report's handling of values a quality tool could not measure: n_unanalysable, no zero bars."""

from __future__ import annotations

import matplotlib.axes
import pytest

from codepeft.pipeline.report import plot, unanalysable_lines


def row(config: str, metric: str, mean, n: int, missing: int) -> dict:
    model, method = config.split("_")
    return {"model": model, "method": method, "tasks_trained": "generation", "task": "generation", "language": "python",
            "metric": metric, "mean": mean, "std": 0.5 if n > 1 else "", "n": n, "n_unanalysable": missing,
            "_source": "pylint"}


def test_a_missing_value_draws_no_bar(tmp_path, monkeypatch):
    drawn: list[tuple[list[float], list[float]]] = []
    original = matplotlib.axes.Axes.bar

    def spy(self, x, height, *args, **kwargs):
        drawn.append((list(x), list(height)))
        return original(self, x, height, *args, **kwargs)

    monkeypatch.setattr(matplotlib.axes.Axes, "bar", spy)
    rows = [row("m_a", "Pylint_Err", 1.5, 4, 1), row("m_a", "Pylint_War", 2.0, 4, 1),
            row("m_b", "Pylint_Err", "", 0, 5), row("m_b", "Pylint_War", 3.0, 5, 0)]
    written = plot(rows, tmp_path, "")
    assert len(written) == 1 and written[0].is_file()
    (a_x, a_heights), (b_x, b_heights) = drawn
    assert a_heights == [1.5, 2.0] and b_heights == [3.0]  # m_b's Pylint_Err has no value: no bar, not a 0
    assert b_x == [pytest.approx(1.4)]  # its one bar sits at the second metric


def test_report_lists_metrics_with_unanalysable_instances():
    rows = [row("m_a", "Pylint_Err", 1.5, 4, 1), row("m_a", "Pylint_War", 2.0, 5, 0)]
    lines = unanalysable_lines(rows)
    assert lines[-1] == "| m | a | generation | python | Pylint_Err | 4 | 1 |" and len(lines) == 5
    assert "Every instance has a value" in unanalysable_lines(rows[1:])[0]
