"""Lizard on a folder of <id>.py, <id>.java or <id>.cs files: lizard.csv (Detection_Rate,
Cyclomatic_Complexity, Lines_of_Code, Token_Count summed over each file's functions)."""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from codepeft.cli import main_entry
from codepeft.quality.command_line import add_folder_arguments, run_tools
from codepeft.quality.lizard_tool import LizardAnalyser


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_folder_arguments(parser)
    parser.add_argument("--language", choices=LizardAnalyser.languages,
                        help="which files to read when the folder holds several kinds (default: the one kind present)")
    args = parser.parse_args()
    run_tools(["lizard"], args, language=args.language)


if __name__ == "__main__":
    main_entry(main)
