"""Execute generated code against a benchmark's tests in a local sandbox; write CoderEval-format results."""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from codepeft.cli import main_entry
from codepeft.execution.executor import MAX_WORKERS, execute_predictions
from codepeft.execution.sandbox import SCRATCH_MB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--benchmark", required=True,
                        help="'humaneval' or a JSONL file with task_id, language, prompt, entry_point, test "
                             "(optionally canonical_solution, run first as a check of the task's test)")
    parser.add_argument("--predictions", required=True, help='JSONL: {"_id": task_id, "generate_results": [code, ...]}')
    parser.add_argument("--output", required=True, help="results JSONL (CoderEval format); reruns resume it")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per sample run (default 10)")
    parser.add_argument("--workers", type=int, default=None,
                        help=f"samples run in parallel (default: the CPUs this process may use, at most "
                             f"SLURM_CPUS_PER_TASK when set, capped at {MAX_WORKERS})")
    parser.add_argument("--scratch_mb", type=int, default=SCRATCH_MB,
                        help=f"size in MiB of the sample's only writable space, a tmpfs (default {SCRATCH_MB})")
    parser.add_argument("--allow_unsandboxed", action="store_true",
                        help="run even without full isolation (no working bubblewrap, or root without the per-sample "
                             "uid): only rlimits, no file-system or network isolation. Without it such a machine "
                             "stops before running anything")
    args = parser.parse_args()
    summary = execute_predictions(args.benchmark, args.predictions, args.output, args.timeout, args.workers,
                                  allow_unsandboxed=args.allow_unsandboxed, scratch_mb=args.scratch_mb)
    print(f"{summary['tasks']} tasks, {summary['samples']} samples, {summary['passed']} passed "
          f"({summary['reused_tasks']} tasks reused from an earlier run); {summary['benchmark_errors']} task(s) with "
          f"a benchmark error, {summary['harness_errors']} sample(s) with a harness error; sandbox "
          f"{summary['sandbox']}; results in {args.output}")


if __name__ == "__main__":
    main_entry(main)
