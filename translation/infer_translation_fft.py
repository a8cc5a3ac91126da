"""Translate the CodeXGLUE Java<->C# test split with a fully fine-tuned (or merged) model, then score CodeBLEU."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from codepeft.cli import main_entry
from codepeft.inference import script_main


def main() -> None:
    script_main("translation", "fft", __doc__)


if __name__ == "__main__":
    main_entry(main)
