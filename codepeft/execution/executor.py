"""Execute predictions against a benchmark and write results in CoderEval's format (resumable, parallel).

Predictions are JSONL in the inference format, ``{"_id": task_id, "generate_results": [code, ...]}``.
Results are JSONL in CoderEval's format, one task a line in the order of the predictions:
``{"_id", "language", "settings_key", "canary", "generate_results": [{"generate_code", "is_pass",
"return_code", "status", "duration_s", "stderr_tail", "sandbox", "attempts"}, ...]}``, which
``compute_passk.py`` scores; ``<output>.provenance.json`` beside it records the options and the sandbox.

A task with a ``canonical_solution`` runs it first (the canary): when it does not pass, every sample
of the task gets ``benchmark_error`` and is not run. A sample whose run failed for a reason outside
it (``harness_error``) is run once more.

While running, each finished task is appended to ``<output>.partial``; the final file is written
atomically at the end and the partial file removed. A rerun reuses a task found in the output or the
partial file only when its samples are unchanged, its ``settings_key`` (timeout, limits, the
benchmark task's hash, the sandbox, the harness and interpreter or JDK) matches, and none of its samples is a ``harness_error``.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import re
import shutil
import sys
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

from codepeft.cli import available_cpus
from codepeft.errors import UserError
from codepeft.execution import java_runner, python_runner
from codepeft.execution.benchmarks import Problem, humaneval_path, load_benchmark
from codepeft.execution.java_runner import java_limits, java_tools, run_java_sample
from codepeft.execution.outcome import SampleOutcome
from codepeft.execution.processes import HarnessError
from codepeft.execution.python_runner import python_limits, run_python_sample
from codepeft.execution.sandbox import SCRATCH_MB, Limits, Sandbox
from codepeft.io import PARTIAL_SUFFIX, Progress, atomic_open, iter_jsonl
from codepeft.provenance import DEFAULT_PROTOCOL, files_fingerprint, settings_key, write_provenance

_SURROGATE = re.compile("[\ud800-\udfff]")
RUNNERS: dict[str, Callable[..., SampleOutcome]] = {"python": run_python_sample, "java": run_java_sample}
LIMITS: dict[str, Callable[[float], dict[str, Limits]]] = {"python": python_limits, "java": java_limits}
MAX_WORKERS = 64


def default_workers(environ: Mapping[str, str] | None = None) -> int:
    """Samples run in parallel by default: :func:`codepeft.cli.available_cpus`, capped at :data:`MAX_WORKERS`."""
    return min(available_cpus(environ), MAX_WORKERS)


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


def task_key(problem: Problem, timeout: float, sandbox: Sandbox) -> str:
    """The reuse key of a task's results: the task's hash, the timeout, the limits and the sandbox."""
    timeout = float(timeout)
    limits = {stage: asdict(value) for stage, value in LIMITS[problem.language](timeout).items()}
    return settings_key({"task": problem.fingerprint(), "timeout": timeout, "limits": limits,
                         "sandbox": sandbox.settings(), "runner": _runner(problem.language)})


@functools.cache
def _runner(language: str) -> dict[str, str]:
    """The harness and the interpreter or JDK that run a language's samples (part of the reuse key)."""
    if language == "java":
        javac = shutil.which("javac")
        return {"harness": settings_key({"code": java_runner.HARNESS, "options": java_runner.JVM_OPTIONS}),
                "jdk": os.path.realpath(javac) if javac else ""}
    return {"harness": settings_key({"code": python_runner.HARNESS}), "python": sys.version}


def _reusable_results(output: Path, partial: Path, predictions: list[Prediction], keys: dict[str, str]) -> dict[str, dict]:
    """Results from an earlier run with the same samples and reuse key and no harness error (a truncated
    last line is ignored)."""
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
                    items = record.get("generate_results", [])
                    codes = [item.get("generate_code") for item in items]
                    if (wanted.get(task_id) == codes and record.get("settings_key") == keys.get(task_id)
                            and not any(item.get("status") == "harness_error" for item in items)):
                        done[task_id] = record
    return done


def progress_line(progress: Progress) -> str:
    """The executor's progress line: samples done, passed, rate and ETA."""
    rate, eta = progress.rate, progress.eta
    eta = eta if math.isfinite(eta) else 0.0
    return (f"executed {progress.done}/{progress.total} samples ({progress.passed} passed), {rate:.1f} samples/s, "
            f"ETA {int(eta) // 60}m{int(eta) % 60:02d}s")


