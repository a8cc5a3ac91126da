"""Box plots per metric across configurations (runs) from per-instance CSVs, one PNG per metric."""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from codepeft.cli import main_entry, parse_list
from codepeft.errors import UserError
from codepeft.stats.plots import plot_metric_boxplots, run_csvs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--csv", action="append", default=[], metavar="LABEL=PATH",
                        help="a per-instance CSV and its label in the plot (repeat for each configuration)")
    parser.add_argument("--root", help="experiment folder: plot <root>/per-instance/<source>/<task>/<language>/*.csv")
    parser.add_argument("--source", help="with --root: lizard, pylint, passk, text_metrics, ...")
    parser.add_argument("--task", help="with --root: generation, summarization or translation")
    parser.add_argument("--language", help="with --root: python, java, java_to_cs or cs_to_java")
    parser.add_argument("--runs", help="with --root: comma-separated runs to plot, in order (default: all)")
    parser.add_argument("--columns", help="comma-separated columns (default: every column all inputs share)")
    parser.add_argument("--title", default="", help="text before the metric name in each plot's title")
    parser.add_argument("--output_dir", required=True, help="folder for <column>.png")
    args = parser.parse_args()
    if args.csv and args.root:
        raise UserError("give either --csv LABEL=PATH ... or --root with --source/--task/--language, not both")
    if args.root:
        if not (args.source and args.task and args.language):
            raise UserError("--root needs --source, --task and --language")
        runs = parse_list(args.runs, "--runs") if args.runs else None
        inputs = run_csvs(args.root, args.source, args.task, args.language, runs)
    else:
        if not args.csv or any("=" not in item for item in args.csv):
            raise UserError("give --csv LABEL=PATH (one per configuration) or --root; e.g. --csv ST=st.csv")
        inputs = dict(item.split("=", 1) for item in args.csv)
    columns = parse_list(args.columns, "--columns") if args.columns else None
    for path in plot_metric_boxplots(inputs, args.output_dir, columns, args.title):
        print(path)


if __name__ == "__main__":
    main_entry(main)
