"""Execute generated code against a benchmark's tests in a local sandbox; write CoderEval-format results."""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from codepeft.cli import main_entry
from codepeft.execution.executor import execute_predictions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--benchmark", required=True,
                        help="'humaneval' or a JSONL file with task_id, language, prompt, entry_point, test")
    parser.add_argument("--predictions", required=True, help='JSONL: {"_id": task_id, "generate_results": [code, ...]}')
    parser.add_argument("--output", required=True, help="results JSONL (CoderEval format); reruns resume it")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per sample run (default 10)")
    parser.add_argument("--workers", type=int, default=None, help="samples run in parallel (default: CPU count)")
    args = parser.parse_args()
    summary = execute_predictions(args.benchmark, args.predictions, args.output, args.timeout, args.workers)
    print(f"{summary['tasks']} tasks, {summary['samples']} samples, {summary['passed']} passed "
          f"({summary['reused_tasks']} tasks reused from an earlier run); sandbox {summary['sandbox']}; "
          f"results in {args.output}")


if __name__ == "__main__":
    main_entry(main)
