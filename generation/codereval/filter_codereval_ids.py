"""Drop the CoderEval tasks whose tests are unreliable (ids_to_discard.json) from generation outputs."""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from codepeft.cli import main_entry
from codepeft.data.codereval_outputs import filter_discarded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--input_dir", required=True, help="a folder searched for *.jsonl files in CoderEval's "
                        "format (_id, generate_results), or one such file")
    parser.add_argument("--discard_ids_file", default="ids_to_discard.json", help="the study's JSON file of ids "
                        "to discard, one list per language (default: %(default)s)")
    parser.add_argument("--output_dir", help="write the filtered files here, under the same relative paths "
                        "(default: rewrite the files in place, as the study did)")
    args = parser.parse_args()
    for path, before, after in filter_discarded(args.input_dir, args.discard_ids_file, args.output_dir):
        print(f"{path}: {before} -> {after} tasks")


if __name__ == "__main__":
    main_entry(main)