def _run_once(sandbox: Sandbox, problem: Problem, code: str, timeout: float) -> SampleOutcome:
    try:
        code.encode("utf-8")
    except UnicodeEncodeError as err:
        return SampleOutcome("invalid_sample", None, 0.0, f"the sample is not valid Unicode text: {err}", sandbox.name)
    try:
        return RUNNERS[problem.language](sandbox, problem, code, timeout=timeout)
    except (HarnessError, OSError) as err:
        return SampleOutcome("harness_error", None, 0.0, f"{type(err).__name__}: {err}", sandbox.name)


def run_sample(sandbox: Sandbox, problem: Problem, code: str, timeout: float) -> SampleOutcome:
    """Run one sample; a ``harness_error`` (a failure outside the sample) is retried once (``attempts`` 2)."""
    outcome = _run_once(sandbox, problem, code, timeout)
    if outcome.status == "harness_error":
        outcome = _run_once(sandbox, problem, code, timeout)
        outcome.attempts = 2
    return outcome


def execute_predictions(benchmark: str | Path, predictions_path: str | Path, output_path: str | Path,
                        timeout: float = 10.0, workers: int | None = None, sandbox: Sandbox | None = None,
                        log: TextIO = sys.stderr, allow_unsandboxed: bool = False,
                        scratch_mb: int = SCRATCH_MB) -> dict[str, Any]:
    """Execute every sample of every prediction; write the results file and its provenance; return counts.

    ``benchmark`` is ``"humaneval"`` or a benchmark JSONL path. Without ``sandbox``, a :class:`Sandbox`
    is made with ``allow_unsandboxed`` and ``scratch_mb``; it raises a UserError, before anything runs,
    when full isolation is missing and ``allow_unsandboxed`` is false. ``workers``: None takes
    :func:`default_workers`. Returns ``{"tasks", "samples", "passed", "reused_tasks", "sandbox",
    "benchmark_errors" (tasks), "harness_errors" (samples)}``.
    """
    if timeout <= 0:
        raise UserError(f"--timeout must be positive, got {timeout}")
    workers = default_workers() if workers is None else workers
    if not 1 <= workers <= MAX_WORKERS:
        raise UserError(f"--workers must be between 1 and {MAX_WORKERS}, got {workers}")
    problems = load_benchmark(benchmark)
    predictions = read_predictions(predictions_path, problems, str(benchmark))
    if any(problems[prediction.task_id].language == "java" for prediction in predictions):
        java_tools()  # fail before starting, not in the middle of the run
    sandbox = sandbox or Sandbox(allow_unsandboxed=allow_unsandboxed, scratch_mb=scratch_mb)
    output = Path(output_path)
    partial = output.with_name(output.name + PARTIAL_SUFFIX)
    keys = {prediction.task_id: task_key(problems[prediction.task_id], timeout, sandbox) for prediction in predictions}
    results = _reusable_results(output, partial, predictions, keys)
    todo = [prediction for prediction in predictions if prediction.task_id not in results]
    print(sandbox.description, file=log)
    print(f"{len(predictions)} tasks: {len(results)} already done, {len(todo)} to execute "
          f"({sum(len(p.samples) for p in todo)} samples, {workers} workers, timeout {timeout:g} s)", file=log)
    progress = Progress(sum(len(prediction.samples) for prediction in todo), "executed", log, interval=2.0,
                        describe=progress_line)
    output.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(partial) as handle:  # what earlier runs finished survives an interruption of this one
        for record in results.values():
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    with open(partial, "a", encoding="utf-8") as partial_file:
        _execute(todo, problems, keys, sandbox, timeout, workers, progress, results, partial_file)
    with atomic_open(output) as handle:
        for prediction in predictions:
            handle.write(json.dumps(results[prediction.task_id], ensure_ascii=False) + "\n")
    partial.unlink()
    summary = _summary(predictions, results, len(predictions) - len(todo), sandbox)
    benchmark_file = humaneval_path() if str(benchmark) == "humaneval" else Path(benchmark)
    write_provenance(output, "execute", DEFAULT_PROTOCOL,
                     {"benchmark": str(benchmark), "timeout": timeout, "workers": workers,
                      "scratch_mb": sandbox.scratch_mb, "allow_unsandboxed": sandbox.allow_unsandboxed},
                     sandbox=sandbox.record(), benchmark_fingerprint=files_fingerprint([benchmark_file]),
                     counts={key: value for key, value in summary.items() if key != "sandbox"},
                     statuses=dict(Counter(item["status"] for record in results.values()
                                           for item in record["generate_results"])))
    return summary


