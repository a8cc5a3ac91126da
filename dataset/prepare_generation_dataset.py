"""Build the code generation data set ("Summary: ... Signature: ..." -> function) from code-to-text.

Source: google/code_x_glue_ct_code_to_text on the hub (default), or a local folder in the code-to-text
layout (--data_dir, e.g. dataset/samples or the output of mine_python_functions.py). Saved with
save_to_disk under --output_dir/<language>, where the training scripts look by default.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from codepeft.cli import main_entry, parse_list
from codepeft.data.prepare import prepare_generation_dataset
from codepeft.data.sampling import check_sample_size
from codepeft.data.sources import prepared_dataset_dir
from codepeft.tasks import get_task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output_dir", default=str(prepared_dataset_dir(get_task("generation"))), help="default: %(default)s")
    parser.add_argument("--languages", default="python,java", help="comma-separated: python, java")
    parser.add_argument("--data_dir", default=None, help="local code-to-text data instead of the hub")
    parser.add_argument("--sample_size", type=int, default=-1, help="training examples per language (-1: all)")
    args = parser.parse_args()
    languages = parse_list(args.languages, "--languages", ["python", "java"])
    sizes = prepare_generation_dataset(args.output_dir, languages, args.data_dir,
                                       check_sample_size(args.sample_size))
    for language, counts in sizes.items():
        print(f"{language}: " + ", ".join(f"{split} {n}" for split, n in counts.items()))


if __name__ == "__main__":
    main_entry(main)
