"""Write one code file per prediction (<name>.py or <name>.java) from a generation output in CoderEval's format.

<name> is the task id when it is a safe file name, else the id with other characters replaced by '_' plus a
short hash of the id; index.csv in the output folder maps each id to its files (columns id, file).
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from codepeft.cli import main_entry
from codepeft.data.codereval_outputs import extract_code_files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--input", required=True, help="JSONL with _id and generate_results (code strings, or "
                        "CoderEval executor objects with generate_code)")
    parser.add_argument("--output_dir", required=True, help="folder for the code files (created)")
    parser.add_argument("--language", choices=["python", "java"], help="default: from the input file's name "
                        "(e.g. generation_python.jsonl, or a /java/ folder)")
    parser.add_argument("--all_samples", action="store_true", help="one file per sample, <name>_<k>.<ext>, "
                        "instead of the first sample only as <name>.<ext>")
    args = parser.parse_args()
    count = extract_code_files(args.input, args.output_dir, args.language, args.all_samples)
    print(f"{count} files written to {args.output_dir} (index.csv: id -> file)")


if __name__ == "__main__":
    main_entry(main)
