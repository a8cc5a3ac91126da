"""Execute predictions against a benchmark and write results in CoderEval's format (resumable, parallel).

Predictions are JSONL in the inference format, ``{"_id": task_id, "generate_results": [code, ...]}``.
Results are JSONL in CoderEval's format, one task a line in the order of the predictions:
``{"_id", "language", "generate_results": [{"generate_code", "is_pass", "return_code", "status",
"duration_s", "stderr_tail", "sandbox"}, ...]}``, which ``compute_passk.py`` scores.

While running, each finished task is appended to ``<output>.partial``; the final file is written
atomically at the end and the partial file removed. A rerun skips the tasks already in the output or
the partial file whose samples are unchanged, so an interrupted run loses at most the tasks in flight.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from codepeft.errors import UserError
from codepeft.execution.benchmarks import Problem, load_benchmark
from codepeft.execution.java_runner import java_tools, run_java_sample
from codepeft.execution.outcome import SampleOutcome
from codepeft.execution.python_runner import run_python_sample
from codepeft.execution.sandbox import Sandbox
from codepeft.io import atomic_open, iter_jsonl

_SURROGATE = re.compile("[\ud800-\udfff]")
RUNNERS: dict[str, Callable[..., SampleOutcome]] = {"python": run_python_sample, "java": run_java_sample}


@dataclass
class Prediction:
    """One task's generated samples, as read from the predictions file."""

    task_id: str
    samples: list[str]


def storable(code: str) -> str:
    """``code`` as it can be written to UTF-8 (lone surrogates from broken input become U+FFFD)."""
    return _SURROGATE.sub("\ufffd", code)


def read_predictions(path: str | Path, problems: dict[str, Problem], benchmark: str) -> list[Prediction]:
    """Read and check the predictions file; every problem with it is a UserError naming the line."""
    predictions: list[Prediction] = []
    seen: dict[str, int] = {}
    unknown: list[str] = []
    for number, obj in iter_jsonl(path):
        where = f"{path}:{number}"
        if "_id" not in obj:
            raise UserError(f"{where}: no '_id' field; expected {{\"_id\": task_id, \"generate_results\": [code, ...]}}")
        task_id = str(obj["_id"])
        if task_id in seen:
            raise UserError(f"{where}: task {task_id} already appeared on line {seen[task_id]}")
        seen[task_id] = number
        samples = obj.get("generate_results")
        if not isinstance(samples, list) or not all(isinstance(sample, str) for sample in samples):
            raise UserError(f"{where}: 'generate_results' of task {task_id} must be a list of code strings")
        if task_id not in problems:
            unknown.append(f"{task_id} (line {number})")
        predictions.append(Prediction(task_id, samples))
    if unknown:
        raise UserError(f"{path}: {len(unknown)} task id(s) not in benchmark {benchmark}, e.g. "
                        f"{', '.join(unknown[:3])}; check --benchmark")
    return predictions


def _reusable_results(output: Path, partial: Path, predictions: list[Prediction]) -> dict[str, dict]:
    """Results from an earlier run whose samples equal the current predictions' (a truncated last line is ignored)."""
    wanted = {prediction.task_id: [storable(code) for code in prediction.samples] for prediction in predictions}
    done: dict[str, dict] = {}
    for path in (output, partial):
        if not path.is_file():
            continue
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                with contextlib.suppress(json.JSONDecodeError):
                    record = json.loads(line)
                    task_id = str(record.get("_id"))
                    codes = [item.get("generate_code") for item in record.get("generate_results", [])]
                    if wanted.get(task_id) == codes:
                        done[task_id] = record
    return done


class Progress:
    """Prints samples done, rate and ETA to stderr, at most every ``every`` seconds."""

    def __init__(self, total: int, stream: TextIO = sys.stderr, every: float = 2.0) -> None:
        self.total, self.stream, self.every = total, stream, every
        self.done = self.passed = 0
        self.start = self.last = time.monotonic()

    def update(self, passed: bool) -> None:
        self.done += 1
        self.passed += passed
        now = time.monotonic()
        if now - self.last >= self.every or self.done == self.total:
            self.last = now
            rate = self.done / max(now - self.start, 1e-9)
            eta = (self.total - self.done) / rate if rate else 0.0
            print(f"executed {self.done}/{self.total} samples ({self.passed} passed), {rate:.1f} samples/s, "
                  f"ETA {int(eta) // 60}m{int(eta) % 60:02d}s", file=self.stream, flush=True)


