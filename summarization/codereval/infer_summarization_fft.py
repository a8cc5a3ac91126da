"""Summarize code (CoderEval summarization inputs) with a fully fine-tuned (or merged) model (output: JSONL and CSV)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from codepeft.cli import main_entry
from codepeft.inference import script_main


def main() -> None:
    script_main("summarization", "fft", __doc__)


if __name__ == "__main__":
    main_entry(main)
