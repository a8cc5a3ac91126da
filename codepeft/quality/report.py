"""The outputs every analyser writes: a per-instance CSV, a JSON summary and one raw file per input.

Layout under the output folder::

    <tool>.csv              Task ID, the tool's columns, status
    <tool>_summary.json     files analysed, violations by category and rule, files not analysable and why
    raw/<tool>/<id>.json    that file's own tool records, status, values, the input's sha256 and the reuse
                            key (a rerun reuses a raw file only when both still match)
    <tool>.csv.provenance.json  protocol, tool versions, options, wrapping route (codepeft.provenance)
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from codepeft.io import file_stems, write_csv, write_json
from codepeft.quality.base import ANALYSED_STATUSES, FileResult

ID_COLUMN = "Task ID"


def raw_path(output_dir: Path, tool: str, task_id: str) -> Path:
    """``raw/<tool>/<stem>.json``: the id's ``codepeft.io.file_stems`` stem (an id such as ``a/b`` is no name)."""
    return output_dir / "raw" / tool / f"{file_stems([task_id])[task_id]}.json"


def write_raw(output_dir: Path, tool: str, result: FileResult, sha256: str, settings: dict[str, Any],
              key: str) -> None:
    """Write one file's raw output (atomically, so an interrupted run never leaves a torn one).

    ``key`` is :func:`codepeft.provenance.settings_key` of everything that changes the result (tool and
    version, options, timeout, protocol); ``settings`` are stored beside it for people to read.
    """
    write_json(raw_path(output_dir, tool, result.task_id), {
        "task_id": result.task_id, "tool": tool, "status": result.status, "detail": result.detail,
        "sha256": sha256, "key": key, "settings": settings, "values": result.values,
        "violations": [list(v) for v in result.violations], "records": result.records,
    })


def load_raw(output_dir: Path, tool: str, task_id: str, sha256: str, key: str) -> FileResult | None:
    """A previous run's result for this exact input (``sha256``) and reuse ``key``, or None."""
    path = raw_path(output_dir, tool, task_id)
    if not path.is_file():
        return None
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    if saved.get("sha256") != sha256 or saved.get("key") != key:
        return None
    return FileResult(task_id, status=saved["status"], values=saved["values"],
                      violations=[tuple(v) for v in saved["violations"]], records=saved["records"],
                      detail=saved.get("detail", ""))


def summarise(tool: str, results: Sequence[FileResult], columns: Sequence[str], extra: dict[str, Any]) -> dict[str, Any]:
    """The JSON summary: counts of files by status, violations by category and rule, column totals."""
    analysed = [r for r in results if r.analysed]
    by_category: Counter[str] = Counter()
    by_rule: dict[str, Counter[str]] = {}
    for result in analysed:
        for category, rule in result.violations:
            by_category[category] += 1
            by_rule.setdefault(category, Counter())[rule] += 1
    totals = {col: sum(r.values[col] for r in analysed if isinstance(r.values.get(col), int | float))
              for col in columns}
    failed = [{"task_id": r.task_id, "status": r.status, "detail": r.detail} for r in results if not r.analysed]
    zero_rows = sum(1 for r in results if not r.analysed and r.values and all(v == 0 for v in r.values.values()))
    return {
        "tool": tool, **extra,
        "files": len(results), "analysed": len(analysed), "not_analysable": len(failed), "zero_rows": zero_rows,
        "syntax_errors_counted": sum(r.status == "syntax_error" for r in analysed),
        "status_counts": dict(sorted(Counter(r.status for r in results).items())),
        "column_totals": totals,
        "violations_by_category": dict(by_category.most_common()),
        "violations_by_rule": {cat: dict(counts.most_common()) for cat, counts in sorted(by_rule.items())},
        "failed_files": failed,
    }


def summary_line(summary: dict[str, Any], csv_path: Path) -> str:
    """One line for the terminal: how many files, how many not analysable and why."""
    counts = summary["status_counts"]
    line = f"{summary['tool']}: {summary['files']} files, {summary['analysed']} analysed"
    if summary["syntax_errors_counted"]:
        line += f" ({summary['syntax_errors_counted']} with syntax errors, counted)"
    if counts.get("wrapped"):
        line += f" ({counts['wrapped']} bare members wrapped in a class)"
    if counts.get("study_wrapped"):
        line += f" ({counts['study_wrapped']} wrapped the study's way)"
    if summary["not_analysable"]:
        reasons = ", ".join(f"{n} {status}" for status, n in counts.items() if status not in ANALYSED_STATUSES)
        line += f"; {summary['not_analysable']} not analysable ({reasons})"
    if summary.get("protocol") == "study" and summary.get("zero_rows"):
        line += f"; {summary['zero_rows']} of them 0 in every column, the study's convention"
    route = f" [route: {summary['route']}]" if "route" in summary else ""
    return line + f" -> {csv_path}{route}"


def write_outputs(output_dir: Path, tool: str, results: Sequence[FileResult], columns: Sequence[str],
                  extra: dict[str, Any]) -> tuple[Path, str]:
    """Write ``<tool>.csv`` and ``<tool>_summary.json``; return the CSV path and the summary line."""
    ordered = sorted(results, key=lambda r: r.task_id)
    csv_path = output_dir / f"{tool}.csv"
    rows = [{ID_COLUMN: r.task_id, **r.values, "status": r.status} for r in ordered]
    write_csv(csv_path, rows, [ID_COLUMN, *columns, "status"])
    summary = summarise(tool, ordered, columns, extra)
    write_json(output_dir / f"{tool}_summary.json", summary)
    return csv_path, summary_line(summary, csv_path)
