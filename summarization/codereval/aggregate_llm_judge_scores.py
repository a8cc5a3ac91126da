"""Merge the LLM judge's per-run CSVs into one rating per summary, by mean or by majority vote."""

import argparse
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from codepeft.cli import main_entry
from codepeft.metrics.judge import AGGREGATION_METHODS, CRITERIA, aggregate_folder
from codepeft.provenance import add_protocol_argument


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--input_folder", required=True, help="folder with <model_name>_1.csv .. _<num_runs>.csv")
    parser.add_argument("--num_runs", type=int, default=5, help="number of run files to merge (default 5)")
    parser.add_argument("--method", default="mean", choices=AGGREGATION_METHODS,
                        help="mean of the runs, or majority vote (ties: default protocol the tied rating closest "
                             "to the mean, then the lower; study protocol the median of the ratings)")
    parser.add_argument("--model_name", help="which model's runs, when the folder holds several")
    parser.add_argument("--output_file", help="merged CSV (default: <model_name>_FINAL_MERGED_MEAN.csv for mean, "
                                              "<model_name>_FINAL_MERGED.csv for vote, in the input folder)")
    add_protocol_argument(parser)
    args = parser.parse_args()

    output, merged = aggregate_folder(args.input_folder, args.num_runs, args.method, args.model_name, args.output_file,
                                      args.protocol)
    for criterion in CRITERIA:
        values = [row[criterion] for row in merged if row[criterion] is not None]
        shown = f"{sum(values) / len(values):.3f}" if values else "-"
        print(f"{criterion:<12} {shown}  ({len(values)}/{len(merged)} rated)")
    statuses = Counter(row["status"] for row in merged)
    print("rows by status: " + ", ".join(f"{status} {n}" for status, n in sorted(statuses.items())))
    print(f"wrote {output}")


if __name__ == "__main__":
    main_entry(main)
