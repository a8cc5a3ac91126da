"""Wrap bare Java methods (code generation outputs, one .java file each) in a class so that PMD and Checkstyle parse them."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from codepeft.cli import main_entry
from codepeft.wrapping import wrap_main


def main() -> None:
    wrap_main("java", __doc__)


if __name__ == "__main__":
    main_entry(main)