def _summary(predictions: list[Prediction], results: dict[str, dict], reused: int, sandbox: Sandbox) -> dict[str, Any]:
    items = [item for record in results.values() for item in record["generate_results"]]
    return {"tasks": len(predictions), "samples": len(items), "passed": sum(item["is_pass"] is True for item in items),
            "reused_tasks": reused, "sandbox": sandbox.name,
            "benchmark_errors": sum(any(item["status"] == "benchmark_error" for item in record["generate_results"])
                                    for record in results.values()),
            "harness_errors": sum(item["status"] == "harness_error" for item in items)}


def _execute(todo: list[Prediction], problems: dict[str, Problem], keys: dict[str, str], sandbox: Sandbox,
             timeout: float, workers: int, progress: Progress, results: dict[str, dict], partial_file: TextIO) -> None:
    """Run the canaries and the samples of ``todo`` in parallel; append each task to the partial file once complete.

    A task's samples are queued only after its canonical solution passed; otherwise they are recorded
    unrun, as ``benchmark_error`` (or ``harness_error`` when the canary itself could not run).
    """
    pending = {prediction.task_id: [None] * len(prediction.samples) for prediction in todo}
    canaries: dict[str, dict | None] = {}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures: dict[Future, tuple[Prediction, int | None]] = {}

        def submit_samples(prediction: Prediction) -> None:
            problem = problems[prediction.task_id]
            for index, code in enumerate(prediction.samples):
                futures[pool.submit(run_sample, sandbox, problem, code, timeout)] = (prediction, index)

        for prediction in todo:
            problem = problems[prediction.task_id]
            canaries[prediction.task_id] = None
            if not prediction.samples:
                _finish(prediction, problems, keys, None, [], results, partial_file)
            elif problem.canonical_solution is not None:
                future = pool.submit(run_sample, sandbox, problem, problem.canonical_solution, timeout)
                futures[future] = (prediction, None)
            else:
                submit_samples(prediction)
        try:
            while futures:
                done, _ = wait(futures, return_when=FIRST_COMPLETED)
                for future in done:
                    prediction, index = futures.pop(future)
                    task_id = prediction.task_id
                    outcome = future.result()
                    if index is None:
                        canary = outcome.as_result("")
                        del canary["generate_code"], canary["is_pass"]
                        canaries[task_id] = canary
                        if outcome.passed:
                            submit_samples(prediction)
                            continue
                        items = _unrun(prediction, outcome, sandbox)
                        for _ in items:
                            progress.update(1)
                        _finish(prediction, problems, keys, canary, items, results, partial_file)
                        continue
                    progress.update(1, passed=outcome.passed)
                    slots = pending[task_id]
                    slots[index] = outcome.as_result(storable(prediction.samples[index]))
                    if all(slot is not None for slot in slots):
                        _finish(prediction, problems, keys, canaries[task_id], slots, results, partial_file)
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def _unrun(prediction: Prediction, canary: SampleOutcome, sandbox: Sandbox) -> list[dict]:
    """The samples of a task whose canonical solution did not pass, recorded without running them."""
    if canary.status == "harness_error":
        status, why = "harness_error", "the canonical solution could not be run (harness error, see canary)"
    else:
        status, why = "benchmark_error", f"the task's canonical solution does not pass its test ({canary.status}, see canary)"
    return [SampleOutcome(status, None, 0.0, f"not run: {why}", sandbox.name, attempts=0).as_result(storable(code))
            for code in prediction.samples]


def _finish(prediction: Prediction, problems: dict[str, Problem], keys: dict[str, str], canary: dict | None,
            items: list, results: dict[str, dict], partial_file: TextIO) -> None:
    record = {"_id": prediction.task_id, "language": problems[prediction.task_id].language,
              "settings_key": keys[prediction.task_id], "canary": canary, "generate_results": items}
    results[prediction.task_id] = record
    partial_file.write(json.dumps(record, ensure_ascii=False) + "\n")
    partial_file.flush()
