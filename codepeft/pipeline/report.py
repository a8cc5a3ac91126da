"""Results for people: summary.csv, summary_wide.csv, plots/*.png and REPORT.md from an experiment folder.

Columns of ``summary.csv``: model, method, tasks_trained, task, language, metric, mean, std, n, n_unanalysable
— one row per model x method x task x language (or direction) x metric, over the per-instance CSVs under
``per-instance/<source>/<task>/<language>/<model>_<method>.csv``. Missing cells (empty, or NA, NaN, None,
null in any case: ``codepeft.stats.pairing.MISSING_CELLS``, the statistics' definition; a metric that could not be
computed, the row's ``status`` says why) are left out of mean and n, never counted as 0, and counted in
``n_unanalysable``; a metric with no value at all gets a row with empty mean. Any other non-number in a measure
column is an error naming file, line and column. ``metric`` is the measure's name from the tables in
``codepeft.metrics.measures`` (``Rouge-L``, ``SIDE``, ``Pylint_Err``...), else ``<source>_<column>``.
"""

from __future__ import annotations

import math
import statistics as stats_lib
import textwrap
from collections import defaultdict
from pathlib import Path
from typing import Any

from codepeft.errors import UserError
from codepeft.io import read_csv, read_json, write_csv, write_text
from codepeft.metrics.measures import (
    CHECKSTYLE,
    CODEBLEU,
    CSHARP,
    FLAKE8,
    JUDGE,
    LIZARD,
    PASSK,
    PMD,
    PYLINT,
    SIDE,
    SONAR,
    SONARLIKE,
    TEXT_METRICS,
)
from codepeft.pipeline import layout
from codepeft.pipeline.config import Experiment
from codepeft.provenance import DEFAULT_PROTOCOL, read_provenance
from codepeft.stats.pairing import MISSING_CELLS, parse_number

SUMMARY_COLUMNS = ("model", "method", "tasks_trained", "task", "language", "metric", "mean", "std", "n",
                   "n_unanalysable")
METRIC_NAMES = {(source, column): name for source, column, name in
                LIZARD + PYLINT + FLAKE8 + SONAR + SONARLIKE + PMD + CHECKSTYLE + CSHARP + TEXT_METRICS + SIDE + JUDGE + CODEBLEU
                + PASSK}
CORRECTNESS_SOURCES = ("passk", "text_metrics", "codebleu", "judge")
QUALITY_CATEGORIES = ("pylint", "flake8", "pmd", "checkstyle")  # sources whose columns count violations


def _is_number(cell: str) -> bool:
    try:
        return parse_number(cell) is not None
    except ValueError:
        return False


def measure_values(path: Path, column: str, records: list[dict[str, str]], known: bool) -> list[float | None] | None:
    """The numbers of ``column`` (None for a missing cell: empty, NA, NaN, None, null, as the statistics read them).

    None when ``column`` is text (not a ``known`` measure and not one cell a number, such as ``status``); a cell
    that is neither a number nor missing in a measure column is a UserError naming file, line and column.
    """
    cells = [record.get(column) or "" for record in records]
    if not known and not any(_is_number(cell) for cell in cells):
        return None
    values = []
    for line, cell in enumerate(cells, start=2):
        try:
            values.append(parse_number(cell))
        except ValueError:
            raise UserError(f"{path}:{line}: column {column!r} holds {cell!r}, neither a number nor a missing value "
                            f"({', '.join(sorted(c or 'empty' for c in MISSING_CELLS))}); fix that cell") from None
    return values


def summarize(experiment: Experiment) -> list[dict[str, Any]]:
    """The rows of summary.csv."""
    runs = {experiment.run_name(model, method): (experiment.model_short(model), method)
            for model, method in experiment.runs()}
    rows = []
    for path in sorted(experiment.directory.glob(layout.PER_INSTANCE_GLOB)):
        source, task, language, run = path.parts[-4], path.parts[-3], path.parts[-2], path.stem
        if run not in runs:
            continue
        model, method = runs[run]
        columns, records = read_csv(path)
        for column in columns[1:]:
            values = measure_values(path, column, records, (source, column) in METRIC_NAMES)
            if values is None:
                continue  # a text column such as status
            present = [v for v in values if v is not None]
            rows.append({"model": model, "method": method.name,
                         "tasks_trained": "+".join(experiment.method_tasks(method)) if not method.single_task
                         else task, "task": task, "language": language,
                         "metric": METRIC_NAMES.get((source, column), f"{source}_{column}"),
                         "mean": round(stats_lib.fmean(present), 6) if present else "",
                         "std": round(stats_lib.stdev(present), 6) if len(present) > 1 else "",
                         "n": len(present), "n_unanalysable": len(records) - len(present), "_source": source})
    return rows


