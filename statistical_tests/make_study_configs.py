"""Write the study's comparison configs (RQ1, RQ2, RQ3 for every task and language) as YAML files."""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from codepeft.cli import main_entry
from codepeft.stats.study import write_study_configs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output_dir", default=str(Path(__file__).resolve().parent / "configs"),
                        help="folder for the YAML files (default: statistical_tests/configs)")
    parser.add_argument("--root", default="../../results/paper",
                        help="the configs' root:, relative to --output_dir (default: ../../results/paper)")
    args = parser.parse_args()
    for path in write_study_configs(args.output_dir, args.root):
        print(path)


if __name__ == "__main__":
    main_entry(main)
