"""Print pass@k (Chen et al.) for execution results in CoderEval's format; optionally write JSON and a per-task CSV."""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from codepeft.cli import main_entry
from codepeft.io import write_json
from codepeft.metrics.passk import (
    evaluate_results,
    format_passk_report,
    parse_ks,
    read_discard_ids,
    write_per_instance_csv,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--results", required=True, help="JSONL: one task a line with _id and generate_results[].is_pass")
    parser.add_argument("--k", default="1,5,10", help="comma-separated k values (default 1,5,10)")
    parser.add_argument("--discard_ids_file", help="JSON list (or object of lists) of task ids to leave out")
    parser.add_argument("--output_json", help="write the figures here as JSON")
    parser.add_argument("--output_csv", help="write the per-task CSV 'Task ID,pass@1' here (pass@1 = c/n)")
    args = parser.parse_args()

    ks = parse_ks(args.k)
    discard = read_discard_ids(args.discard_ids_file) if args.discard_ids_file else None
    report, tasks = evaluate_results(args.results, ks, discard)
    print(format_passk_report(report, ks))
    if args.output_json:
        write_json(args.output_json, report)
    if args.output_csv:
        write_per_instance_csv(args.output_csv, tasks)


if __name__ == "__main__":
    main_entry(main)
