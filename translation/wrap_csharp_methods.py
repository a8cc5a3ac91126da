"""Wrap bare C# methods (translation outputs, cs_files/) in a class so that C# analysers parse them."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from codepeft.cli import main_entry
from codepeft.wrapping import wrap_main


def main() -> None:
    wrap_main("csharp", __doc__)


if __name__ == "__main__":
    main_entry(main)