def _run_sample(sandbox: Sandbox, problem: Problem, code: str, timeout: float) -> SampleOutcome:
    try:
        code.encode("utf-8")
    except UnicodeEncodeError as err:
        return SampleOutcome("invalid_sample", None, 0.0, f"the sample is not valid Unicode text: {err}", sandbox.name)
    return RUNNERS[problem.language](sandbox, problem, code, timeout=timeout)


def execute_predictions(benchmark: str | Path, predictions_path: str | Path, output_path: str | Path,
                        timeout: float = 10.0, workers: int | None = None, sandbox: Sandbox | None = None,
                        log: TextIO = sys.stderr) -> dict[str, Any]:
    """Execute every sample of every prediction; write the results file; return counts.

    ``benchmark`` is ``"humaneval"`` or a benchmark JSONL path. Returns ``{"tasks", "samples",
    "passed", "reused_tasks", "sandbox"}``.
    """
    if timeout <= 0:
        raise UserError(f"--timeout must be positive, got {timeout}")
    workers = (os.cpu_count() or 1) if workers is None else workers
    if not 1 <= workers <= 64:
        raise UserError(f"--workers must be between 1 and 64, got {workers}")
    problems = load_benchmark(benchmark)
    predictions = read_predictions(predictions_path, problems, str(benchmark))
    output = Path(output_path)
    partial = output.with_name(output.name + ".partial")
    results = _reusable_results(output, partial, predictions)
    todo = [prediction for prediction in predictions if prediction.task_id not in results]
    if any(problems[prediction.task_id].language == "java" for prediction in todo):
        java_tools()  # fail before starting, not in the middle of the run
    sandbox = sandbox or Sandbox()
    print(sandbox.description, file=log)
    print(f"{len(predictions)} tasks: {len(results)} already done, {len(todo)} to execute "
          f"({sum(len(p.samples) for p in todo)} samples, {workers} workers, timeout {timeout:g} s)", file=log)
    progress = Progress(sum(len(prediction.samples) for prediction in todo), log)
    output.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(partial) as handle:  # what earlier runs finished survives an interruption of this one
        for record in results.values():
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    with open(partial, "a", encoding="utf-8") as partial_file:
        _execute(todo, problems, sandbox, timeout, workers, progress, results, partial_file)
    with atomic_open(output) as handle:
        for prediction in predictions:
            handle.write(json.dumps(results[prediction.task_id], ensure_ascii=False) + "\n")
    partial.unlink()
    passed = sum(item["is_pass"] for record in results.values() for item in record["generate_results"])
    return {"tasks": len(predictions), "samples": sum(len(r["generate_results"]) for r in results.values()),
            "passed": passed, "reused_tasks": len(predictions) - len(todo), "sandbox": sandbox.name}


def _execute(todo: list[Prediction], problems: dict[str, Problem], sandbox: Sandbox, timeout: float, workers: int,
             progress: Progress, results: dict[str, dict], partial_file: TextIO) -> None:
    """Run all samples of ``todo`` in parallel; append each task to the partial file as soon as it is complete."""
    pending = {prediction.task_id: [None] * len(prediction.samples) for prediction in todo}
    for prediction in todo:
        if not prediction.samples:
            _finish(prediction, problems, [], results, partial_file)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(_run_sample, sandbox, problems[prediction.task_id], code, timeout): (prediction, index)
                   for prediction in todo for index, code in enumerate(prediction.samples)}
        try:
            for future in as_completed(futures):
                prediction, index = futures[future]
                outcome = future.result()
                progress.update(outcome.passed)
                slots = pending[prediction.task_id]
                slots[index] = outcome.as_result(storable(prediction.samples[index]))
                if all(slot is not None for slot in slots):
                    _finish(prediction, problems, slots, results, partial_file)
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def _finish(prediction: Prediction, problems: dict[str, Problem], items: list, results: dict[str, dict],
            partial_file: TextIO) -> None:
    record = {"_id": prediction.task_id, "language": problems[prediction.task_id].language, "generate_results": items}
    results[prediction.task_id] = record
    partial_file.write(json.dumps(record, ensure_ascii=False) + "\n")
    partial_file.flush()
