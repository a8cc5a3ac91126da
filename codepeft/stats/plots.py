"""Box plots of per-instance CSVs (``statistical_tests/plot_metrics.py``): one PNG per column, a box per run.

matplotlib is imported when a plot is drawn, so importing this module stays fast.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from codepeft.errors import UserError
from codepeft.io import atomic_open, require_file
from codepeft.pipeline.layout import per_instance, per_instance_folder
from codepeft.stats.pairing import parse_number, read_instance_table


def run_csvs(root: str | Path, source: str, task: str, language: str,
             runs: Sequence[str] | None = None) -> dict[str, Path]:
    """``{run: path}`` for ``<root>/per-instance/<source>/<task>/<language>/<run>.csv`` (all runs, or those named)."""
    folder = per_instance_folder(source, task, language, root)
    if runs:
        found = {run: per_instance(source, task, language, run, root) for run in runs}
        for path in found.values():
            require_file(path, "per-instance CSV")
        return found
    found = {path.stem: path for path in sorted(folder.glob("*.csv"))}
    if not found:
        raise UserError(f"no per-instance CSVs in {folder}; check --root, --source, --task and --language")
    return found


def plot_metric_boxplots(inputs: Mapping[str, str | Path], output_dir: str | Path,
                         columns: Sequence[str] | None = None, title: str = "", file_prefix: str = "") -> list[Path]:
    """One PNG per column, ``<output_dir>/<file_prefix><column>.png``: a box per configuration (label), missing
    cells left out. Returns the PNG paths.

    ``columns`` defaults to the value columns that every input has, in the first input's order.
    """
    if not inputs:
        raise UserError("no per-instance CSVs to plot")
    tables = {label: read_instance_table(path) for label, path in inputs.items()}
    if columns is None:
        first = next(iter(tables.values())).columns[1:]
        columns = [c for c in first if all(c in t.columns[1:] for t in tables.values())]
        if not columns:
            raise UserError(f"the per-instance CSVs share no value column: {', '.join(map(str, inputs.values()))}")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    for column in columns:
        data = {label: [v for v in table.values(column, parse_number).values() if v is not None]
                for label, table in tables.items()}
        labels = [f"{label}\n(n={len(values)})" for label, values in data.items()]
        figure, axes = plt.subplots(figsize=(max(6.0, 1.6 * len(data)), 4.5))
        axes.boxplot([values or [math.nan] for values in data.values()], showmeans=True)  # triangle: the mean
        axes.set_xticks(range(1, len(labels) + 1), labels, rotation=20 if len(labels) > 3 else 0, fontsize=8)
        axes.set_ylabel(column)
        axes.set_title(f"{title}: {column}" if title else column, fontsize=10, wrap=True)
        figure.tight_layout()
        path = Path(output_dir) / f"{file_prefix}{re.sub(r'[^A-Za-z0-9_.@+-]+', '_', column)}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_open(path, "wb") as handle:
            figure.savefig(handle, format="png", dpi=100)
        plt.close(figure)
        written.append(path)
    return written