def wide(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """Pivot like the study's tables: one row per task, language and metric; one column per model_method."""
    configurations = sorted({f"{r['model']}_{r['method']}" for r in rows})
    table: dict[tuple[str, str, str], dict[str, Any]] = {}
    for r in rows:
        key = (r["task"], r["language"], r["metric"])
        table.setdefault(key, {"task": key[0], "language": key[1], "metric": key[2]})[f"{r['model']}_{r['method']}"] = r["mean"]
    return [table[k] for k in sorted(table)], ["task", "language", "metric", *configurations]


def plot(rows: list[dict[str, Any]], folder: Path, note: str) -> list[Path]:
    """One bar chart per task and language for correctness metrics, one for quality violations by category."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        kind = "metrics" if r["_source"] in CORRECTNESS_SOURCES else \
            "quality" if r["_source"] in QUALITY_CATEGORIES else None
        if kind:
            groups[(kind, r["task"], r["language"])].append(r)
    for (kind, task, language), items in sorted(groups.items()):
        metrics = list(dict.fromkeys(r["metric"] for r in items))
        by_key = {(r["metric"], f"{r['model']}_{r['method']}"): r for r in items}
        configs = sorted({config for _, config in by_key})
        fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(metrics) * max(1, len(configs)) / 2), 4.5))
        width = 0.8 / len(configs)
        for i, config in enumerate(configs):
            positions, means, errors = [], [], []
            for x, metric in enumerate(metrics):
                r = by_key.get((metric, config))
                if r is None or r["mean"] == "":  # no value: no bar (a zero-height bar would read as a measured 0)
                    ax.text(x + i * width, 0, "n/a", ha="center", va="bottom", fontsize=6, rotation=90, color="dimgray")
                    continue
                positions.append(x + i * width)
                means.append(r["mean"])
                errors.append((r["std"] or 0) / math.sqrt(r["n"]))
            ax.bar(positions, means, width, yerr=errors, capsize=2, label=config)
        ax.set_xticks([x + width * (len(configs) - 1) / 2 for x in range(len(metrics))])
        ax.set_xticklabels(metrics, rotation=30, ha="right", fontsize=8)
        ax.set_ylabel(("violations" if kind == "quality" else "score") + " per instance, mean ± s.e.")
        ax.set_title(f"{task} {language}: {'correctness' if kind == 'metrics' else 'quality violations by category'}",
                     fontsize=10)
        if note:
            fig.text(0.01, 0.01, textwrap.fill(note, 150), fontsize=6, color="dimgray", va="bottom")
        ax.legend(fontsize=7)
        fig.tight_layout(rect=(0, 0.06 if note else 0, 1, 1))
        path = folder / f"{kind}_{task}_{language}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written


def _delta_text(record: dict[str, str]) -> str:
    """Cliff's delta with its 95% interval from a results row (``NA`` bounds where there is no interval)."""
    bounds = [parse_number(record.get(key) or "") for key in ("cliffs_delta_low", "cliffs_delta_high")]
    interval = ", ".join("NA" if value is None else f"{value:.3f}" for value in bounds)
    return f"Cliff's delta = {float(record['cliffs_delta']):.3f} [95% CI {interval}]"


def unanalysable_lines(rows: list[dict[str, Any]]) -> list[str]:
    """REPORT.md's account of empty cells: per metric with any, how many instances have no value."""
    missing = [r for r in rows if r["n_unanalysable"]]
    if not missing:
        return ["Every instance has a value for every metric (`n_unanalysable` is 0 throughout `summary.csv`)."]
    lines = ["Instances the tool or metric could not measure (empty cells, left out of the means; the per-instance "
             "CSV's `status` column says why). `n` counts the instances with a value.", ""]
    columns = ["model", "method", "task", "language", "metric", "n", "n_unanalysable"]
    return lines + markdown_table(missing, columns)


def statistics_in_words(experiment: Experiment) -> list[str]:
    """One line per comparison file: what was significant after correction, with effect sizes and intervals."""
    lines = []
    for path in sorted(experiment.directory.glob(layout.STATS_GLOB)):
        columns, records = read_csv(path)
        a, b = path.stem.split("__")[0].split("_vs_")
        subject = path.stem.split("__")[1].replace("_", " ")
        significant = [r for r in records if r.get("significant") == "yes"]
        flagged = sum(1 for r in records if r.get("few_pairs") in ("yes", "True", "true"))
        recorded = read_provenance(path)
        protocol = f"{recorded['protocol']} protocol, " if recorded else ""
        head = (f"- **{subject}**, {a} vs {b} ({len(records)} comparisons, {protocol}"
                f"{experiment.stats.get('correction', 'holm')} correction): ")
        if not significant:
            head += "no difference is significant after correction."
        else:
            parts = []
            for r in significant:
                if "cliffs_delta" in columns:
                    delta = float(r["cliffs_delta"])
                    direction = f"higher for {a}" if delta > 0 else f"higher for {b}"
                    parts.append(f"{r['metric']} in {r['family']} (adjusted p = {float(r['p_adjusted']):.4f}, "
                                 f"{_delta_text(r)}, {r['magnitude']}, {direction})")
                else:
                    parts.append(f"{r['metric']} in {r['family']} (adjusted p = {float(r['p_adjusted']):.4f}, "
                                 f"{r['a_only']} pass only with {a}, {r['b_only']} only with {b})")
            head += "significant: " + "; ".join(parts) + "."
        if flagged:
            head += f" {flagged} comparison(s) rest on fewer than 5 pairs and mean little."
        lines.append(head)
    return lines


def _versions(tools: dict[str, Any]) -> str:
    parts = []
    for name, value in sorted(tools.items()):
        version = value.get("version") if isinstance(value, dict) else value
        parts.append(f"{name} {version if version is not None else '(not installed)'}")
    return ", ".join(parts)


def _mapping_text(mapping: dict[str, Any] | None) -> str:
    if not mapping:
        return ""
    return ", ".join(f"{key}: " + (" ".join(f"{k}={v}" for k, v in value.items()) if isinstance(value, dict)
                                   else str(value)) for key, value in sorted(mapping.items()))


def measure_provenance(experiment: Experiment) -> list[tuple[str, str, dict[str, Any] | None]]:
    """``(run, source/task/language, provenance record or None)`` for every per-instance CSV of the experiment."""
    return sorted(((path.stem, "/".join(path.parts[-4:-1]), read_provenance(path))
                   for path in experiment.directory.glob(layout.PER_INSTANCE_GLOB)), key=lambda item: item[:2])


def protocol_lines(experiment: Experiment, provenance: list[tuple[str, str, dict[str, Any] | None]]) -> list[str]:
    """The protocol the configuration asks for, and those the measures recorded when they differ or are missing."""
    wanted = str(experiment.raw.get("protocol") or DEFAULT_PROTOCOL)
    counts: dict[str, int] = defaultdict(int)
    for _, _, record in provenance:
        counts[record.get("protocol", "not recorded") if record else "not recorded"] += 1
    line = f"**Protocol: {wanted}** (the configuration's `protocol:`; docs/statistics.md and docs/evaluation.md)"
    if set(counts) - {wanted}:
        line += ". Measures recorded: " + ", ".join(f"{name} ({n} files)" for name, n in sorted(counts.items()))
    return [line, ""]


def provenance_section(provenance: list[tuple[str, str, dict[str, Any] | None]]) -> list[str]:
    """REPORT.md's table: per run and measure, the protocol, tool versions, models and sandbox recorded."""
    lines = ["## Provenance of the measures", "",
             "From the `*.provenance.json` beside each per-instance CSV (`per-instance/<source>/<task>/<language>/`).",
             "", "| run | measure | protocol | tools | models | sandbox |", "|---|---|---|---|---|---|"]
    for run, measure, record in provenance:
        if record is None:
            lines.append(f"| {run} | {measure} | no provenance file (older run) | | | |")
            continue
        lines.append(f"| {run} | {measure} | {record.get('protocol', '')} | {_versions(record.get('tools') or {})} | "
                     f"{_mapping_text(record.get('models'))} | {_mapping_text(record.get('sandbox'))} |")
    if len(lines) == 6:
        lines.append("| (no per-instance CSVs) | | | | | |")
    return lines + [""]


def training_lines(experiment: Experiment) -> list[str]:
    lines = ["| run | tasks | steps | runtime (s) | final eval loss | trainable / total parameters |",
             "|---|---|---|---|---|---|"]
    for config_path in sorted((experiment.directory / layout.TRAIN).glob("**/run_config.json")):
        config = read_json(config_path)
        final = (config.get("final_eval") or {}).get("eval_loss")
        lines.append(f"| {config_path.parent.relative_to(experiment.directory / layout.TRAIN)} | "
                     f"{', '.join(config.get('tasks', {}))} | {config.get('global_step', '')} | "
                     f"{config.get('train_runtime_s', '')} | {'' if final is None else f'{final:.4f}'} | "
                     f"{config.get('trainable_parameters', 0):,} / {config.get('total_parameters', 0):,} |")
    return lines


def markdown_table(rows: list[dict[str, Any]], columns: list[str]) -> list[str]:
    def cell(value: Any) -> str:
        return f"{value:.4g}" if isinstance(value, float) else str(value if value is not None else "")

    out = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    out += ["| " + " | ".join(cell(row.get(c, "")) for c in columns) + " |" for row in rows]
    return out


def write_report(experiment: Experiment) -> Path:
    """Write summary.csv, summary_wide.csv, plots and REPORT.md; return the report's path."""
    directory = experiment.directory
    rows = summarize(experiment)
    write_csv(directory / layout.SUMMARY, rows, SUMMARY_COLUMNS)
    wide_rows, wide_columns = wide(rows)
    write_csv(directory / layout.SUMMARY_WIDE, wide_rows, wide_columns)
    note = experiment.raw.get("note", "")
    plots = plot(rows, directory / layout.PLOTS, note)
    models = ", ".join(experiment.model_short(m) for m in experiment.models)
    provenance = measure_provenance(experiment)
    text = [f"# Experiment `{experiment.name}`", "", *protocol_lines(experiment, provenance)]
    if note:
        text += [f"> **Note.** {note}", ""]
    if experiment.raw.get("description"):
        text += [str(experiment.raw["description"]).strip(), ""]
    text += ["## Set-up", "", f"- models: {models}", f"- methods: {', '.join(m.name for m in experiment.methods)}",
             "- tasks: " + "; ".join(f"{t} ({', '.join(v)})" for t, v in experiment.tasks.items()),
             f"- configuration: `{experiment.path.name}`", "", "## Training", "", *training_lines(experiment), "",
             "## Results", "", "Means per instance (`summary_wide.csv`; per-configuration rows with std and n in "
             "`summary.csv`).", "", *markdown_table(wide_rows, wide_columns)]
    if any(r["_source"] == "sonarlike" for r in rows):
        text += ["", "`SonarLike_*`: offline approximations of SonarCloud's measures (route b: pylint, bandit, PMD, "
                 "lizard, cognitive-complexity; `sonarlike.csv.provenance.json` names the route), not Sonar's values; "
                 "see docs/quality.md."]
    text += ["", "## Instances without a value", "", *unanalysable_lines(rows), "", "## Plots", ""]
    text += [f"![{p.stem}]({layout.PLOTS}/{p.name})" for p in plots]
    text += ["", "## Statistical comparisons", "",
             "Paired by instance id: Wilcoxon signed-rank with Cliff's delta [95% confidence interval] for "
             "continuous measures, McNemar for "
             "pass/fail; p-values corrected within each family. Full tables under `stats/`.", ""]
    text += statistics_in_words(experiment) or ["No comparisons were configured (`stats.comparisons`)."]
    text += ["", *provenance_section(provenance)]
    path = directory / layout.REPORT
    write_text(path, "\n".join(text) + "\n")
    return path

