"""Full fine-tuning of Qwen2.5-Coder-Instruct on generation. Run with --help for the flags."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from codepeft.cli import main_entry
from codepeft.training.run import train_main

if __name__ == "__main__":
    main_entry(lambda: train_main("generation", "fft"))
