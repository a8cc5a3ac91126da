"""C# syntax errors and maintainability index for a folder of <id>.cs files, without .NET:
csharp.csv (Syntax_Errors, Maintainability, and the measures behind them)."""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from codepeft.cli import main_entry
from codepeft.quality.command_line import add_folder_arguments, run_tools


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_folder_arguments(parser)
    args = parser.parse_args()
    run_tools(["csharp"], args)


if __name__ == "__main__":
    main_entry(main)
