"""Merging the judge's runs into one rating per summary (mean or majority vote), and the run and merged
CSVs' names and columns."""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from codepeft.errors import UserError
from codepeft.io import read_csv, write_csv
from codepeft.metrics.judge.parse import as_rating, reply_status
from codepeft.metrics.judge.prompt import CRITERIA
from codepeft.provenance import check_protocol, write_provenance

COLUMNS = ("target_id", *CRITERIA)
STATUSES = ("ok", "partial", "unparsable", "refused", "error", "skipped")  # the run CSVs' status column
MERGED_COLUMNS = (*COLUMNS, "status", "detail")  # the merged CSVs: status one of STATUSES, detail the runs' statuses
AGGREGATION_METHODS = ("mean", "vote")


def run_csv_path(folder: str | Path, model_name: str, run: int) -> Path:
    """``<folder>/<model_name>_<run>.csv``: one run's ratings."""
    return Path(folder) / f"{model_name}_{run}.csv"


def merged_csv_path(folder: str | Path, model_name: str, method: str) -> Path:
    """The merged CSV of ``method``: ``<model_name>_FINAL_MERGED.csv`` (vote), ``_FINAL_MERGED_MEAN.csv`` (mean)."""
    return Path(folder) / (f"{model_name}_FINAL_MERGED.csv" if method == "vote"
                           else f"{model_name}_FINAL_MERGED_MEAN.csv")


def _vote(values: list[int], protocol: str = "default") -> float:
    """The most frequent rating. A tie goes, under ``default``, to the tied rating closest to the mean, then
    to the lower (always a rating); under ``study``, to the median of all the ratings (as the study's
    ``merge_all_runs``: it may fall between two ratings, e.g. 3.5)."""
    counts = Counter(values)
    top = max(counts.values())
    tied = [v for v, c in counts.items() if c == top]
    if len(tied) > 1 and protocol == "study":
        return statistics.median(values)
    mean = sum(values) / len(values)
    return min(tied, key=lambda v: (abs(v - mean), v))


def _run_status(row: dict[str, Any]) -> str:
    """A run row's status; for run CSVs written before the status column, derived from its ratings."""
    status = str(row.get("status") or "").strip()
    if status in STATUSES:
        return status
    return reply_status({c: as_rating(row.get(c)) for c in CRITERIA})


def aggregate_runs(runs: Sequence[Sequence[dict[str, Any]]], method: str,
                   protocol: str = "default") -> list[dict[str, Any]]:
    """One row per target (:data:`MERGED_COLUMNS`): per criterion the mean (``mean``) or majority vote
    (``vote``, ties as :func:`_vote` says for ``protocol``) of the runs' ratings, missing ratings left out;
    empty when no run rated it; ``status`` and ``detail`` say why (:func:`_merged_status`)."""
    if method not in AGGREGATION_METHODS:
        raise UserError(f"--method {method!r}: valid values are {', '.join(AGGREGATION_METHODS)}")
    check_protocol(protocol)
    order: list[str] = []
    values: dict[str, dict[str, list[int]]] = {}
    statuses: dict[str, list[str]] = {}
    for table in runs:
        for row in table:
            target = str(row["target_id"])
            if target not in values:
                order.append(target)
                values[target] = {c: [] for c in CRITERIA}
                statuses[target] = []
            statuses[target].append(_run_status(row))
            for criterion in CRITERIA:
                rating = as_rating(row.get(criterion))
                if rating is not None:
                    values[target][criterion].append(rating)
    merged = []
    for target in order:
        row: dict[str, Any] = {"target_id": target}
        for criterion, ratings in values[target].items():
            if not ratings:
                row[criterion] = None
            else:
                row[criterion] = sum(ratings) / len(ratings) if method == "mean" else _vote(ratings, protocol)
        merged.append({**row, **_merged_status(row, statuses[target])})
    return merged


def _merged_status(row: dict[str, Any], run_statuses: list[str]) -> dict[str, str]:
    """Why a merged row has the values it has: ``ok`` (all three criteria rated), ``partial`` (some), else
    the runs' reason: ``skipped`` (every run), ``error`` (any run failed: a rerun asks it again), ``refused``,
    ``unparsable``. ``detail`` counts the runs' statuses, e.g. ``runs: ok 3, error 2``."""
    found = sum(row[c] is not None for c in CRITERIA)
    if found:
        status = "ok" if found == len(CRITERIA) else "partial"
    else:
        status = next((s for s in ("error", "refused", "unparsable") if s in run_statuses),
                      "skipped" if run_statuses and set(run_statuses) == {"skipped"} else "unparsable")
    counts = Counter(run_statuses)
    return {"status": status, "detail": "runs: " + ", ".join(f"{s} {counts[s]}" for s in STATUSES if counts[s])}


def column_means(table: Sequence[dict[str, Any]]) -> dict[str, float | None]:
    """Per criterion, the mean of a merged table's ratings, empty ones left out; None when none is rated."""
    means = {}
    for criterion in CRITERIA:
        values = [row[criterion] for row in table if row[criterion] is not None]
        means[criterion] = sum(values) / len(values) if values else None
    return means


def _find_model_name(folder: Path, num_runs: int) -> str:
    names = {m.group(1) for path in folder.glob("*_1.csv") if (m := re.fullmatch(r"(.+)_1\.csv", path.name))}
    complete = sorted(n for n in names if all(run_csv_path(folder, n, r).is_file() for r in range(1, num_runs + 1)))
    if len(complete) == 1:
        return complete[0]
    if not complete:
        raise UserError(f"{folder}: no complete set of run files <name>_1.csv .. <name>_{num_runs}.csv")
    raise UserError(f"{folder}: run files for several models ({', '.join(complete)}); choose one with --model_name")


def aggregate_folder(input_folder: str | Path, num_runs: int, method: str, model_name: str | None = None,
                     output_file: str | Path | None = None,
                     protocol: str = "default") -> tuple[Path, list[dict[str, Any]]]:
    """Merge ``<model_name>_1.csv .. _<num_runs>.csv`` in ``input_folder``; write the merged CSV (and its
    provenance file) and return its path and rows."""
    check_protocol(protocol)
    folder = Path(input_folder)
    if not folder.is_dir():
        raise UserError(f"--input_folder {folder}: folder not found")
    if num_runs < 1:
        raise UserError(f"--num_runs must be at least 1, got {num_runs}")
    model_name = model_name or _find_model_name(folder, num_runs)
    runs = []
    for run in range(1, num_runs + 1):
        path = run_csv_path(folder, model_name, run)
        columns, rows = read_csv(path, f"run file (--num_runs {num_runs})")
        missing = [c for c in COLUMNS if c not in columns]
        if missing:
            raise UserError(f"{path}: missing column(s) {', '.join(missing)}; expected {','.join(COLUMNS)}")
        runs.append(rows)
    merged = aggregate_runs(runs, method, protocol)
    output = Path(output_file) if output_file else merged_csv_path(folder, model_name, method)
    write_csv(output, merged, MERGED_COLUMNS)
    write_provenance(output, "judge_aggregation", protocol, {"input_folder": str(folder), "model_name": model_name,
                                                             "num_runs": num_runs, "method": method})
    return output, merged
