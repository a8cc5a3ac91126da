"""Download the CoderEval inputs the study used (pinned commit, sha256-checked) into dataset/codereval/."""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from codepeft.cli import main_entry
from codepeft.data.codereval import STUDY_COMMIT, STUDY_REPO, download


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output_dir", default=str(Path(__file__).resolve().parent / "codereval"),
                        help="where to write the files (default: %(default)s)")
    parser.add_argument("--base_url", default=None,
                        help=f"mirror replacing https://raw.githubusercontent.com/{STUDY_REPO}/{STUDY_COMMIT}")
    parser.add_argument("--timeout", type=float, default=30, help="seconds per request")
    args = parser.parse_args()
    download(args.output_dir, args.base_url, args.timeout)


if __name__ == "__main__":
    main_entry(main)
