"""Mine Python functions with docstrings from source files on disk into a code-to-text data set.

The output folder works as --data_dir for summarization and generation (layout: code_to_text/python/).
Default source: this interpreter's standard library, which gives about 5,000 real functions offline.
"""

import argparse
import sys
import sysconfig
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from codepeft.cli import main_entry
from codepeft.data.miner import mine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--source_dir", default=sysconfig.get_paths()["stdlib"], help="folder of .py files")
    parser.add_argument("--output_dir", default=str(Path(__file__).resolve().parent / "mined"))
    parser.add_argument("--max_functions", type=int, default=-1, help="stop after this many (-1: all)")
    parser.add_argument("--min_lines", type=int, default=3)
    parser.add_argument("--max_lines", type=int, default=40)
    args = parser.parse_args()
    counts = mine(args.source_dir, args.output_dir, args.max_functions, args.min_lines, args.max_lines)
    print(f"mined {sum(counts.values())} functions into {args.output_dir}: "
          + ", ".join(f"{split} {n}" for split, n in counts.items()))


if __name__ == "__main__":
    main_entry(main)
