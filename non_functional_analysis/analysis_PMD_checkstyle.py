"""PMD 7 and Checkstyle on a folder of <id>.java files: pmd.csv (violations per PMD category) and
checkstyle.csv (violations per Checkstyle category, Sun or Google checks)."""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from codepeft.cli import main_entry, parse_list
from codepeft.quality.command_line import add_folder_arguments, run_tools
from codepeft.quality.jvm import STUDY_WRAPPERS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_folder_arguments(parser)
    parser.add_argument("--tools", default="pmd,checkstyle", help="comma-separated subset of pmd,checkstyle")
    parser.add_argument("--checkstyle_config", default="sun",
                        help="sun, google, or a Checkstyle XML configuration file (default: %(default)s)")
    parser.add_argument("--no_wrap", action="store_true",
                        help="analyse bare methods as they are (PMD and Checkstyle then fail to parse them) "
                             "instead of inside a wrapper class (--protocol default only)")
    parser.add_argument("--study_wrapper", choices=STUDY_WRAPPERS, default="generation",
                        help="--protocol study: which of the study's wrappers names the class: generation "
                             "(Generated_<id>) or translation (the file name) (default: %(default)s)")
    args = parser.parse_args()
    tools = parse_list(args.tools, "--tools", ["pmd", "checkstyle"])
    wrap = not args.no_wrap
    run_tools(tools, args, {"pmd": {"wrap": wrap, "study_wrapper": args.study_wrapper},
                            "checkstyle": {"config": args.checkstyle_config, "wrap": wrap,
                                           "study_wrapper": args.study_wrapper}})


if __name__ == "__main__":
    main_entry(main)
