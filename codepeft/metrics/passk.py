"""pass@k (Chen et al., 2021) over execution results in CoderEval's format.

A results file has one JSON object per task: an id (``_id``), optionally a runnable level (``level``,
or ``code_level`` in CoderEval's Java files) and ``generate_results``, a list of samples each with an
``is_pass`` verdict (a bool, or the strings 'True'/'False'). For a task with ``n`` samples of which
``c`` pass, the unbiased estimate is ``1 - C(n-c, k) / C(n, k)``; the benchmark figure is the mean over
tasks. Tasks with fewer than ``k`` samples cannot be scored at ``k``: they are left out of that mean
and counted in ``tasks_with_too_few_samples``, never dropped silently.

Samples may carry a ``status`` (``generation/execute_local.py`` writes one). Two are not verdicts on
the sample: ``benchmark_error`` (the task's own canonical solution fails its test; the whole task is
left out and counted in ``benchmark_errors``) and ``harness_error`` (the harness or sandbox failed;
such samples are counted in ``harness_errors`` and stop the computation unless explicitly allowed,
then they are left out of their task's ``n``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codepeft.errors import UserError
from codepeft.io import iter_jsonl, read_json, write_csv
from codepeft.provenance import read_provenance

ID_FIELDS = ("_id", "task_id", "question_id")
LEVEL_FIELDS = ("level", "code_level")
PER_INSTANCE_COLUMNS = ("Task ID", "pass@1")


@dataclass(frozen=True)
class TaskSamples:
    """The verdict counts of one task: ``n`` judged samples, ``c`` of them passing.

    ``benchmark_error``: the task's test is broken (not scored); ``harness_errors``: samples not judged
    because the harness failed (not in ``n``).
    """

    task_id: str
    n: int
    c: int
    level: str | None = None
    benchmark_error: bool = False
    harness_errors: int = 0


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one task, in the numerically stable product form of Chen et al.

    ``1 - C(n-c, k)/C(n, k) = 1 - prod_{i=n-c+1}^{n} (1 - k/i)``; no large binomials are formed.
    """
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got n={n}, c={c}")
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n, got n={n}, k={k}")
    if n - c < k:
        return 1.0
    product = 1.0
    for i in range(n - c + 1, n + 1):
        product *= 1.0 - k / i
    return 1.0 - product


