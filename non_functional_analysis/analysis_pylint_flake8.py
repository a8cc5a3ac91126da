"""Pylint and Flake8 on a folder of <id>.py files: pylint.csv (Error, Warning, Convention, Refactor) and
flake8.csv (E, W, F, C, N), with JSON summaries and raw per-file output."""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from codepeft.cli import main_entry, parse_list
from codepeft.quality.command_line import add_folder_arguments, run_tools


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_folder_arguments(parser)
    parser.add_argument("--tools", default="pylint,flake8", help="comma-separated subset of pylint,flake8")
    parser.add_argument("--max_complexity", type=int,
                        help="flake8's mccabe threshold: functions above it get C901 (default: 10; not allowed with "
                             "--protocol study, which ran flake8 without it)")
    args = parser.parse_args()
    tools = parse_list(args.tools, "--tools", ["pylint", "flake8"])
    run_tools(tools, args, {"flake8": {"max_complexity": args.max_complexity}})


if __name__ == "__main__":
    main_entry(main)
