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
from codepeft.provenance import add_protocol_argument, write_provenance


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--results", required=True, help="JSONL: one task a line with _id and generate_results[].is_pass")
    parser.add_argument("--k", default="1,5,10", help="comma-separated k values (default 1,5,10)")
    parser.add_argument("--discard_ids_file", help="JSON list (or object of lists) of task ids to leave out")
    parser.add_argument("--output_json", help="write the figures here as JSON")
    parser.add_argument("--output_csv", help="write the per-task CSV 'Task ID,pass@1' here (pass@1 = c/n)")
    parser.add_argument("--allow_harness_errors", action="store_true",
                        help="score although some samples have status harness_error (they are left out and counted); "
                             "without it such results stop with exit status 2")
    add_protocol_argument(parser)
    args = parser.parse_args()

    ks = parse_ks(args.k)
    discard = read_discard_ids(args.discard_ids_file) if args.discard_ids_file else None
    report, tasks = evaluate_results(args.results, ks, discard, args.allow_harness_errors)
    print(format_passk_report(report, ks))
    if args.output_json:
        write_json(args.output_json, report)
    if args.output_csv:
        write_per_instance_csv(args.output_csv, tasks)
    per_instance = args.output_csv or args.output_json
    if per_instance:
        write_provenance(per_instance, "passk", args.protocol,
                         {"results": args.results, "k": ks, "discard_ids_file": args.discard_ids_file,
                          "allow_harness_errors": args.allow_harness_errors},
                         sandbox=report["sandbox"],
                         counts={key: report[key] for key in ("n_tasks", "n_samples", "benchmark_errors",
                                                              "harness_errors")})


if __name__ == "__main__":
    main_entry(main)