def parse_is_pass(value: Any, where: str) -> bool:
    """A verdict as written by CoderEval (bool or 'True'/'False', any case); anything else is an error."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise UserError(f"{where}: is_pass is {value!r}; expected true/false or the strings 'True'/'False'")


def _task_id(obj: dict[str, Any], where: str) -> str:
    for field in ID_FIELDS:
        if field in obj:
            return str(obj[field])
    raise UserError(f"{where}: no task id (expected one of the fields {', '.join(ID_FIELDS)})")


def _level(obj: dict[str, Any]) -> str | None:
    for field in LEVEL_FIELDS:
        if obj.get(field) not in (None, ""):
            return str(obj[field])
    return None


def read_execution_results(path: str | Path) -> list[TaskSamples]:
    """Read a results file into per-task counts, in file order; bad lines raise a UserError naming them."""
    tasks: list[TaskSamples] = []
    first_line: dict[str, int] = {}
    for number, obj in iter_jsonl(path):
        where = f"{path}:{number}"
        task_id = _task_id(obj, where)
        if task_id in first_line:
            raise UserError(f"{where}: task {task_id} already appeared on line {first_line[task_id]}; "
                            "each task must appear once")
        first_line[task_id] = number
        samples = obj.get("generate_results")
        if not isinstance(samples, list):
            raise UserError(f"{where}: 'generate_results' is missing or not a list (task {task_id})")
        judged = passed = harness_errors = 0
        benchmark_error = False
        for index, sample in enumerate(samples):
            if not isinstance(sample, dict) or "is_pass" not in sample:
                raise UserError(f"{where}: generate_results[{index}] of task {task_id} has no 'is_pass' verdict; "
                                "is this a predictions file? Execute it first (generation/execute_local.py)")
            status = sample.get("status")
            if status == "benchmark_error":
                benchmark_error = True
            elif status == "harness_error":
                harness_errors += 1
            else:
                judged += 1
                passed += parse_is_pass(sample["is_pass"], f"{where}: generate_results[{index}]")
        tasks.append(TaskSamples(task_id, judged, passed, _level(obj), benchmark_error, harness_errors))
    return tasks


def read_discard_ids(path: str | Path) -> set[str]:
    """Task ids to leave out: a JSON list of ids, or an object whose values are such lists.

    The study's ``ids_to_discard.json`` is an object with one list per language
    ("CoderEval Java Ids with Unreliable Tests", "CoderEval Python Ids with Unreliable Tests").
    """
    data = read_json(path, "discard-ids file")
    lists = list(data.values()) if isinstance(data, dict) else [data]
    ids: set[str] = set()
    for value in lists:
        if not isinstance(value, list) or not all(isinstance(item, (str, int)) for item in value):
            raise UserError(f"{path}: expected a JSON list of task ids, or an object whose values are such lists")
        ids.update(str(item) for item in value)
    return ids


def _scores(tasks: Sequence[TaskSamples], ks: Sequence[int]) -> dict[str, Any]:
    """Mean pass@k over the tasks with enough samples, plus how many were scored and left out per k."""
    report: dict[str, Any] = {"n_tasks": len(tasks)}
    scored: dict[str, int] = {}
    too_few: dict[str, int] = {}
    for k in ks:
        values = [pass_at_k(task.n, task.c, k) for task in tasks if task.n >= k]
        report[f"pass@{k}"] = sum(values) / len(values) if values else None
        scored[str(k)] = len(values)
        too_few[str(k)] = len(tasks) - len(values)
    report["tasks_scored"] = scored
    report["tasks_with_too_few_samples"] = too_few
    return report


def passk_report(tasks: Sequence[TaskSamples], ks: Sequence[int]) -> dict[str, Any]:
    """pass@k for each k overall and, when tasks carry a runnable level, per level.

    Tasks with a benchmark error are left out (``n_tasks`` counts the others) and counted in
    ``benchmark_errors``; ``harness_errors`` counts the samples not judged.
    """
    ks = _check_ks(ks)
    broken = [task for task in tasks if task.benchmark_error]
    tasks = [task for task in tasks if not task.benchmark_error]
    report = _scores(tasks, ks)
    report["benchmark_errors"] = len(broken)
    report["harness_errors"] = sum(task.harness_errors for task in tasks)
    report["n_samples"] = sum(task.n for task in tasks)
    report["samples_per_task"] = {str(n): count for n, count in sorted(Counter(t.n for t in tasks).items())}
    if any(task.level is not None for task in tasks):
        levels = sorted({task.level or "(none)" for task in tasks})
        report["by_level"] = {level: _scores([t for t in tasks if (t.level or "(none)") == level], ks)
                              for level in levels}
    return report


def _check_ks(ks: Iterable[int]) -> list[int]:
    ks = list(ks)
    if not ks or any(not isinstance(k, int) or k < 1 for k in ks):
        raise UserError(f"k values must be positive integers, got {ks}")
    return ks


def load_tasks(results_path: str | Path, discard_ids: Iterable[str] | None = None) -> tuple[list[TaskSamples], int]:
    """Read the results and drop the discarded ids; return the remaining tasks and how many were dropped."""
    tasks = read_execution_results(results_path)
    if not discard_ids:
        return tasks, 0
    discard = {str(task_id) for task_id in discard_ids}
    kept = [task for task in tasks if task.task_id not in discard]
    return kept, len(tasks) - len(kept)


def results_sandbox(results_path: str | Path) -> dict[str, Any]:
    """The isolation the results were produced under: ``kinds``, the distinct per-sample ``sandbox`` values
    (empty when the file records none, e.g. CoderEval's own output), and ``record``, the sandbox in the
    results' provenance file (None without one)."""
    kinds = {str(sample["sandbox"]) for _, obj in iter_jsonl(results_path)
             for sample in obj.get("generate_results") or [] if isinstance(sample, dict) and "sandbox" in sample}
    provenance = read_provenance(results_path)
    return {"kinds": sorted(kinds), "record": provenance.get("sandbox") if provenance else None}


def evaluate_results(results_path: str | Path, ks: Sequence[int] = (1, 5, 10),
                     discard_ids: Iterable[str] | None = None,
                     allow_harness_errors: bool = False) -> tuple[dict[str, Any], list[TaskSamples]]:
    """The pass@k report for one results file and the tasks it was computed from (after discarding).

    Samples with status ``harness_error`` raise a UserError unless ``allow_harness_errors`` (then they
    are left out of their task's ``n`` and counted).
    """
    discard = {str(task_id) for task_id in discard_ids} if discard_ids else set()
    tasks, removed = load_tasks(results_path, discard)
    harness_errors = [task for task in tasks if task.harness_errors and not task.benchmark_error]
    if harness_errors and not allow_harness_errors:
        raise UserError(f"{results_path}: {sum(task.harness_errors for task in harness_errors)} sample(s) in "
                        f"{len(harness_errors)} task(s) (e.g. {harness_errors[0].task_id}) have status harness_error: "
                        "the sandbox or harness failed, not the sample (see their stderr_tail); rerun "
                        "generation/execute_local.py, which runs them again, or pass --allow_harness_errors to "
                        "score without them")
    report: dict[str, Any] = {"results_file": str(results_path)}
    if discard:
        report["discarded"] = {"ids_in_discard_list": len(discard), "tasks_removed": removed}
    report.update(passk_report(tasks, ks))
    report["sandbox"] = results_sandbox(results_path)
    return report, tasks


def compute_passk(results_path: str | Path, ks: Sequence[int] = (1, 5, 10),
                  discard_ids: Iterable[str] | None = None, allow_harness_errors: bool = False) -> dict[str, Any]:
    """The full pass@k report for one results file (what ``compute_passk.py --output_json`` writes)."""
    return evaluate_results(results_path, ks, discard_ids, allow_harness_errors)[0]


def parse_ks(value: str, flag: str = "--k") -> list[int]:
    """``"1,5,10"`` -> ``[1, 5, 10]``; anything but positive integers is a UserError naming the flag."""
    ks = []
    for item in (part.strip() for part in value.split(",")):
        if not item.isdigit() or int(item) < 1:
            raise UserError(f"{flag}: {item!r} is not a positive integer; give e.g. 1,5,10")
        ks.append(int(item))
    return ks


def per_instance_rows(tasks: Iterable[TaskSamples]) -> list[dict[str, Any]]:
    """Rows ``Task ID, pass@1`` with pass@1 = c/n; empty for a task without judged samples or with a benchmark error."""
    return [{"Task ID": task.task_id, "pass@1": task.c / task.n if task.n and not task.benchmark_error else None}
            for task in tasks]


def write_per_instance_csv(path: str | Path, tasks: Iterable[TaskSamples]) -> None:
    """Write the per-instance CSV that the statistics stage pairs by task id."""
    write_csv(path, per_instance_rows(tasks), PER_INSTANCE_COLUMNS)


def _line(name: str, report: dict[str, Any], k: int) -> str:
    value = report[f"pass@{k}"]
    scored = report["tasks_scored"][str(k)]
    missing = report["tasks_with_too_few_samples"][str(k)]
    text = f"{name:<8} " + ("   n/a  " if value is None else f"{100 * value:6.2f}%") + f"  ({scored} tasks"
    if missing:
        text += f"; {missing} with fewer than {k} samples left out"
    return text + ")"


def format_passk_report(report: dict[str, Any], ks: Sequence[int]) -> str:
    """A human-readable summary of :func:`compute_passk`'s report."""
    lines = [f"{report.get('results_file', 'results')}: {report['n_tasks']} tasks, {report['n_samples']} samples"]
    if "discarded" in report:
        lines[0] += f" ({report['discarded']['tasks_removed']} discarded tasks left out)"
    if report.get("benchmark_errors"):
        lines[0] += f"; {report['benchmark_errors']} task(s) with a benchmark error left out"
    if report.get("harness_errors"):
        lines[0] += f"; {report['harness_errors']} sample(s) with a harness error left out"
    if report.get("sandbox", {}).get("kinds"):
        lines[0] += f"; sandbox {', '.join(report['sandbox']['kinds'])}"
    lines += [_line(f"pass@{k}", report, k) for k in ks]
    for level, scores in report.get("by_level", {}).items():
        lines.append(f"  {level} ({scores['n_tasks']} tasks): " + ", ".join(
            f"pass@{k} " + ("n/a" if scores[f"pass@{k}"] is None else f"{100 * scores[f'pass@{k}']:.2f}%")
            for k in ks))
    return "\n".join(lines)
